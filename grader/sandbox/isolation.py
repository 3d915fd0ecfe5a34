"""Low-level isolation primitives for the sandbox: namespaces, mounts, limits, privileges.

Linux system calls are made through ``ctypes`` (Python 3.11 has no ``os.unshare``). Every
function either succeeds or raises ``OSError``; the caller records which layers it got. On
other systems (macOS, the BSDs) the Linux-only calls raise ``OSError`` as well, so the
sandbox runs there with fewer layers instead of crashing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import signal
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from grader.engine.provided import FILE_BYTES, OPEN_FILES, PROCESSES

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

#: Every isolation layer the sandbox knows, in the order reports list them.
ALL_LAYERS = (
    "separate_process", "clean_environment", "private_workdir", "stdin_devnull",
    "resource_limits", "unprivileged_uid", "no_capabilities", "no_network", "pid_namespace",
    "private_mounts", "no_new_privileges", "landlock", "syscall_filter", "cgroup_limits",
    "capped_workdir",
)


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    # The C library is loaded already (the interpreter links it): its symbols are found in the
    # process's own namespace, without find_library, which runs ``ldconfig -p`` (35-55 ms in
    # the grader and again in each zygote, on a cold start's critical path).
    try:
        own = ctypes.CDLL(None, use_errno=True)
        if all(hasattr(own, name) for name in ("syscall", "prctl", "unshare", "mount", "umount", "capset")):
            return own
    except OSError:  # pragma: no cover - no dlopen(NULL): look for the library by name
        pass
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:  # pragma: no cover - a Linux without a loadable C library
        return None


_LIBC = _libc()


def _linux(what: str):
    if _LIBC is None:
        raise OSError(f"{what} needs Linux")
    return _LIBC


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    """Move this process into new namespaces (``unshare(2)``)."""
    _check(_linux("namespaces").unshare(ctypes.c_int(flags)), "unshare")


_MADV_HUGEPAGE = 14
_MADV_COLLAPSE = 25  # Linux 6.1 and later
_HUGE_PAGE = 1 << 21


def huge_page_ranges(maps: str = "/proc/self/maps", chunk: int = 2 * _HUGE_PAGE) -> list[tuple[int, int]]:
    """The 2 MiB-aligned stretches (``chunk`` bytes at most each) of this process's private
    anonymous memory, the Python heap, that :func:`collapse_range` can put on huge pages
    (none where ``/proc`` cannot be read).

    A fork copies one page-table entry per 4 KiB page of private memory, but one per 2 MiB
    page: the zygote, warm with numpy, sympy and matplotlib, forks twice per worker, and its
    fork costs about half as much once its heap is collapsed (``benchmarks/spawn.py``). What a
    worker sees does not change: since Linux 5.8 a write to a shared huge page splits it and
    copies only the 4 KiB page written to.
    """
    try:
        with open(maps, encoding="ascii") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    ranges: list[tuple[int, int]] = []
    for line in lines:
        fields = line.split()
        if len(fields) < 5 or "w" not in fields[1] or "p" not in fields[1]:
            continue
        if len(fields) > 5 and fields[5] != "[heap]":  # a file, the stack, vdso: left alone
            continue
        start, end = (int(value, 16) for value in fields[0].split("-"))
        low = (start + _HUGE_PAGE - 1) & ~(_HUGE_PAGE - 1)
        high = end & ~(_HUGE_PAGE - 1)
        ranges.extend((at, min(at + chunk, high)) for at in range(low, high, chunk))
    return ranges


def collapse_range(low: int, high: int) -> bool:
    """Ask the kernel to back ``[low, high)`` with huge pages now (``MADV_COLLAPSE``, Linux 6.1
    and later); False where it cannot (no transparent huge pages, an older Linux, memory that
    is gone or not anonymous), which changes nothing but the cost of a fork."""
    libc = _LIBC
    if libc is None or high <= low:
        return False
    madvise = libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return madvise(low, high - low, _MADV_HUGEPAGE) == 0 and madvise(low, high - low, _MADV_COLLAPSE) == 0


#: The host name a worker sees in a UTS namespace of its own.
SANDBOX_HOSTNAME = "sandbox"


def enter_own_host_name() -> None:
    """Move this process into a new UTS namespace named :data:`SANDBOX_HOSTNAME`: student code
    reading ``os.uname()`` or ``socket.gethostname()`` learns nothing of the grading machine
    (it could encode the name past any filter of quoted exception text)."""
    unshare(CLONE_NEWUTS)
    import socket

    socket.sethostname(SANDBOX_HOSTNAME)


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """``mount(2)``."""
    libc = _linux("mounts")
    enc = (lambda s: None if s is None else s.encode())
    _check(libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def prctl(option: int, value: int) -> None:
    """``prctl(2)`` with one argument."""
    _check(_linux("prctl").prctl(ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0),
                                 ctypes.c_ulong(0), ctypes.c_ulong(0)), "prctl")


def enter_user_namespace() -> None:
    """Become root of a new user namespace mapped onto the current (unprivileged) user."""
    uid, gid = os.getuid(), os.getgid()
    unshare(CLONE_NEWUSER)
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")


def leave_root_of_user_namespace(inside_uid: int) -> None:
    """Give up root of a user namespace: become ``inside_uid`` of a nested one, with no capabilities.

    Root of a user namespace holds every capability over the namespaces that namespace owns:
    it could unmount the covers over hidden paths, or the worker's own ``/proc``. A nested
    user namespace owns none of them, and the capabilities it grants are dropped at once.
    """
    uid, gid = os.geteuid(), os.getegid()
    prctl(PR_SET_DUMPABLE, 1)  # /proc/self/uid_map must be ours to write
    unshare(CLONE_NEWUSER)
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{inside_uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{inside_uid} {gid} 1")
    drop_capabilities()


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


_CAPABILITY_VERSION_3 = 0x20080522


def drop_capabilities() -> None:
    """Empty the effective, permitted and inheritable capability sets (``capset(2)``)."""
    libc = _linux("capabilities")
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(libc.capset(ctypes.byref(header), data), "capset")
    if capabilities() != 0:
        raise OSError("capabilities are still held after capset")


def capabilities() -> int:
    """The effective capability set of this process, as a bit mask (Linux)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    raise OSError("cannot read the capability set")


def make_mounts_private() -> None:
    """Stop mount events from propagating back to the host."""
    mount("none", "/", None, MS_REC | MS_PRIVATE)


def hide(path: str) -> None:
    """Cover a directory with an empty read-only tmpfs, or a file with an empty file."""
    info = os.lstat(path)
    if stat.S_ISDIR(info.st_mode):
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0755")
        mount("tmpfs", path, "tmpfs", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "size=4k,mode=0755")
    elif stat.S_ISREG(info.st_mode):
        mount("/dev/null", path, None, MS_BIND)


_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "riscv64": 41, "loongarch64": 41,
                   "ppc64le": 203, "ppc64": 203, "s390x": 217, "i686": 217, "i386": 217, "armv7l": 218}
MNT_DETACH = 2
# statvfs flags -> the mount flags a read-only bind remount must repeat (a user namespace may
# not drop them): ST_NOSUID, ST_NODEV, ST_NOEXEC, ST_NOATIME, ST_NODIRATIME, ST_RELATIME.
_STATVFS_TO_MOUNT = ((2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, 1024), (2048, 2048),
                     (4096, 1 << 21))


def _outermost(paths: Iterable[str]) -> list[str]:
    paths = sorted({os.path.realpath(p) for p in paths if os.path.lexists(p)})
    return [p for p in paths if not any(p.startswith(other.rstrip("/") + "/") for other in paths if other != p)]


def enter_private_root(keep: Iterable[str], cover: Iterable[str],
                       writable: Iterable[str] = ("/dev", "/proc")) -> None:
    """Make a root of nothing but ``keep`` and move this process (and its future children) into it.

    A fresh tmpfs receives a bind mount of each kept path at the same absolute path (read-only
    except ``writable``), with empty, world-traversable folders on the way; ``cover`` paths
    found inside are covered (see :func:`hide`); then ``pivot_root`` makes it ``/`` and the
    old root is detached. Nothing else of the host exists in this view, not even files
    created after it was built (an output folder that appears later, say), and a folder only
    its owner may enter (``/root`` holding Python) is traversable here. Needs a private mount
    namespace.
    """
    keep = list(keep)
    kept = _outermost(p for p in keep if not os.path.islink(p))  # links are recreated below
    root = next((d for d in ("/tmp", "/mnt", "/media", "/srv", "/opt", "/var/tmp", "/run")
                 if os.path.isdir(d) and not os.path.islink(d)
                 and not any(k == d or k.startswith(d + "/") for k in kept)), None)
    if root is None:
        raise OSError("no folder to build the private root on")
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    writable = {os.path.realpath(w) for w in writable}
    for path in kept:
        target = root + path
        if os.path.isdir(path):
            os.makedirs(target, 0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
            open(target, "a").close()
        mount(path, target, None, MS_BIND | MS_REC)
        if path not in writable:
            try:
                flags = os.statvfs(path).f_flag
                locked = sum(mount_flag for statvfs_flag, mount_flag in _STATVFS_TO_MOUNT if flags & statvfs_flag)
                mount("none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | locked)
            except OSError:
                pass  # read-only is a second line: workers hold no right to write there anyway
    for path in _outermost(cover):
        if os.path.lexists(root + path):
            hide(root + path)
    for path in keep:  # /lib -> usr/lib and friends: the dynamic loader's path must still work
        if os.path.islink(path) and not os.path.lexists(root + path):
            os.makedirs(os.path.dirname(root + path), 0o755, exist_ok=True)
            os.symlink(os.readlink(path), root + path)
    os.makedirs(root + "/tmp", exist_ok=True)
    os.chmod(root + "/tmp", 0o1777)
    mount("tmpfs", root, "tmpfs", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    os.chdir(root)
    libc = _linux("pivot_root")
    number = _SYS_PIVOT_ROOT.get(platform.machine())
    if number is not None:
        libc.syscall.restype = ctypes.c_long
        _check(int(libc.syscall(ctypes.c_long(number), b".", b".")), "pivot_root")
        _check(libc.umount2(b".", ctypes.c_int(MNT_DETACH)), "detach the old root")
    else:  # pragma: no cover - an architecture whose syscall number is not listed
        os.chroot(".")
    os.chdir("/")


# ---------------------------------------------------------------------------
# Landlock: an unprivileged allow-list of files, and scoping of signals and sockets
# ---------------------------------------------------------------------------

_SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every Linux architecture
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1

FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_TRUNCATE, FS_IOCTL_DEV = 1 << 14, 1 << 15
_FS_ALL_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1,
                  5: (1 << 16) - 1}
_FS_FILE_ONLY = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _syscall(number: int, *args) -> int:
    libc = _linux("landlock")
    libc.syscall.restype = ctypes.c_long
    result = libc.syscall(ctypes.c_long(number), *args)
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"landlock: {os.strerror(errno)}")
    return result


def landlock_abi() -> int:
    """The Landlock ABI version the kernel offers (0 when there is no Landlock)."""
    try:
        return int(_syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                            ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION)))
    except OSError:
        return 0


def landlock_restrict(read: Iterable[str], write: Iterable[str], devices: Iterable[str], abi: int,
                      listable: Iterable[str] = ()) -> None:
    """Allow-list the filesystem for this process and its future children, for good.

    ``read`` paths may be read and executed, ``write`` folders read and changed, ``devices``
    read and written, ``listable`` folders (and the folders below them) listed but not read. Everything else is denied, whatever the file permissions say. With
    ABI 4 or later no TCP socket may bind or connect; with ABI 6 or later the process may
    neither signal nor reach through abstract unix sockets any process outside its domain.
    Landlock also forbids ptrace (and so ``/proc/PID/mem`` and ``environ``) of processes
    outside the domain.
    """
    if abi < 1:
        raise OSError("Landlock is not available")
    handled = _FS_ALL_BY_ABI[min(abi, 5)]
    attr = _RulesetAttr(handled, _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0,
                        _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0)
    size = 8 if abi < 4 else (16 if abi < 6 else 24)
    ruleset = _syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                       ctypes.c_uint32(0))
    try:
        rules = [(p, FS_EXECUTE | FS_READ_FILE | FS_READ_DIR) for p in read]
        rules += [(p, handled) for p in write]
        rules += [(p, FS_READ_FILE | FS_WRITE_FILE) for p in devices]
        rules += [(p, FS_READ_DIR) for p in listable]
        for path, access in rules:
            if os.path.islink(path):
                continue  # what it points to has a rule of its own, or is not allowed
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a path that does not exist here needs no rule
            try:
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    access &= _FS_FILE_ONLY
                rule = _PathBeneathAttr(access & handled, fd)
                _syscall(_SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset),
                         ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0))
            finally:
                os.close(fd)
        _syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0))
    finally:
        os.close(ruleset)


def proc_access(read: Iterable[str], own_pid_namespace: bool,
                pid: int | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(read, listable)`` for the worker's Landlock rules: ``read`` with what of ``/proc``
    the worker may read, and the folders it may only list.

    In a PID namespace of its own the worker's ``/proc`` is a fresh mount that shows only its
    own processes, so all of it may be read. Without one, ``/proc`` is the host's: every
    process's ``cmdline`` (the grader's included) is readable by anyone there, and student
    code could quote it in its exception messages. Then only the worker's own
    ``/proc/<pid>`` may be read (``/proc/self`` and ``/proc/thread-self`` lead there); the
    rest of ``/proc`` may be listed, but no file in it read (issue 11, item 7). Call it in the
    worker itself (``pid`` defaults to the caller's), just before :func:`landlock_restrict`.
    """
    others = tuple(p for p in read if p != "/proc" and not p.startswith("/proc/"))
    if own_pid_namespace:
        return others + ("/proc",), ()
    return others + (f"/proc/{os.getpid() if pid is None else pid}",), ("/proc",)


# ---------------------------------------------------------------------------
# Limits, privileges, descriptors, leftovers
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ResourceLimits:
    """Limits applied to a worker with ``setrlimit``."""

    cpu_seconds: int
    memory_bytes: int
    #: Processes (threads included) of the worker's real uid; None leaves the limit as it is.
    processes: int | None = PROCESSES
    file_bytes: int = FILE_BYTES
    open_files: int = OPEN_FILES

    def apply(self) -> None:
        """Set every limit (soft = hard, so the worker cannot raise them again).

        Raises ``OSError`` naming the limits the system refused (all the others are set).
        """
        if resource is None:
            raise OSError("no resource limits on this system")
        pairs = [
            ("RLIMIT_CPU", self.cpu_seconds),
            ("RLIMIT_AS", self.memory_bytes),
            ("RLIMIT_FSIZE", self.file_bytes),
            ("RLIMIT_NOFILE", self.open_files),
            ("RLIMIT_CORE", 0),
            ("RLIMIT_NPROC", self.processes),
        ]
        refused = []
        for name, value in pairs:
            if value is None:
                continue
            which = getattr(resource, name, None)
            if which is None:
                refused.append(name)
                continue
            try:
                resource.setrlimit(which, (value, value))
            except (OSError, ValueError):
                refused.append(name)
        if refused:
            raise OSError(f"limits refused: {', '.join(refused)}")


def drop_privileges(uid: int) -> None:
    """Become ``uid`` (and group ``uid``) with no supplementary groups."""
    os.setgroups([])
    if hasattr(os, "setresgid"):
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    else:  # pragma: no cover - macOS: setuid as root sets all three ids
        os.setgid(uid)
        os.setuid(uid)


def set_oom_score_adj(value: int) -> None:
    """Make the kernel's out-of-memory killer pick this process (and its children) first."""
    with open("/proc/self/oom_score_adj", "w") as handle:
        handle.write(str(value))


def close_fds_except(keep: Iterable[int]) -> None:
    """Close every inherited file descriptor but ``keep``."""
    keep = sorted(set(keep))
    low = 0
    for fd in keep + [65536]:
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1


def processes_of_uid(uid: int) -> int | None:
    """How many processes (threads included) run as real uid ``uid`` (None where unknown)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    count = 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields.get("Threads", "1"))
        except (OSError, ValueError, KeyError):
            continue
    return count


def closed_folder(path: str) -> str | None:
    """The first folder on the way to ``path`` that lets no other user through (no execute bit
    for others, or it cannot be examined), or ``path`` itself when it is a file others may not
    read; None when other users reach it."""
    parts = Path(os.path.realpath(path)).parts
    for depth in range(2, len(parts) + 1):
        entry = os.path.join(*parts[:depth])
        try:
            mode = os.stat(entry).st_mode
        except OSError:
            return entry
        if not mode & (stat.S_IXOTH if stat.S_ISDIR(mode) else stat.S_IROTH):
            return entry
    return None


def child_pids(pid: int) -> set[int]:
    """The children of process ``pid`` (Linux ``/proc``; empty elsewhere)."""
    children: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                children.update(int(x) for x in handle.read().split())
        return children
    except (OSError, ValueError):
        pass
    try:  # kernels without CONFIG_PROC_CHILDREN: scan every process's parent
        entries = os.listdir("/proc")
    except OSError:
        return children
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                children.add(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return children


def kill_descendants(seconds: float = 3.0) -> int:
    """Kill every child of this process until none is left; returns how many were killed.

    Meant for a child subreaper (``PR_SET_CHILD_SUBREAPER``): orphaned descendants, double-
    forked daemons included, are reparented to it, so repeating kill-and-reap until no
    child is left reaches all of them.
    """
    killed = 0
    deadline = time.monotonic() + seconds
    me = os.getpid()
    while time.monotonic() < deadline:
        children = child_pids(me)
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        reaped = False
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return killed
            if pid == 0:
                break
            reaped = True
        if not children and not reaped:
            time.sleep(0.01)
    return killed


# ---------------------------------------------------------------------------
# A system-call filter (seccomp): no new sessions, no keyrings, no System V IPC
# ---------------------------------------------------------------------------

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7, "arm64": 0xC00000B7}
#: System calls a worker may not make, by architecture: ``setsid`` (each new session gets its
#: own scheduling autogroup, a full share of the CPU: a worker with many sessions would starve
#: its neighbours), the key-management calls (the keyrings of a uid are shared by everything
#: it runs: a covert channel between submissions), System V shared memory, message queues and
#: semaphores (outside the address-space limit, and shared by every process of the host's IPC
#: namespace) and POSIX message queues.
_DENIED_SYSCALLS = {
    "x86_64": {"setsid": 112, "add_key": 248, "request_key": 249, "keyctl": 250, "shmget": 29,
               "msgget": 68, "semget": 64, "mq_open": 240},
    "aarch64": {"setsid": 157, "add_key": 217, "request_key": 218, "keyctl": 219, "shmget": 194,
                "msgget": 186, "semget": 190, "mq_open": 180},
}
_DENIED_SYSCALLS["arm64"] = _DENIED_SYSCALLS["aarch64"]
_X32_SYSCALL_BIT = 0x40000000
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_SECCOMP_RET_ALLOW, _SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
_BPF_LD_W_ABS, _BPF_JEQ_K, _BPF_JGE_K, _BPF_RET_K = 0x20, 0x15, 0x35, 0x06


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def denied_syscalls() -> tuple[str, ...]:
    """Names of the system calls :func:`install_syscall_filter` refuses (this architecture)."""
    return tuple(_DENIED_SYSCALLS.get(platform.machine(), {}))


def install_syscall_filter() -> None:
    """Refuse, with EPERM, the system calls of :data:`_DENIED_SYSCALLS` for this process and
    its future children, for good; calls of any other architecture (32-bit entry points, x32)
    are refused too, so the filter cannot be bypassed through them. Needs ``no_new_privs``."""
    machine = platform.machine()
    if machine not in _DENIED_SYSCALLS:
        raise OSError(f"no system-call filter for {machine}")
    deny = _SECCOMP_RET_ERRNO | 1  # EPERM
    numbers = sorted(_DENIED_SYSCALLS[machine].values())
    program = [(_BPF_LD_W_ABS, 0, 0, 4),                                  # A = arch
               (_BPF_JEQ_K, 1, 0, _AUDIT_ARCH[machine]),                  # native: go on
               (_BPF_RET_K, 0, 0, deny),
               (_BPF_LD_W_ABS, 0, 0, 0)]                                  # A = syscall number
    if machine == "x86_64":
        program.append((_BPF_JGE_K, len(numbers) + 1, 0, _X32_SYSCALL_BIT))  # x32 ABI: deny
    for index, number in enumerate(numbers):
        program.append((_BPF_JEQ_K, len(numbers) - index, 0, number))     # to the deny below
    program += [(_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW), (_BPF_RET_K, 0, 0, deny)]
    filters = (_SockFilter * len(program))(*[_SockFilter(*op) for op in program])
    fprog = _SockFprog(len(program), filters)
    libc = _linux("seccomp")
    _check(libc.prctl(ctypes.c_int(_PR_SET_SECCOMP), ctypes.c_ulong(_SECCOMP_MODE_FILTER),
                      ctypes.byref(fprog), ctypes.c_ulong(0), ctypes.c_ulong(0)), "seccomp")


_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219, "arm64": 219}
_KEYCTL_JOIN_SESSION_KEYRING = 1


def join_new_session_keyring() -> None:
    """Give this process (and its children) a new, empty, anonymous session keyring, so that no
    key another submission of the same uid left in its session keyring is reachable."""
    number = _SYS_KEYCTL.get(platform.machine())
    if number is None:
        raise OSError("keyctl number unknown on this architecture")
    libc = _linux("keyrings")
    libc.syscall.restype = ctypes.c_long
    if int(libc.syscall(ctypes.c_long(number), ctypes.c_long(_KEYCTL_JOIN_SESSION_KEYRING),
                        ctypes.c_void_p(None))) < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"keyctl: {os.strerror(errno)}")


def run_queue_seconds(pid: int, *, tasks: int | None = None) -> float | None:
    """Seconds the threads of process ``pid`` have spent waiting for a CPU (runnable but not
    running: starved by other processes), from ``/proc/PID/task/*/schedstat``; None if unknown.

    ``tasks``: an open descriptor of that ``/proc/PID/task`` folder (:func:`open_tasks`),
    which names the process itself rather than whatever holds its pid later, and costs less
    than the path (a grader reads this twice per call of every submission)."""
    total = 0
    try:
        names = os.listdir(f"/proc/{pid}/task" if tasks is None else tasks)
    except OSError:
        return None
    for task in names:
        try:
            if tasks is None:
                fd = os.open(f"/proc/{pid}/task/{task}/schedstat", os.O_RDONLY)
            else:
                fd = os.open(f"{task}/schedstat", os.O_RDONLY, dir_fd=tasks)
            try:
                total += int(os.read(fd, 256).split()[1])
            finally:
                os.close(fd)
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def open_tasks(pid: int) -> int | None:
    """A descriptor of ``/proc/PID/task`` for :func:`run_queue_seconds` (None if there is none)."""
    try:
        return os.open(f"/proc/{pid}/task", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None


def remove_ipc_objects(uid: int) -> int:
    """Remove every System V shared-memory segment, message queue and semaphore set owned by
    ``uid`` in this IPC namespace (root only); returns how many were removed. For workers that
    had neither the system-call filter nor an IPC namespace of their own."""
    libc = _linux("System V IPC")
    removers = {"shm": lambda ident: libc.shmctl(ctypes.c_int(ident), ctypes.c_int(0), None),
                "msg": lambda ident: libc.msgctl(ctypes.c_int(ident), ctypes.c_int(0), None),
                "sem": lambda ident: libc.semctl(ctypes.c_int(ident), ctypes.c_int(0), ctypes.c_int(0))}
    removed = 0
    for kind, remove in removers.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as handle:
                header, *rows = handle.read().splitlines()
        except OSError:
            continue
        columns = header.split()
        if "uid" not in columns or len(columns) < 2:
            continue
        for row in rows:
            fields = row.split()
            try:
                if int(fields[columns.index("uid")]) == uid and remove(int(fields[1])) == 0:
                    removed += 1
            except (ValueError, IndexError):
                continue
    return removed


_KEYCTL_CLEAR = 7
_KEY_SPEC_USER_KEYRING, _KEY_SPEC_USER_SESSION_KEYRING = -4, -5


def clear_user_keyrings() -> None:
    """Empty the user and user-session keyrings of this process's uid (they outlive its
    processes: what one submission left there, the next one of the same uid would find)."""
    number = _SYS_KEYCTL.get(platform.machine())
    if number is None:
        raise OSError("keyctl number unknown on this architecture")
    libc = _linux("keyrings")
    libc.syscall.restype = ctypes.c_long
    for keyring in (_KEY_SPEC_USER_KEYRING, _KEY_SPEC_USER_SESSION_KEYRING):
        libc.syscall(ctypes.c_long(number), ctypes.c_long(_KEYCTL_CLEAR), ctypes.c_long(keyring))
