"""Control groups for workers: a fair share of the CPU, a memory and a process limit per worker.

Where the host offers cgroup v1 controllers that the grader may manage (it runs as root and
``/sys/fs/cgroup/{cpu,memory,pids}`` are mounted), :class:`WorkerCgroups` makes one cgroup per
worker slot in each controller, below the grader's own cgroup, in a folder of its own per
batch:

``cpu``
    every worker gets the same weight (a worker with many processes, each in a session of its
    own, still gets one share, not one per process) and at most one CPU;
``memory``
    the worker's processes together (System V and tmpfs pages included) hold at most the
    address-space limit plus the working directory's size plus a margin;
``pids``
    at most the process limit plus a few (the supervisor and its sweeper).

The zygote's supervisor joins its slot's cgroups before it forks the worker, by writing to
``cgroup.procs`` files the grader opened and passed with the spawn request (the zygote's own
view of ``/sys`` is read-only). :meth:`WorkerCgroups.close` kills anything left in them and
removes them. Elsewhere (no cgroups, cgroup v2 only, not root) :meth:`WorkerCgroups.create`
returns None with the reason, and the grader says so in its warning.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import uuid

from grader.sandbox.config import WorkerLimits

CGROUP_ROOT = "/sys/fs/cgroup"
CONTROLLERS = ("cpu", "memory", "pids")
#: The controller that counts a cgroup's CPU time (``cpuacct.usage``); optional: without it the
#: grader counts the worker process's own CPU time (:meth:`manager.Worker.usage`).
ACCOUNTING = "cpuacct"
#: How a batch's cgroup folders are named: the prefix, the grader's pid, a random token.
PREFIX = "adam-grader-"
_BATCH_FOLDER = re.compile(re.escape(PREFIX) + r"(\d+)-[0-9a-f]{8}")
#: The CPU weight of one worker (the kernel's default weight of a group).
CPU_SHARES = 1024
CPU_PERIOD_US = 100_000
#: Memory a worker's cgroup may hold beyond its address-space limit and working directory.
MEMORY_MARGIN = 128 * 1024 * 1024


def _own_cgroup(controller: str) -> str | None:
    """This process's cgroup in the v1 hierarchy of ``controller`` (from /proc/self/cgroup)."""
    try:
        with open("/proc/self/cgroup") as handle:
            for line in handle:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if controller in controllers.split(","):
                    return path
    except (OSError, ValueError):
        pass
    return None


def _write(path: str, value) -> None:
    with open(path, "w") as handle:
        handle.write(str(value))


class WorkerCgroups:
    """The cgroups of one batch's worker slots; thread-safe :meth:`join_fds`."""

    def __init__(self, base: dict[str, str], limits: WorkerLimits):
        self._base = base  # controller -> the batch's folder
        self._limits = limits
        self._slots: set[int] = set()
        self._lock = threading.Lock()

    @classmethod
    def create(cls, limits: WorkerLimits) -> tuple["WorkerCgroups | None", str]:
        """The batch's cgroups, or None and why there are none."""
        if os.geteuid() != 0:
            return None, "the grader is not root"
        base = {}
        token = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            for controller in CONTROLLERS:
                own = _own_cgroup(controller)
                mount = os.path.join(CGROUP_ROOT, controller)
                if own is None or not os.path.exists(os.path.join(mount, "cgroup.procs")):
                    raise OSError(f"no cgroup v1 {controller} controller at {mount}")
                remove_stale(mount + own)
                folder = os.path.join(mount + own, token)
                os.mkdir(folder, 0o700)
                base[controller] = folder
        except OSError as exc:
            cls(base, limits).close()
            return None, f"no cgroups for workers ({exc})"
        own, mount = _own_cgroup(ACCOUNTING), os.path.join(CGROUP_ROOT, ACCOUNTING)
        if own is not None and os.path.exists(os.path.join(mount, "cpuacct.usage")) \
                and os.path.realpath(mount) != os.path.realpath(os.path.join(CGROUP_ROOT, "cpu")):
            remove_stale(mount + own)
            try:  # a hierarchy of its own (where it shares cpu's, the cpu folders count)
                os.mkdir(os.path.join(mount + own, token), 0o700)
                base[ACCOUNTING] = os.path.join(mount + own, token)
            except OSError:
                pass
        return cls(base, limits), ""

    def _slot_folder(self, controller: str, slot: int) -> str:
        return os.path.join(self._base[controller], f"slot-{slot}")

    def _make_slot(self, slot: int) -> None:
        limits = self._limits
        for controller in self._base:
            os.makedirs(self._slot_folder(controller, slot), 0o700, exist_ok=True)
        cpu = self._slot_folder("cpu", slot)
        _write(os.path.join(cpu, "cpu.shares"), CPU_SHARES)
        _write(os.path.join(cpu, "cpu.cfs_period_us"), CPU_PERIOD_US)
        _write(os.path.join(cpu, "cpu.cfs_quota_us"), CPU_PERIOD_US)  # at most one CPU
        # the batch as a whole weighs as much as its workers (one share each, like any process group)
        _write(os.path.join(self._base["cpu"], "cpu.shares"), CPU_SHARES * (len(self._slots) + 1))
        memory = self._slot_folder("memory", slot)
        cap = self.memory_cap()
        _write(os.path.join(memory, "memory.limit_in_bytes"), cap)
        swap = os.path.join(memory, "memory.memsw.limit_in_bytes")
        if os.path.exists(swap):
            _write(swap, cap)
        _write(os.path.join(self._slot_folder("pids", slot), "pids.max"), limits.processes + 4)
        self._slots.add(slot)

    def join_fds(self, slot: int) -> list[int]:
        """Descriptors of the slot's ``cgroup.procs`` files, open for writing: a process that
        writes ``0`` to each joins the slot's cgroups. The caller closes them."""
        with self._lock:
            if slot not in self._slots:
                self._make_slot(slot)
        fds = []
        try:
            for controller in self._base:
                fds.append(os.open(os.path.join(self._slot_folder(controller, slot), "cgroup.procs"),
                                   os.O_WRONLY | os.O_CLOEXEC))
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        return fds

    def usage_file(self, slot: int) -> str | None:
        """The ``cpuacct.usage`` file (nanoseconds of CPU, every process of the slot) of
        ``slot``, made by :meth:`join_fds`; None where the host does not count it."""
        for controller in (ACCOUNTING, "cpu"):
            if controller in self._base:
                path = os.path.join(self._slot_folder(controller, slot), "cpuacct.usage")
                if os.path.exists(path):
                    return path
        return None

    def memory_cap(self) -> int:
        """Bytes the processes of one slot may hold together."""
        return self._limits.memory_bytes + self._limits.workdir_bytes + MEMORY_MARGIN

    def oom_kills_file(self, slot: int) -> str | None:
        """The slot's ``memory.oom_control`` (its ``oom_kill`` line counts the processes the
        kernel killed for the cgroup's memory limit), made by :meth:`join_fds`; None where
        the kernel does not count them."""
        path = os.path.join(self._slot_folder("memory", slot), "memory.oom_control")
        return path if oom_kills(path) is not None else None

    def close(self, seconds: float = 5.0) -> list[str]:
        """Kill whatever is left in the batch's cgroups and remove them; returns what could not
        be removed."""
        deadline = time.monotonic() + seconds
        left = []
        for controller, base in self._base.items():
            try:  # slots made by processes forked from the grader are found here too
                slots = sorted(entry for entry in os.listdir(base) if entry.startswith("slot-"))
            except OSError:
                slots = []
            folders = [os.path.join(base, slot) for slot in slots] + [base]
            for folder in folders:
                while os.path.isdir(folder):
                    for pid in _pids(folder):
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except OSError:
                            pass
                    try:
                        os.rmdir(folder)
                    except OSError:
                        if time.monotonic() > deadline:
                            left.append(folder)
                            break
                        time.sleep(0.02)
        return left


def oom_kills(path: str) -> int | None:
    """The ``oom_kill`` count of a ``memory.oom_control`` file (None: unreadable, or none)."""
    try:
        with open(path) as handle:
            for line in handle:
                name, _, value = line.partition(" ")
                if name == "oom_kill":
                    return int(value)
    except (OSError, ValueError):
        pass
    return None


def remove_stale(parent: str) -> list[str]:
    """Remove the empty batch cgroups under ``parent`` that a grader which no longer runs left
    behind (one killed, say, with no chance to clean up: its folder is named after its pid);
    returns the folders removed. A folder that still holds a process, or whose grader's pid
    is alive (perhaps reused), stays."""
    removed = []
    try:
        entries = os.listdir(parent)
    except OSError:
        return removed
    for entry in entries:
        match = _BATCH_FOLDER.fullmatch(entry)
        if match is None or os.path.exists(f"/proc/{match.group(1)}"):
            continue
        folder = os.path.join(parent, entry)
        try:
            for slot in os.listdir(folder):
                if slot.startswith("slot-") and os.path.isdir(os.path.join(folder, slot)):
                    os.rmdir(os.path.join(folder, slot))
            os.rmdir(folder)
            removed.append(folder)
        except OSError:  # busy, or not ours to remove: left alone
            continue
    return removed


def _pids(folder: str) -> list[int]:
    try:
        with open(os.path.join(folder, "cgroup.procs")) as handle:
            return [int(line) for line in handle if line.strip()]
    except (OSError, ValueError):
        return []
