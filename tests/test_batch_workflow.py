"""The instructor's workflow end to end through the CLI: grade, regrade one student, rerun."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = (ROOT / "reference" / "adam_vs_momentum.py").read_bytes()
STUB = (ROOT / "assignment" / "adam_vs_momentum.py").read_bytes()
BROKEN = b"def adam_first_update(w1, g1, alpha, beta1, beta2, eps)\n    return {}\n"
GRADEBOOK = """Student,ID,SIS User ID,SIS Login ID,Section,Adam vs. SGD with momentum (4242),Current Points
    Points Possible,,,,,15.00,(read only)
"Reference, Alice",1001,S-1,alice,A,,0.00
"Stub, Bob",1002,S-2,bob,A,,0.00
"Broken, Carol",1003,S-3,carol,B,,0.00
"Absent, Dave",1004,S-4,dave,B,3.00,3.00
"""
ROSTER = "student_id,email\nalice,alice@example.edu\nbob,bob@example.edu\ncarol,carol@example.edu\n"
STUDENTS = ("alice", "bob", "carol")


def grade(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "grader", "grade", *args, "--quiet", "--workers", "2"],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=120)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


@pytest.fixture
def batch(tmp_path: Path) -> dict[str, Path]:
    subs = tmp_path / "submissions"
    subs.mkdir()
    (subs / "alice.py").write_bytes(REFERENCE)
    (subs / "bob.py").write_bytes(STUB)
    (subs / "carol.py").write_bytes(BROKEN)
    (tmp_path / "gradebook.csv").write_text(GRADEBOOK, encoding="utf-8")
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    return {"root": tmp_path, "subs": subs, "out": tmp_path / "out"}


def lms_args(batch) -> list[str]:
    return ["--canvas-gradebook", str(batch["root"] / "gradebook.csv"),
            "--moodle-identifier", "email", "--moodle-roster", str(batch["root"] / "roster.csv")]


def test_grade_regrade_one_and_rerun(batch):
    root, subs, out = batch["root"], batch["subs"], batch["out"]
    before = snapshot(root)

    # 1. The whole batch, with every LMS export.
    run = grade(root, str(subs), "--out", str(out), *lms_args(batch))
    assert run.returncode == 0, run.stderr
    expected = (["grades.csv", "summary.md", "summary.html", "canvas_import.csv", "canvas_unmatched.txt",
                 "moodle_import.csv", "moodle_unmatched.txt"]
                + [f"charts/{name}.png" for name in ("score_histogram", "item_pass_rates", "misconceptions")]
                + [f"reports/{s}.{ext}" for s in STUDENTS for ext in ("json", "md")]
                + [f"gradescope/{s}/results.json" for s in STUDENTS])
    for name in expected:
        assert (out / name).is_file(), name
    after = snapshot(root)
    changed = {path for path in after if before.get(path) != after[path]}
    assert changed and all(path.startswith("out/") for path in changed), "wrote outside --out"
    assert {p for p in before if p not in after} == set(), "removed a file"

    totals = {row["student"]: row["total"] for row in rows(out / "grades.csv")}
    assert totals == {"alice": "15", "bob": "0", "carol": "0"}
    canvas = {row["Student"]: row["Adam vs. SGD with momentum (4242)"] for row in rows(out / "canvas_import.csv")}
    assert canvas == {"    Points Possible": "15.00", "Reference, Alice": "15.00", "Stub, Bob": "0.00",
                      "Broken, Carol": "0.00", "Absent, Dave": "3.00"}
    assert "Absent, Dave" in (out / "canvas_unmatched.txt").read_text(encoding="utf-8")
    moodle = rows(out / "moodle_import.csv")
    assert [(r["Email address"], r["Adam vs. SGD with momentum"]) for r in moodle] == [
        ("alice@example.edu", "15"), ("bob@example.edu", "0"), ("carol@example.edu", "0")]
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "| carol | not run |" in summary and "Absent, Dave" in summary

    # 2. Bob resubmits; regrade only him into the same folder.
    first = snapshot(out)
    (subs / "bob.py").write_bytes(REFERENCE + b"\n# resubmitted\n")
    run = grade(root, str(subs), "--out", str(out), "--only", "bob", *lms_args(batch))
    assert run.returncode == 0, run.stderr
    second = snapshot(out)
    for student in ("alice", "carol"):
        for name in (f"reports/{student}.json", f"reports/{student}.md", f"gradescope/{student}/results.json"):
            assert second[name] == first[name], f"{name} was touched"
    assert second["reports/bob.json"][0] != first["reports/bob.json"][0]
    assert {row["student"]: row["total"] for row in rows(out / "grades.csv")}["bob"] == "15"
    canvas = {row["Student"]: row["Adam vs. SGD with momentum (4242)"] for row in rows(out / "canvas_import.csv")}
    assert canvas["Stub, Bob"] == "15.00"

    # 3. Rerun the whole batch: nothing to regrade, every report stays the same.
    run = grade(root, str(subs), "--out", str(out), *lms_args(batch))
    assert run.returncode == 0, run.stderr
    assert "reused 3 unchanged report(s)" in run.stdout
    third = snapshot(out)
    assert {k: v for k, v in third.items() if k.startswith("reports/")} == \
        {k: v for k, v in second.items() if k.startswith("reports/")}

    # 4. Regrading from scratch into a new folder gives the same bytes, exports included.
    fresh = root / "fresh"
    run = grade(root, str(subs), "--out", str(fresh), *lms_args(batch))
    assert run.returncode == 0, run.stderr
    assert {k: v[0] for k, v in snapshot(fresh).items()} == {k: v[0] for k, v in third.items()}


def test_export_options_are_checked_before_grading(batch):
    root, subs, out = batch["root"], batch["subs"], batch["out"]
    run = grade(root, str(subs), "--out", str(out), "--canvas-column", "Adam vs")
    assert run.returncode == 2 and "--canvas-column needs --canvas-gradebook" in run.stderr
    (root / "ambiguous.csv").write_text(GRADEBOOK.replace("Current Points", "Adam vs. SGD redo (4243)")
                                        .replace("(read only)", "15.00"))
    run = grade(root, str(subs), "--out", str(out), "--canvas-gradebook", str(root / "ambiguous.csv"))
    assert run.returncode == 2 and "2 assignment columns" in run.stderr
    assert not out.exists()
