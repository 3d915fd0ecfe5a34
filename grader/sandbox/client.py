"""The trusted side's client of a sandboxed worker: run a submission's calls, map every outcome.

:class:`WorkerSession` is the only place that talks to student code (through a worker):
:meth:`~WorkerSession.load` imports the submission, :meth:`~WorkerSession.call` runs one call,
and each returns a typed :class:`CallOutcome`; :data:`FAILURES` is the one mapping of protocol
failures (no answer in time, the worker gone, garbage) to outcomes. :func:`run_calls` answers a
submission's planned calls with one session.

Time limits count the submission's own time: wall time during which its worker was not
waiting for a CPU (runnable but starved by other processes, read from the kernel's
scheduler statistics). A worker that sleeps or loops uses its limit as before; one that a
busy machine starves gets the time back, up to :data:`WALL_FACTOR` times the limit in wall
time. A limit reached at that wall-clock backstop (the machine was too busy to tell) is
retried once in a fresh worker before it costs points.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping, Sequence

from grader.engine import calls as texts
from grader.engine.calls import plain_text
from grader.engine.notebook import NotebookError, notebook_source
from grader.engine.wire import OtherValue, WireError, decode_value
from grader.errors import ProtocolError, SandboxError
from grader.outputs.escaping import strip_host_details
from grader.intake.submissions import Submission
from grader.judging.items import Call
from grader.results import CallOutcome
from grader.rubric import Limits
from grader.sandbox.config import image_for
from grader.sandbox.manager import Sandbox, Worker
from grader.sandbox.protocol import Closed, Timeout

#: Wall time a starved worker may take for one request, as a multiple of its limit.
WALL_FACTOR = 4.0
#: Least time given to read an answer once it has begun to arrive.
READ_SECONDS = 2.0

#: How each protocol failure becomes an outcome, while importing and during a call:
#: (phase, failure) -> (outcome kind, its words from :mod:`grader.engine.calls`, the one home of
#: the words both sides use), given ``seconds``, ``function``, ``status`` (the worker's exit
#: status) and ``problem`` (what was wrong with the output).
FAILURES = {
    ("load", "timeout"): ("timeout", lambda d: texts.import_timeout(d["seconds"])),
    ("load", "closed"): ("not_loaded", lambda d: texts.import_ended_process(d["status"])),
    ("load", "invalid"): ("not_loaded", lambda d: texts.import_invalid(d["problem"])),
    ("call", "timeout"): ("timeout", lambda d: texts.call_timeout(d["function"], d["seconds"])),
    ("call", "closed"): ("crashed", lambda d: texts.call_ended_process(d["function"], d["status"])),
    ("call", "invalid"): ("invalid", lambda d: texts.call_invalid(d["function"], d["problem"])),
}


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


class _Failed(Exception):
    """A request that ended in an outcome instead of an answer; ``contended`` when it reached
    the wall-clock backstop while the machine starved the worker."""

    def __init__(self, outcome: CallOutcome, contended: bool = False, charge: float = 0.0):
        super().__init__(outcome.detail)
        self.outcome = outcome
        #: What the request costs the submission's budget if it is not retried.
        self.charge = charge
        self.contended = contended


def _failure(phase: str, failure: str, **details) -> CallOutcome:
    kind, words = FAILURES[(phase, failure)]
    return CallOutcome(kind, detail=words({"seconds": 0, "function": "", "status": "", "problem": "", **details}))


class _OutOfTime(Exception):
    """No answer came within the limit; ``contended`` when the wall-clock backstop was reached
    first, not the worker's own time."""

    def __init__(self, contended: bool):
        super().__init__("no answer within the limit")
        self.contended = contended


def _await_answer(worker: Worker, seconds: float) -> tuple[dict, float]:
    """Wait for the worker's next answer for ``seconds`` of its own time.

    Its own time is the wall time less what the machine kept it waiting for a CPU, and never
    less than the CPU it used meanwhile (up to the wall time): the threads of a worker that
    compete with each other (or with its own child processes) for its one CPU wait too, and
    that wait is the submission's own.

    Returns ``(answer, own seconds used)``. Raises :class:`_OutOfTime` when the limit was
    reached first, and Closed or ProtocolError as :meth:`Worker.receive` does.
    """
    started = time.monotonic()
    # A fresh reading, not the one taken when the last answer arrived: after answering, the
    # worker still runs until it blocks on this request, and on a busy machine it waits for a
    # CPU meanwhile; that wait would be subtracted from this request's time, so each call of
    # a submission would cost less than it took, by an amount the machine's load sets.
    starved_before, cpu_before = worker.usage()
    backstop = started + seconds * WALL_FACTOR
    now, own = started, 0.0

    def own_time() -> float:
        wall = time.monotonic() - started
        starved, cpu = worker.usage()
        return max(0.0, wall - (starved - starved_before), min(wall, cpu - cpu_before))

    while True:
        if own >= seconds:
            raise _OutOfTime(contended=False)
        if now >= backstop:
            raise _OutOfTime(contended=True)
        if worker.wait_readable(min(seconds - own, backstop - now) + 0.001):
            used = min(own_time(), seconds)  # what this request costs the submission's budget
            answer = worker.receive(max(READ_SECONDS, backstop - time.monotonic()))
            return answer, used
        now, own = time.monotonic(), own_time()


class WorkerSession:
    """One submission, run in one worker at a time.

    :meth:`load` imports the submission (in a fresh worker when there is none); :meth:`call`
    runs one call. Both return a :class:`CallOutcome` (``load`` returns None once imported);
    after any failure that leaves the worker unusable it is closed, and the next request
    starts a fresh one. Raises :class:`SandboxError` only when the sandbox itself fails.
    """

    def __init__(self, sandbox: Sandbox, slot: int, submission: Submission):
        #: For a notebook, what names the code cell and line of a line of its code.
        self.locate = notebook_locator(submission)
        self.sandbox = sandbox
        self.slot = slot
        self.submission = submission
        #: The warm image its workers are forked from (its own source decides).
        self.image = image_for(submission.source)
        self.worker: Worker | None = None
        self.functions: frozenset[str] = frozenset()
        #: Seconds of the submission's own time used so far (what its budget counts).
        self.used = 0.0

    def _exchange(self, message: dict, seconds: float, phase: str, function: str = "") -> dict:
        worker = self.worker
        try:
            worker.send(message)
            answer, own = _await_answer(worker, seconds)
        except Closed:
            raise _Failed(_failure(phase, "closed", function=function, status=worker.exit_status())) from None
        except Timeout:  # it does not take the request, or drips its answer
            raise _Failed(_failure(phase, "timeout", function=function, seconds=seconds)) from None
        except ProtocolError as exc:
            raise _Failed(_failure(phase, "invalid", function=function, problem=str(exc))) from None
        except _OutOfTime as out:  # out of step: no goodbye, no waiting for an answer that may never come
            worker.kill()
            # It costs exactly its limit, as in the local run, charged by the caller unless
            # retried: a request the machine starved is tried again and costs only its retry,
            # so the machine's load moves no budget.
            raise _Failed(_failure(phase, "timeout", function=function, seconds=seconds), out.contended,
                          charge=seconds) from None
        self.used += own
        return answer

    def _drop(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    def load(self, seconds: float, *, retried: bool = False) -> CallOutcome | None:
        """Import the submission in a fresh worker; None when it is ready for calls."""
        self._drop()
        try:
            self.worker = self.sandbox.spawn(self.slot, self.image)
        except SandboxError:  # no student code ran yet: a worker that failed to build its
            self.worker = self.sandbox.spawn(self.slot, self.image)  # sandbox once gets one more try
        message = {"op": "load", "filename": self.submission.filename, "source": self.submission.source}
        try:
            reply = self._exchange(message, seconds, "load")
        except _Failed as failed:
            self._drop()
            if failed.contended and not retried:
                return self.load(seconds, retried=True)
            self.used += failed.charge
            return failed.outcome
        invalid = _failure("load", "invalid")
        if reply.get("op") != "loaded" or type(reply.get("ok")) is not bool:
            self._drop()
            return invalid
        if not reply["ok"]:
            self._drop()
            error = _host_safe(reply.get("error") if type(reply.get("error")) is dict else {})
            return CallOutcome("not_loaded", detail=texts.import_failed(texts.relocate(error, self.locate)))
        functions = reply.get("functions")
        if type(functions) is not list or not all(type(f) is str for f in functions):
            self._drop()
            return invalid
        self.functions = frozenset(functions)
        self.worker.end_of_call()  # a daemon started at import time dies now
        return None

    def call(self, call: Call, call_id: int, seconds: float, *, import_seconds: float,
             retried: bool = False) -> CallOutcome:
        """Run one call (importing the submission first when no worker holds it)."""
        if self.worker is None:
            failed = self.load(import_seconds)
            if failed is not None:
                return failed
        if call.function not in self.functions:
            return CallOutcome("missing")
        message = {"op": "call", "id": call_id, "function": call.function, "args": list(call.args)}
        try:
            reply = self._exchange(message, seconds, "call", call.function)
        except _Failed as failed:
            self._drop()
            if failed.contended and not retried:
                return self.call(call, call_id, seconds, import_seconds=import_seconds, retried=True)
            self.used += failed.charge
            return failed.outcome
        outcome, usable = _call_outcome(reply, call, call_id, self.locate)
        if usable:
            self.worker.end_of_call()
        else:
            self._drop()
        return outcome

    def close(self) -> None:
        if self.worker is not None:  # with a PID namespace, its death needs no waiting for
            self.worker.close(wait="pid_namespace" not in self.sandbox.isolation.layers)
            self.worker = None


def _call_outcome(reply: dict, call: Call, call_id: int, locate=None) -> tuple[CallOutcome, bool]:
    """A call's answer as an outcome, and whether the worker is still usable."""
    if reply.get("op") != "result" or reply.get("id") != call_id or type(reply.get("ok")) is not bool:
        return _failure("call", "invalid", function=call.function), False
    if not reply["ok"]:
        error = _host_safe(reply.get("error") if type(reply.get("error")) is dict else {})
        if error.get("type") == "NotImplementedError":
            return CallOutcome("not_implemented"), True
        return CallOutcome("raised", detail=texts.call_raised(call.function, texts.relocate(error, locate))), True
    try:
        return CallOutcome("value", value=_plain_values(decode_value(reply.get("value")))), True
    except WireError as exc:
        return CallOutcome("invalid", detail=texts.call_invalid(call.function, str(exc))), True


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
    """Answer every call with the submission's code, one fresh worker after any failure.

    The submission's budget (``submission_seconds``) counts its own time, with the same
    wall-clock backstop as each request.
    """
    outcomes: dict[str, CallOutcome] = {}
    if submission.source is None:
        outcome = CallOutcome("not_loaded", detail=submission.error or "the submission cannot be read")
        return RunResult({call.key: outcome for call in calls})
    backstop = time.monotonic() + limits.submission_seconds * WALL_FACTOR
    session = WorkerSession(sandbox, slot, submission)
    try:
        for call_id, call in enumerate(calls):
            left = limits.submission_seconds - session.used
            if left <= 0 or time.monotonic() >= backstop:
                outcomes[call.key] = CallOutcome("timeout", detail=texts.submission_timeout(limits.submission_seconds))
                continue
            try:
                if session.worker is None:
                    failed = _budgeted(session.load(min(limits.import_seconds, left)), left, limits.import_seconds,
                                       limits)
                    if failed is not None:  # the import itself failed: every call shares the reason
                        for rest in calls[call_id:]:
                            outcomes[rest.key] = failed
                        break
                outcomes[call.key] = _budgeted(
                    session.call(call, call_id, min(limits.call_seconds, max(left, 0.01)),
                                 import_seconds=min(limits.import_seconds, left)),
                    left, min(limits.call_seconds, limits.import_seconds), limits)
            except SandboxError as exc:
                for rest in calls[call_id:]:
                    outcomes[rest.key] = CallOutcome("ungradable", detail=f"grader problem: {exc}")
                break
    finally:
        session.close()
    return RunResult(outcomes)


def _budgeted(outcome: CallOutcome | None, left: float, limit: float, limits) -> CallOutcome | None:
    """``outcome``, with the submission's budget named when a timeout came from what was left of
    it (``left``) cutting the request's own ``limit`` short (:func:`grader.engine.calls.timeout_words`)."""
    if outcome is None or outcome.kind != "timeout":
        return outcome
    return CallOutcome("timeout", detail=texts.timeout_words(outcome.detail, left, limit, limits.submission_seconds))


def _host_safe(error: Mapping) -> dict:
    """A worker's error report without host details (paths, account records, addresses) that
    student code could publish through its own exception text (issue 11, item 7)."""
    return {key: strip_host_details(" ".join(str(value).split())) if isinstance(value, str) else value
            for key, value in error.items()}
