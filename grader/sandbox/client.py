"""The trusted side's client of a sandboxed worker: run a submission's calls, map every outcome.

:func:`run_calls` is the only place that talks to student code (through a worker); it maps
whatever happens there (answers, exceptions, timeouts, crashes, garbage) to
:class:`CallOutcome` values, which the judging turns into points.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping, Sequence

from grader.engine import calls
from grader.engine.calls import plain_text
from grader.engine.notebook import NotebookError, notebook_source
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


def _plain_values(value):
    """A decoded answer whose display-only strings (the type and reason of values that have no
    wire form) are plain text; answers themselves are untouched."""
    if isinstance(value, OtherValue):
        return OtherValue(type_name=plain_text(value.type_name, 60), why=plain_text(value.why, 300))
    if type(value) is dict:
        return {key: _plain_values(item) for key, item in value.items()}
    return value


def _start(sandbox: Sandbox, slot: int, submission: Submission, seconds: float, locate=None):
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
        return failed("timeout", calls.import_timeout(seconds))
    except Closed:
        status = worker.exit_status()
        return failed("not_loaded", calls.import_ended_process(status))
    except ProtocolError as exc:
        return failed("not_loaded", f"invalid output while importing the submission: {exc}")
    if reply.get("op") != "loaded" or type(reply.get("ok")) is not bool:
        return failed("not_loaded", "invalid output while importing the submission")
    if not reply["ok"]:
        return failed("not_loaded", calls.import_failed(calls.relocate(
            reply.get("error") if type(reply.get("error")) is dict else {}, locate)))
    functions = reply.get("functions")
    if type(functions) is not list or not all(type(f) is str for f in functions):
        return failed("not_loaded", "invalid output while importing the submission")
    worker.end_of_call()  # a daemon started at import time dies now
    return worker, frozenset(functions)


def _answer(worker: Worker, call: Call, call_id: int, seconds: float,
            locate=None) -> tuple[CallOutcome, bool]:
    """Run one call; returns the outcome and whether the worker is still usable."""
    try:
        worker.send({"op": "call", "id": call_id, "function": call.function, "args": list(call.args)})
        reply = worker.receive(seconds)
    except Timeout:
        return CallOutcome("timeout", detail=calls.call_timeout(call.function, seconds)), False
    except Closed:
        status = worker.exit_status()
        return CallOutcome("crashed", detail=calls.call_ended_process(call.function, status)), False
    except ProtocolError as exc:
        return CallOutcome("invalid", detail=f"{call.function} gave invalid output ({exc})"), False
    if reply.get("op") != "result" or reply.get("id") != call_id or type(reply.get("ok")) is not bool:
        return CallOutcome("invalid", detail=f"{call.function} gave invalid output"), False
    if not reply["ok"]:
        error = reply.get("error") if type(reply.get("error")) is dict else {}
        if error.get("type") == "NotImplementedError":
            return CallOutcome("not_implemented"), True
        return CallOutcome("raised", detail=calls.call_raised(call.function, calls.relocate(error, locate))), True
    try:
        return CallOutcome("value", value=_plain_values(decode_value(reply.get("value")))), True
    except WireError as exc:
        return CallOutcome("invalid", detail=f"{call.function} gave invalid output: {exc}"), True


def notebook_locator(submission: Submission):
    """For a notebook, what names the code cell and line of a line of its code (else None)."""
    if not submission.origin.lower().endswith(".ipynb") or not submission.content:
        return None
    try:
        return notebook_source(submission.content).where
    except NotebookError:
        return None


def run_calls(sandbox: Sandbox, slot: int, submission: Submission, calls: Sequence[Call],
              limits: Limits) -> RunResult:
    """Answer every call with the submission's code, one fresh worker after any failure."""
    outcomes: dict[str, CallOutcome] = {}
    if submission.source is None:
        outcome = CallOutcome("not_loaded", detail=submission.error or "the submission cannot be read")
        return RunResult({call.key: outcome for call in calls})
    locate = notebook_locator(submission)
    deadline = time.monotonic() + limits.submission_seconds
    worker, functions = None, frozenset()
    try:
        for call_id, call in enumerate(calls):
            left = deadline - time.monotonic()
            if left <= 0:
                outcomes[call.key] = CallOutcome(
                    "timeout", detail=calls.submission_timeout(limits.submission_seconds))
                continue
            if worker is None:
                try:
                    worker, functions = _start(sandbox, slot, submission, min(limits.import_seconds, left),
                                               locate)
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
            outcome, usable = _answer(worker, call, call_id, min(limits.call_seconds, max(left, 0.01)), locate)
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
