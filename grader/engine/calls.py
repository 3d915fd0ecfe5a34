"""What one call of a student function gave, and the words for it, on both sides.

The grader's sandbox and the students' public run (:mod:`grader.engine.localrun`) run the
submission in another process and map what happens there to one :class:`Outcome` each;
the messages below are the only place those words are written, so a student sees in
``pytest`` what the grader's report says for the same answer.

Standard library only (this module ships to students; Python 3.9 and later).
"""

from __future__ import annotations

import re
import signal
import traceback
from dataclasses import dataclass
from typing import Callable, Mapping

from .provided import FILE_BYTES, OPEN_FILES, WORKDIR_BYTES

#: Kinds of outcome, as in the grader's ``grader.results.CallOutcome``.
KINDS = ("value", "raised", "not_implemented", "missing", "timeout", "crashed", "invalid",
         "not_loaded", "ungradable")


@dataclass(frozen=True)
class Outcome:
    """What one call gave: an answer (``kind == "value"``) or why there is none."""

    kind: str
    #: The decoded answer (only when ``kind == "value"``).
    value: object = None
    #: Why the call gave no answer, in words for the student.
    detail: str = ""


def plain_text(text, limit: int) -> str:
    """Text from student code made safe to show: one line, printable, at most ``limit``."""
    text = "".join(c if c.isprintable() else " " for c in str(text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_exception(exc: BaseException, filename: str) -> dict:
    """Type, message and the last line of the submission (``filename``) in the traceback.

    Never raises: an exception whose ``__str__`` or class name misbehaves is described as
    well as it can be.
    """
    try:
        kind = type.__dict__["__name__"].__get__(type(exc))  # not a metaclass's override
    except Exception:  # noqa: BLE001
        kind = "Exception"
    where, line, function = "", None, None
    try:
        if isinstance(exc, SyntaxError) and type(exc.lineno) is int:
            where, line = f"line {exc.lineno}", exc.lineno
        for frame in reversed(traceback.extract_tb(exc.__traceback__) if not where else []):
            if frame.filename == filename:
                where, line, function = f"line {frame.lineno}, in {frame.name}", frame.lineno, frame.name
                break
    except Exception:  # noqa: BLE001
        pass
    try:
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        if type(message) is not str:
            raise TypeError
    except Exception:  # noqa: BLE001 - a student exception whose __str__ raises
        message = "<unprintable message>"
    return {"type": str(kind)[:80], "message": message[:500], "where": where[:200], "line": line,
            "function": None if function is None else str(function)[:80]}


def relocate(error: Mapping, locate: Callable[[int], "str | None"] | None) -> Mapping:
    """``error`` with its place named by ``locate`` (a notebook's "code cell 3, line 2"
    for a line of its code), when it has a line that ``locate`` knows."""
    line = error.get("line")
    if locate is None or type(line) is not int:
        return error
    place = locate(line)
    if not place:
        return error
    function = error.get("function")
    return {**error, "where": place + (f", in {function}" if type(function) is str else "")}


def describe_error(error: Mapping) -> str:
    """One line for an exception described by :func:`describe_exception`, with what it means
    where the grader runs the file when it is one of the grader's limits (:func:`limit_hint`)."""
    kind = plain_text(error.get("type", "Exception"), 80)
    message = plain_text(error.get("message", ""), 300)
    where = plain_text(error.get("where", ""), 80)
    hint = limit_hint(message)
    return f"{kind}: {message}" + (f" ({where})" if where else "") + (f"; {hint}" if hint else "")


def limit_hint(message: str) -> str | None:
    """What an error's message means in the grader's sandbox, where the student's own machine
    may allow more: a file past the size limit, a full working folder, a folder it may not
    write, too many open files, a user without an account. None for any other message."""
    mib = 1024 * 1024
    if "File too large" in message or "No space left on device" in message \
            or re.search(r"\d+ requested and \d+ written", message):
        return (f"the grader lets a submission write files of at most {FILE_BYTES // mib} MiB, "
                f"{WORKDIR_BYTES // mib} MiB in all, in its working folder")
    if "Read-only file system" in message:
        return "the grader lets a submission write only in its working folder (the folder it starts in)"
    if "Too many open files" in message:
        return f"the grader lets a submission hold at most {OPEN_FILES} files open at once"
    if "getpwuid(): uid not found" in message or "getpwnam(): name not found" in message:
        return ("the grader runs a submission as a user without an account or a name: "
                "getpass.getuser(), os.getlogin() and $USER do not work there")
    return None


# ---------------------------------------------------------------------------
# The words for each outcome
# ---------------------------------------------------------------------------

def import_timeout(seconds: float) -> str:
    return f"importing the submission took longer than {seconds:g} s"


def import_failed(error: Mapping) -> str:
    return "importing the submission failed: " + describe_error(error)


#: The signals a process stopped at its CPU-time limit dies of: RLIMIT_CPU's SIGKILL (soft =
#: hard) or SIGXCPU, and the profiling timer's SIGPROF (the student's run).
CPU_LIMIT_SIGNALS = frozenset(getattr(signal, name) for name in ("SIGKILL", "SIGXCPU", "SIGPROF")
                              if hasattr(signal, name))
#: The share of its CPU limit that a process killed by one of those signals must have used
#: to be named stopped at the limit. The kernel enforces the limit on its tick-sampled CPU
#: clock, while the CPU time a parent reads back (wait4) is the exact run time: on a loaded
#: machine the two part. Under three busy loops on two cores, workers killed at a 2 s limit
#: had used 1.914 to 2.007 s (four runs); 0.99 missed three of them, 0.9 leaves a margin.
CPU_LIMIT_SHARE = 0.9


def ended_status(exit_code: int, cpu_used: float | None = None, cpu_limit: float | None = None) -> str:
    """How a process that ran a submission ended, from its exit code (negative: the signal
    that killed it): 'exit 3', 'signal SIGKILL'; or, given the CPU seconds it used and its
    limit, :func:`cpu_limit_status` when a CPU-limit signal ended it at that limit. The one
    rule for both the grader's supervisor and the student's run."""
    if (cpu_limit and cpu_used is not None and -exit_code in CPU_LIMIT_SIGNALS
            and cpu_used >= CPU_LIMIT_SHARE * cpu_limit):
        return cpu_limit_status(cpu_limit)
    if exit_code >= 0:
        return f"exit {exit_code}"
    try:
        return f"signal {signal.Signals(-exit_code).name}"
    except ValueError:
        return f"signal {-exit_code}"


def cpu_limit_status(seconds: float) -> str:
    """How a process that ran a submission ended when it reached its CPU-time limit (the
    rubric's ``worker_cpu_seconds``, for the import and every call that process made), as the
    status in :func:`import_ended_process` and :func:`call_ended_process`."""
    return f"stopped at its limit of {seconds:g} s of CPU time"


def memory_limit_status(mib: float) -> str:
    """How a worker ended when the kernel killed it because its processes together held more
    memory than its cgroup allows (the address-space limit, the working directory and a
    margin), as the status in :func:`import_ended_process` and :func:`call_ended_process`."""
    return f"stopped at its memory limit of {mib:,.0f} MiB for all its processes together"


def import_ended_process(status: str) -> str:
    return f"the submission ended the worker process while being imported ({status})"


def call_timeout(function: str, seconds: float) -> str:
    return f"{function} did not finish within {seconds:g} s"


def submission_timeout(seconds: float) -> str:
    return f"the submission used up its {seconds:g} s in all"


def timeout_words(words: str, given: float, limit: float, budget: float) -> str:
    """The words for a request that ran out of time: ``words`` when it had its own ``limit``,
    the submission's whole ``budget`` when what was left of that cut the limit short (so the
    message never holds a leftover fraction of a second that changes from run to run)."""
    return submission_timeout(budget) if given < limit else words


def call_ended_process(function: str, status: str) -> str:
    return f"{function} ended the worker process ({status})"


def import_invalid(problem: str = "") -> str:
    return "invalid output while importing the submission" + (f": {problem}" if problem else "")


def call_invalid(function: str, problem: str = "") -> str:
    return f"{function} gave invalid output" + (f": {problem}" if problem else "")


def call_raised(function: str, error: Mapping) -> str:
    return f"{function} raised {describe_error(error)}"


def outcome_of_error(function: str, error: Mapping) -> Outcome:
    """The outcome of a call that raised (``error`` as from :func:`describe_exception`)."""
    if error.get("type") == "NotImplementedError":
        return Outcome("not_implemented")
    return Outcome("raised", detail=call_raised(function, error))


#: Error texts of numbers-only functions given a sympy symbol, and what to use instead.
_SYMPY_HINTS = (
    ("Cannot convert expression to float",
     "a function for plain numbers (math.sqrt, math.exp, float, ...) was given a sympy symbol; "
     "the symbolic answers need sympy's own functions (sympy.sqrt, sympy.exp, sympy.Abs, ...)"),
    ("has no callable",
     "a numpy function (np.sqrt, np.sign, np.abs, ...) was given a sympy symbol; the symbolic "
     "answers need sympy's own functions (sympy.sqrt, sympy.sign, sympy.Abs, ...)"),
    ("cannot determine truth value of Relational",
     "a comparison (if x < 0, max, np.sign, ...) was applied to a sympy symbol, whose sign is "
     "unknown; write it with sympy's functions instead (sympy.Abs, sympy.sign, sympy.Piecewise)"),
)


def sympy_hint(error_text: str) -> str | None:
    """A hint for an error raised by applying a numbers-only function to a symbol."""
    for marker, hint in _SYMPY_HINTS:
        if marker in error_text:
            return f"Hint: {hint}."
    return None


def with_sympy_hint(error_text: str) -> str:
    """The error text, with :func:`sympy_hint` appended when one applies."""
    hint = sympy_hint(error_text)
    return error_text if hint is None else f"{error_text}. {hint}"


def unusable(outcome: Outcome, function: str) -> str | None:
    """Why an outcome has no answer to judge (None when it has one)."""
    if outcome.kind == "value":
        return None
    if outcome.kind == "not_implemented":
        return f"{function} is not implemented yet (it raises NotImplementedError)"
    if outcome.kind == "missing":
        return f"{function} is not defined in the submission"
    if outcome.kind in ("not_loaded", "ungradable"):
        return outcome.detail
    if outcome.kind == "raised":
        return with_sympy_hint(outcome.detail or f"{function} raised an exception")
    return outcome.detail or f"{function} gave no answer ({outcome.kind})"
