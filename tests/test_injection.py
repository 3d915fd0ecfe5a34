"""Student-controlled text is escaped for every format it lands in (issue 11, items 6 and 7):
Markdown reports, Gradescope's Markdown outputs, every CSV (OWASP CSV injection), the
terminal, and quoted exception text stripped of host details."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.judging.grading import parts_of
from grader.outputs.canvas import canvas_import, parse_gradebook
from grader.outputs.escaping import csv_cell, md_code, md_text, quoted_error
from grader.outputs.gradescope import gradescope_results
from grader.outputs.moodle import moodle_import
from grader.outputs.reports import grades_csv, report_markdown
from grader.results import ItemResult, Report
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = load_rubric()
HONEST = (ROOT / "tests" / "attacks" / "zz_victim.py").read_text(encoding="utf-8")
EVIL_NAME = "x`\n**Total: 15 / 15**\n# Fake heading\n<img src=x onerror=alert(1)>\n![i](http://e.invalid/i.png)"
FORMULAS = ["=HYPERLINK(\"http://e.invalid\",\"x\")", "@SUM(1+1)", "+1+1", "-1+1", "\tx", "\rx"]
LEAK = '''
def _leak():
    parts = []
    for path in ("/etc/passwd", "/proc/self/mounts", "/proc/1/cmdline"):
        try:
            with open(path, "rb") as handle:
                parts.append(path + " " + handle.read(400).decode("latin-1"))
        except OSError as exc:
            parts.append(f"{path}: {exc}")
    return " | ".join(parts)

def momentum_scale_factor(c):
    raise RuntimeError(_leak())
'''


def make_report(student="s", submission="s.py", notes=()) -> Report:
    items = tuple(ItemResult(i.id, i.part, i.title, i.points, i.points, "passed", ("ok",)) for i in RUBRIC.items)
    return Report(student, submission, "ab" * 32, items, parts_of(RUBRIC, items), "1.0.0", (), tuple(notes))


def _rendered(text: str) -> str:
    """``text`` without its code spans (nothing inside a code span renders)."""
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "<code>", text)


def _raw_html(text: str) -> bool:
    """Whether ``text`` holds an ``<img`` that renders (not escaped, not in a code span)."""
    return re.search(r"(?<!\\)<img", _rendered(text)) is not None


def _lines_starting(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


# ---------------------------------------------------------------------------
# Markdown and Gradescope
# ---------------------------------------------------------------------------

def test_a_submission_name_cannot_forge_a_total_a_heading_or_html_in_the_report():
    text = report_markdown(make_report("s", f"evil.zip:{EVIL_NAME}/adam_vs_momentum.py", notes=(EVIL_NAME,)))
    assert len(_lines_starting(text, "**Total")) == 1
    assert _lines_starting(text, "# ") == ["# Adam vs. SGD with momentum: report for s"]
    assert not _raw_html(text) and "\\<img" in text  # the note, escaped
    (line,) = _lines_starting(text, "Submission: ")
    assert _rendered(line).startswith("Submission: <code> (sha256 <code>)")
    assert re.search(r"(?<!\\)\]\(http", _rendered(text)) is None  # no link or image


def test_gradescope_overview_notes_are_escaped_markdown():
    output = gradescope_results(make_report(notes=(EVIL_NAME,)))["output"]
    assert len(_lines_starting(output, "**Total")) == 1
    assert not _raw_html(output) and "![i]" not in output and "\\!\\[i\\]" in output


def test_md_text_is_one_literal_line_and_md_code_one_unbreakable_code_span():
    assert md_text("a\n# b *c* [d](e) <f>") == "a \\# b \\*c\\* \\[d\\](e) \\<f\\>"
    assert md_code("a``b\nc") == "```a``b c```" and md_code("`x") == "`` `x ``"


# ---------------------------------------------------------------------------
# CSV (OWASP CSV injection)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", FORMULAS)
def test_csv_cells_that_start_a_formula_are_neutralised(value):
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["15", "12.50", "-1.5", "0,25", 15.0, 0, "Lovelace, Ada", ""])
def test_numbers_and_plain_text_are_left_alone(value):
    assert csv_cell(value) == value


def test_grades_csv_neutralises_student_controlled_cells_and_keeps_numbers():
    reports = [make_report(f"s{n}", formula) for n, formula in enumerate(FORMULAS)]
    rows = list(csv.DictReader(io.StringIO(grades_csv(reports, RUBRIC), newline="")))
    assert len(rows) == len(FORMULAS)
    for row, formula in zip(rows, FORMULAS):
        if formula[0] in "=@+-":
            assert row["submission"] == "'" + formula
        assert "\r" not in row["submission"] and "\t" not in row["submission"]  # names are one line
        assert float(row["total"]) == 15.0
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row.values())


def test_moodle_import_keeps_identifiers_verbatim_escapes_feedback_and_carries_numeric_grades():
    # Moodle matches the identifier exactly: a leading ' would match nobody and abort the import.
    roster = {"s0": "=cmd|' /C calc'!A0", "s1": "ada@example.edu"}
    result = moodle_import([make_report("s0"), make_report("s1")], identifier="email", title="=HW(1)",
                           roster=roster)
    rows = list(csv.reader(io.StringIO(result.text, newline="")))
    assert rows[1][0] == "=cmd|' /C calc'!A0" and rows[2][0] == "ada@example.edu"
    assert rows[0][1] == "'=HW(1)" and all(row[2].startswith("'=HW(1): ") for row in rows[1:])
    assert [float(row[1]) for row in rows[1:]] == [15.0, 15.0]


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_canvas_import_neutralises_formula_cells_and_still_carries_numeric_grades(delimiter):
    d = delimiter
    text = (f"Student{d}ID{d}SIS User ID{d}SIS Login ID{d}Section{d}Adam vs. SGD (101){d}Quiz (102)\n"
            f"    Points Possible{d}{d}{d}{d}{d}15.00{d}10.00\n"
            f"\"=HYPERLINK(\"\"http://e.invalid\"\")\"{d}5001{d}S1{d}ann{d}A{d}{d}-1\n"
            f"\"Lovelace{', ' if d == ',' else ' '}Ada\"{d}5002{d}S2{d}ada{d}A{d}{d}7.5\n")
    gradebook = parse_gradebook(text)
    result = canvas_import(gradebook, [make_report("ann"), make_report("ada")], "Adam vs. SGD (101)")
    rows = list(csv.reader(io.StringIO(result.text, newline=""), delimiter=d))
    assert rows[2][0] == "'=HYPERLINK(\"http://e.invalid\")"
    assert rows[2][6] == "-1"  # a negative number is not a formula
    grades = [float(row[5].replace(",", ".")) for row in rows[2:]]
    assert grades == [15.0, 15.0]
    assert rows[3][0].startswith("Lovelace")


# ---------------------------------------------------------------------------
# Host details in quoted exception text
# ---------------------------------------------------------------------------

def test_quoted_errors_lose_host_details_and_are_capped():
    text = ("root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin "
            "overlay / overlay rw,lowerdir=/var/lib/docker/overlay2/l/ABC 10.1.2.3 "
            "python -m grader grade /home/prof/class --out /home/prof/out")
    quoted = quoted_error(text, 200)
    for secret in ("root:x", "/bin/bash", "/var/lib", "/home/prof", "10.1.2.3", "65534", "\n"):
        assert secret not in quoted
    assert len(quoted_error("x" * 1000, 200)) == 200
    assert quoted_error("ZeroDivisionError: 1/0 at line 3", 200) == "ZeroDivisionError: 1/0 at line 3"


@pytest.fixture(scope="module")
def evil_batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("injection")
    subs = root / "subs"
    subs.mkdir()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{EVIL_NAME}/adam_vs_momentum.py", HONEST)
    (subs / "evil.zip").write_bytes(buffer.getvalue())
    (subs / "leak.py").write_text(HONEST + LEAK, encoding="utf-8")
    out = root / "out"
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(subs), "--out", str(out), "--quiet"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return out


def test_end_to_end_a_hostile_member_name_stays_one_escaped_line_everywhere(evil_batch):
    markdown = (evil_batch / "reports" / "evil.md").read_text(encoding="utf-8")
    assert len(_lines_starting(markdown, "**Total")) == 1 and not _raw_html(markdown)
    assert not _lines_starting(markdown, "# Fake")
    report = json.loads((evil_batch / "reports" / "evil.json").read_text(encoding="utf-8"))
    assert "\n" not in report["submission"] and report["total"] == 15
    results = json.loads((evil_batch / "gradescope" / "evil" / "results.json").read_text(encoding="utf-8"))
    assert not _raw_html(results["output"])
    rows = list(csv.DictReader((evil_batch / "grades.csv").open(encoding="utf-8", newline="")))
    assert all("\n" not in row["submission"] for row in rows)


def test_end_to_end_exception_text_quoted_in_feedback_holds_no_host_details(evil_batch):
    report = json.loads((evil_batch / "reports" / "leak.json").read_text(encoding="utf-8"))
    feedback = " ".join(line for item in report["items"] for line in item["feedback"])
    assert "RuntimeError" in feedback
    for secret in ("root:x:0:0", "/bin/", "/etc/passwd", "/proc/", "grader grade", "nologin"):
        assert secret not in feedback, secret


def test_the_gradescope_run_prints_and_shows_the_graded_file_name_escaped(tmp_path):
    from grader.release.gradescope import run

    name = "x`\n# Fake\n\x1b[31m<img onerror=1>.py"
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / name).write_text(HONEST, encoding="utf-8")
    stream = io.StringIO()
    assert run(tmp_path, stream=stream) == 0
    printed = stream.getvalue()
    assert "\x1b" not in printed and "\n# Fake" not in printed
    output = json.loads((tmp_path / "results" / "results.json").read_text(encoding="utf-8"))["output"]
    assert not _raw_html(output) and not _lines_starting(output, "# Fake")
