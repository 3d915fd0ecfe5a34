"""Instructor overrides: a plain CSV file, checked, applied over every rerun and every export."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from grader.cli import main
from grader.errors import OverrideError
from grader.judging.grading import parts_of
from grader.overrides import (Override, apply_overrides, automatic_item, changed_since, load_overrides, overrides_text,
                              parse_overrides, with_override, without_override)
from grader.outputs.reports import report_from_dict, report_markdown, report_to_dict
from grader.results import ItemResult, Report
from grader.rubric import load_rubric

RUBRIC = load_rubric()
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "submissions"


def make_report(student: str = "alice", status: str = "failed") -> Report:
    items = tuple(ItemResult(i.id, i.part, i.title, i.points if status == "passed" else 0.0, i.points,
                             status, (f"{i.id} feedback",)) for i in RUBRIC.items)
    return Report(student, f"{student}.py", "0" * 64, items, parts_of(RUBRIC, items), "1.0.0")


def test_override_replaces_points_and_keeps_the_automatic_verdict_beside_it():
    report = apply_overrides(make_report(), [Override("alice", "1f", 1.0, "derivation accepted by hand")])
    item = next(i for i in report.items if i.id == "1f")
    assert (item.points, item.status) == (1.0, "passed")
    assert (item.adjustment.automatic_points, item.adjustment.automatic_status) == (0.0, "failed")
    assert item.feedback == ("1f feedback",)
    assert report.total == 1.0
    assert next(p for p in report.parts if p.id == "1").points == 1.0


def test_removing_an_override_restores_the_automatic_verdict():
    adjusted = apply_overrides(make_report(), [Override("alice", "1f", 1.0, "why")])
    assert apply_overrides(adjusted, []) == make_report()


def test_overrides_of_other_students_and_of_ungradable_reports_change_nothing():
    report = make_report()
    assert apply_overrides(report, [Override("bob", "1f", 1.0, "why")]) is report
    ungradable = make_report(status="ungradable")
    assert apply_overrides(ungradable, [Override("alice", "1f", 1.0, "why")]) == ungradable


def test_lowering_a_passed_item_marks_it_partial_or_failed():
    report = apply_overrides(make_report(status="passed"),
                             [Override("alice", "1a", 0.5, "integrity"), Override("alice", "1b", 0, "integrity")])
    items = {i.id: i for i in report.items}
    assert (items["1a"].status, items["1b"].status) == ("partial", "failed")
    assert report.total == 13.5
    assert automatic_item(items["1a"]).status == "passed"


@pytest.mark.parametrize("row, message", [
    ("alice,1z,1,why", "no rubric item '1z'"),
    ("alice,1f,1.5,why", "0 to 1 points"),
    ("alice,1f,-0.5,why", "0 to 1 points"),
    ("alice,1f,nan,why", "finite"),
    ("alice,1f,one,why", "must be a number"),
    ("alice,1f,1,", "needs a reason"),
    ("alice,1f", "expected student,item,points,reason"),
])
def test_bad_overrides_are_errors_that_name_the_line(row, message):
    with pytest.raises(OverrideError, match=message) as error:
        parse_overrides(f"student,item,points,reason\n{row}\n", RUBRIC)
    assert "line 2" in str(error.value)


def test_the_same_item_twice_and_a_wrong_header_are_errors():
    with pytest.raises(OverrideError, match="twice"):
        parse_overrides("student,item,points,reason\nalice,1f,1,a\nalice,1f,0,b\n", RUBRIC)
    with pytest.raises(OverrideError, match="header"):
        parse_overrides("who,what\nalice,1f\n", RUBRIC)


def test_the_file_is_sorted_plain_csv_that_round_trips():
    overrides = with_override((), Override("zoe", "1a", 0.5, "b"))
    overrides = with_override(overrides, Override("alice", "3b.concepts", 1, "regrade, accepted"))
    overrides = with_override(overrides, Override("alice", "1f", 0.25, "first"))
    overrides = with_override(overrides, Override("alice", "1f", 1, "second thoughts"))
    text = overrides_text(overrides, RUBRIC)
    assert text == ("student,item,points,reason\nalice,1f,1,second thoughts\n"
                    'alice,3b.concepts,1,"regrade, accepted"\nzoe,1a,0.5,b\n')
    assert overrides_text(parse_overrides(text, RUBRIC), RUBRIC) == text
    assert len(without_override(overrides, "zoe", "1a")) == 2
    with pytest.raises(OverrideError):
        without_override(overrides, "zoe", "1f")


def test_two_files_that_disagree_on_one_item_are_an_error(tmp_path):
    (tmp_path / "a.csv").write_text("student,item,points,reason\nalice,1f,1,a\n")
    (tmp_path / "b.csv").write_text("student,item,points,reason\nalice,1f,0,b\n")
    (tmp_path / "c.csv").write_text("student,item,points,reason\nalice,1f,1,a\nbob,1a,1,c\n")
    with pytest.raises(OverrideError, match="differently"):
        load_overrides([tmp_path / "a.csv", tmp_path / "b.csv"], RUBRIC)
    assert len(load_overrides([tmp_path / "a.csv", tmp_path / "c.csv", tmp_path / "absent.csv"], RUBRIC)) == 2


def test_the_report_json_and_markdown_show_the_adjustment_beside_the_verdict():
    report = apply_overrides(make_report(), [Override("alice", "1f", 1.0, "derivation *accepted*")])
    data = report_to_dict(report)
    item = next(i for i in data["items"] if i["id"] == "1f")
    assert item["points"] == 1 and item["status"] == "passed"
    assert item["adjustment"] == {"automatic_points": 0, "automatic_status": "failed",
                                  "reason": "derivation *accepted*"}
    assert "adjustment" not in next(i for i in data["items"] if i["id"] == "1a")
    assert report_from_dict(json.loads(json.dumps(data))) == report
    text = report_markdown(report)
    assert "(1 / 1, passed, instructor adjustment)" in text
    assert ("**Instructor adjustment:** 1 / 1 (automatic verdict: 0 / 1, failed). "
            "Reason: derivation \\*accepted\\*") in text


# ---------------------------------------------------------------------------
# Through the command line, on a real batch
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("overrides")
    subs = root / "subs"
    subs.mkdir()
    for name in ("bob_partly_wrong.py", "eli_syntax_error.py"):
        shutil.copy(EXAMPLES / name, subs / name)
    out = root / "out"
    assert main(["grade", str(subs), "--out", str(out), "--quiet", "--workers", "1"]) == 0
    return subs, out


def _rows(path: Path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row[next(iter(row))]: row for row in csv.DictReader(handle)}


def test_override_command_validates_records_and_lists(graded, capsys, tmp_path):
    subs, out = graded
    target = tmp_path / "out"
    shutil.copytree(out, target)
    assert main(["override", str(target), "bob_partly_wrong", "1z", "1", "--why", "x"]) == 2
    assert "no rubric item '1z'" in capsys.readouterr().err
    assert main(["override", str(target), "bob_partly_wrong", "1f", "2", "--why", "x"]) == 2
    assert "0 to 1 points" in capsys.readouterr().err
    assert main(["override", str(target), "bobby", "1f", "1", "--why", "x"]) == 2
    assert "bob_partly_wrong" in capsys.readouterr().err  # the known students are listed
    assert main(["override", str(target), "bob_partly_wrong", "1f", "1"]) == 2
    assert "--why" in capsys.readouterr().err
    assert not (target / "overrides.csv").exists()
    assert main(["override", str(target), "bob_partly_wrong", "1f", "1", "--why", "derivation accepted"]) == 0
    assert "the grader gave 0.5 / 1 (partial)" in capsys.readouterr().out
    sha = json.loads((target / "reports" / "bob_partly_wrong.json").read_text())["sha256"]
    assert (target / "overrides.csv").read_text() == \
        f"student,item,points,reason,sha256\nbob_partly_wrong,1f,1,derivation accepted,{sha}\n"
    assert main(["overrides", str(target)]) == 0
    listing = capsys.readouterr().out
    assert "bob_partly_wrong" in listing and "0.5 (partial)" in listing and "derivation accepted" in listing
    assert main(["override", str(target), "bob_partly_wrong", "1f", "--remove"]) == 0
    assert (target / "overrides.csv").read_text() == "student,item,points,reason\n"


def test_an_override_flows_into_every_export_and_survives_reruns(graded, tmp_path, capsys):
    subs, out = graded
    target = tmp_path / "out"
    shutil.copytree(out, target)
    before = _rows(target / "grades.csv")["bob_partly_wrong"]
    assert main(["override", str(target), "bob_partly_wrong", "1f", "1", "--why", "derivation accepted"]) == 0
    assert main(["override", str(target), "eli_syntax_error", "1a", "0.5", "--why", "m1 right on paper"]) == 0
    for _ in range(2):  # the second run reuses every report and keeps the overrides
        assert main(["grade", str(subs), "--out", str(target), "--quiet", "--workers", "1"]) == 0
        report = json.loads((target / "reports" / "bob_partly_wrong.json").read_text())
        item = next(i for i in report["items"] if i["id"] == "1f")
        assert item["points"] == 1 and item["adjustment"]["automatic_points"] == 0.5
        assert report["total"] == float(before["total"]) + 0.5
        assert "instructor adjustment" in (target / "reports" / "bob_partly_wrong.md").read_text()
        rows = _rows(target / "grades.csv")
        assert float(rows["bob_partly_wrong"]["total"]) == float(before["total"]) + 0.5
        assert rows["bob_partly_wrong"]["1f"] == "1" and rows["bob_partly_wrong"]["overridden"] == "1f"
        assert rows["eli_syntax_error"]["total"] == "0.5"
        gradescope = json.loads((target / "gradescope" / "bob_partly_wrong" / "results.json").read_text())
        assert gradescope["score"] == float(before["total"]) + 0.5
        assert "Instructor adjustment" in next(t for t in gradescope["tests"] if t["number"] == "1f")["output"]
        moodle = _rows(target / "moodle_import.csv")["bob_partly_wrong"]
        assert float(moodle[next(k for k in moodle if k.startswith("Adam"))]) == float(before["total"]) + 0.5
        assert "Instructor adjustment, 1f" in moodle[next(k for k in moodle if k.startswith("Feedback"))]
        summary = (target / "summary.md").read_text()
        assert "derivation accepted" in summary
    assert "reused 2" in capsys.readouterr().out
    # Deleting the file undoes the overrides on the next run.
    (target / "overrides.csv").unlink()
    assert main(["grade", str(subs), "--out", str(target), "--quiet", "--workers", "1"]) == 0
    assert (target / "reports" / "bob_partly_wrong.json").read_bytes() == \
        (out / "reports" / "bob_partly_wrong.json").read_bytes()
    assert (target / "grades.csv").read_bytes() == (out / "grades.csv").read_bytes()


def test_an_overrides_file_kept_elsewhere_is_applied_and_checked_before_grading(graded, tmp_path, capsys):
    subs, out = graded
    target = tmp_path / "out"
    shutil.copytree(out, target)
    kept = tmp_path / "course" / "overrides.csv"
    kept.parent.mkdir()
    assert main(["override", str(kept), "bob_partly_wrong", "1f", "1", "--why", "regrade request"]) == 0
    assert not (target / "overrides.csv").exists()
    assert main(["grade", str(subs), "--out", str(target), "--quiet", "--overrides", str(kept)]) == 0
    assert _rows(target / "grades.csv")["bob_partly_wrong"]["overridden"] == "1f"
    kept.write_text("student,item,points,reason\nbob_partly_wrong,1f,7,oops\n")
    capsys.readouterr()
    assert main(["grade", str(subs), "--out", str(target), "--quiet", "--overrides", str(kept)]) == 2
    assert "line 2" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# An override belongs to the submission it was made for (its sha256)
# ---------------------------------------------------------------------------

def test_an_override_made_for_another_submission_is_not_applied_and_is_listed():
    report = make_report()
    stale = Override("alice", "1f", 1.0, "derivation accepted", "1" * 64)
    assert apply_overrides(report, [stale]) == report
    adjusted = apply_overrides(report, [Override("alice", "1f", 1.0, "derivation accepted", "0" * 64)])
    assert next(i for i in adjusted.items if i.id == "1f").points == 1.0
    # a report adjusted for the earlier submission gets its automatic verdict back
    assert apply_overrides(dataclasses.replace(adjusted, sha256="2" * 64), [stale]) == \
        dataclasses.replace(report, sha256="2" * 64)
    assert changed_since([stale], [report]) == (
        "alice 1f (1 points: derivation accepted): not applied: the submission changed since the override "
        "was made (made for sha256 111111111111, now 000000000000); re-check it and run `grader override` again",)
    assert changed_since([stale], [make_report(status="ungradable")]) == ()  # listed as unused instead
    assert changed_since([Override("alice", "1f", 1.0, "by hand")], [report]) == ()


def test_the_sha256_column_is_optional_and_round_trips():
    sha = "ab" * 32
    overrides = (Override("alice", "1f", 1, "a, b", sha), Override("bob", "1a", 0.5, "by hand"))
    text = overrides_text(overrides, RUBRIC)
    assert text == f'student,item,points,reason,sha256\nalice,1f,1,"a, b",{sha}\nbob,1a,0.5,by hand,\n'
    assert parse_overrides(text, RUBRIC) == overrides
    assert overrides_text(parse_overrides(text, RUBRIC), RUBRIC) == text
    # rows added by hand to such a file, without the column (an unquoted comma in the reason too)
    assert parse_overrides(f"student,item,points,reason,sha256\nbob,1a,0.5,x, y\nalice,1f,1,z,{sha.upper()}\n",
                           RUBRIC) == (Override("alice", "1f", 1, "z", sha), Override("bob", "1a", 0.5, "x, y"))
    with pytest.raises(OverrideError, match="line 2.*64 hexadecimal digits"):
        parse_overrides("student,item,points,reason,sha256\nalice,1f,1,z,abcdef0123\n", RUBRIC)
    # the four-column format is unchanged, commas in the reason included
    assert parse_overrides("student,item,points,reason\nalice,1f,1,a, b\n", RUBRIC) == \
        (Override("alice", "1f", 1, "a, b"),)


@pytest.fixture(scope="module")
def graded_for_resubmission(tmp_path_factory):
    """alice and bob graded once for the module (the tests below work on copies)."""
    root = tmp_path_factory.mktemp("resubmitting")
    subs = root / "subs"
    subs.mkdir()
    for name in ("alice_correct.py", "bob_partly_wrong.py"):
        shutil.copy(EXAMPLES / name, subs / name)
    out = root / "out"
    assert main(["grade", str(subs), "--out", str(out), "--quiet", "--workers", "1"]) == 0
    return subs, out


@pytest.fixture
def resubmitting(graded_for_resubmission, tmp_path):
    """A fresh copy of that batch and its output folder, as if just graded: a grade into it
    reuses every report (they are reused by the submission's sha256, not by path)."""
    subs, out = (shutil.copytree(folder, tmp_path / folder.name) for folder in graded_for_resubmission)
    return subs, out


def _item(out: Path, student: str, item: str) -> dict:
    report = json.loads((out / "reports" / f"{student}.json").read_text())
    return report, next(i for i in report["items"] if i["id"] == item)


def test_an_override_does_not_outlive_a_resubmission(resubmitting, capsys):
    subs, out = resubmitting
    automatic, item = _item(out, "bob_partly_wrong", "1b")
    assert item["points"] == 0
    assert main(["override", str(out), "bob_partly_wrong", "1b", "0.75", "--why", "accepted by hand"]) == 0
    assert automatic["sha256"] in (out / "overrides.csv").read_text()
    assert main(["grade", str(subs), "--out", str(out), "--quiet", "--workers", "1"]) == 0
    report, item = _item(out, "bob_partly_wrong", "1b")
    assert item["points"] == 0.75 and report["total"] == automatic["total"] + 0.75
    capsys.readouterr()
    # bob resubmits: now a fully correct file
    shutil.copy(EXAMPLES / "alice_correct.py", subs / "bob_partly_wrong.py")
    assert main(["grade", str(subs), "--out", str(out), "--quiet", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    report, item = _item(out, "bob_partly_wrong", "1b")
    assert report["sha256"] != automatic["sha256"]
    assert (item["points"], item["status"]) == (1, "passed") and "adjustment" not in item
    assert report["total"] == report["max_total"] == 15
    assert "instructor adjustment" not in (out / "reports" / "bob_partly_wrong.md").read_text()
    assert _rows(out / "grades.csv")["bob_partly_wrong"]["overridden"] == ""
    message = (f"bob_partly_wrong 1b (0.75 points: accepted by hand): not applied: the submission changed "
               f"since the override was made (made for sha256 {automatic['sha256'][:12]}, now "
               f"{report['sha256'][:12]}); re-check it and run `grader override` again")
    assert "WARNING: 1 instructor override(s) not applied" in printed and message in printed
    assert "not applied: the submission changed since the override was made" in (out / "summary.md").read_text()
    assert main(["overrides", str(out)]) == 0
    assert "not applied: the submission changed" in capsys.readouterr().out
    # the instructor re-checks and records it again: made for the new submission, it applies
    assert main(["override", str(out), "bob_partly_wrong", "1b", "0.75", "--why", "still by hand"]) == 0
    assert main(["grade", str(subs), "--out", str(out), "--quiet", "--workers", "1"]) == 0
    assert "WARNING" not in capsys.readouterr().out
    assert _item(out, "bob_partly_wrong", "1b")[1]["points"] == 0.75


def test_an_unchanged_resubmission_keeps_the_override(resubmitting, capsys):
    subs, out = resubmitting
    automatic, _ = _item(out, "bob_partly_wrong", "1b")
    assert main(["override", str(out), "bob_partly_wrong", "1b", "0.75", "--why", "accepted by hand"]) == 0
    # the same file again (a new copy, a new modification time), regraded from scratch
    (subs / "bob_partly_wrong.py").write_bytes((EXAMPLES / "bob_partly_wrong.py").read_bytes())
    for extra in ([], ["--only", "bob_partly_wrong"]):
        assert main(["grade", str(subs), "--out", str(out), "--quiet", "--workers", "1", *extra]) == 0
        report, item = _item(out, "bob_partly_wrong", "1b")
        assert report["sha256"] == automatic["sha256"]
        assert item["points"] == 0.75 and item["adjustment"]["reason"] == "accepted by hand"
        assert report["total"] == automatic["total"] + 0.75
        assert "WARNING" not in capsys.readouterr().out


def test_an_override_without_a_sha256_applies_to_whatever_is_submitted(resubmitting, capsys):
    subs, out = resubmitting
    (out / "overrides.csv").write_text("student,item,points,reason\nbob_partly_wrong,1b,0.75,accepted by hand\n")
    kept = out.parent / "course.csv"
    assert main(["override", str(kept), "bob_partly_wrong", "1f", "1", "--why", "regrade"]) == 0
    assert kept.read_text() == "student,item,points,reason\nbob_partly_wrong,1f,1,regrade\n"
    assert "applies to whatever bob_partly_wrong submits" in capsys.readouterr().out
    shutil.copy(EXAMPLES / "alice_correct.py", subs / "bob_partly_wrong.py")
    assert main(["grade", str(subs), "--out", str(out), "--quiet", "--workers", "1", "--overrides", str(kept)]) == 0
    assert "WARNING" not in capsys.readouterr().out
    report, item = _item(out, "bob_partly_wrong", "1b")
    assert item["points"] == 0.75 and item["adjustment"]["automatic_points"] == 1
    assert _item(out, "bob_partly_wrong", "1f")[1]["adjustment"]["reason"] == "regrade"
    assert report["total"] == 14.75
