"""The red-team suite: hostile submissions graded through the CLI earn exactly their honest credit.

``tests/attacks/`` holds full student modules (a correct solution plus an attack at the end of
the file) and ``expected.json``, the exact credit of each one. Placeholders in the files
(``@@SUBMISSIONS@@``, ``@@OUT@@``, ``@@REPO@@``, ``@@PORT@@``, ``@@TAG@@``) are filled in at
test time, so each attack knows where the batch, the output folder and the repository are,
as an insider would.

One session fixture runs the CLI over the attacks in up to four modes, concurrently:

``root``
    every attack and an honest neighbour, as root with namespaces (the full set of layers);
``root-no-namespaces``
    the leak attempts with ``--no-namespaces`` (process-group and subreaper sweep, Landlock);
``nonroot``
    the leak attempts as an unprivileged user (``setpriv`` to uid 65534): the zygote is root of
    a user namespace and no worker gets a uid of its own;
``nonroot-no-namespaces``
    the leak attempts as an unprivileged user without namespaces.

Then it waits a few seconds (daemons sleep past the end of grading) and checks what the
attacks tried to change. A run that cannot happen here (no ``setpriv``, no Python that uid
65534 may execute) is skipped with its reason; an attack whose defence needs layers this
system lacks is skipped with the missing layers named, never silently passed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import link_tree, venv_finding
from grader.sandbox.isolation import ALL_LAYERS, landlock_abi
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parent.parent
ATTACKS = ROOT / "tests" / "attacks"
EXPECTED = json.loads((ATTACKS / "expected.json").read_text(encoding="utf-8"))["attacks"]
VICTIM = "zz_victim"
RUBRIC = load_rubric()
FULL = {item.id: item.points for item in RUBRIC.items}
NOBODY = 65534
#: Seconds to wait after grading for daemons that sleep past its end (they wake after 2.5 s).
DAEMON_WAIT = 3.5
#: The attack batch (about 55 submissions, some hanging until their time limits) must end by then.
#: Generous, for a machine that eight suites share; a limit that is not enforced hangs for ever.
SANE_SECONDS = 480

#: The attacks run in the other modes: attempts to leak, escape or outlive the worker, and
#: files whose grade must not depend on the mode (matplotlib, a module that is not provided).
LEAK_ATTACKS = ("a13_import_reference", "a14_scan_filesystem", "a15_proc_snooping",
                "a16_other_submissions", "a17_write_reports", "a26_fork_bomb", "a27_daemon",
                "a30_network", "a39_kill_everything", "a40_unmount_and_unshare",
                "a42_ptrace_and_privileges", "a44_symlinks_in_workdir",
                "a60_reference_in_any_install", "a61_matplotlib_plots", "a62_module_not_provided",
                "a63_spinning_sessions", "a64_slow_honest_import", "a65_collude_writer",
                "a66_collude_reader", "a67_sysv_memory", "a68_fill_the_disk",
                "a69_proc_cmdline_in_exception", "a70_host_files_in_exception", "a71_budget_stretch",
                "a72_hidden_plotting_import", "a73_self_contention")
#: Without namespaces or Landlock signal scoping, a same-uid worker may kill the grader.
NEEDS_SIGNAL_SCOPING = ("a39_kill_everything",)
#: Without a user namespace, the process limit counts every process of the grader's user, so a
#: fork bomb makes forks fail in the other workers of its batch (a documented limitation).
SHARES_THE_PROCESS_LIMIT = ("a26_fork_bomb", "a63_spinning_sessions")


# ---------------------------------------------------------------------------
# Running the batches
# ---------------------------------------------------------------------------

def fast_rubric(folder: Path) -> Path:
    """The default rubric with shorter limits, so hanging attacks cost seconds, not minutes."""
    text = (ROOT / "grader" / "rubric.toml").read_text(encoding="utf-8")
    for key, value in (("import_seconds", "3"), ("call_seconds", "3"), ("submission_seconds", "15"),
                       ("worker_memory_mib", "512")):
        text, count = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
        assert count == 1, key
    path = folder / "rubric-fast.toml"
    path.write_text(text, encoding="utf-8")
    return path


def python_for_nobody(reachable) -> str | None:
    """An interpreter uid 65534 may run, with this environment's packages (the session's
    :class:`conftest.ReachablePython`, checked under ``setpriv``); None if there is none."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None or reachable is None:
        return None
    probe = ("import subprocess, sys, numpy, sympy, nbformat, tqdm, grader; "
             "subprocess.run([sys.executable, '-c', 'import numpy'], check=True)")  # the zygote's start
    try:
        runs = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                               reachable.python, "-c", probe], cwd="/", capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return reachable.python if runs.returncode == 0 else None


def python_for_root_without_namespaces(reachable) -> str:
    """The interpreter for a run as root without namespaces: workers get uids of their own
    there, so it must be one they can read (the grader refuses otherwise)."""
    if reachable is None:
        pytest.skip("no Python here whose standard library and packages every user may read")
    return reachable.python


class Listener:
    """A TCP server on the host's loopback that records every connection an attack makes."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections: list[bytes] = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.socket.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.connections.append(conn.recv(200) or b"<connected>")
                except OSError:
                    self.connections.append(b"<connected>")

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.socket.close()


@dataclass
class Run:
    """One CLI run over a folder of attacks."""

    name: str
    folder: Path
    students: tuple[str, ...]
    command: list[str]
    process: subprocess.Popen | None = None
    seconds: float = 0.0
    stdout: str = ""
    stderr: str = ""
    reports: dict = field(default_factory=dict)
    #: sha256 of every output file right after grading, and again after the daemon wait.
    outputs_after_grading: dict = field(default_factory=dict)
    outputs_later: dict = field(default_factory=dict)
    #: (bytes, mtime_ns) of every submission before and after.
    submissions_before: dict = field(default_factory=dict)
    submissions_after: dict = field(default_factory=dict)
    skipped: str = ""

    @property
    def subs(self) -> Path:
        return self.folder / "subs"

    @property
    def out(self) -> Path:
        return self.folder / "out"

    @property
    def layers(self) -> tuple[str, ...]:
        any_report = next(iter(self.reports.values()), {})
        return tuple(any_report.get("isolation", ()))


def _fill(text: str, run_folder: Path, port: int, tag: str) -> str:
    return (text.replace("@@SUBMISSIONS@@", str(run_folder / "subs")).replace("@@OUT@@", str(run_folder / "out"))
            .replace("@@REPO@@", str(ROOT)).replace("@@PORT@@", str(port)).replace("@@TAG@@", tag))


def _snapshot_files(folder: Path) -> dict:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _snapshot_submissions(folder: Path) -> dict:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def _prepare(name: str, base: Path, students, port: int, tag: str, rubric: Path, *, python: str,
             no_namespaces: bool = False, as_nobody: bool = False) -> Run:
    folder = base / name
    (folder / "subs").mkdir(parents=True)
    for student in students:
        text = (ATTACKS / f"{student}.py").read_text(encoding="utf-8")
        (folder / "subs" / f"{student}.py").write_text(_fill(text, folder, port, tag), encoding="utf-8")
    command = [python, "-m", "grader", "grade", str(folder / "subs"), "--out", str(folder / "out"),
               "--quiet", "--workers", "2", "--rubric", str(rubric)]
    if no_namespaces:
        command.append("--no-namespaces")
    if as_nobody:
        for path in [folder, folder / "subs", *(folder / "subs").iterdir()]:
            os.chown(path, NOBODY, NOBODY)
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] + command
    return Run(name, folder, tuple(students), command)


def _marker_paths(tag: str, runs) -> list[Path]:
    """Files an attack tried to leave anywhere outside its sandbox (their names carry the tag)."""
    places = [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), ROOT, Path.home(), Path("/root")]
    for run in runs:
        places += [run.folder, run.subs, run.out, run.out / "reports"]
    found = []
    for place in places:
        try:
            found += [p for p in place.iterdir() if f"adam-attack-{tag}" in p.name]
        except OSError:
            continue
    return found


def _tagged_processes(tag: str) -> list[str]:
    """Processes named d-<tag> (the daemon) or f-<tag> (fork-bomb children) still alive."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if comm in (f"d-{tag}", f"f-{tag}") and state != "Z":
            alive.append(f"{entry} {comm}")
    return alive


def _attack_keys(tag: str) -> set[int]:
    """The System V keys a65_collude_writer and a67_sysv_memory use with this tag."""
    base = int(tag[:4], 16)
    return {0x0ADA0000 + base} | {0x0ADB0000 + base * 16 + index for index in range(16)}


def _remove_sysv_objects(tag: str) -> list[str]:
    """System V objects an attack left on the host (removed, so the machine gets its memory back)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    keys, left = _attack_keys(tag), []
    for kind, remove in (("shm", lambda ident: libc.shmctl(ident, 0, None)),
                         ("msg", lambda ident: libc.msgctl(ident, 0, None)),
                         ("sem", lambda ident: libc.semctl(ident, 0, 0))):
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields and int(fields[0]) in keys:
                left.append(f"{kind} key {int(fields[0]):#x}")
                remove(int(fields[1]))
    return left


@dataclass
class Session:
    runs: dict
    tag: str
    canary: str
    listener_connections: list
    markers: list
    leftover_processes: list
    #: System V objects with an attack's key (a65, a67) still on the host after grading.
    leftover_sysv: list = field(default_factory=list)


@pytest.fixture(scope="session")
def attack_session(reachable_python):
    """All runs, graded concurrently, then checked after the daemons had time to act."""
    tag = uuid.uuid4().hex[:8]
    canary = f"canary-{uuid.uuid4().hex}"
    base = Path(tempfile.mkdtemp(prefix=f"adam-attacks-{tag}-"))
    os.chmod(base, 0o755)
    rubric = fast_rubric(base)
    os.chmod(rubric, 0o644)
    listener = Listener()
    everything = sorted(EXPECTED) + [VICTIM]
    leaks = list(LEAK_ATTACKS) + [VICTIM]
    runs = {
        "root": _prepare("root", base, everything, listener.port, tag, rubric, python=sys.executable),
    }
    if reachable_python is None:
        runs["root-no-namespaces"] = Run("root-no-namespaces", base / "root-no-namespaces", tuple(leaks), [],
                                         skipped="no Python whose standard library and packages every "
                                                 "user may read (workers get uids of their own there)")
    else:
        runs["root-no-namespaces"] = _prepare("root-no-namespaces", base, leaks, listener.port, tag, rubric,
                                              python=reachable_python.python, no_namespaces=True)
    nobody_python = python_for_nobody(reachable_python)
    for name, no_ns in (("nonroot", False), ("nonroot-no-namespaces", True)):
        excluded = SHARES_THE_PROCESS_LIMIT if no_ns else ()
        if no_ns and landlock_abi() < 6:
            excluded += NEEDS_SIGNAL_SCOPING
        students = [s for s in leaks if s not in excluded]
        if nobody_python is None:
            runs[name] = Run(name, base / name, tuple(students), [],
                             skipped="no setpriv, not root, or no Python that uid 65534 may run")
            continue
        runs[name] = _prepare(name, base, students, listener.port, tag, rubric, python=nobody_python,
                              no_namespaces=no_ns, as_nobody=True)
    env = {**os.environ, "ADAM_GRADER_CANARY": canary}

    def start(run: Run) -> None:
        if not run.skipped:
            run.submissions_before = _snapshot_submissions(run.subs)
            run.seconds = time.monotonic()
            run.process = subprocess.Popen(run.command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True)

    finished = set()

    def finish(run: Run) -> None:
        if run.process is None or run.name in finished:
            return
        finished.add(run.name)
        try:
            run.stdout, run.stderr = run.process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            run.process.kill()
            run.stdout, run.stderr = run.process.communicate()
        run.seconds = time.monotonic() - run.seconds
        run.outputs_after_grading = _snapshot_files(run.out)
        _collect_reports(run)

    # The two unprivileged runs share uid 65534, and without a user namespace the process limit
    # counts every process of that uid: they run one after the other, next to the root runs.
    for name in ("root", "root-no-namespaces", "nonroot"):
        start(runs[name])
    finish(runs["nonroot"])
    start(runs["nonroot-no-namespaces"])
    for run in runs.values():
        finish(run)
    time.sleep(DAEMON_WAIT)
    for run in runs.values():
        if run.process is not None:
            run.outputs_later = _snapshot_files(run.out)
            run.submissions_after = _snapshot_submissions(run.subs)
    session = Session(runs, tag, canary, list(listener.connections), _marker_paths(tag, runs.values()),
                      _tagged_processes(tag), _remove_sysv_objects(tag))
    listener.close()
    yield session
    shutil.rmtree(base, ignore_errors=True)


def _run(session: Session, name: str) -> Run:
    run = session.runs[name]
    if run.skipped:
        pytest.skip(f"run {name!r} cannot happen here: {run.skipped}")
    return run


def _needs_met(run: Run, student: str) -> None:
    needs = EXPECTED.get(student, {}).get("needs_one_of")
    if needs and not set(needs) & set(run.layers):
        pytest.skip(f"{student} is stopped only by one of {needs}; the {run.name!r} run has none of "
                    f"them (layers: {', '.join(run.layers)})")


MODES = ("root", "root-no-namespaces", "nonroot", "nonroot-no-namespaces")


# ---------------------------------------------------------------------------
# The suite itself
# ---------------------------------------------------------------------------

def test_suite_has_at_least_35_attacks_each_with_its_expected_credit():
    files = {p.stem for p in ATTACKS.glob("a*.py")}
    assert len(files) >= 35
    assert files == set(EXPECTED), "every attack file needs an entry in expected.json, and only those"
    for student, entry in EXPECTED.items():
        lost = sum(FULL[item] - spec["points"] for item, spec in entry["not_full"].items())
        assert entry["total"] == pytest.approx(15 - lost), student
        assert set(entry["not_full"]) <= set(FULL), student
        text = (ATTACKS / f"{student}.py").read_text(encoding="utf-8")
        assert "Attack: " in text and "# ---------------------------------------------------------------- the attack" in text


@pytest.mark.parametrize("mode", MODES)
def test_every_run_finishes_cleanly_and_in_sane_time(attack_session, mode):
    run = _run(attack_session, mode)
    assert run.process.returncode == 0, run.stderr[-3000:]
    assert run.seconds < SANE_SECONDS, f"{mode} took {run.seconds:.0f} s"
    assert set(run.reports) == set(run.students), "one report per submission, none lost"
    assert not [r for r in run.reports.values() if any(i["status"] == "ungradable" for i in r["items"])]


# ---------------------------------------------------------------------------
# Exact credit
# ---------------------------------------------------------------------------

def _collect_reports(run: Run) -> None:
    """Read every JSON report the run wrote into ``run.reports``, by student."""
    for path in sorted((run.out / "reports").glob("*.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        run.reports[report["student"]] = report


def _check_credit(run: Run, student: str) -> None:
    expected = EXPECTED[student]
    report = run.reports[student]
    problems = []
    for item in report["items"]:
        spec = expected["not_full"].get(item["id"])
        first = (item["feedback"] or [""])[0]
        if spec is None:
            if item["status"] != "passed" or item["points"] != pytest.approx(FULL[item["id"]]):
                problems.append(f"{item['id']}: honest item got {item['points']} ({item['status']}): {first}")
            continue
        if item["points"] != pytest.approx(spec["points"]) or item["status"] != spec["status"]:
            problems.append(f"{item['id']}: expected {spec['points']} ({spec['status']}), got "
                            f"{item['points']} ({item['status']}): {first}")
        elif spec["says"] is not None and spec["says"] not in first:
            problems.append(f"{item['id']}: feedback should say {spec['says']!r}, says {first!r}")
    assert not problems, f"{student} in the {run.name} run:\n" + "\n".join(problems)
    assert report["total"] == pytest.approx(expected["total"])


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_attack_earns_exactly_its_expected_credit(attack_session, student):
    run = _run(attack_session, "root")
    _needs_met(run, student)
    _check_credit(run, student)


@pytest.mark.parametrize("mode", MODES[1:])
@pytest.mark.parametrize("student", LEAK_ATTACKS)
def test_leak_attempts_earn_the_same_credit_in_every_mode(attack_session, mode, student):
    run = _run(attack_session, mode)
    if student not in run.students:
        pytest.skip(f"{student} is not run in the {mode} run (see NEEDS_SIGNAL_SCOPING and "
                    "SHARES_THE_PROCESS_LIMIT)")
    _needs_met(run, student)
    if student in ("a30_network",) and "no_network" not in run.layers:
        pytest.skip("UDP and DNS are stopped only by a network namespace")
    _check_credit(run, student)


@pytest.mark.parametrize("mode", MODES)
def test_honest_neighbour_keeps_full_marks_and_its_file(attack_session, mode):
    run = _run(attack_session, mode)
    report = run.reports[VICTIM]
    assert report["total"] == 15
    content = {name: data for name, (data, _) in run.submissions_before.items()}
    assert {name: data for name, (data, _) in run.submissions_after.items()} == content, \
        "a submission's bytes were changed"
    if {"private_mounts", "unprivileged_uid"} & set(run.layers):
        assert run.submissions_after == run.submissions_before, "a submission's mtime was changed"
    # else: a worker running as the owner of the files, with no mount namespace, can still
    # change their timestamps and modes (Landlock does not cover metadata); see the README.


# ---------------------------------------------------------------------------
# Nothing leaks, nothing escapes, nothing outlives its worker
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_no_secret_reaches_any_output(attack_session, mode):
    run = _run(attack_session, mode)
    texts = {name: (run.out / name).read_text(encoding="utf-8", errors="replace")
             for name in run.outputs_after_grading}
    texts["stdout"], texts["stderr"] = run.stdout, run.stderr
    for name, text in texts.items():
        assert attack_session.canary not in text, f"the grader's environment leaked into {name}"
        for line in text.splitlines():
            if "LEAK:" in line:
                student = next((s for s in run.students if s in name or s in line), "")
                needs = EXPECTED.get(student, {}).get("needs_one_of", ())
                if needs and not set(needs) & set(run.layers):
                    continue
                if student == "a30_network" and "no_network" not in run.layers and "LEAK:udp" in line:
                    continue  # UDP needs a network namespace; TCP is checked by the listener
                raise AssertionError(f"{name}: {line.strip()[:300]}")


def test_no_attack_reached_the_host_network(attack_session):
    relevant = [r for r in attack_session.runs.values() if not r.skipped]
    if not all({"no_network", "landlock"} & set(r.layers) for r in relevant):
        pytest.skip("a run had neither a network namespace nor Landlock")
    assert attack_session.listener_connections == []


def test_no_file_was_written_outside_the_sandbox(attack_session):
    relevant = [r for r in attack_session.runs.values() if not r.skipped]
    if not all({"private_mounts", "landlock"} & set(r.layers) for r in relevant):
        pytest.skip("a run had neither private mounts nor Landlock")
    assert attack_session.markers == []


def test_daemons_and_fork_bombs_leave_no_process_behind(attack_session):
    assert attack_session.leftover_processes == []


def test_no_system_v_object_outlives_its_worker(attack_session):
    assert attack_session.leftover_sysv == []


@pytest.mark.parametrize("mode", MODES)
def test_outputs_stay_byte_identical_after_the_daemons_woke_up(attack_session, mode):
    run = _run(attack_session, mode)
    assert run.outputs_after_grading, "no outputs"
    assert run.outputs_later == run.outputs_after_grading


# ---------------------------------------------------------------------------
# Isolation layers, as reported
# ---------------------------------------------------------------------------

def _isolation_warnings(stderr: str) -> int:
    """How often the grader warned about missing layers: one line where grades stay protected,
    the loud block where they would be exposed (grader.batch.isolation_warning)."""
    return stderr.count("WARNING: the sandbox runs WITHOUT") + stderr.count("isolation layers not available here")


def test_root_run_reports_every_layer_it_obtained_and_warns_for_the_rest(attack_session):
    run = _run(attack_session, "root")
    layers = set(run.layers)
    assert {"separate_process", "clean_environment", "private_workdir", "stdin_devnull"} <= layers
    assert all(r["isolation"] == list(run.layers) for r in run.reports.values())
    if sys.platform.startswith("linux") and os.geteuid() == 0:
        assert {"unprivileged_uid", "no_capabilities", "resource_limits", "no_new_privileges"} <= layers
    missing = [layer for layer in ALL_LAYERS if layer not in layers]
    if missing:
        assert _isolation_warnings(run.stderr) == 1
        assert all(layer in run.stderr for layer in missing)
    else:
        assert "WARNING" not in run.stderr


def test_nonroot_run_has_no_uid_of_its_own_gives_up_capabilities_and_warns_once(attack_session):
    run = _run(attack_session, "nonroot")
    layers = set(run.layers)
    assert "unprivileged_uid" not in layers
    if "private_mounts" in layers:  # root of a user namespace must not keep its capabilities
        assert "no_capabilities" in layers
    assert _isolation_warnings(run.stderr) == 1
    assert "unprivileged_uid" in run.stderr


@pytest.mark.parametrize("mode", ("root-no-namespaces", "nonroot-no-namespaces"))
def test_runs_without_namespaces_still_grade_and_say_so(attack_session, mode):
    run = _run(attack_session, mode)
    layers = set(run.layers)
    assert not {"pid_namespace", "private_mounts", "no_network"} & layers
    assert _isolation_warnings(run.stderr) == 1
    assert "pid_namespace" in run.stderr


# ---------------------------------------------------------------------------
# Neighbours: starvation and collusion, graded in small batches of their own
# ---------------------------------------------------------------------------

def _grade_alone(name: str, students, reachable, *, workers: int, no_namespaces: bool = False,
                 as_nobody: bool = False) -> Run:
    """Grade ``students`` in a batch of their own (every report read back)."""
    if as_nobody:
        python = python_for_nobody(reachable)
        if python is None:
            pytest.skip("no setpriv, not root, or no Python that uid 65534 may run")
    elif no_namespaces:
        python = python_for_root_without_namespaces(reachable)
    else:
        python = sys.executable
    base = Path(tempfile.mkdtemp(prefix=f"adam-{name}-"))
    os.chmod(base, 0o755)
    rubric = fast_rubric(base)
    os.chmod(rubric, 0o644)
    tag = uuid.uuid4().hex[:8]
    run = _prepare(name, base, students, 1, tag, rubric, python=python, no_namespaces=no_namespaces,
                   as_nobody=as_nobody)
    run.command[run.command.index("--workers") + 1] = str(workers)
    try:
        done = subprocess.run(run.command, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        run.stderr = done.stderr
        _collect_reports(run)
        assert set(run.reports) == set(students)
        assert _remove_sysv_objects(tag) == [], "a System V object outlived the batch"
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return run


NEIGHBOUR_MODES = [dict(), dict(no_namespaces=True), dict(as_nobody=True, no_namespaces=True)]
NEIGHBOUR_IDS = ["root", "root-no-namespaces", "nonroot-no-namespaces"]


@pytest.mark.parametrize("mode", NEIGHBOUR_MODES, ids=NEIGHBOUR_IDS)
def test_a_spinning_neighbour_cannot_starve_an_honest_import(mode, reachable_python):
    """Issue 10.3: fourteen spinning children in sessions of their own, next to an honest import
    of 1.2 s of CPU under a 3 s limit: both keep exactly their credit."""
    run = _grade_alone("starve", ("a63_spinning_sessions", "a64_slow_honest_import"), reachable_python,
                       workers=2, **mode)
    for student in ("a64_slow_honest_import", "a63_spinning_sessions"):  # the victim first
        _check_credit(run, student)


@pytest.mark.parametrize("mode", NEIGHBOUR_MODES, ids=NEIGHBOUR_IDS)
def test_colluding_submissions_pass_nothing_through_the_kernel(mode, reachable_python):
    """Issue 10.5: one after the other in the same worker slot (so the same uid, where workers
    get uids), the reader finds none of the writer's keys, segments or files."""
    run = _grade_alone("collude", ("a65_collude_writer", "a66_collude_reader"), reachable_python,
                       workers=1, **mode)
    for student in run.students:
        _check_credit(run, student)


# ---------------------------------------------------------------------------
# A regular (non-editable) install: the reference sits in site-packages, next to numpy
# ---------------------------------------------------------------------------

INSTALL_ATTACKS = ("a60_reference_in_any_install", "a13_import_reference", "a61_matplotlib_plots")


@pytest.fixture(scope="module")
def regular_install(reachable_python):
    """A virtual environment with the project installed by ``pip install .`` (not editable),
    which finds this environment's packages (numpy, sympy, ...) through a .pth file. Every
    user may read it, as a system-wide installation: only the sandbox stands in the way."""
    if reachable_python is None:
        pytest.skip("no Python here whose standard library and packages every user may read")
    base = Path(tempfile.mkdtemp(prefix="adam-regular-install-"))
    os.chmod(base, 0o755)
    source = base / "source"
    for name in ("pyproject.toml", "README.md"):
        source.mkdir(exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    for package in ("grader", "reference", "assignment"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    venv = base / "venv"
    made = subprocess.run([reachable_python.base_python, "-m", "venv", "--without-pip", str(venv)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make a virtual environment here: {made.stderr[-300:]}")
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "zz_grader_dependencies.pth").write_text(
        f"import site; site.addsitedir({reachable_python.site!r})\n", encoding="utf-8")
    python = str(venv / "bin" / "python")
    installed = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                                "--no-index", str(source)], cwd=base, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr[-2000:]
    where = subprocess.run([python, "-c", "import grader, reference; print(grader.__file__, reference.__file__)"],
                           cwd=base, capture_output=True, text=True)
    assert where.returncode == 0 and where.stdout.count(str(site)) == 2, \
        f"the installed copy is not the one imported: {where.stdout} {where.stderr[-500:]}"
    shutil.rmtree(source)
    yield base, python
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("no_namespaces", [True, False], ids=["no-namespaces", "namespaces"])
def test_a_regular_install_lets_no_worker_reach_the_reference(regular_install, no_namespaces):
    """Issue 10.1: with the reference in site-packages, a file with no solution scores 0 / 15,
    with and without namespaces, and an honest file that plots keeps 15 / 15."""
    base, python = regular_install
    run = _prepare("install-" + ("plain" if no_namespaces else "ns"), base, INSTALL_ATTACKS, 1, "install",
                   fast_rubric(base), python=python, no_namespaces=no_namespaces)
    done = subprocess.run(run.command, cwd=base, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    _collect_reports(run)
    assert set(run.reports) == set(INSTALL_ATTACKS)
    for student in INSTALL_ATTACKS:
        _check_credit(run, student)
    assert "LEAK:" not in (run.out / "reports" / "a60_reference_in_any_install.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------
# An installation workers cannot read: refused, never graded with imports that fail
# ---------------------------------------------------------------------------

def test_an_install_in_a_closed_folder_is_refused_without_namespaces_and_grades_with_them(reachable_python):
    """Without namespaces, workers run as users of their own: where the grader's packages sit in
    a folder other users cannot enter (``mktemp -d`` makes one), a student's lazy import (the
    plotting backend of a61) would fail and cost 15 points. The grader refuses before grading
    anything, naming the folder; with namespaces (a private root) the same install grades a61
    15 / 15."""
    if reachable_python is None or os.geteuid() != 0:
        pytest.skip("needs root and a Python every user may read")
    base = Path(tempfile.mkdtemp(prefix="adam-closed-install-"))
    os.chmod(base, 0o755)
    closed = base / "closed"
    closed.mkdir(mode=0o700)
    try:
        python = venv_finding(reachable_python.base_python, closed / "venv",
                              [reachable_python.site, reachable_python.project])
        assert python is not None, "a virtual environment could not be made"
        rubric = fast_rubric(base)
        refused = _prepare("refused", base, ["a61_matplotlib_plots"], 1, "closed", rubric, python=python,
                           no_namespaces=True)
        done = subprocess.run(refused.command, cwd="/", capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, done.stderr[-3000:]
        assert f"{closed} (mode 0700) lets no other user through" in done.stderr, done.stderr[-3000:]
        assert "chmod o+x" in done.stderr and done.stderr.count("\n") <= 3, done.stderr
        assert not list(refused.out.glob("reports/*.json")), "nothing is graded"
        graded = _prepare("graded", base, ["a61_matplotlib_plots"], 1, "closed", rubric, python=python)
        done = subprocess.run(graded.command, cwd="/", capture_output=True, text=True, timeout=300)
        if "private_mounts" not in done.stderr and done.returncode == 2:
            pytest.skip("no private root here either")
        assert done.returncode == 0, done.stderr[-3000:]
        _collect_reports(graded)
        _check_credit(graded, "a61_matplotlib_plots")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("no_namespaces", [False, True], ids=["namespaces", "no-namespaces"])
def test_provided_packages_in_a_folder_not_named_site_packages_are_provided(reachable_python, no_namespaces):
    """numpy, sympy and matplotlib installed in a folder of their own (``pip install --target``,
    found through a .pth file) are as provided as in site-packages: a61's lazy import of the
    plotting backend works in a private root and without one (it scored 0 when only folders
    named site-packages counted)."""
    if reachable_python is None:
        pytest.skip("no Python here whose standard library and packages every user may read")
    base = Path(tempfile.mkdtemp(prefix="adam-target-install-"))
    os.chmod(base, 0o755)
    try:
        link_tree(Path(reachable_python.site), base / "deps")
        python = venv_finding(reachable_python.base_python, base / "venv",
                              [str(base / "deps"), reachable_python.project])
        assert python is not None, "a virtual environment could not be made"
        where = subprocess.run([python, "-c", "import matplotlib; print(matplotlib.__file__)"], cwd="/",
                               capture_output=True, text=True)
        assert where.stdout.startswith(str(base / "deps")), where.stdout + where.stderr
        run = _prepare("target", base, ["a61_matplotlib_plots"], 1, "target", fast_rubric(base), python=python,
                       no_namespaces=no_namespaces)
        done = subprocess.run(run.command, cwd="/", capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        _collect_reports(run)
        _check_credit(run, "a61_matplotlib_plots")
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------
# The trusted side: judging must stay bounded whatever plain data a worker sends
# ---------------------------------------------------------------------------

NESTED_SUM_BOMB = """
import sympy as sp
from grader.engine.symbols import make_symbols
from grader.engine.wire import decode_value, encode_value
from grader.judging.items import SYMBOLIC_FUNCTIONS, Judging
from grader.rubric import load_rubric
S = make_symbols(SYMBOLIC_FUNCTIONS["adam_step_bound"])
k1, k2, k3 = sp.symbols("k1 k2 k3", integer=True)
body = S["alpha"] * sp.Abs(S["m_hat"]) / S["eps"] / 10**12
bomb = sp.Sum(body, (k1, 1, 10000), (k2, 1, 10000), (k3, 1, 10000))
value = decode_value(encode_value(bomb))
judging = Judging.create(load_rubric())
judging.judge.judge(value, judging.references[("adam_step_bound", None)],
                    SYMBOLIC_FUNCTIONS["adam_step_bound"], what="bound")
"""


def test_judging_a_nested_sum_bomb_stays_bounded():
    """Nested sums of 10,000**3 terms: the evaluation budget per point stops them."""
    assert _bounded_run(NESTED_SUM_BOMB, seconds=8) == 0


def _bounded_run(code: str, seconds: float):
    """Exit code of ``python -c code`` given ``seconds`` of CPU time (it is killed by SIGXCPU
    beyond them, so the bound holds on a loaded machine too), or None when it was still
    running after a generous wall-clock margin."""
    import resource

    def cpu_limit():
        resource.setrlimit(resource.RLIMIT_CPU, (int(seconds), int(seconds)))

    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, preexec_fn=cpu_limit)
    try:
        return process.wait(timeout=seconds * 20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None
