"""A batch as an instructor runs it (issue 11): bad inputs cost their own student only, nothing
vanishes, stale reports are not exported, a full disk ends cleanly and a rerun resumes."""

from __future__ import annotations

import csv
import errno
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_intake_rules import make_zip

ROOT = Path(__file__).resolve().parent.parent
HONEST = (ROOT / "tests" / "attacks" / "zz_victim.py").read_text(encoding="utf-8")
STUBS = (ROOT / "assignment" / "adam_vs_momentum.py").read_text(encoding="utf-8")


def grade(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "grade", *map(str, args), "--quiet"], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def _rows(out: Path) -> dict[str, dict]:
    with (out / "grades.csv").open(encoding="utf-8", newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("intake-batch")
    subs = root / "subs"
    subs.mkdir()
    (subs / "honest.py").write_text(HONEST, encoding="utf-8")
    (subs / "stubs.py").write_text(STUBS, encoding="utf-8")
    damaged = bytearray(make_zip({"adam_vs_momentum.py": HONEST * 3}))
    info = zipfile.ZipFile(io.BytesIO(bytes(damaged))).getinfo("adam_vs_momentum.py")
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    damaged[middle:middle + 16] = b"\xff" * 16
    (subs / "damaged.zip").write_bytes(bytes(damaged))
    with open(bytes(subs) + b"/caf\xe9.py", "w", encoding="utf-8") as handle:
        handle.write(HONEST)
    (subs / "carol").mkdir()
    (subs / "carol" / "adam_vs_momentum.py").write_text(HONEST, encoding="utf-8")
    (subs / "notes.txt").write_text("my notes")
    out = root / "out"
    first = grade(subs, "--out", out)
    rerun = grade(subs, "--out", out)
    return {"root": root, "subs": subs, "out": out, "first": first, "rerun": rerun}


def test_bad_inputs_cost_only_their_own_student_and_the_batch_goes_on(batch):
    assert batch["first"].returncode == 0, batch["first"].stderr[-2000:]
    reports = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (batch["out"] / "reports").glob("*.json")}
    assert set(reports) == {"honest", "stubs", "damaged", "caf", "carol"}
    assert reports["damaged"]["outcome"]["kind"] == "unreadable"
    assert "damaged" in reports["damaged"]["outcome"]["reason"]
    assert reports["caf"]["total"] == 15 and "\ufffd" in reports["caf"]["submission"]
    assert reports["carol"]["total"] == 15 and reports["carol"]["submission"] == "carol/adam_vs_momentum.py"
    assert batch["rerun"].returncode == 0, batch["rerun"].stderr[-2000:]


def test_every_input_not_graded_is_listed_in_the_output_and_in_skipped_txt(batch):
    assert "notes.txt: not a .py, .ipynb or .zip file" in batch["first"].stderr
    assert "subs/notes.txt: not a .py, .ipynb or .zip file" in (batch["out"] / "skipped.txt").read_text()


def test_a_deleted_input_is_not_exported_again_and_is_named_loudly(batch, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    shutil.copytree(batch["subs"], subs)
    shutil.copytree(batch["out"], out)
    (subs / "stubs.py").unlink()
    run = grade(subs, "--out", out)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "stubs" not in _rows(out) and "honest" in _rows(out)
    assert "WARNING: 1 report(s) in the output folder belong to inputs that are not in this run" in run.stderr
    assert "reports/stubs.json" in (out / "skipped.txt").read_text()
    assert not (out / "gradescope" / "stubs" / "results.json").exists()
    moodle = (out / "moodle_import.csv").read_text(encoding="utf-8")
    assert "stubs" not in moodle and "honest" in moodle


def test_a_path_that_does_not_exist_is_an_error_before_grading(tmp_path):
    (tmp_path / "a.py").write_text(HONEST)
    run = grade(tmp_path / "a.py", tmp_path / "nope.py", "--out", tmp_path / "out", timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [f"error: no such file or folder: {tmp_path / 'nope.py'}"]
    assert not (tmp_path / "out").exists()


def test_out_naming_a_file_is_a_one_line_error(tmp_path):
    (tmp_path / "a.py").write_text(HONEST)
    (tmp_path / "out.txt").write_text("not a folder")
    run = grade(tmp_path / "a.py", "--out", tmp_path / "out.txt", timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "is a file" in run.stderr


def test_an_empty_batch_is_a_loud_warning(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.pdf").write_text("x")
    run = grade(tmp_path / "empty", "--out", tmp_path / "out", timeout=120)
    assert run.returncode == 0
    assert "WARNING: no submissions found" in run.stderr and "readme.pdf" in run.stderr


@pytest.mark.parametrize("workers", ["1", "2"])  # in this process; in two trusted processes
def test_a_full_disk_ends_with_one_clear_error_and_a_rerun_resumes(tmp_path, monkeypatch, capsys, workers):
    import grader.batch as batch_module
    from grader.cli import main

    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("a", "b", "c", "d"):
        (subs / f"{name}.py").write_text(HONEST)
    real = batch_module.write_atomic
    written = []

    def full_after_one_report(path, data, **kwargs):
        if Path(path).parent.name == "reports":
            if len(written) >= 2:  # one report is its .json and its .md
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            written.append(path)
        real(path, data, **kwargs)

    monkeypatch.setattr(batch_module, "write_atomic", full_after_one_report)
    args = ["grade", str(subs), "--out", str(tmp_path / "out"), "--quiet", "--workers", workers]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [l for l in err.splitlines() if l.startswith("error:")]
    assert "No space left on device" in line and "rerun the same command to resume" in line
    kept = {p.stem for p in (tmp_path / "out" / "reports").glob("*.json")}
    assert kept and len(kept) < 4
    monkeypatch.setattr(batch_module, "write_atomic", real)
    assert main(args) == 0
    assert f"reused {len(kept)} unchanged report(s)" in capsys.readouterr().out
    assert set(_rows(tmp_path / "out")) == {"a", "b", "c", "d"}


def test_a_worked_notebook_next_to_the_unchanged_stub_is_graded_and_non_ascii_names_keep_their_letters(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("My solution"), nbformat.v4.new_code_cell(HONEST)]
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "José.zip").write_bytes(make_zip({"hw/adam_vs_momentum.py": STUBS,
                                              "hw/adam_vs_momentum.ipynb": nbformat.writes(notebook)}))
    (subs / "李雷.py").write_text(HONEST, encoding="utf-8")
    out = tmp_path / "out"
    run = grade(subs, "--out", out)
    assert run.returncode == 0, run.stderr[-2000:]
    reports = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (out / "reports").glob("*.json")}
    from grader.intake.names import student_id
    assert set(reports) == {"Jose", student_id("李雷.py")}
    assert reports["Jose"]["total"] == 15 and reports["Jose"]["submission"].endswith("hw/adam_vs_momentum.ipynb")
    assert "unchanged stub" in json.dumps(reports["Jose"], ensure_ascii=False)
    assert reports[student_id("李雷.py")]["total"] == 15
