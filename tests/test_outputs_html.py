"""Moodle shows feedback comments as HTML: every student-controlled string in the feedback
column of moodle_import.csv is HTML-escaped, and the grade column stays a plain number
(issue 11, item 6)."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from grader.judging.grading import parts_of
from grader.outputs.escaping import html_text
from grader.outputs.moodle import feedback_text, moodle_import
from grader.results import ItemResult, Report
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = load_rubric()
HONEST = (ROOT / "tests" / "attacks" / "zz_victim.py").read_text(encoding="utf-8")
HTML_NAME = '<img src=x onerror=alert(1)><b>bold</b>&amp;<script>alert(2)</script>"q"'
#: An HTML tag or entity a browser would act on (not escaped as &lt; / &amp;).
RAW_HTML = re.compile(r"<\s*/?\s*(img|b|script|i)\b|&amp;(?!lt;|gt;|amp;)", re.IGNORECASE)


def make_report(student="s", notes=()) -> Report:
    items = tuple(ItemResult(i.id, i.part, i.title, i.points, i.points, "passed", ("ok",)) for i in RUBRIC.items)
    return Report(student, "s.py", "ab" * 32, items, parts_of(RUBRIC, items), "1.0.0", (), tuple(notes))


def test_html_text_is_one_literal_line_of_html():
    assert html_text("a\n<b>&'\"") == "a &lt;b&gt;&amp;'\""


def test_moodle_feedback_escapes_a_note_that_quotes_a_student_file_name():
    text = feedback_text(make_report(notes=(f"Also submitted, not graded: '{HTML_NAME}.py'",)), "HW")
    assert "<img" not in text and "<script" not in text and "<b>" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&amp;amp;" in text  # the student's own '&amp;' shows as written, not as '&'
    assert text.splitlines()[0] == "HW: 15 / 15 points."  # one line per part, as before


def test_moodle_import_keeps_numeric_grades_next_to_escaped_feedback():
    result = moodle_import([make_report("s0", notes=(HTML_NAME,)), make_report("s1")], identifier=None,
                           title="HW")
    rows = list(csv.reader(io.StringIO(result.text, newline="")))
    assert [float(row[1]) for row in rows[1:]] == [15.0, 15.0]
    assert not RAW_HTML.search(rows[1][2]) and "&lt;script&gt;" in rows[1][2]


def test_end_to_end_member_names_in_a_zip_reach_moodle_escaped(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # two candidates, neither the expected name:
        archive.writestr(f"{HTML_NAME}.py", HONEST)  # the note lists both names
        archive.writestr("<b>also</b>.py", "x = 1\n")
    (subs / "eve.zip").write_bytes(buffer.getvalue())
    (subs / "ann.py").write_text(HONEST, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(subs), "--out", str(out), "--quiet",
                          "--workers", "1"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = {row[0]: row for row in csv.reader((out / "moodle_import.csv").open(encoding="utf-8", newline=""))}
    assert float(rows["ann"][1]) == 15.0 and float(rows["eve"][1]) == 0.0
    feedback = rows["eve"][2]
    assert "Note:" in feedback and "onerror" in feedback  # the note is there, quoted
    assert not RAW_HTML.search(feedback), feedback
