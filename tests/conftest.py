"""Fixtures shared by the suite's modules: the batches more than one module grades, graded once,
and an interpreter that workers with uids of their own can read."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"


def run_folder(tmp_path_factory) -> Path:
    """A folder of this test run shared by all its processes: with pytest-xdist (``-n``), the
    folder above each worker's own base folder; else this process's base folder."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def corpus_output(tmp_path_factory) -> Path:
    """The output folder of one CLI run over the whole grading corpus (``tests/corpus``), shared
    by the corpus tests and the parity tests: made once per test run, by the first process
    that asks (the others wait on a lock, then read it)."""
    shared = run_folder(tmp_path_factory)
    out, done = shared / "corpus-grading", shared / "corpus-grading.done"
    with open(shared / "corpus-grading.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(out, ignore_errors=True)
            run = subprocess.run([sys.executable, "-m", "grader", "grade", str(CORPUS), "--out", str(out), "--quiet"],
                                 cwd=ROOT, capture_output=True, text=True, timeout=900)
            assert run.returncode == 0, run.stderr
            done.touch()
    return out


# ---------------------------------------------------------------------------
# An interpreter that workers with uids of their own can read
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ReachablePython:
    """An interpreter whose standard library, packages and project every user may reach.

    Without namespaces, workers run as users of their own and read the host's folders as any
    user would; the grader refuses to start where they cannot (:class:`grader.errors.
    UnreachableInstall`). A checkout in a private folder (``mktemp -d``), or a Python under
    /root (pyenv), is such a place: the runs that need uids of their own use this one instead.
    """

    #: The interpreter to run the grader with.
    python: str
    #: The base interpreter it was made from (for other virtual environments).
    base_python: str
    #: Its site-packages folder (this environment's, or hard-linked copies of it).
    site: str
    #: The folder holding the project's packages (the checkout, or hard-linked copies).
    project: str
    #: True when it is this very interpreter (nothing had to be made).
    native: bool


def _closed(path: str) -> str | None:
    from grader.sandbox.isolation import closed_folder

    return closed_folder(path)


def _stdlib_of(python: str) -> str | None:
    found = subprocess.run([python, "-I", "-c", "import os, sysconfig; print(os.path.realpath("
                            "sysconfig.get_paths()['stdlib']))"], capture_output=True, text=True, timeout=60)
    return found.stdout.strip() if found.returncode == 0 else None


def link_tree(source: Path, target: Path) -> None:
    """Hard-linked copies of ``source`` at ``target`` (copies across filesystems), every folder
    opened to other users; the editable install's finder, which points back into the checkout,
    is left out. Byte-code caches are kept: a hard link keeps its source's time stamp, so they
    stay valid, and without them every interpreter started there compiles numpy, sympy and
    matplotlib again (with PYTHONDONTWRITEBYTECODE, at every start)."""
    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link_or_copy, symlinks=True,
                    ignore=shutil.ignore_patterns("__editable__*"))
    for folder in [target, *target.rglob("*")]:
        if folder.is_dir() and not folder.is_symlink():
            os.chmod(folder, 0o755)


def venv_finding(base_python: str, venv: Path, folders: list[str]) -> str | None:
    """A virtual environment at ``venv`` made from ``base_python`` that finds the packages in
    ``folders`` through a .pth file (site folders: their own .pth files count); its python,
    or None if the environment could not be made."""
    made = subprocess.run([base_python, "-m", "venv", "--without-pip", str(venv)], capture_output=True, text=True)
    if made.returncode != 0:
        return None
    venv_site = next(venv.glob("lib/python*/site-packages"))
    (venv_site / "zz_grader_environment.pth").write_text(
        "".join(f"import site; site.addsitedir({path!r})\n" for path in folders), encoding="utf-8")
    return str(venv / "bin" / "python")


def make_reachable_python(scratch: Path) -> ReachablePython | None:
    """This interpreter if every user reaches it, its packages and the project; otherwise a
    virtual environment in ``scratch`` (which every user must reach) made from a system Python
    of this version, finding this environment's packages and the project (hard-linked copies
    where the originals sit in a closed folder) through a .pth file. None if there is no
    such Python here."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    purelib = os.path.realpath(sysconfig.get_paths()["purelib"])
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    from grader.sandbox.manager import site_folders, stdlib_folders

    mine = [os.path.realpath(sys.executable), purelib, str(ROOT), *site_folders(), *stdlib_folders()]
    if not any(_closed(path) for path in mine):
        return ReachablePython(sys.executable, base, purelib, str(ROOT), native=True)
    site, project = purelib, str(ROOT)
    if _closed(purelib):
        site = str(scratch / "reachable-site" / "site-packages")  # named so: a site folder
        link_tree(Path(purelib), Path(site))
    if _closed(str(ROOT)):
        project = str(scratch / "reachable-project")
        for package in ("grader", "reference", "assignment"):
            link_tree(ROOT / package, Path(project) / package)
        os.chmod(project, 0o755)
    for candidate in (base, f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"):
        if not os.path.exists(candidate) or _closed(candidate):
            continue
        stdlib = _stdlib_of(candidate)
        if stdlib is None or _closed(stdlib) or not stdlib.endswith(f"python{version}"):
            continue
        venv = scratch / "reachable-venv"
        shutil.rmtree(venv, ignore_errors=True)
        python = venv_finding(candidate, venv, [site, project])
        if python is None:
            continue
        works = subprocess.run([python, "-c", "import numpy, sympy, matplotlib, nbformat, grader, reference"],
                               cwd="/", capture_output=True, timeout=120)
        if works.returncode == 0:
            return ReachablePython(python, candidate, site, project, native=False)
    return None


@pytest.fixture(scope="session")
def reachable_python():
    """:class:`ReachablePython` for this session (None: there is none; its users skip)."""
    scratch = Path(tempfile.mkdtemp(prefix="adam-reachable-"))
    os.chmod(scratch, 0o755)
    try:
        yield make_reachable_python(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def _reruns(request, reachable_python):
    """Outcomes (nodeid -> (outcome, message)) of every test that uses
    :func:`rerun_where_workers_can_read`, run once, together, in one child pytest under the
    session's :class:`ReachablePython` when a first one needs it."""
    outcomes: dict = {}

    def run() -> dict:
        if outcomes:
            return outcomes
        import xml.etree.ElementTree as ElementTree

        nodeids = [item.nodeid for item in request.session.items
                   if "rerun_where_workers_can_read" in getattr(item, "fixturenames", ())]
        scratch = Path(tempfile.mkdtemp(prefix="adam-reruns-"))
        try:
            done = subprocess.run([reachable_python.python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                   f"--junitxml={scratch / 'reruns.xml'}", *nodeids], cwd=ROOT,
                                  env={**os.environ, "ADAM_RERUN_CHILD": "1"}, capture_output=True, text=True,
                                  timeout=1200)
            tail = done.stdout[-3000:] + done.stderr[-2000:]
            assert (scratch / "reruns.xml").exists(), tail
            for case in ElementTree.parse(scratch / "reruns.xml").getroot().iter("testcase"):
                module = case.get("classname", "").replace(".", "/") + ".py"
                result = next(iter(case), None)
                outcome = "passed" if result is None or result.tag in ("system-out", "system-err") else result.tag
                message = "" if result is None else (result.get("message") or result.text or "")
                outcomes[f"{module}::{case.get('name')}"] = (outcome, message)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        outcomes.setdefault("<ran>", ("passed", tail))
        return outcomes

    return run


@pytest.fixture
def rerun_where_workers_can_read(request, reachable_python, _reruns):
    """For a test that starts a sandbox without namespaces as root, where workers get uids of
    their own and the grader refuses an interpreter they cannot read. Called (with whether this
    run needs that), it returns True when the test ran under the session's
    :class:`ReachablePython` instead (every such test at once, in one child pytest) and passed
    there: the caller then returns at once. A failure or skip there is this test's. False:
    run here."""
    def rerun(needed: bool = True) -> bool:
        if not needed or os.environ.get("ADAM_RERUN_CHILD") or os.geteuid() != 0 \
                or reachable_python is None or reachable_python.native:
            return False
        outcomes = _reruns()
        outcome, message = outcomes.get(request.node.nodeid, ("missing", outcomes["<ran>"][1]))
        where = f"under {reachable_python.python}"
        if outcome == "skipped":
            pytest.skip(f"{where}: {message}")
        assert outcome == "passed", f"{where}: {outcome}: {message[-3000:]}"
        return True

    return rerun
