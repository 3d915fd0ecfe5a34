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


def changed_rubric(root: Path) -> Path:
    """The default rubric with item 1c's follow-through credit changed (another digest)."""
    text = (ROOT / "grader" / "rubric.toml").read_text(encoding="utf-8")
    start = text.index('id = "1c"')
    at = text.index("follow_through = 0.5", start)
    path = root / "rubric-1c.toml"
    path.write_text(text[:at] + "follow_through = 0.25" + text[at + len("follow_through = 0.5"):], encoding="utf-8")
    return path


def test_only_leaves_out_reports_whose_submission_rubric_or_grader_version_no_longer_match(batch):
    """--only grades only the students named; a report of anyone else that is no longer the
    grade of their input (the file changed, another rubric, another grader version) is not
    exported as if it were current: it is left out of every class file and named."""
    root, subs, out = batch["root"], batch["subs"], batch["out"]
    run = grade(root, str(subs), "--out", str(out))
    assert run.returncode == 0, run.stderr
    (subs / "bob.py").write_bytes(REFERENCE)  # bob resubmits; his old report says 0
    carol = out / "reports" / "carol.json"
    carol.write_text(carol.read_text(encoding="utf-8").replace('"grader_version": "', '"grader_version": "0.0.1-'),
                     encoding="utf-8")  # as an older grader wrote it

    run = grade(root, str(subs), "--out", str(out), "--only", "alice")
    assert run.returncode == 0, run.stderr
    assert [row["student"] for row in rows(out / "grades.csv")] == ["alice"]
    assert [row["Student ID"] for row in rows(out / "moodle_import.csv")] == ["alice"]
    assert sorted(p.name for p in (out / "gradescope").iterdir()) == ["alice"]
    assert "| bob |" not in (out / "summary.md").read_text(encoding="utf-8")
    assert "2 report(s) in the output folder are out of date" in run.stderr and "without --only" in run.stderr
    assert "bob: its submission changed since it was graded" in run.stderr
    assert "carol: graded by grader version 0.0.1-" in run.stderr
    skipped = (out / "skipped.txt").read_text(encoding="utf-8")
    assert "reports/bob.json: its submission changed" in skipped and "reports/carol.json: graded by grader" in skipped
    assert (out / "reports" / "bob.json").is_file()  # kept, for the instructor to regrade

    run = grade(root, str(subs), "--out", str(out), "--only", "alice", "--rubric", str(changed_rubric(root)))
    assert run.returncode == 0, run.stderr
    assert [row["student"] for row in rows(out / "grades.csv")] == ["alice"]
    assert "carol: graded with another rubric" in run.stderr

    run = grade(root, str(subs), "--out", str(out))  # what the warning says to do
    assert run.returncode == 0, run.stderr
    assert "out of date" not in run.stderr
    assert {row["student"]: row["total"] for row in rows(out / "grades.csv")} == \
        {"alice": "15", "bob": "15", "carol": "0"}
