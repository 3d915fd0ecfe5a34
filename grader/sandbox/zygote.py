"""The zygote: a warm process that forks one sandboxed worker per request.

Started by :class:`grader.sandbox.manager.Sandbox` as ``python -m grader.sandbox.zygote FD`` with a clean
environment and a control socket (a stream) on file descriptor FD. It

1. reads its configuration (what to keep visible, limits, the uid range) from the socket;
2. enters new mount and network namespaces (as root, or as root of a new user namespace);
3. imports numpy, sympy, the worker and common standard modules, and matplotlib (Agg) too
   in the plotting image (``config.image``, :data:`grader.sandbox.config.IMAGES`), so that
   forks start warm;
4. moves into a private root that holds only the paths of ``config.read`` (the system folders,
   the standard library, the provided packages, the grader files a worker runs), read-only
   (:func:`grader.sandbox.isolation.enter_private_root`): the reference, the rest of the
   grader, submissions, the output folder, home folders and the host's /tmp do not exist
   there, not even later;
5. probes, in throw-away children, which per-worker layers the system grants;
6. answers ``ready`` with the isolation layers it obtained, then serves spawn requests.

Messages on the control socket are framed like the worker protocol
(:mod:`grader.sandbox.protocol`); a spawn request is 4 bytes (the slot) carrying three file
descriptors: the worker's request pipe, its answer pipe and the supervisor's control socket.

Per spawn request it forks a *supervisor*, which joins the slot's cgroups (descriptors passed
with the request), enters new PID, IPC and network namespaces and forks the *worker* (PID 1
of its namespace). The worker enters its own mount namespace,
mounts a fresh /proc and a private /tmp, gives up every privilege (an unprivileged uid as root; a nested user
namespace without capabilities otherwise), applies resource limits, joins a new session keyring,
installs the system-call filter, restricts itself with Landlock where the kernel has it, says
``hello`` and then runs :func:`grader.sandbox.worker.serve`.
The supervisor kills the worker, and so its whole PID namespace, when the grader asks or
goes away, and reports the worker's exit status. Without a PID namespace it is a child
subreaper and kills the worker's process group and every descendant left behind.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import select
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
from dataclasses import dataclass

from grader.errors import UnreachableInstall
from grader.sandbox import isolation as iso
from grader.sandbox.config import PLOTTING, SandboxConfig
from grader.engine.calls import ended_status
from grader.engine.provided import MATPLOTLIB_BACKEND, ONE_THREAD, warm_up
from grader.sandbox.protocol import read_message, write_message

WORKDIR = "/tmp/work"
SPAWN = struct.Struct(">I")
#: Character devices a worker may open for reading and writing (Landlock).
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
#: Exit codes of a worker whose sandbox could not be completed (never student code's doing:
#: student code runs only after the worker's ``hello``).
SETUP_FAILED = 75
@dataclass(frozen=True)
class Plan:
    """What the zygote obtained, and so what each supervisor and worker sets up."""

    layers: tuple[str, ...]
    #: The zygote is root of its own user namespace (the grader is not root).
    user_namespace: bool = False
    #: Each worker gets its own network namespace (else they share the zygote's).
    worker_network: bool = False
    landlock_abi: int = 0

    def has(self, layer: str) -> bool:
        return layer in self.layers


def _warm_up(keep_fonts_in: str | None = None, *, plotting: bool = True) -> None:
    """Import and exercise what student code commonly uses before forking
    (:func:`grader.engine.provided.warm_up`, as the student's run does), the worker, and
    matplotlib too when ``plotting`` (its font list kept in ``keep_fonts_in``:
    :func:`_warm_matplotlib`)."""
    if plotting:
        _warm_matplotlib(keep_fonts_in)

    from grader.sandbox import worker  # noqa: F401 - the worker and the engine it imports

    warm_up()


def font_cache_folder() -> str:
    """Where the zygote keeps matplotlib's font list between batches: the grading account's own
    cache folder (never a place a worker can reach: workers see neither home folders nor it)."""
    import pwd

    try:
        home = pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        home = "/nonexistent"
    return os.path.join(home, ".cache", "adam-grader", "matplotlib")


def _warm_matplotlib(keep_fonts_in: str | None = None) -> None:
    """Import matplotlib with its non-interactive backend, font list built once per batch (not
    per worker: building it takes a second of CPU that would count against a student's import).

    The font list (a scan of the system's fonts, a third of a second) is kept in
    ``keep_fonts_in`` (:func:`font_cache_folder` by default) and read from there by the next
    batch; matplotlib checks its version and rebuilds one it cannot use. Any failure to read or
    keep it only costs that third of a second."""
    keep = keep_fonts_in or font_cache_folder()
    cache = tempfile.mkdtemp(prefix="adam-zygote-mpl-")
    os.environ["MPLBACKEND"], os.environ["MPLCONFIGDIR"] = MATPLOTLIB_BACKEND, cache
    try:
        _copy_font_lists(keep, cache)
        import matplotlib

        matplotlib.use(MATPLOTLIB_BACKEND)
        import matplotlib.pyplot  # noqa: F401 - builds the font manager
        _copy_font_lists(cache, keep)
    except Exception:  # noqa: BLE001 - an environment without matplotlib still grades
        pass
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        for name in ("MPLBACKEND", "MPLCONFIGDIR"):
            os.environ.pop(name, None)


def _copy_font_lists(source: str, target: str) -> None:
    """Copy matplotlib's font lists (``fontlist-*.json``) from ``source`` to ``target`` where
    they are new or changed (each written whole, then renamed: a reader never sees half)."""
    try:
        names = [n for n in os.listdir(source) if n.startswith("fontlist-") and n.endswith(".json")]
        for name in names:
            with open(os.path.join(source, name), "rb") as handle:
                data = handle.read(1 << 24)
            path = os.path.join(target, name)
            try:
                with open(path, "rb") as handle:
                    if handle.read(1 << 24) == data:
                        continue
            except OSError:
                pass
            os.makedirs(target, mode=0o700, exist_ok=True)
            partial = f"{path}.{os.getpid()}.partial"
            with open(partial, "wb") as handle:
                handle.write(data)
            os.replace(partial, path)
    except OSError:
        pass


def _probe(action) -> bool:
    """Run ``action`` in a throw-away child; True when it returned without raising."""
    try:
        pid = os.fork()
    except OSError:
        return False
    if pid == 0:
        try:
            action()
            os._exit(0)
        except BaseException:  # noqa: BLE001 - any failure means "not available"
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _limits(config: SandboxConfig) -> iso.ResourceLimits:
    limits = config.limits
    return iso.ResourceLimits(cpu_seconds=limits.cpu_seconds, memory_bytes=limits.memory_bytes,
                              processes=limits.processes, file_bytes=limits.file_bytes)


def _setup(config: SandboxConfig) -> tuple[Plan, list[str]]:
    """Namespaces, warm-up, hiding and probes; returns the plan and warnings."""
    layers = ["separate_process", "clean_environment", "private_workdir", "stdin_devnull"]
    warnings: list[str] = []
    fonts = font_cache_folder()  # the real account's, before a user namespace makes it root
    namespaces = user_namespace = False
    if config.namespaces:
        try:
            if os.geteuid() != 0:
                iso.enter_user_namespace()
                user_namespace = True
            iso.unshare(iso.CLONE_NEWNS | iso.CLONE_NEWNET)
            iso.make_mounts_private()
            namespaces = True
        except OSError as exc:
            warnings.append(f"Linux namespaces unavailable ({exc})")
    try:  # other processes of the same user may not read or ptrace the zygote (nor its children)
        iso.prctl(iso.PR_SET_DUMPABLE, 0)
    except OSError:
        pass
    _warm_up(fonts, plotting=config.image == PLOTTING)
    if namespaces:
        try:
            iso.enter_private_root(config.read, config.hide)
            layers += ["no_network", "private_mounts"]
        except OSError as exc:
            warnings.append(f"could not build the private mount view ({exc})")
            namespaces = False
    if _probe(_limits(config).apply):
        layers.append("resource_limits")
    else:
        warnings.append("resource limits could not all be set on this system")
    try:
        iso.prctl(iso.PR_SET_NO_NEW_PRIVS, 1)
        layers.append("no_new_privileges")
    except OSError:
        pass
    if "no_new_privileges" in layers and _probe(iso.install_syscall_filter):
        layers.append("syscall_filter")
    else:
        warnings.append("no system-call filter (seccomp): workers may start sessions of their own "
                        "(a larger CPU share without cgroups), use keyrings and System V IPC")
    if config.cgroups:
        layers.append("cgroup_limits")
    else:
        warnings.append(config.cgroups_missing or "no cgroups for workers")
    if namespaces or (os.geteuid() == 0 and _probe(_probe_workdir_tmpfs)):
        layers.append("capped_workdir")
    else:
        warnings.append("the working directory is on the host's disk: its size is checked while the "
                        "worker runs, not capped")
    worker_network = False
    if namespaces:
        per_worker = iso.CLONE_NEWPID | iso.CLONE_NEWNS | iso.CLONE_NEWIPC
        if _probe(lambda: iso.unshare(per_worker | iso.CLONE_NEWNET)):
            layers.append("pid_namespace")
            worker_network = True
        elif _probe(lambda: iso.unshare(per_worker)):
            layers.append("pid_namespace")
            warnings.append("workers share one network namespace (no per-worker network namespace)")
        else:
            warnings.append("PID namespaces unavailable")
    real_root = os.geteuid() == 0 and _is_real_root()
    if real_root and config.uid_base is not None:
        uid = config.uid_base
        if _probe(lambda: (iso.drop_privileges(uid), _assert_no_capabilities())):
            layers += ["unprivileged_uid", "no_capabilities"]
            if not namespaces:
                _refuse_unreachable(config)
        else:
            warnings.append("could not switch workers to an unprivileged uid")
    elif user_namespace:
        warnings.append("the grader is not root: every worker runs as the grader's own user "
                        "(inside a user namespace, without capabilities when that layer is listed)")
        if _probe(lambda: iso.leave_root_of_user_namespace(config.uid_base or 1000)):
            layers.append("no_capabilities")
        else:
            warnings.append("workers could not give up root of the user namespace")
    elif os.geteuid() != 0 and _probe(_assert_no_capabilities):
        layers.append("no_capabilities")
    abi = 0 if "landlock" in config.disable else iso.landlock_abi()
    if "landlock" in config.disable:
        warnings.append("Landlock turned off by the caller")
    elif abi >= 1:
        if _probe(lambda: iso.landlock_restrict(config.read, ["/tmp"], DEVICES, abi, listable=config.listable)):
            layers.append("landlock")
            if abi < 6:
                warnings.append(f"Landlock ABI {abi}: signals and abstract unix sockets are not scoped")
        else:
            abi = 0
            warnings.append("Landlock is present but refused the worker's rules")
    else:
        warnings.append("Landlock unavailable (Linux 5.13 or later with Landlock enabled)")
    plan = Plan(tuple(layer for layer in iso.ALL_LAYERS if layer in layers), user_namespace,
                worker_network, abi if "landlock" in layers else 0)
    return plan, warnings


def import_paths(config: SandboxConfig) -> list[str]:
    """What a worker's imports read: the standard library, the site-packages folders and the
    provided packages in them."""
    def under(path: str, folder: str) -> bool:
        return path == folder or path.startswith(folder.rstrip("/") + "/")

    return sorted(set(config.python_paths) | {p for p in config.read
                                               if any(under(p, f) for f in config.python_paths)})


def _refuse_unreachable(config: SandboxConfig) -> None:
    """Workers with uids of their own and no private root read the host's folders as any other
    user: if the grader is installed where other users cannot enter, every module the zygote
    did not import in advance (a plotting backend, a submodule) fails to import, and a student
    would lose marks for where the grader sits. Refuse instead, naming the folder."""
    closed = {}
    for path in import_paths(config):
        folder = iso.closed_folder(path)
        if folder is not None:
            closed.setdefault(folder, path)
    if closed:
        folder, path = next(iter(sorted(closed.items())))
        raise UnreachableInstall(
            f"without Linux namespaces, workers run as users of their own and cannot reach {path}: "
            f"{folder} (mode {_mode(folder)}) lets no other user through, so a student's imports "
            f"would fail. "
            f"Let other users through it (chmod o+x on it and on any closed folder above the grader's "
            f"Python packages), install the grader where every user may read it, or grade where "
            f"Linux namespaces are available (nothing was graded)")


def _mode(folder: str) -> str:
    try:
        return oct(os.stat(folder).st_mode & 0o777)[2:].zfill(4)
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def _probe_workdir_tmpfs() -> None:
    """A size-capped tmpfs can be mounted on a working directory (root, without namespaces)."""
    folder = tempfile.mkdtemp(prefix="adam-probe-")
    try:
        _mount_workdir(folder, 1 << 20)
        _unmount_workdir(folder)
    finally:
        os.rmdir(folder)


def _mount_workdir(folder: str, size: int) -> None:
    iso.mount("tmpfs", folder, "tmpfs", iso.MS_NOSUID | iso.MS_NODEV, f"size={size},mode=0700")


def _unmount_workdir(folder: str) -> None:
    libc = iso._linux("umount")
    libc.umount2(folder.encode(), 2)  # MNT_DETACH: a process still inside cannot keep it


def _assert_no_capabilities() -> None:
    if sys.platform.startswith("linux"):
        if iso.capabilities() != 0:
            raise OSError("capabilities held")
    elif os.geteuid() == 0:
        raise OSError("root")


def _is_real_root() -> bool:
    """True when uid 0 here is the host's root (not root of a user namespace)."""
    if not sys.platform.startswith("linux"):
        return True  # no user namespaces elsewhere
    try:
        with open("/proc/self/uid_map") as f:
            first = f.read().split()
        return first[:3] == ["0", "0", "4294967295"]
    except OSError:
        return False


def _worker(request_fd: int, response_fd: int, config: SandboxConfig, plan: Plan, slot: int,
            workdir: str | None) -> None:
    """The worker process: finish its sandbox, say hello, then serve requests. Never returns."""
    try:
        _enter_sandbox(request_fd, response_fd, config, plan, slot, workdir)
    except BaseException:  # noqa: BLE001 - no student code has run yet: a grader problem
        import traceback
        traceback.print_exc()
        os._exit(SETUP_FAILED)
    from pathlib import Path

    from grader.sandbox.worker import serve
    code = 1  # the worker's own loop failed (a closed channel, or student code broke it)
    try:
        write_message(4, {"op": "hello", "layers": list(plan.layers)})
        serve(3, 4, Path(os.getcwd()))
        code = 0
    finally:
        os._exit(code)


def _outermost_under_tmp(paths) -> list[str]:
    """The outermost of ``paths`` that lie under /tmp (each once, parents before children)."""
    under = sorted(os.path.normpath(p) for p in paths if os.path.normpath(p).startswith("/tmp/"))
    outer: list[str] = []
    for path in under:
        if not any(path == o or path.startswith(o + "/") for o in outer):
            outer.append(path)
    return outer


def _bind_back(path: str, fd: int) -> None:
    """Bind the object held by ``fd`` at ``path`` inside the fresh /tmp, read-only."""
    try:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, 0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
            open(path, "a").close()
        iso.mount(f"/proc/self/fd/{fd}", path, None, iso.MS_BIND | iso.MS_REC)
        try:  # keep the flags a user namespace locked (nosuid, nodev, ...), add read-only
            flags = os.statvfs(path).f_flag
            locked = sum(mount_flag for statvfs_flag, mount_flag in iso._STATVFS_TO_MOUNT if flags & statvfs_flag)
            iso.mount("none", path, None, iso.MS_REMOUNT | iso.MS_BIND | iso.MS_RDONLY | locked)
        except OSError:
            pass  # read-only is a second line: the worker's uid holds no right to write there
    finally:
        os.close(fd)


def _enter_sandbox(request_fd: int, response_fd: int, config: SandboxConfig, plan: Plan, slot: int,
                   workdir: str | None) -> None:
    """Every per-worker layer, in an order where each step still has the rights it needs."""
    try:  # our own /proc files stay ours while we set up (the zygote is not dumpable)
        iso.prctl(iso.PR_SET_DUMPABLE, 1)
    except OSError:
        pass
    if plan.has("private_mounts"):  # its own mount namespace: the supervisor keeps the host's /proc
        iso.unshare(iso.CLONE_NEWNS)
    if plan.has("pid_namespace"):
        iso.mount("proc", "/proc", "proc", iso.MS_NOSUID | iso.MS_NODEV | iso.MS_NOEXEC)
        try:  # a host name of its own (no layer of its own: the quoted-text filter is the fallback)
            iso.enter_own_host_name()
        except OSError:
            pass
    if plan.has("private_mounts"):
        # Kept paths under /tmp (a checkout or virtual environment there, as in a CI clone) must
        # stay visible under the worker's fresh /tmp: hold each by a descriptor, then bind it back.
        held = [(path, os.open(path, os.O_PATH | os.O_CLOEXEC))
                for path in _outermost_under_tmp(config.read) if os.path.lexists(path)]
        iso.mount("tmpfs", "/tmp", "tmpfs", iso.MS_NOSUID | iso.MS_NODEV,
                  f"size={config.limits.workdir_bytes},mode=1777")
        for path, fd in held:
            try:
                _bind_back(path, fd)
            except OSError:
                pass  # that path stays hidden under the fresh /tmp, as it was before
        workdir = WORKDIR
        os.mkdir(workdir, 0o755)
    uid = (config.uid_base or 0) + slot
    if plan.has("unprivileged_uid"):
        os.chown(workdir, uid, uid)
    os.setsid()  # its own process group, and no controlling terminal to type into
    os.dup2(request_fd, 3)
    os.dup2(response_fd, 4)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    iso.close_fds_except([0, 1, 2, 3, 4])
    os.environ.clear()
    os.environ.update({"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir,
                       **ONE_THREAD, "MPLBACKEND": MATPLOTLIB_BACKEND, "MPLCONFIGDIR": os.path.join(workdir, ".matplotlib")})
    os.chdir(workdir)
    try:
        iso.set_oom_score_adj(1000)
    except OSError:
        pass
    if plan.has("unprivileged_uid"):
        iso.drop_privileges(uid)
    elif plan.user_namespace and plan.has("no_capabilities"):
        iso.leave_root_of_user_namespace(uid)
    if plan.has("no_capabilities"):
        _assert_no_capabilities()
    if plan.has("resource_limits"):  # after the uid and user namespace changes: the process limit
        limits = _limits(config)     # then counts this worker's own processes, not its batch's
        if not plan.has("unprivileged_uid") and not plan.user_namespace:
            # The process limit counts every process of the real uid, and this worker shares the
            # grader's: allow what that user already runs, plus the worker's own share.
            running = iso.processes_of_uid(os.getuid())
            limits = dataclasses.replace(
                limits, processes=None if running is None else running + limits.processes)
        limits.apply()
    if plan.has("no_new_privileges"):
        iso.prctl(iso.PR_SET_NO_NEW_PRIVS, 1)
    try:  # a keyring of its own (the filter below then keeps it from every keyring)
        iso.join_new_session_keyring()
    except OSError:
        pass
    if plan.has("syscall_filter"):
        iso.install_syscall_filter()
    if plan.has("landlock"):
        writable = "/tmp" if plan.has("private_mounts") else workdir  # /tmp is private then
        # Without a PID namespace /proc is the host's: only the worker's own /proc/<pid> is read.
        read, listable = iso.proc_access(config.read, plan.has("pid_namespace"))
        iso.landlock_restrict(read, [writable], DEVICES, plan.landlock_abi,
                              listable=config.listable + listable)
    try:  # credentials changed above, which cleared it
        iso.prctl(iso.PR_SET_PDEATHSIG, signal.SIGKILL)
        iso.prctl(iso.PR_SET_DUMPABLE, 0)
    except OSError:
        pass
    sys.path[:] = [workdir] + [p for p in sys.path if p and os.path.realpath(p).startswith(
        config.python_paths)]
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    from grader.sandbox.worker import guard_imports
    guard_imports(config.importable)


def _supervise(request_fd: int, response_fd: int, control: socket.socket, config: SandboxConfig,
               plan: Plan, slot: int, cgroup_fds: list[int]) -> None:
    """The supervisor process: start the worker, then kill or report it. Never returns.

    It first joins the slot's cgroups (the worker and everything it starts are then in them),
    tells the grader the worker's pid (``P<pid>\\n``: the grader reads how long the worker
    waited for a CPU from it), and at the end writes the worker's exit status."""
    code = 0
    workdir = mounted = None
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in cgroup_fds:  # writing 0 moves the writer
            os.write(fd, b"0")
            os.close(fd)
        if plan.has("pid_namespace"):  # the worker, its first child, will be PID 1 in it
            flags = iso.CLONE_NEWPID | iso.CLONE_NEWIPC
            iso.unshare(flags | (iso.CLONE_NEWNET if plan.worker_network else 0))
        else:
            try:  # orphans of the worker come back to us, so none escapes the sweep
                iso.prctl(iso.PR_SET_CHILD_SUBREAPER, 1)
            except OSError:
                pass
        if not plan.has("private_mounts"):
            workdir = tempfile.mkdtemp(prefix="adam-worker-")
            if plan.has("capped_workdir"):
                _mount_workdir(workdir, config.limits.workdir_bytes)
                mounted = workdir
        pid = os.fork()
        if pid == 0:
            control.close()
            try:
                _worker(request_fd, response_fd, config, plan, slot, workdir)
            finally:
                os._exit(SETUP_FAILED)
        os.close(request_fd)
        os.close(response_fd)
        try:
            control.sendall(b"P%d\n" % pid)
        except OSError:
            pass
        checked = workdir if workdir is not None and mounted is None else None
        status = _watch(pid, control, checked, config.limits.workdir_bytes, config.limits.cpu_seconds)
        _sweep(pid, config, plan, slot)
        try:
            control.sendall(status.encode())
        except OSError:
            pass
    except BaseException:  # noqa: BLE001 - a supervisor must never fall back into the zygote loop
        import traceback
        traceback.print_exc()
        code = 71
    finally:
        if mounted is not None:
            _unmount_workdir(mounted)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    os._exit(code)


def disk_usage(folder: str, cap: int) -> int:
    """Bytes held by the files under ``folder`` (stops counting past ``cap``)."""
    total = 0
    stack = [folder]
    while stack and total <= cap:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += max(info.st_blocks * 512, 0) + 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return total


#: Seconds between two checks of an uncapped working directory's size.
DISK_CHECK_SECONDS = 0.1


def _reap(pid: int, block: bool, cpu_limit: int = 0) -> str | None:
    """The worker's exit status if it has ended (waits for it when ``block``).

    With ``cpu_limit``, a worker the kernel killed once it had used that many seconds of CPU
    time (``RLIMIT_CPU``) is said to have stopped at its limit, in the words the student's
    run uses, rather than by a bare signal."""
    try:
        done, status, usage = os.wait4(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return "unknown"
    if not done:
        return None
    return ended_status(os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime, cpu_limit)


def _watch(pid: int, control: socket.socket, workdir: str | None = None, cap: int = 0,
           cpu_limit: int = 0) -> str:
    """Wait until the worker exits or the grader asks to kill it; returns its exit status.

    When asked to kill a worker that has already ended, reports how it ended: the answer
    does not depend on which of the two events is noticed first. With ``workdir`` (a working
    directory that no tmpfs caps), its size is checked every :data:`DISK_CHECK_SECONDS` and
    the worker killed once it holds more than ``cap`` bytes. ``cpu_limit``: the worker's
    CPU-time limit, named when the worker ends at it (:func:`_reap`).
    """
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux, or a kernel older than 5.3: poll instead
        pidfd = None
    try:
        while True:
            watched = [control] if pidfd is None else [control, pidfd]
            wait = None if pidfd is not None else 0.05
            if workdir is not None:
                wait = DISK_CHECK_SECONDS if wait is None else min(wait, DISK_CHECK_SECONDS)
                if disk_usage(workdir, cap) > cap:
                    os.kill(pid, signal.SIGKILL)
                    _reap(pid, block=True)
                    return f"killed: more than {cap // 2**20} MB written into its working directory"
            ready, _, _ = select.select(watched, [], [], wait)
            if control in ready:
                try:
                    data = control.recv(16)
                except OSError:
                    data = b""
                if b"c" in data:  # a call ended: nothing the student started may outlive it
                    _kill_strays(pid)
                if not data or b"k" in data:
                    status = _reap(pid, block=False, cpu_limit=cpu_limit)
                    if status is None:
                        os.kill(pid, signal.SIGKILL)
                        status = _reap(pid, block=True)
                        # a worker already on its way out keeps the status it chose
                        status = "killed" if status == "signal SIGKILL" else status
                    return status
            if pidfd is None or pidfd in ready:
                status = _reap(pid, block=pidfd is not None, cpu_limit=cpu_limit)
                if status is not None:
                    return status
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _kill_strays(worker: int, seconds: float = 1.0) -> None:
    """Kill every process the worker started (its descendants, and orphans reparented to this
    supervisor), but not the worker: background processes never outlive the call that
    started them, so a fork bomb cannot keep the CPU from the next submissions."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        strays, frontier = set(), [worker]
        while frontier:
            children = iso.child_pids(frontier.pop()) - strays - {worker}
            strays |= children
            frontier.extend(children)
        strays |= iso.child_pids(os.getpid()) - {worker}
        if not strays:
            return
        for stray in strays:
            try:
                os.kill(stray, signal.SIGKILL)
            except OSError:
                pass
        for stray in strays:  # reap those that are ours (orphans); the worker reaps its own
            try:
                os.waitpid(stray, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.005)


def _sweep(pid: int, config: SandboxConfig, plan: Plan, slot: int) -> None:
    """Kill anything the worker left behind, where no PID namespace did it already.

    With a PID namespace there is nothing to do: when the worker (its PID 1) exits, the
    kernel kills every process of the namespace, double-forked daemons included. Without
    one: the worker's process group, then every descendant (the supervisor is a child
    subreaper, so orphans are its children), then, as root, every process of the worker's uid
    and, where no system-call filter kept it from making them, its System V IPC objects.
    """
    if plan.has("pid_namespace"):
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    iso.kill_descendants()
    if plan.has("unprivileged_uid"):
        uid = config.uid_base + slot
        sweeper = os.fork()
        if sweeper == 0:  # a process of the worker's uid may signal all of that uid's processes
            try:
                iso.drop_privileges(uid)
                os.kill(-1, signal.SIGKILL)
                iso.clear_user_keyrings()
            finally:
                os._exit(0)
        os.waitpid(sweeper, 0)
        if not plan.has("syscall_filter"):  # System V objects it created would outlive it
            try:
                iso.remove_ipc_objects(uid)
            except OSError:
                pass


#: Descriptors a spawn request may carry: three channels and the slot's cgroup files.
MAX_SPAWN_FDS = 8


def _recv_spawn(control: socket.socket) -> tuple[int, list[int]] | None:
    """One spawn request: (slot, [request fd, response fd, control fd, cgroup fds...]); None
    at the end."""
    try:
        data, fds, _, _ = socket.recv_fds(control, SPAWN.size, MAX_SPAWN_FDS)
        while data and len(data) < SPAWN.size:
            more = control.recv(SPAWN.size - len(data))
            if not more:
                break
            data += more
    except OSError:
        return None
    if len(data) < SPAWN.size or len(fds) < 3:
        for fd in fds:
            os.close(fd)
        return None
    return SPAWN.unpack(data)[0], list(fds)


def serve_spawns(control: socket.socket, config: SandboxConfig, plan: Plan,
                 collapse: list[tuple[int, int]] | None = None) -> None:
    """Fork a supervisor per request until the grader closes the control socket; while no
    request waits, put the next stretch of ``collapse`` on huge pages (a few milliseconds
    each, so a request never waits long, and a one-submission batch is not delayed by all of
    it before its first spawn)."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # supervisors are reaped automatically
    pending = list(collapse or ())
    while True:
        while pending and not select.select([control], [], [], 0)[0]:
            iso.collapse_range(*pending.pop(0))
        request = _recv_spawn(control)
        if request is None:
            return
        slot, (request_fd, response_fd, control_fd, *cgroup_fds) = request
        child_control = socket.socket(fileno=control_fd)
        pid = os.fork()
        if pid == 0:
            control.close()
            _supervise(request_fd, response_fd, child_control, config, plan, slot, cgroup_fds)
        for fd in (request_fd, response_fd, *cgroup_fds):
            os.close(fd)
        child_control.close()


def _settle() -> list[tuple[int, int]]:
    """Make the warm image cheaper to fork: move the objects it holds out of the cyclic
    collector's reach (a worker's collections would otherwise touch, and so copy, every page
    of them; no full collection first, which takes a tenth of a second with sympy loaded and
    would delay a cold start), and return the stretches of its heap to put on huge pages when
    it is idle (:func:`isolation.huge_page_ranges`)."""
    gc.freeze()
    return iso.huge_page_ranges()


def main() -> None:
    """Entry point: configure, report readiness, serve."""
    fd = int(sys.argv[1])
    config = SandboxConfig.from_message(read_message(fd, max_size=1 << 24))
    try:
        plan, warnings = _setup(config)
    except UnreachableInstall as exc:
        write_message(fd, {"ready": False, "refused": str(exc)})
        sys.exit(1)
    idle_work = _settle()
    write_message(fd, {"ready": True, "layers": list(plan.layers), "warnings": warnings})
    serve_spawns(socket.socket(fileno=fd), config, plan, idle_work)
    # Nothing is left to clean up (supervisors watch the grader themselves): leave without the
    # interpreter's shutdown, which takes a third of a second with numpy, sympy and matplotlib
    # loaded, and which the grader waits for at the end of every batch.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
