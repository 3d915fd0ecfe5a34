"""The zygote: a warm process that forks one sandboxed worker per request.

Started by :class:`grader.sandbox.Sandbox` as ``python -m grader.zygote FD`` with a clean
environment and a control socket on file descriptor FD. It

1. reads its configuration (what to keep visible, limits, the uid range) from the socket;
2. enters new mount and network namespaces (as root, or as root of a new user namespace);
3. imports numpy, sympy and the worker, and warms sympy up, so that forks start warm;
4. covers every path outside the kept ones (the reference, the grader, other submissions,
   the output folder, home folders, /tmp) with empty read-only mounts;
5. answers ``ready`` with the isolation layers it obtained, then serves spawn requests.

Per spawn request it forks a *supervisor*, which enters new PID, mount and IPC namespaces
and forks the *worker* (PID 1 of its namespace). The worker mounts a fresh /proc and a
private /tmp, applies resource limits, drops to an unprivileged uid when it can, and then
runs :func:`grader.worker.serve`. The supervisor kills the worker, and so its whole PID
namespace, when the grader asks or goes away, and reports the worker's exit status.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

from . import isolation as iso

WORKDIR = "/tmp/work"


def _warm_up() -> None:
    """Import and exercise what student code commonly uses, before forking."""
    import numpy as np
    import sympy as sp

    from . import worker  # noqa: F401 - the worker and the engine it imports
    from .engine import expressions, wire  # noqa: F401

    g, t, c = sp.Symbol("g", real=True), sp.Symbol("t", integer=True, positive=True), sp.Symbol("c", real=True)
    k = sp.Symbol("k", integer=True)
    expr = sp.simplify(sp.sqrt(g**2) / (1 - sp.Rational(1, 2) ** t) + sp.Piecewise((1, c > 0), (-1, True)))
    sp.Sum(sp.Rational(1, 2) ** k, (k, 0, t - 1)).doit()
    sp.factor(sp.expand((g + c) ** 3))
    sp.nsimplify(0.5)
    str(expr)
    sp.sign(c).rewrite(sp.Abs)
    wire.encode_value({"a": expr, "b": np.zeros((2, 2))})
    np.linalg.norm(np.ones(3))


def _setup(config: dict) -> tuple[list[str], list[str]]:
    """Namespaces, warm-up and hiding; returns (layers obtained, warnings)."""
    layers = ["separate_process", "clean_environment", "private_workdir", "stdin_devnull",
              "resource_limits"]
    warnings: list[str] = []
    namespaces = False
    if config["namespaces"]:
        try:
            if os.geteuid() != 0:
                iso.enter_user_namespace()
            iso.unshare(iso.CLONE_NEWNS | iso.CLONE_NEWNET)
            iso.make_mounts_private()
            namespaces = True
        except OSError as exc:
            warnings.append(f"Linux namespaces unavailable ({exc})")
    _warm_up()
    if namespaces:
        try:
            for path in iso.paths_to_hide("/", config["keep"]):
                iso.hide(path)
            for path in config["hide"]:
                if os.path.lexists(path):
                    iso.hide(path)
            iso.mount("tmpfs", "/tmp", "tmpfs", iso.MS_NOSUID | iso.MS_NODEV, "size=1m,mode=1777")
            layers += ["no_network", "private_mounts"]
        except OSError as exc:
            warnings.append(f"could not build the private mount view ({exc})")
            namespaces = False
    try:
        iso.prctl(iso.PR_SET_NO_NEW_PRIVS, 1)
        layers.append("no_new_privileges")
    except OSError:
        pass
    if namespaces:
        try:  # probe: can this zygote give each worker its own PID namespace?
            probe = os.fork()
            if probe == 0:
                try:
                    iso.unshare(iso.CLONE_NEWPID | iso.CLONE_NEWNS | iso.CLONE_NEWIPC)
                    os._exit(0)
                except OSError:
                    os._exit(1)
            _, status = os.waitpid(probe, 0)
            if os.waitstatus_to_exitcode(status) == 0:
                layers.append("pid_namespace")
            else:
                warnings.append("PID namespaces unavailable")
        except OSError as exc:
            warnings.append(f"PID namespaces unavailable ({exc})")
    if config["uid_base"] is not None and os.geteuid() == 0 and _is_real_root():
        layers.append("unprivileged_uid")
    return layers, warnings


def _is_real_root() -> bool:
    """True when uid 0 here is the host's root (not root of a user namespace)."""
    try:
        with open("/proc/self/uid_map") as f:
            first = f.read().split()
        return first[:3] == ["0", "0", "4294967295"]
    except OSError:
        return False


def _worker(request_fd: int, response_fd: int, config: dict, layers: list[str], slot: int) -> None:
    """The worker process: finish its sandbox, then serve requests. Never returns."""
    try:
        iso.prctl(iso.PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass
    if "pid_namespace" in layers:
        iso.mount("proc", "/proc", "proc", iso.MS_NOSUID | iso.MS_NODEV | iso.MS_NOEXEC)
    if "private_mounts" in layers:
        iso.mount("tmpfs", "/tmp", "tmpfs", iso.MS_NOSUID | iso.MS_NODEV, "size=64m,mode=1777")
        workdir = WORKDIR
        os.mkdir(workdir, 0o755)
    else:
        import tempfile
        workdir = tempfile.mkdtemp(prefix="adam-worker-")
    uid = None
    if "unprivileged_uid" in layers:
        uid = config["uid_base"] + slot
        os.chown(workdir, uid, uid)
    else:
        os.setsid()
    os.dup2(request_fd, 3)
    os.dup2(response_fd, 4)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    iso.close_fds_except([0, 1, 2, 3, 4])
    os.environ.clear()
    os.environ.update({"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir,
                       "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    os.chdir(workdir)
    limits = config["limits"]
    iso.ResourceLimits(cpu_seconds=limits["cpu_seconds"], memory_bytes=limits["memory_bytes"],
                       processes=limits["processes"]).apply()
    if uid is not None:
        iso.drop_privileges(uid)
    try:
        iso.prctl(iso.PR_SET_NO_NEW_PRIVS, 1)
    except OSError:
        pass
    sys.path[:] = [workdir] + [p for p in sys.path if p and os.path.realpath(p).startswith(
        tuple(config["python_paths"]))]
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    from pathlib import Path

    from .worker import serve
    try:
        serve(3, 4, Path(workdir))
    finally:
        os._exit(0)


def _supervise(request_fd: int, response_fd: int, control: socket.socket, config: dict,
               layers: list[str], slot: int) -> None:
    """The supervisor process: start the worker, then kill or report it. Never returns."""
    code = 0
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if "pid_namespace" in layers:
            iso.unshare(iso.CLONE_NEWPID | iso.CLONE_NEWNS | iso.CLONE_NEWIPC)
        pid = os.fork()
        if pid == 0:
            control.close()
            try:
                _worker(request_fd, response_fd, config, layers, slot)
            finally:
                os._exit(70)
        os.close(request_fd)
        os.close(response_fd)
        status = _watch(pid, control)
        _sweep(pid, config, layers, slot)
        try:
            control.sendall(status.encode())
        except OSError:
            pass
    except BaseException:  # noqa: BLE001 - a supervisor must never fall back into the zygote loop
        import traceback
        traceback.print_exc()
        code = 71
    os._exit(code)


def _watch(pid: int, control: socket.socket) -> str:
    """Wait until the worker exits or the grader asks to kill it; returns its exit status."""
    pidfd = os.pidfd_open(pid)
    while True:
        ready, _, _ = select.select([control, pidfd], [], [])
        if control in ready:
            try:
                data = control.recv(16)
            except OSError:
                data = b""
            if not data or b"k" in data:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return "killed"
        if pidfd in ready:
            _, status = os.waitpid(pid, 0)
            if os.WIFSIGNALED(status):
                return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
            return f"exit {os.waitstatus_to_exitcode(status)}"


def _sweep(pid: int, config: dict, layers: list[str], slot: int) -> None:
    """Kill anything the worker left behind, where no PID namespace did it already.

    With a PID namespace there is nothing to do: when the worker (its PID 1) exits, the
    kernel kills every process of the namespace, double-forked daemons included.
    """
    if "pid_namespace" in layers:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    if "unprivileged_uid" in layers:
        sweeper = os.fork()
        if sweeper == 0:  # a process of the worker's uid may signal all of that uid's processes
            try:
                os.setresuid(config["uid_base"] + slot, config["uid_base"] + slot, config["uid_base"] + slot)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(sweeper, 0)


def serve_spawns(control: socket.socket, config: dict, layers: list[str]) -> None:
    """Fork a supervisor per request until the grader closes the control socket."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # supervisors are reaped automatically
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 4096, 3)
        except OSError:
            return
        if not data:
            return
        request = json.loads(data)
        request_fd, response_fd, control_fd = fds
        child_control = socket.socket(fileno=control_fd)
        pid = os.fork()
        if pid == 0:
            control.close()
            _supervise(request_fd, response_fd, child_control, config, layers, int(request["slot"]))
        os.close(request_fd)
        os.close(response_fd)
        child_control.close()


def main() -> None:
    """Entry point: configure, report readiness, serve."""
    control = socket.socket(fileno=int(sys.argv[1]))
    config = json.loads(control.recv(1 << 20))
    layers, warnings = _setup(config)
    control.sendall(json.dumps({"ready": True, "layers": layers, "warnings": warnings}).encode())
    serve_spawns(control, config, layers)


if __name__ == "__main__":
    main()
