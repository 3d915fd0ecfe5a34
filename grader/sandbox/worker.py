"""The worker: loads one submission and calls its functions on request.

This module runs inside the sandbox, next to student code. It holds no expected value and
never imports the reference. It answers two requests, over the framed channel of
:mod:`grader.sandbox.protocol`:

``{"op": "load", "filename": ..., "source": ...}``
    writes the source into the (empty, private) working directory and imports it as the
    module ``adam_vs_momentum``. Answer: ``{"op": "loaded", "ok": true, "functions": [...]}``
    or ``{"op": "loaded", "ok": false, "error": {...}}``.
``{"op": "call", "id": n, "function": name, "args": [...]}``
    calls the function on fresh copies of the arguments and answers
    ``{"op": "result", "id": n, "ok": true, "value": <wire value>}`` or, when it raised,
    ``{"op": "result", "id": n, "ok": false, "error": {"type", "message", "where"}}``.

Whatever the student's code does to this process can change only its own answers: the
grader judges them elsewhere. Functions are looked up in the module's own namespace (a
module-level ``__getattr__`` is never consulted), an answer that cannot be encoded becomes an
error for that call alone, and a child forked by student code that returns into the request
loop exits instead of answering in the worker's place.
"""

from __future__ import annotations

import os
import sys
import traceback
import types
from pathlib import Path


from grader.engine.arguments import decode_argument
from grader.engine.calls import describe_exception
from grader.engine.contract import FUNCTION_NAMES as FUNCTIONS  # the only functions ever called
from grader.engine.provided import ImportGuard, guard_imports as _guard_student_imports  # noqa: F401
from grader.engine.wire import encode_value
from grader.sandbox.protocol import MAX_GRADER_MESSAGE, read_message, write_message

MODULE_NAME = "adam_vs_momentum"


def guard_imports(importable) -> None:
    """Refuse student code every module the grader does not provide, for this process (the
    worker, before any student code): the guard of :func:`grader.engine.provided.guard_imports`,
    which the student's public run installs too, so that both decide by one rule and in the
    same words, whichever way the submission imports.

    Student code may import the standard library, the provided packages and what those need
    (``importable``: the top-level names the sandbox made readable, which the rule's
    :data:`~grader.engine.provided.SUPPORT_MODULES` covers); anything else fails with the
    message of :mod:`grader.engine.provided`, the same in every isolation mode, whatever else
    happens to be installed next to the grader (the grader itself and the reference included,
    also where a module of the grader is already loaded in the worker)."""
    _guard_student_imports(MODULE_NAME, importable)


def _function(module, name: str):
    """The submission's function ``name``, looked up without running any of its code.

    A module-level ``__getattr__`` is never consulted: the names are binding, and a lookup
    must not run student code.
    """
    if module is None:
        return None
    value = module.__dict__.get(name)
    return value if callable(value) else None


def load_submission(source: str, filename: str, workdir: Path) -> types.ModuleType:
    """Write the source into ``workdir`` and import it as a fresh module."""
    path = workdir / filename
    path.write_text(source, encoding="utf-8")
    module = types.ModuleType(MODULE_NAME)
    module.__file__ = str(path)
    sys.modules[MODULE_NAME] = module
    code = compile(source, str(path), "exec", dont_inherit=True)
    exec(code, module.__dict__)  # noqa: S102 - this is the sandboxed worker's one job
    return module


def serve(request_fd: int, response_fd: int, workdir: Path) -> None:
    """Answer requests until the grader closes the channel or says goodbye."""
    module = None
    filename = ""
    owner = os.getpid()
    while True:
        request = read_message(request_fd, max_size=MAX_GRADER_MESSAGE)
        op = request.get("op")
        if op == "load":
            filename = str(workdir / request["filename"])
            try:
                module = load_submission(request["source"], request["filename"], workdir)
                present = [name for name in FUNCTIONS if _function(module, name) is not None]
                reply = {"op": "loaded", "ok": True, "functions": present}
            except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt too
                reply = {"op": "loaded", "ok": False, "error": describe_exception(exc, filename)}
        elif op == "call":
            reply = _call(module, request, filename)
        else:
            return
        if os.getpid() != owner:  # a child forked by student code came back here: only the
            os._exit(0)           # worker itself answers, or the channel would fall out of step
        _answer(response_fd, reply)


def _answer(response_fd: int, reply: dict) -> None:
    """Send a reply; one that cannot be encoded (NaN where the student patched the checks,
    a cycle, an oversized number) becomes an error reply for that request alone."""
    try:
        write_message(response_fd, reply)
    except (ValueError, TypeError, RecursionError, OverflowError) as exc:
        write_message(response_fd, {key: reply[key] for key in ("op", "id") if key in reply} | {
            "ok": False, "error": {"type": "InvalidOutput", "message": f"the answer cannot be sent: "
                                   f"{str(exc)[:200]}", "where": ""}})


def _call(module, request: dict, filename: str) -> dict:
    reply = {"op": "result", "id": request["id"]}
    name = request["function"]
    function = _function(module, name) if name in FUNCTIONS else None
    if function is None:
        return {**reply, "ok": False, "error": {"type": "MissingFunction", "message": name, "where": ""}}
    try:
        args = [decode_argument(a) for a in request["args"]]
        value = function(*args)
        encoded = encode_value(value)
    except BaseException as exc:  # noqa: BLE001
        return {**reply, "ok": False, "error": describe_exception(exc, filename)}
    return {**reply, "ok": True, "value": encoded}


def main() -> None:  # pragma: no cover - exercised through the sandbox
    """Entry point for a worker started as a plain process: fds 3 (requests), 4 (answers)."""
    serve(3, 4, Path(os.getcwd()))


if __name__ == "__main__":  # pragma: no cover
    main()
