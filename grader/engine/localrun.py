"""The public run's worker: the student's file runs in a child process, under the grader's limits.

The public checks never import the submission into ``pytest``'s own process. A child Python
(:func:`child_main`) imports it in a fresh, empty working directory, with stdin at end of
file and its output discarded, as the grader's sandbox does, and answers calls with the same
wire values. The parent (:class:`LocalRun`) applies the rubric's wall-clock limits, read from
the public data (``limits``): the import, each call, the whole submission. A call that runs
too long costs that call only and a fresh child goes on, as in the grader; an infinite loop
never hangs ``pytest``.

Two things the grader would refuse fail in the child too: importing a module the grader does
not provide, however the import is written (the grader's own guard and message, from
:mod:`grader.engine.provided`), and opening a file of the public checks themselves
(``public_checks.json``, the tests, the handout), which the grader does not have (flagged).

Plain Python on Linux, macOS and Windows (subprocess, threads and pipes only; Python 3.9+).
The sandbox is the grader's business: this is not one, and need not be.
"""

from __future__ import annotations

import json
import math
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from . import calls
from .calls import Outcome
from .provided import FILE_BYTES, HASH_SEED, MATPLOTLIB_BACKEND, ONE_THREAD, OPEN_FILES, names_plotting, warm_up

#: The name the submission is imported under (as in the grader's worker).
MODULE_NAME = "adam_vs_momentum"
#: Seconds the child may take to start Python and import numpy and sympy (not the student's time).
STARTUP_SECONDS = 120.0
#: Environment variables naming the user, which the grader's workers do not have (the child
#: keeps the rest of the student's environment: what finds this Python and its packages).
ACCOUNT_VARIABLES = frozenset({"USER", "LOGNAME", "USERNAME", "LNAME"})


@dataclass(frozen=True)
class Limits:
    """The rubric's ``[limits]`` as the student's run applies them: wall-clock seconds for the
    import, one call and the whole submission, and one process's CPU seconds and MiB."""

    import_seconds: float
    call_seconds: float
    submission_seconds: float
    #: CPU seconds and address space (MiB) of one process that runs the file, as the grader's
    #: worker has them; applied where the system can (not on Windows); None: not applied.
    cpu_seconds: float | None = None
    memory_mib: float | None = None

    @classmethod
    def from_data(cls, data: dict) -> "Limits":
        limits = data.limits if hasattr(data, "limits") else data["limits"]
        optional = {name: float(limits[key]) for name, key in (("cpu_seconds", "worker_cpu_seconds"),
                                                               ("memory_mib", "worker_memory_mib"))
                    if key in limits}
        return cls(float(limits["import_seconds"]), float(limits["call_seconds"]),
                   float(limits["submission_seconds"]), **optional)


#: Share of the submission's budget past which the preview warns: the grader calls the
#: functions about a quarter more often than the public checks (more hidden inputs, more
#: property probes), so a file that uses this much here may run out of its budget there.
BUDGET_WARNING_SHARE = 0.6


def budget_note(used: float, budget: float) -> str | None:
    """The preview's warning for a run that took ``used`` seconds of its ``budget``
    (``submission_seconds``), or None when it kept well within it."""
    if budget <= 0 or used <= BUDGET_WARNING_SHARE * budget:
        return None
    return (f"your file took {used:.0f} s of its {budget:g} s budget here; the grader calls your "
            "functions about a quarter more often (more hidden inputs and property checks), so it "
            "may run out of time there and lose the items checked last: make the slow functions faster")


class _Timeout(Exception):
    pass


class _Closed(Exception):
    pass


class _Child:
    """One child process and the thread that reads its answers."""

    def __init__(self, python: str, root: Path, workdir: Path, *, plotting: bool = False):
        boot = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from grader.engine.localrun import child_main; child_main(plotting=sys.argv[2] == 'plotting')")
        options = {"start_new_session": True} if os.name == "posix" else {
            "creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
        # the grader's workers run as a user without an account or a name in their environment
        env = {**{key: value for key, value in os.environ.items() if key not in ACCOUNT_VARIABLES},
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": HASH_SEED, "MPLBACKEND": MATPLOTLIB_BACKEND,
               **ONE_THREAD}
        self.process = subprocess.Popen(
            [python, "-c", boot, str(root), "plotting" if plotting else "plain"], cwd=workdir, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, **options)
        self.answers: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self.process.stdout:
                self.answers.put(line)
        except (OSError, ValueError):
            pass
        self.answers.put(None)

    def send(self, message: dict) -> None:
        try:
            self.process.stdin.write(json.dumps(message).encode("utf-8") + b"\n")
            self.process.stdin.flush()
        except (OSError, ValueError):
            raise _Closed from None

    def receive(self, seconds: float) -> dict:
        try:
            line = self.answers.get(timeout=max(seconds, 0.001))
        except queue.Empty:
            raise _Timeout from None
        if line is None:
            raise _Closed
        try:
            message = json.loads(line)
        except ValueError:
            raise _Closed from None
        if type(message) is not dict:
            raise _Closed
        return message

    def status(self, cpu_limit: float | None = None) -> str:
        """How the child ended, in the grader's words (:func:`calls.ended_status`, which also
        names a child stopped at ``cpu_limit``)."""
        cpu = None
        if hasattr(os, "wait4") and self.process.returncode is None:
            deadline = time.monotonic() + 2
            while True:  # wait4, not Popen.wait: the child's CPU time comes with its status
                try:
                    pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid:
                    self.process.returncode = os.waitstatus_to_exitcode(status)
                    cpu = usage.ru_utime + usage.ru_stime
                    break
                if time.monotonic() > deadline:
                    return "still running"
                time.sleep(0.01)
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "still running"
        return calls.ended_status(code, cpu, cpu_limit)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                if os.name == "posix":
                    os.killpg(self.process.pid, 9)
                else:
                    self.process.kill()
            except OSError:
                pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


class LocalRun:
    """The student's file, run in a child process: :meth:`call` answers one call at a time.

    ``source`` is the Python code to import (a notebook's code cells, already extracted),
    ``filename`` the name it gets in the working directory, ``bundle`` the folder whose
    top-level files the submission must not open.
    """

    def __init__(self, source: str, filename: str, limits: Limits, *, bundle: Path,
                 python: str | None = None, locate=None):
        self.source, self.filename, self.limits = source, filename, limits
        #: Names the place of a line of ``source`` (a notebook's code cell and line), or None.
        self.locate = locate
        self.bundle = Path(bundle).resolve()
        self.python = python or sys.executable
        self.root = Path(__file__).resolve().parents[2]
        self.workdir = Path(tempfile.mkdtemp(prefix="adam-vs-momentum-"))
        self.flags: list[str] = []
        self._child: _Child | None = None
        self._load_failure: Outcome | None = None
        #: Seconds the submission's import and calls have taken so far (:attr:`used`): what its budget
        #: (``submission_seconds``) counts, request by request as in the grader, so the time
        #: the checks spend between calls never costs the student.
        self._used = 0.0
        self._call_id = 0
        self._answers: dict = {}

    @property
    def used(self) -> float:
        """Seconds of the submission's budget its import and calls have taken so far."""
        return self._used

    # -- the parent's side -------------------------------------------------------------

    def _start(self, seconds: float) -> Outcome | None:
        """A child with the submission imported (None), or the outcome every call shares."""
        child = _Child(self.python, self.root, self.workdir, plotting=names_plotting(self.source))
        try:
            ready = child.receive(STARTUP_SECONDS)
        except (_Timeout, _Closed):
            child.close()
            return Outcome("ungradable", detail="the public checks could not start a Python process "
                                                f"({self.python}) to run the submission")
        if ready.get("op") != "ready":
            child.close()
            return Outcome("ungradable", detail="the public checks' child process did not start")

        def failed(kind: str, detail: str) -> Outcome:
            child.close()
            return Outcome(kind, detail=detail)

        started = time.monotonic()
        try:
            child.send({"op": "load", "filename": self.filename, "source": self.source,
                        "bundle": str(self.bundle), "cpu_seconds": self.limits.cpu_seconds,
                        "memory_mib": self.limits.memory_mib})
            reply = child.receive(seconds)
        except _Timeout:
            self._used += seconds
            return failed("timeout", calls.timeout_words(calls.import_timeout(seconds), seconds,
                                                         self.limits.import_seconds, self.limits.submission_seconds))
        except _Closed:
            return failed("not_loaded", calls.import_ended_process(child.status(self.limits.cpu_seconds)))
        self._used += min(time.monotonic() - started, seconds)
        self._note(reply)
        if not reply.get("ok"):
            return failed("not_loaded", calls.import_failed(calls.relocate(reply.get("error") or {}, self.locate)))
        self._child = child
        return None

    def _note(self, reply: dict) -> None:
        for flag in reply.get("flags") or ():
            if flag not in self.flags:
                self.flags.append(str(flag))

    def call(self, function: str, args: Sequence[dict]) -> Outcome:
        """Call ``function`` with encoded arguments (:mod:`grader.engine.arguments`)."""
        key = json.dumps([function, list(args)], separators=(",", ":"))
        if key not in self._answers:  # each distinct call is made once, as in the grader
            self._answers[key] = self._call(function, args)
        return self._answers[key]

    def _call(self, function: str, args: Sequence[dict]) -> Outcome:
        from .wire import WireError, decode_value

        if self._load_failure is not None:
            return self._load_failure
        left = self.limits.submission_seconds - self._used
        if left <= 0:
            return Outcome("timeout", detail=calls.submission_timeout(self.limits.submission_seconds))
        if self._child is None:
            failure = self._start(min(self.limits.import_seconds, left))
            if failure is not None:
                self._load_failure = failure
                return failure
            left = self.limits.submission_seconds - self._used
        child = self._child
        seconds = min(self.limits.call_seconds, max(left, 0.01))
        self._call_id += 1
        started = time.monotonic()
        try:
            child.send({"op": "call", "id": self._call_id, "function": function, "args": list(args)})
            reply = child.receive(seconds)
        except _Timeout:
            self._used += seconds
            self._drop()
            return Outcome("timeout", detail=calls.timeout_words(calls.call_timeout(function, seconds), seconds,
                                                                 self.limits.call_seconds,
                                                                 self.limits.submission_seconds))
        except _Closed:
            status = child.status(self.limits.cpu_seconds)
            self._drop()
            return Outcome("crashed", detail=calls.call_ended_process(function, status))
        self._used += min(time.monotonic() - started, seconds)
        self._note(reply)
        if reply.get("id") != self._call_id:
            self._drop()
            return Outcome("invalid", detail=calls.call_invalid(function))
        if reply.get("missing"):
            return Outcome("missing")
        if not reply.get("ok"):
            return calls.outcome_of_error(function, calls.relocate(reply.get("error") or {}, self.locate))
        try:
            return Outcome("value", value=decode_value(reply.get("value")))
        except WireError as exc:
            return Outcome("invalid", detail=calls.call_invalid(function, str(exc)))

    def _drop(self) -> None:
        if self._child is not None:
            self._child.close()
            self._child = None

    def close(self) -> None:
        self._drop()
        shutil.rmtree(self.workdir, ignore_errors=True)


# ---------------------------------------------------------------------------
# The child's side
# ---------------------------------------------------------------------------

def _guard_imports(module_name: str) -> None:
    """Imports in the submission fail as they would in the grader, however they are written: the
    grader's worker installs the same guard (:func:`grader.engine.provided.guard_imports`).

    What this process itself needs of the engine is loaded by then (the guard refuses the
    ``grader`` package to whoever imports it for the first time)."""
    from . import arguments, calls, wire  # noqa: F401 - loaded before the guard, as in the worker
    from .provided import guard_imports

    guard_imports(module_name)


def data_file_message(name: str) -> str:
    return (f"the submission opened {name}, a file of the public checks: the grader does not have "
            "it, so an answer read from it earns nothing")


def _guard_bundle_files(bundle: Path, workdir: Path, flags: list) -> None:
    """Opening a top-level file of the bundle (public_checks.json, the tests) fails, flagged."""
    top_level = {os.path.normcase(str(path)) for path in bundle.iterdir() if path.is_file()} \
        if bundle.is_dir() else set()

    def hook(event, args):
        if event != "open" or not args:
            return
        target = args[0]
        if isinstance(target, int):
            return
        try:
            path = os.fsdecode(target)
            full = os.path.normcase(os.path.realpath(os.path.join(str(workdir), path)))
        except Exception:  # noqa: BLE001
            return
        if full in top_level:
            message = data_file_message(os.path.basename(full))
            if message not in flags:
                flags.append(message)
            raise PermissionError(message)

    sys.addaudithook(hook)


def _apply_limits(cpu_seconds: float | None, memory_mib: float | None) -> None:
    """The grader worker's limits on this process, where the system has them: ``cpu_seconds``
    more of CPU time from now (the grader's worker starts at none: a fork of a warm process),
    an address space of ``memory_mib``, and the worker's file size and open files
    (:data:`provided.FILE_BYTES`, :data:`provided.OPEN_FILES`), soft = hard as in the grader.

    The CPU limit is a profiling timer (its default action ends the process), which counts
    fractions of a second, with ``RLIMIT_CPU`` (whole seconds) a second later as a backstop."""
    try:
        import resource
    except ImportError:  # Windows
        return
    if cpu_seconds:
        if hasattr(signal, "setitimer"):
            signal.signal(signal.SIGPROF, signal.SIG_DFL)
            signal.setitimer(signal.ITIMER_PROF, float(cpu_seconds))
        used = resource.getrusage(resource.RUSAGE_SELF)
        seconds = math.ceil(used.ru_utime + used.ru_stime + cpu_seconds) + 1
        try:
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))
        except (OSError, ValueError):
            pass
    if memory_mib and hasattr(resource, "RLIMIT_AS"):
        size = int(memory_mib) * 1024 * 1024
        try:
            resource.setrlimit(resource.RLIMIT_AS, (size, size))
        except (OSError, ValueError):
            pass
    for name, value in (("RLIMIT_FSIZE", FILE_BYTES), ("RLIMIT_NOFILE", OPEN_FILES)):
        which = getattr(resource, name, None)
        if which is None:
            continue
        try:  # never above what the system already allows (a lower hard limit stays)
            _, hard = resource.getrlimit(which)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (value, value))
        except (OSError, ValueError):
            pass


def child_main(*, plotting: bool = False) -> None:  # pragma: no cover - runs in the child process
    """Serve the parent: ``load`` once, then ``call`` requests, one JSON line each way.

    Before it says it is ready, the child imports what the grader's zygote has imported before
    a worker's import is timed (:func:`provided.warm_up`), and matplotlib too when ``plotting``
    (the submission names the plotting library, :func:`provided.names_plotting`), as the
    grader's plotting image has it."""
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    nothing = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(nothing, fd)
    sys.stdin = open(os.devnull)  # noqa: SIM115
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115

    from .arguments import decode_argument
    from .wire import encode_value

    flags: list = []
    sent: set = set()

    def answer(message: dict) -> None:
        new = [flag for flag in flags if flag not in sent]
        sent.update(new)
        if new:
            message = {**message, "flags": new}
        try:
            data = json.dumps(message, allow_nan=False)
        except (ValueError, TypeError, RecursionError, OverflowError) as exc:
            data = json.dumps({k: message[k] for k in ("op", "id") if k in message} | {
                "ok": False, "error": {"type": "InvalidOutput",
                                       "message": f"the answer cannot be sent: {str(exc)[:200]}", "where": ""}})
        answers.write(data.encode("utf-8") + b"\n")
        answers.flush()

    if plotting:
        try:
            import matplotlib

            matplotlib.use(MATPLOTLIB_BACKEND)
            import matplotlib.pyplot  # noqa: F401
        except Exception:  # noqa: BLE001 - not installed here: the submission's import says so
            pass
    try:
        warm_up()  # what the grader's zygote has imported before a worker's import is timed
    except Exception:  # noqa: BLE001 - numpy or sympy missing here: the submission's import says so
        pass
    answer({"op": "ready"})
    module = None
    filename = ""
    for line in requests:
        request = json.loads(line)
        if request.get("op") == "load":
            import types

            workdir = Path.cwd()
            path = workdir / request["filename"]
            filename = str(path)
            path.write_text(request["source"], encoding="utf-8")
            _apply_limits(request.get("cpu_seconds"), request.get("memory_mib"))
            _guard_bundle_files(Path(request["bundle"]), workdir, flags)
            module = types.ModuleType(MODULE_NAME)
            module.__file__ = filename
            sys.modules[MODULE_NAME] = module
            _guard_imports(MODULE_NAME)
            try:
                code = compile(request["source"], filename, "exec", dont_inherit=True)
                exec(code, module.__dict__)  # noqa: S102 - the student's own code, on their machine
                answer({"op": "loaded", "ok": True})
            except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt too
                answer({"op": "loaded", "ok": False, "error": calls.describe_exception(exc, filename)})
        elif request.get("op") == "call":
            reply = {"op": "result", "id": request["id"]}
            function = module.__dict__.get(request["function"]) if module is not None else None
            if not callable(function):
                answer({**reply, "ok": False, "missing": True})
                continue
            try:
                value = function(*[decode_argument(a) for a in request["args"]])
                encoded = encode_value(value)
            except BaseException as exc:  # noqa: BLE001
                answer({**reply, "ok": False, "error": calls.describe_exception(exc, filename)})
                continue
            answer({**reply, "ok": True, "value": encoded})
        else:
            break
    os._exit(0)


def encode_call_arguments(args: Iterable) -> list[dict]:
    """Decoded public arguments (Symbols, arrays, numbers) back in their plain form."""
    from .arguments import encode_argument

    out = []
    for arg in args:
        name = getattr(arg, "name", None)
        out.append({"sym": name} if isinstance(name, str) and hasattr(arg, "is_Symbol") else encode_argument(arg))
    return out
