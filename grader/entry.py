"""How the grader's commands end: with their status, without the interpreter's teardown.

Once a command has returned, nothing of the grader is left to do (every output is written,
the sandbox is closed, the worker threads have ended), yet Python's own shutdown then frees
every module and object one by one: with numpy, sympy and matplotlib loaded, that takes a
sixth of a second (175 ms, measured on the Gradescope path: the same run with and without
it, six times each), which a one-submission Gradescope run or CLI run would otherwise wait
for. The zygote leaves the same way (:func:`grader.sandbox.zygote.main`).

:func:`run_as_program` is for ``__main__`` entry points only, never for a ``main`` called
inside another program (a test, a notebook): it ends the process.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Callable, NoReturn

#: The status of a flush of stdout or stderr that failed at exit (Python's own).
FLUSH_FAILED = 120


def run_as_program(main: Callable[[], object]) -> NoReturn:
    """Call ``main`` and exit with its status as ``sys.exit`` would, but end the process once
    Python has joined its threads and run every exit handler (``atexit``: a Dask cluster's
    included), skipping only the freeing of modules and objects that follows.

    The status is ``main``'s return value or the code of the ``SystemExit`` it raised (None
    is 0, a number is itself, anything else is printed and is 1); an exception escaping
    ``main`` is printed by Python as usual and the status is 1."""
    status = [1]
    # Registered before anything ``main`` registers: handlers run last-registered first, so
    # this one runs after all the others.
    atexit.register(_leave, status)
    try:
        code = main()
    except SystemExit as exc:
        code = exc.code
    status[0] = _status(code)
    sys.exit(code)


def _status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int) and not isinstance(code, bool):
        return code & 0xFF
    return 1


def _leave(status: list[int]) -> None:
    code = status[0]
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a reader that left, a closed stream
            code = code or FLUSH_FAILED
    os._exit(code)
