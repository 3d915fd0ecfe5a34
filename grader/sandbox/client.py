"""The trusted side's client of a sandboxed worker: run a submission's calls, map every outcome.

:func:`run_calls` is the only place that talks to student code (through a worker); it maps
whatever happens there (answers, exceptions, timeouts, crashes, garbage) to
:class:`CallOutcome` values, which the judging turns into points.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping, Sequence

from grader.engine.wire import OtherValue, WireError, decode_value
from grader.errors import ProtocolError, SandboxError
from grader.intake.submissions import Submission
from grader.judging.items import Call
from grader.results import CallOutcome
from grader.rubric import Limits
from grader.sandbox.manager import Sandbox, Worker
from grader.sandbox.protocol import Closed, Timeout


@dataclass(frozen=True)
class RunResult:
    """Outcomes of every planned call, by call key, and notes about the run."""

    outcomes: Mapping[str, CallOutcome]
    notes: tuple[str, ...] = ()


def plain_text(text, limit: int) -> str:
    """Worker-supplied text made safe to show: one line, printable characters, at most ``limit``.

    A message with newlines could forge headings or a total in the Markdown report.
    """
    text = "".join(c if c.isprintable() else " " for c in str(text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe_error(error: Mapping) -> str:
    kind = plain_text(error.get("type", "Exception"), 80)
    message = plain_text(error.get("message", ""), 300)
    where = plain_text(error.get("where", ""), 80)
    return f"{kind}: {message}" + (f" ({where})" if where else "")


def _plain_values(value):
    """A decoded answer whose display-only strings (the type and reason of values that have no
    wire form) are plain text; answers themselves are untouched."""
    if isinstance(value, OtherValue):
        return OtherValue(type_name=plain_text(value.type_name, 60), why=plain_text(value.why, 300))
    if type(value) is dict:
        return {key: _plain_values(item) for key, item in value.items()}
    return value


def _start(sandbox: Sandbox, slot: int, submission: Submission, seconds: float):
    """A worker with the submission imported: ``(worker, functions)``, or ``(None, outcome)``
    whose outcome every remaining call shares (the import timed out or failed)."""
    worker = sandbox.spawn(slot)

    def failed(kind: str, detail: str):
        worker.close()
        return None, CallOutcome(kind, detail=detail)

    try:
        worker.send({"op": "load", "filename": submission.filename, "source": submission.source})
        reply = worker.receive(seconds)
    except Timeout:
        return failed("timeout", f"importing the submission took longer than {seconds:g} s")
    except Closed:
        status = worker.exit_status()
        return failed("not_loaded", f"the submission ended the worker process while being imported ({status})")
    except ProtocolError as exc:
        return failed("not_loaded", f"invalid output while importing the submission: {exc}")
    if reply.get("op") != "loaded" or type(reply.get("ok")) is not bool:
        return failed("not_loaded", "invalid output while importing the submission")
    if not reply["ok"]:
        return failed("not_loaded", "importing the submission failed: " + _describe_error(
            reply.get("error") if type(reply.get("error")) is dict else {}))
    functions = reply.get("functions")
    if type(functions) is not list or not all(type(f) is str for f in functions):
        return failed("not_loaded", "invalid output while importing the submission")
    worker.end_of_call()  # a daemon started at import time dies now
    return worker, frozenset(functions)


def _answer(worker: Worker, call: Call, call_id: int, seconds: float) -> tuple[CallOutcome, bool]:
    """Run one call; returns the outcome and whether the worker is still usable."""
    try:
        worker.send({"op": "call", "id": call_id, "function": call.function, "args": list(call.args)})
        reply = worker.receive(seconds)
    except Timeout:
        return CallOutcome("timeout", detail=f"{call.function} did not finish within {seconds:g} s"), False
    except Closed:
        status = worker.exit_status()
        return CallOutcome("crashed", detail=f"{call.function} ended the worker process ({status})"), False
    except ProtocolError as exc:
        return CallOutcome("invalid", detail=f"{call.function} gave invalid output ({exc})"), False
    if reply.get("op") != "result" or reply.get("id") != call_id or type(reply.get("ok")) is not bool:
        return CallOutcome("invalid", detail=f"{call.function} gave invalid output"), False
    if not reply["ok"]:
        error = reply.get("error") if type(reply.get("error")) is dict else {}
        if error.get("type") == "NotImplementedError":
            return CallOutcome("not_implemented"), True
        return CallOutcome("raised", detail=f"{call.function} raised {_describe_error(error)}"), True
    try:
        return CallOutcome("value", value=_plain_values(decode_value(reply.get("value")))), True
    except WireError as exc:
        return CallOutcome("invalid", detail=f"{call.function} gave invalid output: {exc}"), True


def run_calls(sandbox: Sandbox, slot: int, submission: Submission, calls: Sequence[Call],
              limits: Limits) -> RunResult:
    """Answer every call with the submission's code, one fresh worker after any failure."""
    outcomes: dict[str, CallOutcome] = {}
    if submission.source is None:
        outcome = CallOutcome("not_loaded", detail=submission.error or "the submission cannot be read")
        return RunResult({call.key: outcome for call in calls})
    deadline = time.monotonic() + limits.submission_seconds
    worker, functions = None, frozenset()
    try:
        for call_id, call in enumerate(calls):
            left = deadline - time.monotonic()
            if left <= 0:
                outcomes[call.key] = CallOutcome(
                    "timeout", detail=f"the submission used up its {limits.submission_seconds:g} s in all")
                continue
            if worker is None:
                try:
                    worker, functions = _start(sandbox, slot, submission, min(limits.import_seconds, left))
                except SandboxError as exc:
                    for rest in calls[call_id:]:
                        outcomes[rest.key] = CallOutcome("ungradable", detail=f"grader problem: {exc}")
                    break
                if worker is None:  # the import itself failed: every call shares the reason
                    for rest in calls[call_id:]:
                        outcomes[rest.key] = functions
                    break
            if call.function not in functions:
                outcomes[call.key] = CallOutcome("missing")
                continue
            outcome, usable = _answer(worker, call, call_id, min(limits.call_seconds, max(left, 0.01)))
            outcomes[call.key] = outcome
            if usable:
                worker.end_of_call()
            else:
                worker.close()
                worker = None
    finally:
        if worker is not None:  # with a PID namespace, its death needs no waiting for
            worker.close(wait="pid_namespace" not in sandbox.isolation.layers)
    return RunResult(outcomes)
