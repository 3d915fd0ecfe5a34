"""The sandbox, seen from the trusted grader: a zygote process and the workers it forks.

:class:`Sandbox` starts :mod:`grader.sandbox.zygote` once per batch and warm image
(:data:`grader.sandbox.config.IMAGES`); :meth:`Sandbox.spawn` gets a
fresh, isolated :class:`Worker` for one submission (or for the rest of one, after a timeout
or a crash). The grader talks to a worker only through framed JSON messages
(:mod:`grader.sandbox.protocol`) and never imports student code.

What each isolation layer protects against is listed in :data:`LAYER_PURPOSES`; the layers
obtained are recorded in every report, and a missing one is announced once.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import random
import select
import site
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Iterable

from grader.sandbox import isolation as iso
from grader.errors import ProtocolError, SandboxError, UnreachableInstall
from grader.engine.calls import memory_limit_status
from grader.engine.provided import HASH_SEED, ONE_THREAD
from grader.sandbox.isolation import ALL_LAYERS
from grader.sandbox.protocol import MAX_WORKER_MESSAGE, Closed, Timeout, read_message, write_message
from grader.sandbox import cgroups
from grader.sandbox.cgroups import WorkerCgroups
from grader.sandbox.config import IMAGES, PLOTTING, SandboxConfig, WorkerLimits
from grader.sandbox.zygote import SPAWN
from grader.rubric import Limits

#: What each layer protects against (printed with the warning for every missing layer).
LAYER_PURPOSES = {
    "separate_process": "student code never runs in the grader's process, so it cannot read "
                        "expected values or patch the comparison",
    "clean_environment": "no environment variable of the instructor's session reaches student code",
    "private_workdir": "the working directory is empty but for a copy of the submission",
    "stdin_devnull": "reading stdin returns end-of-file at once instead of hanging",
    "resource_limits": "CPU time, memory, processes, file size and open files are capped; no core dumps",
    "unprivileged_uid": "each concurrent worker runs as its own unprivileged uid (a block drawn per "
                        "batch), so it cannot touch root's files or processes, nor another worker's, "
                        "nor another batch's",
    "no_capabilities": "the worker holds no capability, so it cannot unmount what covers hidden "
                       "paths, mount a /proc that shows the grader, or raise its limits",
    "no_network": "each worker has its own network namespace with a loopback that is down: no "
                  "connection anywhere, not even to another worker (abstract unix sockets included)",
    "pid_namespace": "the worker is PID 1 of its own PID namespace: it sees no other process, and "
                     "everything it starts dies with it",
    "private_mounts": "the worker's root holds only the system and Python folders, read-only, and "
                      "its own /tmp: the reference, the grader, other submissions, the output "
                      "folder and home folders do not exist there, not even once created later",
    "no_new_privileges": "setuid programs cannot raise the worker's privileges",
    "landlock": "the kernel lets the worker read only the system and Python folders and write only "
                "its working directory, whatever the file permissions; it may not ptrace, signal or "
                "reach through abstract unix sockets any process outside its sandbox, nor open TCP "
                "connections",
    "syscall_filter": "a seccomp filter refuses new sessions (each would get a CPU share of its own), "
                      "keyrings (a channel between submissions of one uid) and System V IPC (memory "
                      "outside the limits, shared by the whole host)",
    "cgroup_limits": "each worker is a cgroup: one fair CPU share (at most one CPU) however many "
                     "processes it starts, and one memory and process limit for all of them",
    "capped_workdir": "the working directory is a size-capped tmpfs: a worker cannot fill the host's disk",
}

#: Worker uids (when the grader runs as root): each batch draws its own block of
#: ``UID_BLOCK`` uids at random from this range, so that two batches on one machine never
#: share a uid (a worker could signal every process of its uid). No user account has them.
UID_RANGE = (2_000_000_000, 2_100_000_000)
UID_BLOCK = 1024
#: Seconds a worker may take to build its sandbox, and to take a request off its pipe.
HELLO_SECONDS = 30.0
SEND_SECONDS = 10.0
#: The unit of the CPU times in ``/proc/PID/stat``.
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


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


SYSTEM_PATHS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc",
                "/dev", "/proc", "/sys")
#: Modules of the grader that run inside a worker (imported by the zygote before forking);
#: their files are the only grader files a worker may read.
WORKER_MODULES = ("grader", "grader.errors", "grader.engine", "grader.engine.arguments", "grader.engine.calls",
                  "grader.engine.contract", "grader.engine.expressions", "grader.engine.provided",
                  "grader.engine.symbols", "grader.engine.wire", "grader.sandbox", "grader.sandbox.protocol",
                  "grader.sandbox.worker")


#: Files that describe the grading machine, not Python (its accounts, its name, its network),
#: covered by empty files in the worker's private root, and left out of Landlock's allow-list
#: without namespaces: student code could encode them past any filter of quoted exception text.
HOST_FILES = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/subuid", "/etc/subgid",
              "/etc/hostname", "/etc/hosts", "/etc/machine-id")


def site_folders() -> list[str]:
    """Every site-packages folder of this interpreter, and every other ``sys.path`` folder the
    provided packages are installed in (``pip install --target``, a folder added by a .pth
    file): a worker may list them, never read them whole."""
    from grader.engine.provided import PROVIDED, SUPPORT

    folders = set(site.getsitepackages()) | {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    if site.ENABLE_USER_SITE and site.getusersitepackages():
        folders.add(site.getusersitepackages())
    folders.update(p for p in sys.path if p and os.path.basename(p.rstrip("/")) in ("site-packages", "dist-packages"))
    on_path = {os.path.realpath(p) for p in sys.path if p}
    for dist in _distributions(list(PROVIDED.values()) + list(SUPPORT)):
        home = os.path.realpath(str(dist.locate_file("")))
        if home in on_path:
            folders.add(home)
    return sorted({os.path.realpath(p) for p in folders if os.path.isdir(p)})


def foreign_site_folders() -> list[str]:
    """Site-packages folders of any Python on this system (the base interpreter's, the system
    Pythons' under /usr): what another installation of the grader may have put there."""
    import glob

    patterns = [os.path.join(folder, name) for folder in stdlib_folders()
                for name in ("site-packages", "dist-packages")]
    patterns += ["/usr/lib/python3*/*-packages", "/usr/local/lib/python3*/*-packages",
                 "/usr/lib64/python3*/*-packages", "/usr/local/lib64/python3*/*-packages"]
    return sorted({os.path.realpath(p) for pattern in patterns for p in glob.glob(pattern) if os.path.isdir(p)})


def stdlib_folders() -> list[str]:
    """The standard library (pure and compiled modules), without any site-packages inside it."""
    paths = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib")}
    paths.add(os.path.dirname(os.__file__))
    paths.update(p for p in sys.path if p.endswith((".zip", "lib-dynload")))
    return sorted({os.path.realpath(p) for p in paths if p and os.path.exists(p)})


def _distributions(names) -> list:
    """The installed distributions ``names``, and every distribution they require (no extras)."""
    import importlib.metadata as metadata
    import re

    def normal(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    installed = {}
    for dist in metadata.distributions():  # the first one found on sys.path wins, as for imports
        name = getattr(dist, "_normalized_name", None) or dist.metadata["Name"] or ""
        installed.setdefault(normal(name), dist)
    seen, found, todo = set(), [], list(names)
    while todo:
        name = normal(re.split(r"[\s;<>=!~\[(]", todo.pop().strip(), maxsplit=1)[0])
        if not name or name in seen:
            continue
        seen.add(name)
        if name in installed:
            found.append(installed[name])
            text = installed[name].read_text("METADATA") or installed[name].read_text("PKG-INFO") or ""
            todo += [line.split(":", 1)[1] for line in text.splitlines()
                     if line.startswith("Requires-Dist:") and "extra ==" not in line]
    return found


def _top_entries(dist) -> set[str]:
    """The top-level entries (folders, modules) a distribution installed."""
    record = dist.read_text("RECORD") or dist.read_text("installed-files.txt")
    if record is not None:
        return {line.split(",", 1)[0].split("/", 1)[0] for line in record.splitlines() if line.strip()}
    return {str(f).split("/", 1)[0] for f in dist.files or ()}


def provided_paths() -> list[str]:
    """The folders and files of the provided packages (:mod:`grader.engine.provided`) and of the
    distributions they need: each top-level entry a distribution installed into site-packages."""
    from grader.engine.provided import PROVIDED, SUPPORT

    sites = site_folders()
    paths = set()
    for dist in _distributions(list(PROVIDED.values()) + list(SUPPORT)):
        for top in _top_entries(dist) - {"..", ".", "__pycache__", ""}:
            path = os.path.realpath(str(dist.locate_file(top)))
            if os.path.dirname(path) in sites and os.path.exists(path):
                paths.add(path)
    for module in PROVIDED:  # a package found some other way (a system package without metadata)
        location = _package_dir(module)
        if location and os.path.dirname(location) in sites:
            paths.add(location)
    return sorted(paths)


def importable_names(paths) -> list[str]:
    """Top-level module names of the provided paths (``PIL`` for .../site-packages/PIL, ...)."""
    from grader.engine.provided import PROVIDED

    names = set(PROVIDED)
    for path in paths:
        name = os.path.basename(path)
        if name.endswith((".dist-info", ".egg-info", ".libs", ".pth")):
            continue
        names.add(name.split(".", 1)[0])
    return sorted(n for n in names if n.isidentifier())


def worker_files() -> list[str]:
    """The grader's own files a worker runs (and nothing else of the grader)."""
    files = []
    for name in WORKER_MODULES:
        spec = importlib.util.find_spec(name)
        if spec and spec.origin and os.path.isfile(spec.origin):
            files.append(os.path.realpath(spec.origin))
    return sorted(files)


def allow_list(needed, forbidden) -> tuple[list[str], list[str]]:
    """``needed`` paths, each split into its entries wherever it holds a ``forbidden`` path, so
    that the result covers everything needed and nothing forbidden (Landlock and bind mounts
    grant whole folders: an allowed folder must not hold a secret anywhere below it).

    Returns the allowed paths and the folders that were split (a worker may list those, so that
    the import system finds the allowed entries in them)."""
    forbidden = sorted({os.path.realpath(f) for f in forbidden})
    result: set[str] = set()
    split: set[str] = set()

    def holds(path: str, other: str) -> bool:
        return other == path or other.startswith(path.rstrip("/") + "/")

    def visit(path: str, depth: int) -> None:
        if any(holds(f, path) for f in forbidden):
            return  # forbidden itself, or inside a forbidden folder
        if not any(holds(path, f) for f in forbidden) or not os.path.isdir(path) or depth > 12:
            result.add(path)
            return
        try:
            entries = sorted(os.listdir(path))
        except OSError:
            return
        split.add(path)
        for entry in entries:
            child = os.path.join(path, entry)
            if os.path.islink(child):
                target = os.path.realpath(child)
                if os.path.exists(target) and not any(holds(f, target) or holds(target, f) for f in forbidden):
                    result.add(child)
                continue
            visit(child, depth + 1)

    for path in needed:
        if os.path.islink(path):  # /lib -> usr/lib: the link itself, and what it points to
            result.add(path)
        if os.path.exists(path):
            visit(os.path.realpath(path), 0)
    return sorted(result), sorted(split)


#: Layers a caller may turn off (to show what each one does on its own, or to debug).
OPTIONAL_LAYERS = ("landlock",)


def _uids_in_use() -> set[int]:
    """Real uids of the running processes (Linux ``/proc``; empty elsewhere)."""
    uids = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return uids
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as handle:
                    for line in handle:
                        if line.startswith("Uid:"):
                            uids.add(int(line.split()[1]))
                            break
            except (OSError, ValueError, IndexError):
                continue
    return uids


def pick_uid_base(rng: random.Random | None = None) -> int:
    """The first of ``UID_BLOCK`` worker uids that no running process uses."""
    rng = rng or random.SystemRandom()
    busy = _uids_in_use()
    blocks = (UID_RANGE[1] - UID_RANGE[0]) // UID_BLOCK
    for _ in range(100):
        base = UID_RANGE[0] + rng.randrange(blocks) * UID_BLOCK
        if not any(base <= uid < base + UID_BLOCK for uid in busy):
            return base
    raise SandboxError("no free block of worker uids")


def _check_disable(disable: Iterable[str]) -> tuple[str, ...]:
    """``disable`` itself, or ValueError for a layer that is not optional."""
    disable = tuple(disable)
    unknown = sorted({layer for layer in disable if layer not in OPTIONAL_LAYERS})
    if unknown:
        raise ValueError(f"cannot disable {unknown}; optional layers are {list(OPTIONAL_LAYERS)}")
    return disable


def sandbox_config(limits: Limits, *, namespaces: bool = True, hide: Iterable[str] = (),
                   disable: Iterable[str] = ()) -> SandboxConfig:
    """The zygote's configuration: what a worker may read, what is covered, the limits.

    A worker may read the system folders, the standard library, the provided packages and the
    grader files it runs, path by path; never a whole site-packages folder (a regular ``pip
    install`` puts the reference and the grader there), never the project's checkout, the
    submissions or the output folder. ``namespaces=False`` runs without Linux namespaces;
    ``disable`` names layers of :data:`OPTIONAL_LAYERS` not to use.
    """
    disable = sorted(set(_check_disable(disable)))
    covered = {os.path.realpath(p) for p in hide}
    secret = set(covered)
    for package in ("reference", "grader", "assignment"):
        location = _package_dir(package)
        if location:
            secret.add(location)
            secret.add(os.path.dirname(location))  # a checkout (or site-packages) holding it
    sites = site_folders()
    secret.update(sites)
    secret.update(foreign_site_folders())
    provided = provided_paths()
    if not namespaces:  # no private root to cover them in: Landlock leaves them out instead
        secret.update(HOST_FILES)
    system, split = allow_list(list(SYSTEM_PATHS) + stdlib_folders(), secret)
    read = system + provided + worker_files()
    covered.update({"/dev/shm", "/dev/mqueue", "/dev/pts"} | set(HOST_FILES))
    return SandboxConfig(
        namespaces=namespaces, disable=tuple(disable), read=tuple(sorted(set(read))),
        listable=tuple(sorted(set(sites) | set(split))), hide=tuple(sorted(covered)),
        python_paths=tuple(sorted(set(stdlib_folders()) | set(sites))),
        importable=tuple(importable_names(provided)), uid_base=pick_uid_base(),
        limits=WorkerLimits(cpu_seconds=int(limits.worker_cpu_seconds),
                            memory_bytes=int(limits.worker_memory_mib) * 1024 * 1024),
    )


def protect_grader_process() -> None:
    """Make the grader's own process non-dumpable: no process of the same user may ptrace it or
    read its ``/proc/PID/environ`` and ``/proc/PID/mem``. It matters where workers could see
    it (no PID namespace) and run as the same user (the grader is not root)."""
    try:
        iso.prctl(iso.PR_SET_DUMPABLE, 0)
    except OSError:
        pass


class Worker:
    """One sandboxed worker: send requests, receive answers, kill it.

    Every method may be called in any order and more than once: after :meth:`close`,
    :meth:`exit_status` still answers (with the status recorded while closing).
    """

    def __init__(self, request_fd: int, response_fd: int, control: socket.socket, cpu_file: str | None = None,
                 memory: tuple[str, int] | None = None):
        #: The worker's pid as the grader sees it (None until the supervisor said it).
        self.pid: int | None = None
        #: Its slot cgroup's ``cpuacct.usage`` (None: the host counts no CPU per cgroup).
        self._cpu_file = cpu_file
        #: Its slot cgroup's ``memory.oom_control`` and memory cap in bytes, with the count of
        #: kills for that cap before this worker (None: no such count here).
        self._memory = memory
        self._oom_before = cgroups.oom_kills(memory[0]) if memory else None
        self._request_fd = request_fd
        self._response_fd = response_fd
        self._control: socket.socket | None = control
        self._status: str | None = None
        #: Set once the channel is out of step (a timeout, a crash, garbage): no goodbye then.
        self._broken = False
        #: ``/proc/PID/task`` of the worker, opened on the first reading of its run-queue time.
        self._tasks: int | None = None
        os.set_blocking(request_fd, False)  # a worker that stops reading cannot block the grader

    def send(self, message: dict, seconds: float = SEND_SECONDS) -> None:
        """Send one request; raises Closed (worker gone) or Timeout (it does not read)."""
        if self._request_fd < 0:
            raise Closed("worker is closed")
        try:
            write_message(self._request_fd, message, deadline=time.monotonic() + seconds)
        except Timeout:
            self._broken = True
            raise
        except OSError as exc:  # BrokenPipeError and friends
            self._broken = True
            raise Closed(f"worker is gone ({exc})") from None

    def receive(self, seconds: float) -> dict:
        """The next answer, within ``seconds``; raises Timeout, Closed or ProtocolError."""
        if self._response_fd < 0:
            raise Closed("worker is closed")
        try:
            return read_message(self._response_fd, deadline=time.monotonic() + seconds,
                                max_size=MAX_WORKER_MESSAGE)
        except ProtocolError:
            self._broken = True
            raise

    def read_pid(self, seconds: float = 5.0) -> None:
        """Read the ``P<pid>\\n`` line the supervisor sends first on the control socket."""
        if self._control is None:
            return
        data = b""
        deadline = time.monotonic() + seconds
        try:
            while not data.endswith(b"\n") and len(data) < 32:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._control.settimeout(left)
                chunk = self._control.recv(1)
                if not chunk:
                    return
                data += chunk
        except OSError:
            return
        if data.startswith(b"P") and data[1:-1].isdigit():
            self.pid = int(data[1:-1])

    def wait_readable(self, seconds: float) -> bool:
        """True once an answer has begun to arrive (within ``seconds``); reads nothing."""
        if self._response_fd < 0:
            return True  # receive() then says Closed
        poller = select.poll()
        poller.register(self._response_fd, select.POLLIN)
        return bool(poller.poll(max(0, int(seconds * 1000))))

    def usage(self) -> tuple[float, float]:
        """``(starved, cpu)`` so far: seconds the worker's threads have waited for a CPU
        (runnable, but the machine ran something else), and seconds of CPU it has used: its
        slot cgroup's count (every process of the worker) where the host keeps one, else the
        worker process's own (its threads, and the children it has waited for). 0 where
        unknown."""
        if self.pid is None:
            return 0.0, 0.0
        if self._tasks is None:
            self._tasks = iso.open_tasks(self.pid)
            if self._tasks is None:
                return 0.0, 0.0
        starved = iso.run_queue_seconds(self.pid, tasks=self._tasks) or 0.0
        return starved, self._cpu_seconds()

    def _cpu_seconds(self) -> float:
        try:
            if self._cpu_file is not None:
                fd = os.open(self._cpu_file, os.O_RDONLY)
            else:
                fd = os.open("../stat", os.O_RDONLY, dir_fd=self._tasks)  # /proc/PID/stat
            try:
                data = os.read(fd, 1024)
            finally:
                os.close(fd)
            if self._cpu_file is not None:
                return int(data) / 1e9
            # utime, stime, cutime, cstime: fields 14 to 17, after the parenthesised name
            return sum(int(f) for f in data.rsplit(b")", 1)[1].split()[11:15]) / _CLOCK_TICKS
        except (OSError, ValueError, IndexError):
            return 0.0

    def end_of_call(self) -> None:
        """Tell the supervisor a call has ended: it kills whatever the call left running (child
        processes, daemons), keeping the worker itself. Fire and forget."""
        if self._control is not None and self._status is None:
            try:
                self._control.send(b"c")
            except OSError:
                pass

    def exit_status(self, wait: float = 2.0) -> str:
        """How the worker ended ('exit 3', 'signal SIGKILL', 'killed'); waits up to ``wait`` s.

        The supervisor writes the status once the worker has ended, then closes its end: the
        status is everything read until end-of-file. 'unknown' when it did not come in time.
        """
        if self._status is not None:
            return self._status
        if self._control is None:
            return "unknown"
        data = b""
        deadline = time.monotonic() + wait
        try:
            while len(data) < 256:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._control.settimeout(left)
                chunk = self._control.recv(256)
                if not chunk:
                    break
                data += chunk
        except OSError:  # timeout or reset
            pass
        status = data.decode(errors="replace").strip()
        if status.startswith("P") and self.pid is None:  # the pid line, when it was never read
            status = status.partition("\n")[2].strip()
        if status == "signal SIGKILL" and self._oom_before is not None \
                and (cgroups.oom_kills(self._memory[0]) or 0) > self._oom_before:
            status = memory_limit_status(self._memory[1] / 2**20)  # the kernel's, for the cgroup's cap
        if status:
            self._status = status
        return status or "unknown"

    def kill(self) -> None:
        """Kill the worker and everything it started; idempotent."""
        self._broken = True
        if self._control is not None and self._status is None:
            try:
                self._control.send(b"k")
            except OSError:
                pass
            self.exit_status()

    def close(self, *, wait: bool = True) -> None:
        """Say goodbye (when the channel is in step), kill what remains, release descriptors.

        ``wait=False`` skips the goodbye and the wait for the exit status: the supervisor
        kills the worker on its own. Only safe where the worker is PID 1 of its own PID
        namespace (killing it kills everything it started, and nothing can reach the next
        worker of the same slot); the grader uses it after a submission's last call.
        """
        if not wait:
            self._broken = True
            if self._control is not None and self._status is None:
                try:
                    self._control.send(b"k")
                except OSError:
                    pass
                self._status = "killed"
        if self._request_fd >= 0 and not self._broken:
            try:
                self.send({"op": "bye"}, seconds=1.0)
                self._drain(1.0)
            except ProtocolError:
                pass
        self.kill()
        for fd in (self._request_fd, self._response_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._request_fd = self._response_fd = -1
        if self._tasks is not None:
            os.close(self._tasks)
            self._tasks = None
        if self._control is not None:
            self._control.close()
            self._control = None

    def _drain(self, seconds: float) -> None:
        """Read and drop answers until the worker closes its end (it exited) or time is up."""
        deadline = time.monotonic() + seconds
        for _ in range(64):
            try:
                read_message(self._response_fd, deadline=deadline, max_size=MAX_WORKER_MESSAGE)
            except Closed:
                return
            except ProtocolError:
                self._broken = True
                return


class _Zygote:
    """One launched zygote: its process, control socket and log."""

    def __init__(self, process: subprocess.Popen, control: socket.socket, log):
        self.process = process
        self.socket: socket.socket | None = control
        self.log = log

    def text(self) -> str:
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read()[-2000:].decode(errors="replace")


class Sandbox:
    """Running zygotes, one per warm image the batch needs. Use as a context manager;
    thread-safe :meth:`spawn`.

    Processes forked by the grader after :meth:`launch` may spawn workers too (the batch's
    trusted processes share the zygotes, each with slots of its own): a spawn request is one
    small message on a control socket, so requests from several processes never mix.
    Only the process that launched the zygotes watches them and stops them (:meth:`close`).
    """

    def __init__(self, limits: Limits, *, namespaces: bool = True, hide: Iterable[str] = (),
                 disable: Iterable[str] = ()):
        _check_disable(disable)
        self._settings = (limits, namespaces, tuple(hide), tuple(disable))
        self._config: SandboxConfig | None = None  # built at launch, while the zygotes start
        self._cgroups: WorkerCgroups | None = None
        self._lock = threading.Lock()
        self._zygotes: dict[str, _Zygote] = {}
        self._owner = os.getpid()
        self.isolation = Isolation((), ())

    def __enter__(self) -> "Sandbox":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self, images: Iterable[str] = IMAGES) -> Isolation:
        """Start the zygotes of ``images`` and wait until they are warm; returns the layers
        they obtained."""
        self.launch(images)
        return self.wait_ready()

    @property
    def images(self) -> tuple[str, ...]:
        """The warm images launched, in :data:`IMAGES` order."""
        return tuple(image for image in IMAGES if image in self._zygotes)

    def zygote_pid(self, image: str = PLOTTING) -> int:
        return self._zygotes[image].process.pid

    def launch(self, images: Iterable[str] = IMAGES) -> None:
        """Start a zygote for each of ``images`` without waiting for it (they warm up while
        the caller works); a batch names the images its submissions need (:func:`image_for`)."""
        if not hasattr(os, "fork") or not hasattr(socket, "send_fds"):
            raise SandboxError("the grader's sandbox needs a POSIX system with fork()")
        wanted = set(images)
        unknown = wanted - set(IMAGES)
        images = [image for image in IMAGES if image in wanted]
        if unknown or not images:
            raise SandboxError(f"no such warm images: {sorted(unknown) or 'none named'}; they are {list(IMAGES)}")
        protect_grader_process()
        self._owner = os.getpid()
        # Each zygote starts Python and imports its modules while the configuration is built
        # (the allow list, the uid block, the cgroups: about 50 ms), then reads it.
        started = {image: self._start_one() for image in images if image not in self._zygotes}
        try:
            if self._config is None:
                limits, namespaces, hide, disable = self._settings
                config = sandbox_config(limits, namespaces=namespaces, hide=hide, disable=disable)
                self._cgroups, missing = WorkerCgroups.create(config.limits)
                self._config = dataclasses.replace(config, cgroups=self._cgroups is not None,
                                                   cgroups_missing=missing)
        except BaseException:
            for zygote in started.values():  # they wait for a configuration that never comes
                zygote.socket.close()
                zygote.process.kill()
                zygote.process.wait()
                zygote.log.close()
            raise
        for image, zygote in started.items():
            self._zygotes[image] = zygote
            try:
                write_message(zygote.socket.fileno(), dataclasses.replace(self._config, image=image).to_message(),
                              deadline=time.monotonic() + 30)
            except ProtocolError as exc:
                raise SandboxError(f"the sandbox did not start: {exc}; {zygote.text()}") from None

    def _start_one(self) -> _Zygote:
        """A zygote process, started, not yet configured."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", **ONE_THREAD,
               "PYTHONHASHSEED": HASH_SEED, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        if sys.pycache_prefix:  # where this grader keeps its bytecode: the zygote reads it too
            env["PYTHONPYCACHEPREFIX"] = sys.pycache_prefix
        log = tempfile.TemporaryFile()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "grader.sandbox.zygote", str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                pass_fds=(theirs.fileno(),), cwd="/")
        except OSError as exc:
            ours.close()
            log.close()
            raise SandboxError(f"cannot start the sandbox: {exc}") from None
        finally:
            theirs.close()
        return _Zygote(process, ours, log)

    def wait_ready(self) -> Isolation:
        """Wait until every launched zygote is warm; returns the layers they obtained (the
        same for each: a zygote that obtained others is the grader's error)."""
        if not self._zygotes:
            raise SandboxError("the sandbox was not launched")
        obtained = {}
        for image, zygote in self._zygotes.items():
            try:
                reply = read_message(zygote.socket.fileno(), deadline=time.monotonic() + 120, max_size=1 << 20)
            except ProtocolError as exc:
                raise SandboxError(f"the sandbox did not start: {exc}; {zygote.text()}") from None
            if reply.get("ready") is not True and isinstance(reply.get("refused"), str):
                raise UnreachableInstall(reply["refused"][:2000])
            if reply.get("ready") is not True:
                raise SandboxError(f"the sandbox did not start: {zygote.text()}")
            obtained[image] = Isolation(tuple(reply["layers"]), tuple(reply["warnings"]))
        first, *others = obtained.values()
        for image, isolation in obtained.items():
            if isolation.layers != first.layers:
                raise SandboxError(f"the {image} image obtained other isolation layers than the "
                                   f"{next(iter(obtained))} image: {list(isolation.layers)} against "
                                   f"{list(first.layers)}")
        self.isolation = first
        return self.isolation

    def spawn(self, slot: int, image: str = PLOTTING) -> Worker:
        """A fresh worker in slot ``slot`` (its uid when the grader runs as root), forked from
        the zygote of ``image`` (one that was launched).

        Returns once the worker has finished building its sandbox and said hello: a worker
        that fails before that is the grader's problem (:class:`SandboxError`), never the
        submission's, since no student code has run yet.
        """
        if not 0 <= slot < UID_BLOCK:
            raise SandboxError(f"worker slot {slot} outside 0..{UID_BLOCK - 1}")
        zygote = self._zygotes.get(image)
        if zygote is None:
            raise SandboxError(f"the {image} image was not launched (launched: {list(self.images)})")
        request_r, request_w = os.pipe()
        response_r, response_w = os.pipe()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        cgroup_fds: list[int] = []
        try:
            if self._cgroups is not None:
                cgroup_fds = self._cgroups.join_fds(slot)
            with self._lock:
                if zygote.socket is None or (os.getpid() == self._owner and zygote.process.poll() is not None):
                    # (in a forked process the zygote is not a child: a dead one fails the send)
                    raise SandboxError(f"the sandbox is not running; {zygote.text()}")
                socket.send_fds(zygote.socket, [SPAWN.pack(slot)],
                                [request_r, response_w, theirs.fileno(), *cgroup_fds])
        except (OSError, SandboxError) as exc:
            for fd in (request_r, request_w, response_r, response_w):
                os.close(fd)
            ours.close()
            if isinstance(exc, SandboxError):
                raise
            raise SandboxError(f"cannot start a worker: {exc}") from None
        finally:
            theirs.close()
            for fd in cgroup_fds:
                os.close(fd)
        os.close(request_r)
        os.close(response_w)
        groups = self._cgroups
        oom_file = groups.oom_kills_file(slot) if groups is not None else None
        worker = Worker(request_w, response_r, ours, cpu_file=groups.usage_file(slot) if groups is not None else None,
                        memory=(oom_file, groups.memory_cap()) if oom_file else None)
        try:
            hello = worker.receive(HELLO_SECONDS)
        except ProtocolError as exc:
            worker.kill()
            status = worker.exit_status()
            worker.close()
            raise SandboxError(f"a worker failed while building its sandbox ({exc}; {status}); "
                               f"{zygote.text()}") from None
        if hello.get("op") != "hello" or tuple(hello.get("layers") or ()) != self.isolation.layers:
            worker.kill()
            worker.close()
            raise SandboxError(f"a worker did not confirm its isolation layers: {str(hello)[:200]}")
        worker.read_pid()
        return worker

    def close(self) -> None:
        """Stop the zygotes (workers die with their supervisors)."""
        owner = os.getpid() == self._owner
        for zygote in self._zygotes.values():
            if zygote.socket is not None:
                zygote.socket.close()
                zygote.socket = None
        for zygote in self._zygotes.values():
            if owner:  # in a forked process the zygotes are their launcher's to stop
                try:
                    zygote.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    zygote.process.kill()
                    zygote.process.wait()
            if zygote.log is not None:
                zygote.log.close()
                zygote.log = None
        self._zygotes = {}
        if self._cgroups is not None and owner:  # the launcher's to remove
            self._cgroups.close()
        self._cgroups = None
