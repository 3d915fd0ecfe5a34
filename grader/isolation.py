"""Low-level isolation primitives for the sandbox: namespaces, mounts, limits, privileges.

Linux system calls are made through ``ctypes`` (Python 3.11 has no ``os.unshare``). Every
function either succeeds or raises ``OSError``; the caller records which layers it got.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

CLONE_NEWNS = 0x00020000
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
PR_SET_NO_NEW_PRIVS = 38

#: Every isolation layer the sandbox knows, in the order reports list them.
ALL_LAYERS = (
    "separate_process", "clean_environment", "private_workdir", "stdin_devnull",
    "resource_limits", "unprivileged_uid", "no_network", "pid_namespace", "private_mounts",
    "no_new_privileges",
)


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


_LIBC = _libc()


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    """Move this process into new namespaces (``unshare(2)``)."""
    if _LIBC is None:
        raise OSError("namespaces need Linux")
    _check(_LIBC.unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """``mount(2)``."""
    if _LIBC is None:
        raise OSError("mounts need Linux")
    enc = (lambda s: None if s is None else s.encode())
    _check(_LIBC.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def prctl(option: int, value: int) -> None:
    """``prctl(2)`` with one argument."""
    if _LIBC is None:
        raise OSError("prctl needs Linux")
    _check(_LIBC.prctl(ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0),
                       ctypes.c_ulong(0), ctypes.c_ulong(0)), "prctl")


def enter_user_namespace() -> None:
    """Become root of a new user namespace mapped onto the current (unprivileged) user."""
    uid, gid = os.getuid(), os.getgid()
    unshare(CLONE_NEWUSER)
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")


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


def paths_to_hide(root: str, keep: Iterable[str]) -> list[str]:
    """Everything under ``root`` except the ``keep`` paths and the folders that lead to them.

    Folders that contain a kept path are walked into; every other entry is returned, to be
    covered. Symbolic links are skipped (their targets are covered where they live).
    """
    keep = {os.path.realpath(k) for k in keep if os.path.exists(k)}
    out: list[str] = []

    def walk(path: str) -> None:
        if path in keep:
            return
        inside = [k for k in keep if k.startswith(path.rstrip("/") + "/")]
        if not inside:
            if not os.path.islink(path):
                out.append(path)
            return
        try:
            children = sorted(os.listdir(path))
        except OSError:
            return
        for name in children:
            child = os.path.join(path, name)
            if not os.path.islink(child):
                walk(child)

    walk(os.path.realpath(root))
    return out


@dataclass(frozen=True)
class ResourceLimits:
    """Limits applied to a worker with ``setrlimit``."""

    cpu_seconds: int
    memory_bytes: int
    processes: int = 64
    file_bytes: int = 16 * 1024 * 1024
    open_files: int = 64

    def apply(self) -> None:
        """Set every limit (soft = hard, so the worker cannot raise them again)."""
        pairs = [
            (resource.RLIMIT_CPU, self.cpu_seconds),
            (resource.RLIMIT_AS, self.memory_bytes),
            (resource.RLIMIT_FSIZE, self.file_bytes),
            (resource.RLIMIT_NOFILE, self.open_files),
            (resource.RLIMIT_CORE, 0),
        ]
        if hasattr(resource, "RLIMIT_NPROC"):
            pairs.append((resource.RLIMIT_NPROC, self.processes))
        for which, value in pairs:
            resource.setrlimit(which, (value, value))


def drop_privileges(uid: int) -> None:
    """Become ``uid`` (and group ``uid``) with no supplementary groups."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def close_fds_except(keep: Iterable[int]) -> None:
    """Close every inherited file descriptor but ``keep``."""
    keep = sorted(set(keep))
    low = 0
    for fd in keep + [65536]:
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
