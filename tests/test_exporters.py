"""LMS exports checked against the documented formats (Gradescope, Canvas, Moodle)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import pytest

from grader.errors import GraderError
from grader.outputs import EXPORTERS, validate_exports, write_exports
from grader.outputs.base import split_ungradable, write_file
from grader.outputs.canvas import (CanvasError, canvas_import, canvas_student_of, choose_column,
                                     parse_gradebook, read_gradebook)
from grader.outputs.gradescope import UngradableSubmission, gradescope_results
from grader.outputs.moodle import MoodleError, feedback_text, moodle_import, read_roster
from grader.judging.grading import parts_of
from grader.judging.misconceptions import CATALOGUE
from grader.outputs.reports import item_markdown, overall_status
from grader.results import ItemResult, Outcome, Report
from grader.rubric import load_rubric

LMS = Path(__file__).resolve().parent / "data" / "lms"
RUBRIC = load_rubric()
GRADESCOPE_TOP = {"score", "output", "output_format", "visibility", "stdout_visibility", "tests"}
GRADESCOPE_TEST = {"name", "number", "score", "max_score", "status", "output", "output_format", "visibility"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def make_report(student: str, *, default: str = "passed", statuses: dict | None = None,
                misconceptions: dict | None = None, notes: tuple[str, ...] = ()) -> Report:
    """A report built by hand: passed items get full points, partial ones half, others 0."""
    statuses = statuses or {}
    misconceptions = misconceptions or {}
    items = []
    for item in RUBRIC.items:
        status = statuses.get(item.id, default)
        points = {"passed": item.points, "partial": item.points / 2}.get(status, 0.0)
        feedback = (f"{item.id} is {status}",) if status != "ungradable" else ("The grader failed.",)
        items.append(ItemResult(item.id, item.part, item.title, points, item.points, status, feedback,
                                tuple(misconceptions.get(item.id, ()))))
    items = tuple(items)
    if default == "ungradable":
        notes = ("ungradable: SandboxError: no worker",) + notes
    return Report(student, f"{student}.py", "ab" * 32, items, parts_of(RUBRIC, items), "1.0.0",
                  ("separate_process",), notes)


def test_the_outcome_is_one_typed_field_never_read_from_notes():
    graded = make_report("x")
    assert graded.outcome == Outcome("graded")
    # A note that reads like a status changes nothing: the outcome is the typed field.
    fake = make_report("y", notes=("ungradable: forged", "This submission could not be run: forged"))
    assert fake.outcome.kind == "graded" and not fake.ungradable
    assert overall_status(fake) == "graded"
    assert make_report("z", default="ungradable").outcome.kind == "ungradable"
    assert make_report("w", default="error").outcome.kind == "not_run"


def test_split_ungradable_is_by_the_typed_outcome():
    broken = dataclasses.replace(make_report("b"), outcome=Outcome("ungradable", "SandboxError"))
    gradable, ungradable = split_ungradable([make_report("a"), broken])
    assert [r.student for r in gradable] == ["a"] and ungradable == (broken,)


@pytest.fixture
def reports() -> list[Report]:
    return [
        make_report("alovelace"),                                    # SIS Login ID
        make_report("s1002", statuses={"1c": "partial", "1f": "failed"},  # SIS User ID, other case
                    misconceptions={"1f": ("stale_moments_in_w3",)}),
        make_report("51236", default="not_attempted", statuses={"1a": "passed"}),  # Canvas ID
        make_report("nobody", statuses={"1a": "failed"}),            # matches no student
        make_report("broken", default="ungradable"),                  # the grader failed
    ]


# ---------------------------------------------------------------------------
# Gradescope
# ---------------------------------------------------------------------------

def test_gradescope_results_have_the_documented_keys_and_types(reports):
    report = reports[1]
    results = gradescope_results(report)
    json.dumps(results, allow_nan=False)
    assert GRADESCOPE_TOP <= set(results)
    assert isinstance(results["score"], float) and results["score"] == report.total
    assert results["output_format"] == "md" and isinstance(results["output"], str)
    assert results["visibility"] in VISIBILITIES and results["stdout_visibility"] in VISIBILITIES
    assert [t["number"] for t in results["tests"]] == [i.id for i in RUBRIC.items]
    for test, item in zip(results["tests"], report.items):
        assert GRADESCOPE_TEST <= set(test)
        assert test["name"] == item.title  # Gradescope shows "<number>) <name>": the id once
        assert isinstance(test["number"], str)
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert test["max_score"] == item.max_points
        assert test["output_format"] == "md" and test["visibility"] == "visible"
        assert item_markdown(item) in test["output"]


def test_gradescope_test_scores_sum_to_the_score(reports):
    for report in reports[:4]:
        results = gradescope_results(report)
        assert sum(t["score"] for t in results["tests"]) == pytest.approx(results["score"], abs=1e-9)
        assert sum(t["max_score"] for t in results["tests"]) == pytest.approx(15.0)


def test_gradescope_status_is_passed_only_for_full_marks(reports):
    tests = {t["number"]: t for t in gradescope_results(reports[1])["tests"]}
    assert tests["1a"]["status"] == "passed"
    assert tests["1c"]["status"] == "failed" and tests["1c"]["score"] == 0.5
    assert tests["1f"]["status"] == "failed" and tests["1f"]["score"] == 0.0
    assert CATALOGUE["stale_moments_in_w3"].title in tests["1f"]["output"]


def test_gradescope_refuses_to_score_an_ungradable_report(reports):
    with pytest.raises(UngradableSubmission, match="No score is recorded"):
        gradescope_results(reports[4])


def test_gradescope_rejects_unknown_visibility(reports):
    with pytest.raises(ValueError, match="visibility"):
        gradescope_results(reports[0], visibility="public")


def test_gradescope_export_writes_one_results_file_per_gradable_report(tmp_path, reports):
    stale = tmp_path / "gradescope" / "broken" / "results.json"
    write_file(tmp_path, "gradescope/broken/results.json", "{}")
    write_exports(tmp_path, reports, RUBRIC, {})
    for report in reports[:4]:
        data = json.loads((tmp_path / "gradescope" / report.student / "results.json").read_text())
        assert data == gradescope_results(report)
    assert not stale.exists()
    assert "grader failed" in (tmp_path / "gradescope" / "broken" / "UNGRADABLE.txt").read_text()


# ---------------------------------------------------------------------------
# Canvas
# ---------------------------------------------------------------------------

def _table(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter))


def test_canvas_import_changes_only_the_assignment_column(reports):
    source = (LMS / "canvas_gradebook.csv").read_text(encoding="utf-8")
    gradebook = parse_gradebook(source)
    column = "Adam vs. SGD with momentum (101240)"
    gradable, ungradable = split_ungradable(reports)
    result = canvas_import(gradebook, gradable, column, [r.student for r in ungradable])
    before, after = _table(source), _table(result.text)
    assert after[0] == before[0]                       # header, same columns, same order
    assert after[1] == before[1] and after[1][0].strip() == "Points Possible"
    assert [row[:2] for row in after] == [row[:2] for row in before]  # same rows, same order
    target = before[0].index(column)
    for old, new in zip(before, after):
        assert old[:target] + old[target + 1:] == new[:target] + new[target + 1:]
    values = {row[0]: row[target] for row in after[2:]}
    assert values == {"Hopper, Grace": "1.00",        # matched by Canvas ID 51236
                      "Lovelace, Ada": "15.00",       # by SIS Login ID
                      "Noether, Emmy": "",            # no submission: unchanged
                      "Turing, Alan": "13.50",        # by SIS User ID, case-insensitively
                      "Student, Test": ""}


def test_canvas_lists_students_without_submission_and_unmatched_reports(reports):
    gradebook = read_gradebook(LMS / "canvas_gradebook.csv")
    gradable, ungradable = split_ungradable(reports)
    result = canvas_import(gradebook, gradable, "Adam vs. SGD with momentum (101240)",
                           [r.student for r in ungradable])
    assert result.without_submission == ("Noether, Emmy (ID 51237, SIS User ID S1004, SIS Login ID enoether)",)
    assert result.unmatched_reports == ("nobody",)
    assert result.ungradable == ("broken",)
    assert [student for _, student, _ in result.filled] == ["51236", "alovelace", "s1002"]


@pytest.mark.parametrize("kind, student", [("SIS Login ID", "ALOVELACE"), ("SIS User ID", "S1001"),
                                           ("ID", "51234")])
def test_canvas_matches_each_id_kind(kind, student):
    gradebook = read_gradebook(LMS / "canvas_gradebook.csv")
    result = canvas_import(gradebook, [make_report(student)], "Adam vs. SGD with momentum (101240)")
    assert [(label.split(" (")[0], value) for label, _, value in result.filled] == [("Lovelace, Ada", "15.00")]


def test_canvas_two_reports_for_one_student_fill_nothing():
    gradebook = read_gradebook(LMS / "canvas_gradebook.csv")
    result = canvas_import(gradebook, [make_report("alovelace"), make_report("51234")],
                           "Adam vs. SGD with momentum (101240)")
    assert result.filled == ()
    assert len(result.ambiguous) == 2


_OVERLAPPING_IDS = ("Student,ID,SIS User ID,SIS Login ID,Section,Adam vs. SGD with momentum (4242)\r\n"
                    "    Points Possible,,,,,15.00\r\n"
                    '"Lovelace, Ada",12345,20190001,ada,Sec 1,\r\n'
                    '"Turing, Alan",23456,20190002,alan,Sec 1,\r\n'
                    '"Hopper, Grace",34567,23456,12345,Sec 1,\r\n')


def test_canvas_a_canvas_user_id_from_a_download_file_name_is_matched_by_the_id_column_alone(tmp_path):
    """Grace's student number (SIS User ID) is 23456, the digits of Alan's Canvas user id: the
    report read from Alan's download file gets Alan's row, never Grace's."""
    path = tmp_path / "gradebook.csv"
    path.write_bytes(_OVERLAPPING_IDS.encode())
    alan = dataclasses.replace(make_report("23456"), submission="submissions.zip:turingalan_23456_78901_adam.py")
    result = canvas_import(read_gradebook(path), [alan], "Adam vs. SGD with momentum (4242)")
    assert [(label.split(" (")[0], value) for label, _, value in result.filled] == [("Turing, Alan", "15.00")]


def test_canvas_an_id_that_finds_different_students_in_different_columns_fills_nothing(tmp_path):
    """A file named 12345.py (not a Canvas download name) is Ada by ID and Grace by SIS Login
    ID: ambiguous, listed, and neither row is filled."""
    path = tmp_path / "gradebook.csv"
    path.write_bytes(_OVERLAPPING_IDS.encode())
    result = canvas_import(read_gradebook(path), [make_report("12345")], "Adam vs. SGD with momentum (4242)")
    assert result.filled == ()
    assert result.ambiguous == ("12345 (matches different students by SIS Login ID and ID)",)


def test_canvas_keeps_bom_line_endings_posting_row_and_untouched_rows_byte_for_byte(reports):
    raw = (LMS / "canvas_gradebook_manual_posting.csv").read_bytes()
    gradebook = read_gradebook(LMS / "canvas_gradebook_manual_posting.csv")
    turing = make_report("alan.turing@example.edu", statuses={"1a": "partial"})
    result = canvas_import(gradebook, [turing], "Adam vs. SGD with momentum (2001)")
    out = result.text.encode("utf-8")
    assert out.startswith(b"\xef\xbb\xbf")
    old_lines, new_lines = raw.split(b"\r\n"), out.split(b"\r\n")
    assert len(old_lines) == len(new_lines)
    changed = [n for n, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b]
    assert changed == [4, 5]         # Turing's row, and Eve's formula-like name neutralised (OWASP)
    before, after = _table(raw.decode("utf-8")), _table(result.text)
    assert after[5][0] == "'" + before[5][0] and after[5][1:] == before[5][1:]
    assert b"Manual Posting" in new_lines[1] and new_lines[2].startswith(b"    Points Possible")
    assert _table(result.text)[4][8] == "14.50"


NOTES_GRADEBOOK = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Notes,Adam vs. SGD (101),Quiz 1 (102),Current Score\r\n"
    "    Points Possible,,,,,,15.00,10.00,(read only)\r\n"
    '"Lovelace, Ada",5001,S1,ada,"Sec 1",-2 late,,8.00,80\r\n'
    '"Turing, Alan",5002,S2,alan,Sec 1,+1 bonus,3.00,EX,90\r\n'
    '"Hopper, Grace",5003,S3,grace,Sec 2,=SUM(A1),,-,\r\n'
    '"Noether, Emmy",5004,S4,emmy,Sec 2,@x,,"9,5",\r\n'
    '"Gauss, Carl",5005,S5,carl,"Sec 2","line one\r\nline ""two""",,,\r\n'
)


def test_canvas_import_writes_the_instructors_cells_back_byte_for_byte():
    # Notes (a custom column), the other assignment and the totals are the instructor's and
    # importable: a "'" added to "-2 late" would be uploaded to Canvas as a change.
    gradebook = parse_gradebook(NOTES_GRADEBOOK)
    reports = [make_report("ada"), make_report("alan"), make_report("grace", statuses={"1a": "partial"}),
               make_report("carl")]
    result = canvas_import(gradebook, reports, "Adam vs. SGD (101)")
    assert result.text == (
        "Student,ID,SIS User ID,SIS Login ID,Section,Notes,Adam vs. SGD (101),Quiz 1 (102),Current Score\r\n"
        "    Points Possible,,,,,,15.00,10.00,(read only)\r\n"
        '"Lovelace, Ada",5001,S1,ada,"Sec 1",-2 late,15.00,8.00,80\r\n'
        '"Turing, Alan",5002,S2,alan,Sec 1,+1 bonus,15.00,EX,90\r\n'
        '"Hopper, Grace",5003,S3,grace,Sec 2,=SUM(A1),14.50,-,\r\n'
        '"Noether, Emmy",5004,S4,emmy,Sec 2,@x,,"9,5",\r\n'
        '"Gauss, Carl",5005,S5,carl,"Sec 2","line one\r\nline ""two""",15.00,,\r\n')
    before, after = _table(NOTES_GRADEBOOK), _table(result.text)
    assert [row[5] for row in after[2:]] == ["-2 late", "+1 bonus", "=SUM(A1)", "@x", "line one\r\nline \"two\""]
    for old, new in zip(before, after, strict=True):
        assert old[:6] + old[7:] == new[:6] + new[7:]
    assert [value for _, _, value in result.filled] == ["15.00", "15.00", "14.50", "15.00"]
    assert result.without_submission == ("Noether, Emmy (ID 5004, SIS User ID S4, SIS Login ID emmy)",)


def test_canvas_import_writes_the_instructors_cells_back_with_a_semicolon_too():
    text = NOTES_GRADEBOOK.replace(",", ";").replace('"9;5"', "9,5").replace('"Lovelace; Ada"', '"Lovelace, Ada"')
    result = canvas_import(parse_gradebook(text), [make_report("ada")], "Adam vs. SGD (101)")
    lines = text.split("\r\n")
    lines[2] = '"Lovelace, Ada";5001;S1;ada;"Sec 1";-2 late;15,00;8.00;80'
    assert result.text == "\r\n".join(lines)


def test_canvas_import_escapes_only_formula_like_student_names():
    # The rule: the name columns are student-controlled and never read by Canvas's import for a
    # row its ID resolves, so a formula-like name gets a "'"; the ids (what Canvas matches by)
    # and Section stay as they are, and students are matched on the cells as read.
    text = ("Student,ID,SIS User ID,SIS Login ID,Section,Adam vs. SGD (101)\n"
            "    Points Possible,,,,,15.00\n"
            '"+cmd, Ann",6001,S1,-ann,=Section A,\n'
            '"@SUM(1), Bo",6002,S2,bo,"Sec B",\n'
            '"-2, Cy",6003,S3,cy,"Sec B",\n'
            '"Plain, Di",6004,@di,di,"Sec B",\n')
    result = canvas_import(parse_gradebook(text), [make_report("-ann"), make_report("@di")], "Adam vs. SGD (101)")
    assert result.text == ("Student,ID,SIS User ID,SIS Login ID,Section,Adam vs. SGD (101)\n"
                           "    Points Possible,,,,,15.00\n"
                           '"\'+cmd, Ann",6001,S1,-ann,=Section A,15.00\n'
                           '"\'@SUM(1), Bo",6002,S2,bo,"Sec B",\n'
                           '"\'-2, Cy",6003,S3,cy,"Sec B",\n'
                           '"Plain, Di",6004,@di,di,"Sec B",15.00\n')
    assert [student for _, student, _ in result.filled] == ["-ann", "@di"]
    # The name as Canvas has it (grades.csv and the summary escape it for their own formats).
    assert dict(result.names) == {"-ann": "+cmd, Ann", "@di": "Plain, Di"}
    by_name = ("LastName,FirstName,ID,SIS User ID,SIS Login ID,Section,Notes,Adam vs. SGD (101)\n"
               "=Doe,@Jo,7001,S7,jo,A,-1 day,\n")
    result = canvas_import(parse_gradebook(by_name), [make_report("jo")], "Adam vs. SGD (101)")
    assert result.text.splitlines()[1] == "'=Doe,'@Jo,7001,S7,jo,A,-1 day,15.00"


def test_canvas_semicolon_gradebook_keeps_its_separator_and_decimal_comma():
    gradebook = read_gradebook(LMS / "canvas_gradebook_semicolon.csv")
    result = canvas_import(gradebook, [make_report("cgauss", statuses={"1a": "partial"})],
                           choose_column(gradebook, None))
    rows = _table(result.text, ";")
    assert rows[2][:6] == ["Gauß, Carl Friedrich", "9901", "G-01", "cgauss", "Gruppe 1", "14,50"]
    assert rows[3][5] == ""


def test_canvas_column_by_full_name_id_or_prefix():
    gradebook = read_gradebook(LMS / "canvas_gradebook_manual_posting.csv")
    late = "Adam vs. SGD with momentum: late resubmission (2002)"
    assert choose_column(gradebook, "Adam vs. SGD with momentum (2001)") == "Adam vs. SGD with momentum (2001)"
    assert choose_column(gradebook, "2002") == late
    assert choose_column(gradebook, "adam vs. sgd with momentum: late") == late


def test_canvas_ambiguous_or_missing_column_fails_listing_candidates():
    gradebook = read_gradebook(LMS / "canvas_gradebook_manual_posting.csv")
    with pytest.raises(CanvasError) as error:
        choose_column(gradebook, None)
    assert "Adam vs. SGD with momentum (2001)" in str(error.value)
    assert "late resubmission (2002)" in str(error.value) and "--canvas-column" in str(error.value)
    with pytest.raises(CanvasError, match=r"Homework 1: Linear regression \(2000\)"):
        choose_column(gradebook, "Project")


def test_canvas_read_only_columns_are_not_candidates():
    text = (LMS / "canvas_gradebook.csv").read_text(encoding="utf-8")
    gradebook = parse_gradebook(text.replace("Current Points", "Adam vs. totals (9)"))
    assert choose_column(gradebook, None) == "Adam vs. SGD with momentum (101240)"


def test_canvas_rejects_a_file_that_is_not_a_gradebook(tmp_path):
    with pytest.raises(CanvasError, match="does not look like a Canvas gradebook"):
        parse_gradebook("name,score\nada,3\n")
    (tmp_path / "latin1.csv").write_bytes("Student,ID,SIS Login ID,Section\nGau\xdf,1,g,A\n".encode("latin-1"))
    with pytest.raises(CanvasError, match="not UTF-8"):
        read_gradebook(tmp_path / "latin1.csv")


def test_canvas_export_writes_import_and_unmatched_files(tmp_path, reports):
    options = {"canvas": {"gradebook": LMS / "canvas_gradebook.csv", "column": None}}
    write_exports(tmp_path, reports, RUBRIC, options)
    imported = _table((tmp_path / "canvas_import.csv").read_text(encoding="utf-8"))
    assert imported[0] == _table((LMS / "canvas_gradebook.csv").read_text(encoding="utf-8"))[0]
    unmatched = (tmp_path / "canvas_unmatched.txt").read_text(encoding="utf-8")
    assert "Noether, Emmy" in unmatched and "nobody" in unmatched and "broken" in unmatched
    assert "Student, Test" not in unmatched
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "Canvas gradebook import" in summary and "Noether, Emmy" in summary


def test_canvas_warns_when_points_possible_differs_from_the_rubric(tmp_path, reports):
    options = {"canvas": {"gradebook": LMS / "canvas_gradebook.csv", "column": "Homework 1"}}
    write_exports(tmp_path, reports, RUBRIC, options)
    assert "WARNING" in (tmp_path / "canvas_unmatched.txt").read_text(encoding="utf-8")


def test_no_canvas_files_without_a_gradebook(tmp_path, reports):
    write_exports(tmp_path, reports, RUBRIC, {})
    assert not (tmp_path / "canvas_import.csv").exists()


@pytest.mark.parametrize("name, user", [
    ("lastfirst_12345_67890_adam_vs_momentum.py", "12345"),
    ("lastfirst_LATE_12345_67890_adam_vs_momentum-1.py", "12345"),
    ("lovelaceada_51234_990011_adam_vs_momentum.ipynb", "51234"),
    ("submissions/turingalan_51235_990012_adam_vs_momentum.py", "51235"),
    ("gaußcarlfriedrich_9901_1_adam_vs_momentum.py", "9901"),
    ("adam_vs_momentum.py", None),
    ("alice.py", None),
    ("lastfirst_12345_adam_vs_momentum.py", None),
    ("anon_x7k2p_67890_adam_vs_momentum.py", None),
    ("LATE_anon_12345_67890_adam_vs_momentum.py", None),
])
def test_canvas_student_of_download_file_names(name, user):
    assert canvas_student_of(name) == user


# ---------------------------------------------------------------------------
# Moodle
# ---------------------------------------------------------------------------

def test_moodle_import_keyed_by_roster_identifier(tmp_path, reports):
    roster = read_roster(LMS / "moodle_roster.csv", "email")
    gradable, ungradable = split_ungradable(reports)
    result = moodle_import(gradable, identifier="email", title=RUBRIC.title, roster=roster,
                           ungradable=[r.student for r in ungradable])
    rows = _table(result.text)
    assert rows[0] == ["Email address", "Adam vs. SGD with momentum", "Feedback: Adam vs. SGD with momentum"]
    assert all(len(row) == 3 for row in rows)
    assert [row[:2] for row in rows[1:]] == [["ada.lovelace@example.edu", "15"]]
    assert result.not_in_roster == ("51236", "nobody", "s1002")
    assert result.ungradable == ("broken",)


def test_moodle_feedback_is_plain_text_with_parts_and_misconceptions(reports):
    text = feedback_text(reports[1], RUBRIC.title)
    assert text.startswith("Adam vs. SGD with momentum: 13.5 / 15 points.")
    assert "Part 1 (The first two Adam updates in closed form): 4.5 / 6 (partial: 1c; failed: 1f)." in text
    assert "Part 2 (Compared with momentum SGD): 5 / 5." in text
    assert CATALOGUE["stale_moments_in_w3"].title in text
    assert not any(mark in text for mark in ("**", "|", "<", "`"))
    assert "(every item not attempted)" in feedback_text(make_report("x", default="not_attempted"), "T")


def test_moodle_without_configuration_uses_student_ids_and_says_so(tmp_path, reports):
    write_exports(tmp_path, reports, RUBRIC, {})
    rows = _table((tmp_path / "moodle_import.csv").read_text(encoding="utf-8"))
    assert rows[0][0] == "Student ID"
    assert [row[0] for row in rows[1:]] == ["51236", "alovelace", "nobody", "s1002"]
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "holds the grader's student ids" in summary
    assert "broken" in (tmp_path / "moodle_unmatched.txt").read_text(encoding="utf-8")


def test_moodle_identifier_without_roster_says_ids_are_not_moodle_identifiers(tmp_path, reports):
    write_exports(tmp_path, reports, RUBRIC, {"moodle": {"identifier": "username", "roster": None}})
    rows = _table((tmp_path / "moodle_import.csv").read_text(encoding="utf-8"))
    assert rows[0][0] == "Username" and rows[1][0] == "51236"
    assert "No roster was given" in (tmp_path / "moodle_unmatched.txt").read_text(encoding="utf-8")


def test_moodle_roster_problems_are_clear_errors(tmp_path):
    (tmp_path / "bad.csv").write_text("id,mail\nada,a@example.edu\n")
    with pytest.raises(MoodleError, match="student_id,email"):
        read_roster(tmp_path / "bad.csv", "email")
    with pytest.raises(MoodleError, match="needs an identifier"):
        validate_exports({"moodle": {"identifier": None, "roster": LMS / "moodle_roster.csv"}})


# ---------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------

def test_every_exporter_is_registered_and_the_summary_runs_last():
    assert list(EXPORTERS) == ["gradescope", "canvas", "moodle", "summary"]


def test_bad_export_options_fail_before_grading():
    with pytest.raises(CanvasError, match="2 assignment columns"):
        validate_exports({"canvas": {"gradebook": LMS / "canvas_gradebook_manual_posting.csv"}})
    with pytest.raises(CanvasError, match="cannot read"):
        validate_exports({"canvas": {"gradebook": LMS / "missing.csv"}})
    validate_exports({"canvas": {"gradebook": LMS / "canvas_gradebook.csv"},
                      "moodle": {"identifier": "email", "roster": LMS / "moodle_roster.csv"}})


def test_a_failing_exporter_does_not_stop_the_others(tmp_path, reports):
    gradebook = tmp_path / "gradebook.csv"
    gradebook.write_text("not a gradebook\n")
    out = tmp_path / "out"
    with pytest.raises(GraderError, match="canvas export"):
        write_exports(out, reports, RUBRIC, {"canvas": {"gradebook": gradebook}})
    assert (out / "moodle_import.csv").exists() and (out / "gradescope" / "alovelace" / "results.json").exists()
    assert "The canvas export failed" in (out / "summary.md").read_text(encoding="utf-8")


def test_exports_never_write_outside_the_output_folder(tmp_path):
    with pytest.raises(ValueError, match="outside"):
        write_file(tmp_path / "out", "../escape.txt", "x")
    assert not (tmp_path / "escape.txt").exists()


# ---------------------------------------------------------------------------
# Moodle: identifiers are matched exactly, so they are never formula-escaped
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("identifier,value", [
    ("idnumber", "-0042x"), ("idnumber", "+44-0042"), ("idnumber", "=A1"), ("idnumber", "-0042"),
    ("username", "-ann"), ("username", "@ann"), ("username", "+ann"),
    ("email", "+ann@example.edu"), ("email", "-ann@example.edu"), ("email", "=ann@example.edu"),
])
def test_moodle_identifier_is_written_exactly_as_the_roster_has_it(tmp_path, identifier, value):
    # Moodle's importer looks the cell up as it is (only trimmed): "'-ann" matches no user.
    roster_file = tmp_path / "roster.csv"
    with roster_file.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["student_id", identifier], ["alovelace", value]])
    result = moodle_import([make_report("alovelace")], identifier=identifier, title=RUBRIC.title,
                           roster=read_roster(roster_file, identifier))
    rows = _table(result.text)
    assert rows[1][0] == value
    assert result.rows == (("alovelace", value),)
    assert float(rows[1][1]) == 15.0


def test_moodle_feedback_and_header_stay_escaped_next_to_a_verbatim_identifier():
    note = "=HYPERLINK(\"http://e.invalid\") <img src=x> in -cmd.py"
    result = moodle_import([make_report("s0", notes=(note,))], identifier="username", title="-Quiz (1)",
                           roster={"s0": "-ann"})
    rows = _table(result.text)
    assert rows[0] == ["Username", "'-Quiz (1)", "Feedback: -Quiz (1)"]
    assert rows[1][0] == "-ann"
    assert rows[1][1] == "15"
    assert rows[1][2].startswith("'-Quiz (1): 15 / 15 points.")
    assert "&lt;img src=x&gt;" in rows[1][2] and "<img" not in rows[1][2]


def test_moodle_export_keeps_a_participants_download_identifier_and_warns(tmp_path):
    participants = tmp_path / "participants.csv"
    participants.write_text("First name,Last name,ID number,Email address\n"
                            "Ada,Lovelace,-0042x,ada.lovelace@example.edu\n"
                            "Alan,Turing,T-7,alan.turing@example.edu\n", encoding="utf-8")
    out = tmp_path / "out"
    write_exports(out, [make_report("ada.lovelace"), make_report("alan.turing")], RUBRIC,
                  {"moodle": {"identifier": "idnumber", "roster": participants}})
    rows = _table((out / "moodle_import.csv").read_text(encoding="utf-8"))
    assert [row[0] for row in rows] == ["ID number", "-0042x", "T-7"]
    unmatched = (out / "moodle_unmatched.txt").read_text(encoding="utf-8")
    assert '1 identifier(s) in "ID number" start with =, +, - or @ (-0042x)' in unmatched
    assert "written exactly as given" in (out / "summary.md").read_text(encoding="utf-8")


def test_moodle_export_without_formula_like_identifiers_does_not_warn(tmp_path, reports):
    write_exports(tmp_path, reports, RUBRIC, {"moodle": {"identifier": "email", "roster": LMS / "moodle_roster.csv"}})
    assert "written exactly as given" not in (tmp_path / "moodle_unmatched.txt").read_text(encoding="utf-8")


def test_a_rerun_without_a_gradebook_removes_the_canvas_files_of_the_earlier_run(tmp_path, reports):
    """canvas_import.csv holds the grades of the run that wrote it: a later run into the same
    folder without --canvas-gradebook (after a resubmission, a deleted input) removes it and
    says so, rather than leave last week's grades ready to import."""
    options = {"canvas": {"gradebook": LMS / "canvas_gradebook.csv", "column": None}}
    write_exports(tmp_path, reports, RUBRIC, options)
    assert (tmp_path / "canvas_import.csv").is_file() and (tmp_path / "canvas_unmatched.txt").is_file()
    notices = write_exports(tmp_path, reports[:1], RUBRIC, {})
    assert not (tmp_path / "canvas_import.csv").exists() and not (tmp_path / "canvas_unmatched.txt").exists()
    said = " ".join(line for notice in notices for line in notice.lines)
    assert "Removed canvas_import.csv and canvas_unmatched.txt of an earlier run" in said
    assert "Removed canvas\\_import.csv" in (tmp_path / "summary.md").read_text(encoding="utf-8")  # Markdown-escaped
    assert not [n for n in write_exports(tmp_path, reports[:1], RUBRIC, {}) if n.source == "canvas"]


# ---------------------------------------------------------------------------
# Moodle: two submissions of one user
# ---------------------------------------------------------------------------

def test_moodle_two_submissions_mapped_to_one_user_are_both_left_out_and_listed(tmp_path):
    """Moodle reads the rows in order: two rows for Ada (``ada.py`` and ``20190001.py``, her ID
    number) would give her whichever sorts last. As the Canvas export: neither is exported."""
    participants = tmp_path / "participants.csv"
    participants.write_text("First name,Last name,ID number,Email address\n"
                            "Ada,Lovelace,20190001,ada@uni.edu\nAlan,Turing,20190002,alan@uni.edu\n"
                            "Grace,Hopper,20190003,grace@uni.edu\n", encoding="utf-8")
    out = tmp_path / "out"
    notices = write_exports(out, [make_report("ada"), make_report("20190001", default="failed"),
                                  make_report("alan")], RUBRIC,
                            {"moodle": {"identifier": "email", "roster": participants}})
    rows = _table((out / "moodle_import.csv").read_text(encoding="utf-8"))
    assert [row[0] for row in rows[1:]] == ["alan@uni.edu"]
    unmatched = (out / "moodle_unmatched.txt").read_text(encoding="utf-8")
    assert "  20190001 (same student as ada; ada@uni.edu)\n  ada (same student as 20190001; ada@uni.edu)\n" in unmatched
    without = unmatched.split("without a submission")[1].split("\n\n")[0]
    assert "Grace Hopper" in without and "Ada" not in without  # she has two submissions, not none
    status = next(n.status for n in notices if n.source == "moodle")
    assert "1 row(s) matched in the roster" in status
    assert "2 submission(s) left out as the same student as another (20190001 and ada: ada@uni.edu)" in status
    assert status.endswith("(see moodle_unmatched.txt)")
    # e-mails differing in case only are one Moodle user too
    result = moodle_import([make_report("ann"), make_report("ann2"), make_report("bob")], identifier="email",
                           title="T", roster={"ann": "ann@uni.edu", "ann2": "ANN@uni.edu", "bob": "bob@uni.edu"})
    assert result.rows == (("bob", "bob@uni.edu"),)
    assert result.ambiguous == ("ann (same student as ann2; ann@uni.edu)", "ann2 (same student as ann; ann@uni.edu)")


def test_a_hand_made_moodle_roster_giving_one_identifier_to_two_students_is_refused(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,email\nada,ada@uni.edu\n20190001,Ada@uni.edu\n", encoding="utf-8")
    with pytest.raises(MoodleError, match=r"gives the email 'Ada@uni.edu' to two students \(ada and 20190001; "
                                          r"lines 2 and 3\)"):
        read_roster(roster, "email")
    with pytest.raises(MoodleError, match="to two students"):  # before grading starts
        validate_exports({"moodle": {"identifier": "email", "roster": roster}})
    # one student listed twice with the same identifier is one mapping, as before
    roster.write_text("student_id,email\nada,ada@uni.edu\nAda,ada@uni.edu\nalan,alan@uni.edu\n", encoding="utf-8")
    assert read_roster(roster, "email") == {"ada": "ada@uni.edu", "alan": "alan@uni.edu"}


def test_a_moodle_download_is_matched_on_the_full_name_its_folders_carry(tmp_path):
    """Moodle's "Download all submissions" names each folder "Full Name_<participant>_assignsubmission_file_",
    and no participants download holds that participant number: the full name is matched
    instead (a name two participants share matches nobody, and is listed)."""
    from grader.intake.names import moodle_download_name, student_id

    assert moodle_download_name(student_id("Ada Lovelace_123_assignsubmission_file_")) == "Ada_Lovelace"
    assert moodle_download_name("ada") is None and moodle_download_name("x_12_file") is None
    participants = tmp_path / "participants.csv"
    participants.write_text("First name,Last name,ID number,Email address\n"
                            "Ada,Lovelace,20190001,ada@uni.edu\nAlan,Turing,20190002,alan@uni.edu\n"
                            "John,Smith,20190003,john1@uni.edu\nJohn,Smith,20190004,john2@uni.edu\n",
                            encoding="utf-8")
    out = tmp_path / "out"
    students = [student_id(f"{name}_{n}_assignsubmission_file_")
                for n, name in ((11, "Ada Lovelace"), (12, "Alan Turing"), (13, "John Smith"))]
    notices = write_exports(out, [make_report(s) for s in students], RUBRIC,
                            {"moodle": {"identifier": "email", "roster": participants}})
    rows = _table((out / "moodle_import.csv").read_text(encoding="utf-8"))
    assert [row[0] for row in rows[1:]] == ["ada@uni.edu", "alan@uni.edu"]
    unmatched = (out / "moodle_unmatched.txt").read_text(encoding="utf-8")
    assert "John_Smith_13_assignsubmission_file" in unmatched.split("not in the roster")[1].split("\n\n")[0]
    status = next(n.status for n in notices if n.source == "moodle")
    assert "2 row(s) matched in the roster, 1 submission(s) not in it" in status
