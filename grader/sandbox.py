"""The sandbox, seen from the trusted grader: a zygote process and the workers it forks.

:class:`Sandbox` starts :mod:`grader.zygote` once per batch; :meth:`Sandbox.spawn` gets a
fresh, isolated :class:`Worker` for one submission (or for the rest of one, after a timeout
or a crash). The grader talks to a worker only through framed JSON messages
(:mod:`grader.protocol`) and never imports student code.

What each isolation layer protects against is listed in :data:`LAYER_PURPOSES`; the layers
obtained are recorded in every report, and a missing one is announced once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import site
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import SandboxError
from .isolation import ALL_LAYERS
from .protocol import MAX_WORKER_MESSAGE, Closed, read_message, write_message
from .rubric import Limits

#: What each layer protects against (also printed by ``grader doctor`` and the README).
LAYER_PURPOSES = {
    "separate_process": "student code never runs in the grader's process, so it cannot read "
                        "expected values or patch the comparison",
    "clean_environment": "no environment variable of the instructor's session reaches student code",
    "private_workdir": "the working directory is empty but for a copy of the submission",
    "stdin_devnull": "reading stdin returns end-of-file at once instead of hanging",
    "resource_limits": "CPU time, memory, processes, file size and open files are capped; no core dumps",
    "unprivileged_uid": "each concurrent worker runs as its own unprivileged uid, so it cannot touch "
                        "root's files or processes, nor another worker's",
    "no_network": "no network interface but a loopback that is down: no connection anywhere",
    "pid_namespace": "the worker is PID 1 of its own PID namespace: it sees no other process, and "
                     "everything it starts dies with it",
    "private_mounts": "the reference, the grader, other submissions, the output folder, home "
                      "folders and /tmp do not exist in the worker's view of the filesystem",
    "no_new_privileges": "setuid programs cannot raise the worker's privileges",
}

UID_BASE = 61000


@dataclass(frozen=True)
class Isolation:
    """The isolation layers in force for a batch, and why any are missing."""

    layers: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(layer for layer in ALL_LAYERS if layer not in self.layers)

    @property
    def complete(self) -> bool:
        return not self.missing


def _package_dir(name: str) -> str | None:
    spec = importlib.util.find_spec(name)
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return os.path.realpath(list(spec.submodule_search_locations)[0])
    return os.path.realpath(spec.origin) if spec.origin else None


def python_paths() -> list[str]:
    """Folders the worker's Python needs: the standard library and site-packages."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        paths.add(sysconfig.get_paths()[key])
    paths.update(site.getsitepackages())
    for module in ("numpy", "sympy", "mpmath"):
        spec = importlib.util.find_spec(module)
        if spec and spec.origin:
            paths.add(os.path.dirname(os.path.dirname(os.path.realpath(spec.origin))))
    return sorted(os.path.realpath(p) for p in paths if p and os.path.exists(p))


SYSTEM_PATHS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc",
                "/dev", "/proc", "/sys")


def sandbox_config(limits: Limits, *, namespaces: bool = True, hide: Iterable[str] = ()) -> dict:
    """The zygote's configuration: what stays visible, what is covered, the limits."""
    keep = list(SYSTEM_PATHS) + python_paths()
    covered = set(os.path.realpath(p) for p in hide)
    for package in ("reference", "grader", "assignment"):
        location = _package_dir(package)
        if location:
            covered.add(location)
    covered.update({"/dev/shm", "/dev/mqueue"})
    return {
        "namespaces": namespaces,
        "keep": keep,
        "hide": sorted(covered),
        "python_paths": python_paths(),
        "uid_base": UID_BASE,
        "limits": {
            "cpu_seconds": int(limits.worker_cpu_seconds),
            "memory_bytes": int(limits.worker_memory_mib) * 1024 * 1024,
            "processes": 64,
        },
    }


class Worker:
    """One sandboxed worker: send requests, receive answers, kill it."""

    def __init__(self, request_fd: int, response_fd: int, control: socket.socket):
        self._request_fd = request_fd
        self._response_fd = response_fd
        self._control = control
        self._status: str | None = None

    def send(self, message: dict) -> None:
        try:
            write_message(self._request_fd, message)
        except (BrokenPipeError, OSError) as exc:
            raise Closed(f"worker is gone ({exc})") from None

    def receive(self, seconds: float) -> dict:
        """The next answer, within ``seconds``; raises Timeout, Closed or ProtocolError."""
        return read_message(self._response_fd, deadline=time.monotonic() + seconds,
                            max_size=MAX_WORKER_MESSAGE)

    def exit_status(self, wait: float = 2.0) -> str:
        """How the worker ended ('exit 3', 'signal SIGKILL', 'killed'); waits a little."""
        if self._status is None:
            self._control.settimeout(wait)
            try:
                self._status = self._control.recv(64).decode(errors="replace") or "unknown"
            except OSError:
                self._status = "unknown"
        return self._status

    def kill(self) -> None:
        """Kill the worker and everything it started; idempotent."""
        try:
            self._control.send(b"k")
        except OSError:
            pass
        self.exit_status()

    def close(self) -> None:
        """Tell the worker to stop, kill what remains, release file descriptors."""
        try:
            self.send({"op": "bye"})
        except Closed:
            pass
        self.kill()
        for fd in (self._request_fd, self._response_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self._control.close()


class Sandbox:
    """A running zygote. Use as a context manager; thread-safe :meth:`spawn`."""

    def __init__(self, limits: Limits, *, namespaces: bool = True, hide: Iterable[str] = ()):
        self._config = sandbox_config(limits, namespaces=namespaces, hide=hide)
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._socket: socket.socket | None = None
        self._log = None
        self.isolation = Isolation((), ())

    def __enter__(self) -> "Sandbox":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> Isolation:
        """Start the zygote and wait until it is warm; returns the layers it obtained."""
        if not hasattr(os, "fork"):
            raise SandboxError("the grader's sandbox needs a POSIX system with fork()")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._log = tempfile.TemporaryFile()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "grader.zygote", str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, env=env,
                pass_fds=(theirs.fileno(),), cwd="/")
        except OSError as exc:
            raise SandboxError(f"cannot start the sandbox: {exc}") from None
        theirs.close()
        self._socket = ours
        ours.sendall(json.dumps(self._config).encode())
        ours.settimeout(120)
        try:
            reply = json.loads(ours.recv(1 << 16) or b"{}")
        except (OSError, ValueError) as exc:
            raise SandboxError(f"the sandbox did not start: {exc}; {self._zygote_log()}") from None
        finally:
            ours.settimeout(None)
        if not reply.get("ready"):
            raise SandboxError(f"the sandbox did not start: {self._zygote_log()}")
        self.isolation = Isolation(tuple(reply["layers"]), tuple(reply["warnings"]))
        return self.isolation

    def _zygote_log(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read()[-2000:].decode(errors="replace")

    def spawn(self, slot: int) -> Worker:
        """A fresh worker in slot ``slot`` (its uid when the grader runs as root)."""
        request_r, request_w = os.pipe()
        response_r, response_w = os.pipe()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                if self._socket is None or self._process is None or self._process.poll() is not None:
                    raise SandboxError(f"the sandbox is not running; {self._zygote_log()}")
                socket.send_fds(self._socket, [json.dumps({"slot": slot}).encode()],
                                [request_r, response_w, theirs.fileno()])
        except OSError as exc:
            for fd in (request_r, request_w, response_r, response_w):
                os.close(fd)
            ours.close()
            raise SandboxError(f"cannot start a worker: {exc}") from None
        finally:
            theirs.close()
        os.close(request_r)
        os.close(response_w)
        return Worker(request_w, response_r, ours)

    def close(self) -> None:
        """Stop the zygote (workers die with their supervisors)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
