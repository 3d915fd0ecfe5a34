"""The Gradescope autograder zip, and run_autograder against a fake /autograder tree.

The fake tree is what Gradescope builds: ``source/`` (the extracted zip, scripts executable),
``submission/``, ``submission_metadata.json`` and ``results/``. Instead of running setup.sh
(apt-get, a virtualenv, ``pip install /autograder/source``), run_autograder is pointed at
this test's Python with ``AUTOGRADER_PYTHON``, with ``PYTHONPATH`` set to the extracted
``source/`` so that the grader code that runs is the one inside the zip.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.release import gradescope as gs
from grader.cli import main as cli_main
from grader.errors import SandboxError, SubmissionError

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference" / "adam_vs_momentum.py"
STUBS = ROOT / "assignment" / "adam_vs_momentum.py"
METADATA = {"id": 123456, "users": [{"email": "alice@example.com", "id": 1234, "name": "Alice"}],
            "assignment": {"title": "Adam vs. SGD with momentum", "total_points": "15.0"}}


@pytest.fixture(scope="module")
def bundle_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    gs.build_bundle(out)
    return out


def extract(bundle_zip: Path, target: Path) -> None:
    """Unzip as Gradescope does, keeping the permission bits stored in the zip."""
    with zipfile.ZipFile(bundle_zip) as archive:
        for info in archive.infolist():
            path = Path(archive.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                path.chmod(mode)


def fake_autograder(tmp_path: Path, bundle_zip: Path, submission: dict[str, bytes], metadata=METADATA) -> Path:
    root = tmp_path / "autograder"
    extract(bundle_zip, root / "source")
    (root / "submission").mkdir(parents=True)
    for name, data in submission.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_bytes(data)
    if metadata is not None:
        (root / "submission_metadata.json").write_text(json.dumps(metadata))
    return root


def run_autograder(root: Path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AUTOGRADER_ROOT": str(root),
           "AUTOGRADER_PYTHON": sys.executable, "PYTHONPATH": str(root / "source")}
    return subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=120)


# ---------------------------------------------------------------------------
# The zip
# ---------------------------------------------------------------------------

def test_scripts_are_at_the_root_and_executable(bundle_zip):
    with zipfile.ZipFile(bundle_zip) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    for script in ("setup.sh", "run_autograder"):
        mode = infos[script].external_attr >> 16
        assert stat.S_ISREG(mode) and mode & 0o111 == 0o111, script
    assert {"pyproject.toml", "README.md", "reference/adam_vs_momentum.py", "grader/rubric.toml",
            "grader/release/gradescope.py", "grader/outputs/gradescope.py",
            "assignment/adam_vs_momentum.py"} <= set(infos)


def test_zip_holds_no_tests_examples_or_caches(bundle_zip):
    with zipfile.ZipFile(bundle_zip) as archive:
        names = archive.namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"setup.sh", "run_autograder", "pyproject.toml", "README.md", "assignment", "reference", "grader"}
    assert not any("__pycache__" in n or n.endswith(".pyc") or "/." in n or n.startswith(".") for n in names)


def test_scripts_install_and_run_the_package(bundle_zip):
    with zipfile.ZipFile(bundle_zip) as archive:
        setup = archive.read("setup.sh").decode()
        run = archive.read("run_autograder").decode()
    assert setup.startswith("#!/usr/bin/env bash") and run.startswith("#!/usr/bin/env bash")
    assert 'pip install "$SOURCE"' in setup and "SOURCE=/autograder/source" in setup
    assert "python3-venv" in setup and "python3-pip" in setup
    assert "-m grader.release.gradescope --root" in run and "/autograder" in run


def test_same_source_gives_the_same_zip(bundle_zip, tmp_path):
    again = tmp_path / "again.zip"
    gs.build_bundle(again)
    assert again.read_bytes() == bundle_zip.read_bytes()


def test_cli_writes_the_zip(tmp_path, capsys):
    assert cli_main(["gradescope-bundle", "--out", str(tmp_path / "autograder.zip")]) == 0
    assert "run_autograder" in capsys.readouterr().out and zipfile.is_zipfile(tmp_path / "autograder.zip")


def test_unlisted_package_is_refused(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, project / name)
    for package in gs.PACKAGES:
        shutil.copytree(ROOT / package, project / package, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "grader" / "newpart").mkdir()
    (project / "grader" / "newpart" / "__init__.py").write_text("")
    with pytest.raises(gs.GraderError, match="grader.newpart is not listed"):
        gs.build_bundle(tmp_path / "autograder.zip", project=project)
    assert not (tmp_path / "autograder.zip").exists()


# ---------------------------------------------------------------------------
# run_autograder in a fake /autograder
# ---------------------------------------------------------------------------

def test_reference_scores_15(bundle_zip, tmp_path):
    root = fake_autograder(tmp_path, bundle_zip, {"adam_vs_momentum.py": REFERENCE.read_bytes()})
    proc = run_autograder(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert {"score", "tests", "output", "output_format", "visibility", "stdout_visibility"} <= set(results)
    assert results["score"] == 15
    assert len(results["tests"]) == 21
    assert sum(t["score"] for t in results["tests"]) == pytest.approx(15)
    for test in results["tests"]:
        assert {"name", "number", "score", "max_score", "status", "output", "output_format", "visibility"} <= set(test)
        assert test["status"] == "passed" and test["output_format"] == "md"
    assert results["extra_data"]["student"] == "alice_example.com"
    assert "Graded file: `adam_vs_momentum.py`" in results["output"]


def test_the_zips_own_grader_runs(bundle_zip, tmp_path):
    root = fake_autograder(tmp_path, bundle_zip, {})
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(root / "source")}
    proc = subprocess.run([sys.executable, "-c", "import grader.release.gradescope as m; print(m.__file__)"],
                          cwd="/", env=env, capture_output=True, text=True, timeout=60)
    assert Path(proc.stdout.strip()).resolve() == (root / "source" / "grader" / "release" / "gradescope.py").resolve()


def test_stubs_score_0_with_not_implemented(bundle_zip, tmp_path):
    root = fake_autograder(tmp_path, bundle_zip, {"adam_vs_momentum.py": STUBS.read_bytes()}, metadata=None)
    proc = run_autograder(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and len(results["tests"]) == 21
    assert all("not implemented" in t["output"] and t["status"] == "failed" for t in results["tests"])
    assert results["extra_data"]["student"] == "submission"


# ---------------------------------------------------------------------------
# Finding the submission, the student id, and failures (in process)
# ---------------------------------------------------------------------------

def test_student_id_from_metadata(tmp_path):
    path = tmp_path / "submission_metadata.json"
    cases = [(METADATA, "alice_example.com"), ({"users": [{"email": "", "id": 1234}]}, "1234"),
             ({"users": []}, "submission"), ("not json", "submission")]
    for data, expected in cases:
        path.write_text(data if isinstance(data, str) else json.dumps(data))
        assert gs.student_of(path) == expected
    assert gs.student_of(tmp_path / "missing.json") == "submission"


@pytest.mark.parametrize("files, chosen", [
    (["adam_vs_momentum.py", "adam_vs_momentum.ipynb", "notes.py"], "adam_vs_momentum.py"),
    (["adam_vs_momentum.ipynb"], "adam_vs_momentum.ipynb"),
    (["hw/deep/adam_vs_momentum.py", "adam_vs_momentum.py"], "adam_vs_momentum.py"),
    (["my_homework.py", "README.md"], "my_homework.py"),
    (["solution.ipynb", ".hidden.py", "__MACOSX/solution.py"], "solution.ipynb"),
    (["everything.zip"], "everything.zip"),
])
def test_find_submission(tmp_path, files, chosen):
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    path, _notes = gs.find_submission(tmp_path)
    assert path.relative_to(tmp_path).as_posix() == chosen


@pytest.mark.parametrize("files, message", [([], "no adam_vs_momentum.py"),
                                            (["a.py", "b.py"], "several files could be the submission")])
def test_find_submission_refuses(tmp_path, files, message):
    for name in files:
        (tmp_path / name).write_text("x = 1\n")
    with pytest.raises(SubmissionError, match=message):
        gs.find_submission(tmp_path)


def test_nothing_submitted_is_an_explained_0(tmp_path):
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "essay.txt").write_text("hello")
    assert gs.run(root) == 0
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and "Nothing was graded" in results["output"]
    assert results["visibility"] == "visible"
    assert gs.run(root, visibility="hidden") == 0  # as the graded ones are, when they are hidden
    assert json.loads((root / "results" / "results.json").read_text())["visibility"] == "hidden"


def test_grader_failure_writes_no_results_and_fails_the_run(tmp_path, monkeypatch, capsys):
    import grader.batch

    def broken(*args, **kwargs):
        raise SandboxError("cannot start the sandbox: no fork today")

    monkeypatch.setattr(grader.batch, "grade_batch", broken)
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "adam_vs_momentum.py").write_bytes(REFERENCE.read_bytes())
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text('{"score": 15}')  # stale: must not survive
    assert gs.run(root) == 1
    assert not (root / "results" / "results.json").exists()
    out = capsys.readouterr().out
    assert "UNGRADABLE" in out and "no fork today" in out and "No score is recorded" in out


def test_ungradable_report_writes_no_results(tmp_path, monkeypatch, capsys):
    import grader.batch
    from grader.judging.grading import ungradable
    from grader.rubric import load_rubric
    from grader.intake.submissions import discover

    def ungradable_batch(paths, options):
        sub = discover(paths)[0]
        report = ungradable(load_rubric(), sub, "SandboxError: worker vanished", ())
        return grader.batch.BatchResult((report,), 1, 0, 0.0, grader.batch.Isolation((), ()))

    monkeypatch.setattr(grader.batch, "grade_batch", ungradable_batch)
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "adam_vs_momentum.py").write_bytes(REFERENCE.read_bytes())
    assert gs.run(root) == 1
    assert not (root / "results" / "results.json").exists()
    assert "worker vanished" in capsys.readouterr().out


def test_find_submission_grades_the_notebook_next_to_the_unchanged_stub(tmp_path):
    """A Gradescope upload of the bundle's two files, worked in the notebook: the same rule as
    every other intake (grader.intake.names.choose) grades the notebook and says why."""
    stub = (Path(__file__).resolve().parents[1] / "assignment" / "adam_vs_momentum.py").read_bytes()
    (tmp_path / "adam_vs_momentum.py").write_bytes(stub)
    (tmp_path / "adam_vs_momentum.ipynb").write_text("{}")
    path, notes = gs.find_submission(tmp_path)
    assert path.name == "adam_vs_momentum.ipynb"
    assert any("unchanged stub" in note for note in notes)
    (tmp_path / "adam_vs_momentum.py").write_bytes(stub + b"# my edit\n")
    assert gs.find_submission(tmp_path)[0].name == "adam_vs_momentum.py", "an edited .py is graded"
