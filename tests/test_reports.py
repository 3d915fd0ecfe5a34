"""Report files of a graded batch: the JSON schema of SPEC section 5, the Markdown report,
grades.csv, and determinism (same folder graded twice, and a rerun into the same folder).

One small batch from the corpus (a correct file, a notebook, a file with misconceptions,
the untouched stubs and a syntax error) is graded three times through the CLI: into two
fresh output folders, then again into the first one.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.rubric import DEFAULT_RUBRIC as RUBRIC_PATH, load_rubric
from grader.sandbox.manager import LAYER_PURPOSES

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
BATCH = ("c01_expanded_vectorised.py", "c12_notebook_submission.ipynb", "m01_no_bias_correction.py",
         "e01_untouched_stubs.py", "e11_syntax_error.py")
STUDENTS = sorted(Path(name).stem for name in BATCH)
RUBRIC = load_rubric()
STATUSES = {"passed", "partial", "failed", "not_attempted", "error", "timeout", "ungradable"}
TOP_LEVEL = {"student", "submission", "sha256", "total", "max_total", "parts", "items",
             "grader_version", "isolation", "outcome", "rubric_sha256"}
ITEM_FIELDS = {"id", "part", "title", "points", "max_points", "status", "feedback", "misconceptions"}
PART_FIELDS = {"id", "title", "points", "max_points"}


def _grade(submissions: Path, out: Path) -> str:
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(submissions), "--out", str(out), "--quiet"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _snapshot(out: Path) -> dict[str, bytes]:
    """Every report file and grades.csv, by path relative to the output folder."""
    paths = sorted((out / "reports").glob("*.json")) + sorted((out / "reports").glob("*.md"))
    return {str(p.relative_to(out)): p.read_bytes() for p in paths + [out / "grades.csv"]}


@pytest.fixture(scope="session")
def batch(tmp_path_factory):
    """The batch folder, two independent gradings of it, and a rerun into the first output."""
    root = tmp_path_factory.mktemp("reports")
    submissions = root / "submissions"
    submissions.mkdir()
    for name in BATCH:
        shutil.copy(CORPUS / name, submissions / name)
    first, second = root / "first", root / "second"
    _grade(submissions, first)
    before = _snapshot(first)
    mtimes = {p.name: p.stat().st_mtime_ns for p in (first / "reports").glob("*.json")}
    _grade(submissions, second)
    rerun_stdout = _grade(submissions, first)
    return {"submissions": submissions, "first": first, "second": second, "before_rerun": before,
            "mtimes_before_rerun": mtimes, "rerun_stdout": rerun_stdout}


def _report(batch, student: str) -> dict:
    return json.loads((batch["first"] / "reports" / f"{student}.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------
# The JSON report (SPEC section 5)
# ---------------------------------------------------------------------------

def test_one_json_and_one_markdown_report_per_submission(batch):
    reports = batch["first"] / "reports"
    assert sorted(p.stem for p in reports.glob("*.json")) == STUDENTS
    assert sorted(p.stem for p in reports.glob("*.md")) == STUDENTS


@pytest.mark.parametrize("student", STUDENTS)
def test_report_json_has_every_field_of_the_spec(batch, student):
    report = _report(batch, student)
    assert TOP_LEVEL <= set(report)
    assert report["student"] == student
    assert report["max_total"] == 15
    assert isinstance(report["grader_version"], str) and report["grader_version"]
    assert [p["id"] for p in report["parts"]] == [p.id for p in RUBRIC.parts]
    assert [i["id"] for i in report["items"]] == [i.id for i in RUBRIC.items]
    for part in report["parts"]:
        assert PART_FIELDS <= set(part)
    for item in report["items"]:
        assert ITEM_FIELDS <= set(item)
        assert item["status"] in STATUSES
        assert isinstance(item["feedback"], list) and all(isinstance(line, str) for line in item["feedback"])
        assert isinstance(item["misconceptions"], list)


def test_report_carries_its_outcome_as_one_typed_field_and_the_rubric_digest(batch):
    rubric_digest = hashlib.sha256(RUBRIC_PATH.read_bytes()).hexdigest()
    outcomes = {student: _report(batch, student)["outcome"] for student in STUDENTS}
    assert outcomes["c01_expanded_vectorised"] == {"kind": "graded", "reason": ""}
    assert outcomes["e11_syntax_error"]["kind"] == "not_run"
    assert "SyntaxError" in outcomes["e11_syntax_error"]["reason"]
    assert all(_report(batch, s)["rubric_sha256"] == rubric_digest for s in STUDENTS)
    rows = {row["student"]: row for row in csv.DictReader(
        (batch["first"] / "grades.csv").open(encoding="utf-8"))}
    assert rows["e11_syntax_error"]["status"] == "not_run" and rows["c01_expanded_vectorised"]["status"] == "graded"


def test_report_round_trips_through_json_with_its_outcome():
    from grader.outputs.reports import report_from_dict, report_to_dict
    from grader.results import ItemResult, Outcome, PartResult, Report

    item = ItemResult("1a", "1", "t", 0.0, 1.0, "error", ("boom",))
    report = Report("s", "s.py", "0" * 64, (item,), (PartResult("1", "p", 0.0, 1.0),), "v", (),
                    ("a note",), Outcome("unreadable", "the file is empty"), "ab" * 32)
    again = report_from_dict(json.loads(json.dumps(report_to_dict(report))))
    assert again == report and again.outcome == Outcome("unreadable", "the file is empty")


@pytest.mark.parametrize("student", STUDENTS)
def test_report_names_the_submission_and_its_digest(batch, student):
    report = _report(batch, student)
    name = next(n for n in BATCH if Path(n).stem == student)
    assert report["submission"] == name
    assert report["sha256"] == hashlib.sha256((batch["submissions"] / name).read_bytes()).hexdigest()


@pytest.mark.parametrize("student", STUDENTS)
def test_report_points_add_up_by_item_and_part(batch, student):
    report = _report(batch, student)
    by_rubric = {item.id: item for item in RUBRIC.items}
    for item in report["items"]:
        assert item["max_points"] == by_rubric[item["id"]].points
        assert item["part"] == by_rubric[item["id"]].part
        assert item["title"] == by_rubric[item["id"]].title
        assert 0 <= item["points"] <= item["max_points"]
    for part, rubric_part in zip(report["parts"], RUBRIC.parts):
        assert part["max_points"] == rubric_part.points
        assert part["title"] == rubric_part.title
        assert part["points"] == pytest.approx(sum(i["points"] for i in report["items"] if i["part"] == part["id"]))
    assert report["total"] == pytest.approx(sum(p["points"] for p in report["parts"]))


def test_report_records_the_isolation_layers_in_force(batch):
    for student in STUDENTS:
        layers = _report(batch, student)["isolation"]
        assert layers and len(layers) == len(set(layers))
        assert set(layers) <= set(LAYER_PURPOSES)


def test_report_of_an_unreadable_submission_says_why_in_every_item(batch):
    report = _report(batch, "e11_syntax_error")
    assert report["total"] == 0
    for item in report["items"]:
        assert item["status"] == "error"
        assert any("SyntaxError" in line for line in item["feedback"])


# ---------------------------------------------------------------------------
# The Markdown report and grades.csv
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("student", STUDENTS)
def test_markdown_report_shows_the_total_and_every_item(batch, student):
    report = _report(batch, student)
    text = (batch["first"] / "reports" / f"{student}.md").read_text(encoding="utf-8")
    total = f"{report['total']:g}"
    assert re.search(rf"Total: {re.escape(total)} / 15\b", text)
    for item in report["items"]:
        assert item["id"] in text


def test_markdown_report_names_recognised_misconceptions(batch):
    text = (batch["first"] / "reports" / "m01_no_bias_correction.md").read_text(encoding="utf-8")
    assert "No bias correction" in text
    assert "Follow-through credit" in text


def test_grades_csv_columns_follow_the_rubric_order(batch):
    with open(batch["first"] / "grades.csv", newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[0] == "student"
    assert "total" in header
    parts = [f"part_{p.id}" for p in RUBRIC.parts]
    items = [i.id for i in RUBRIC.items]
    assert [c for c in header if c in parts] == parts
    assert [c for c in header if c in items] == items
    assert header.index("total") < header.index(parts[0]) < header.index(items[0])


def test_grades_csv_has_one_row_per_submission_with_the_report_points(batch):
    with open(batch["first"] / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["student"] for row in rows) == STUDENTS
    for row in rows:
        report = _report(batch, row["student"])
        assert float(row["total"]) == pytest.approx(report["total"])
        for part in report["parts"]:
            assert float(row[f"part_{part['id']}"]) == pytest.approx(part["points"])
        for item in report["items"]:
            assert float(row[item["id"]]) == pytest.approx(item["points"])


# ---------------------------------------------------------------------------
# Determinism and reruns
# ---------------------------------------------------------------------------

def test_grading_the_same_folder_twice_gives_identical_files(batch):
    first, second = batch["before_rerun"], _snapshot(batch["second"])
    assert first.keys() == second.keys()
    different = [name for name in first if first[name] != second[name]]
    assert not different


def test_rerun_into_the_same_folder_reuses_every_report(batch):
    assert re.search(rf"\breused {len(STUDENTS)}\b", batch["rerun_stdout"]), batch["rerun_stdout"]
    mtimes = {p.name: p.stat().st_mtime_ns for p in (batch["first"] / "reports").glob("*.json")}
    assert mtimes == batch["mtimes_before_rerun"]


def test_rerun_into_the_same_folder_gives_identical_files(batch):
    assert _snapshot(batch["first"]) == batch["before_rerun"]
