"""The command line and the end of a run: names, help, errors that help, what is printed."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import grader.judging.grading
from grader import batch
from grader.cli import build_parser, main
from grader.outputs.gradescope import VISIBILITIES
from grader.judging.grading import parts_of
from grader.outputs.gradescope import gradescope_results
from grader.outputs.moodle import load_roster
from grader.results import ItemResult, Report
from grader.rubric import load_rubric
from grader.sandbox.isolation import ALL_LAYERS
from grader.sandbox.manager import Isolation

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "submissions"
LMS = Path(__file__).parent / "data" / "lms"
RUBRIC = load_rubric()


def test_each_entry_point_says_its_own_name_in_usage(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.startswith("usage: adam-grader ")
    module = subprocess.run([sys.executable, "-m", "grader", "--help"], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert module.returncode == 0 and module.stdout.startswith("usage: python -m grader ")
    script = Path(sys.executable).with_name("adam-grader")
    if script.exists():  # the installed console script (pip install -e .)
        installed = subprocess.run([str(script), "grade", "--help"], capture_output=True, text=True, timeout=120)
        assert installed.stdout.startswith("usage: adam-grader grade ")


def test_help_explains_the_positional_arguments_and_shows_examples():
    sub = build_parser()._subparsers._group_actions[0].choices
    grade = sub["grade"].format_help()
    assert "SUBMISSION" in grade and "a student's .py or .ipynb file" in grade
    assert "examples:" in grade and "adam-grader grade submissions/ --out out" in grade
    override = sub["override"].format_help()
    assert "adam-grader override out alice 1f 1 --why" in override and "the rubric item id" in override
    assert "examples:" in build_parser().format_help()


def test_only_with_an_unknown_student_lists_the_known_ones(tmp_path, capsys):
    assert main(["grade", str(EXAMPLES), "--out", str(tmp_path / "out"), "--only", "alicee"]) == 2
    err = capsys.readouterr().err
    assert "no submission for --only alicee" in err and "alice_correct, bob_partly_wrong" in err
    assert not (tmp_path / "out" / "reports").exists()


def test_gradescope_bundle_prints_a_summary_and_bakes_in_the_visibility(tmp_path, capsys):
    out = tmp_path / "autograder.zip"
    assert main(["gradescope-bundle", "--out", str(out), "--visibility", "after_due_date"]) == 0
    printed = capsys.readouterr().out
    assert len(printed.strip().splitlines()) == 1 and "grader/" not in printed
    assert "Programming Assignment" in printed and "adam_vs_momentum.py" in printed
    with zipfile.ZipFile(out) as archive:
        script = archive.read("run_autograder").decode()
    assert "--visibility after_due_date" in script
    with pytest.raises(SystemExit):
        main(["gradescope-bundle", "--out", str(out), "--visibility", "public"])


def _isolation(*missing: str) -> Isolation:
    return Isolation(tuple(layer for layer in ALL_LAYERS if layer not in missing), ())


def test_an_ordinary_user_gets_one_line_about_missing_layers():
    text = batch.isolation_warning(_isolation("unprivileged_uid"))
    assert len(text.splitlines()) == 1
    assert "unprivileged_uid" in text and 'README, section "Sandbox"' in text
    text = batch.isolation_warning(_isolation("unprivileged_uid", "no_network", "pid_namespace", "private_mounts"))
    assert len(text.splitlines()) == 1  # Landlock still hides the files: grades are not exposed
    assert batch.isolation_warning(_isolation()) == ""


def test_modes_that_expose_grades_get_the_loud_block():
    text = batch.isolation_warning(_isolation("unprivileged_uid", "private_mounts", "landlock"))
    assert text.count("!" * 78) == 2 and "may read the reference solution" in text
    assert "landlock" in text and "private_mounts" in text
    assert "!" * 78 in batch.isolation_warning(_isolation("no_capabilities"))


def test_no_progress_line_is_drawn_after_interrupted(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(grader.judging.grading, "grade", interrupted)
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("alice_correct.py", "bob_partly_wrong.py"):
        shutil.copy(EXAMPLES / name, subs / name)
    assert main(["grade", str(subs), "--out", str(tmp_path / "out"), "--workers", "1"]) == 130
    err = capsys.readouterr().err
    assert err.rstrip().endswith("interrupted; rerun the same command to resume")
    before, _, after = err.rpartition("interrupted;")
    assert "Grading" not in after
    assert before.split("\r")[-1].strip() == ""  # a bar drawn before was erased, not left half-drawn


# ---------------------------------------------------------------------------
# Gradescope results
# ---------------------------------------------------------------------------

def _report(status: str, feedback: str, notes: tuple[str, ...] = ()) -> Report:
    items = tuple(ItemResult(i.id, i.part, i.title, 0.0, i.points, status, (feedback,)) for i in RUBRIC.items)
    return Report("eli", "eli.py", "0" * 64, items, parts_of(RUBRIC, items), "1.0.0", (), notes)


def test_gradescope_visibility_is_an_option_for_every_test():
    report = _report("failed", "w2 is not right")
    for visibility in VISIBILITIES:
        results = gradescope_results(report, visibility=visibility)
        assert results["visibility"] == visibility
        assert {t["visibility"] for t in results["tests"]} == {visibility}


def test_gradescope_overview_says_why_a_file_could_not_run_and_numbers_do_not_repeat_names():
    reason = "SyntaxError at import: invalid syntax (line 12)"
    results = gradescope_results(_report("error", reason))
    assert f"could not be run, so no item got an answer:** {reason}" in results["output"]
    assert "could not be run" not in gradescope_results(_report("failed", "w2 is not right"))["output"]
    for test, item in zip(results["tests"], RUBRIC.items):  # shown as "<number>) <name>"
        assert (test["number"], test["name"]) == (item.id, item.title)


# ---------------------------------------------------------------------------
# Moodle's participants download as the roster
# ---------------------------------------------------------------------------

def test_moodle_participants_download_is_a_roster():
    roster = load_roster(LMS / "moodle_participants.csv", "email")
    assert roster.keys["ada.lovelace"] == "ada.lovelace@example.edu"          # e-mail's local part
    assert roster.keys["ada.lovelace_example.edu"] == "ada.lovelace@example.edu"  # a file named after it
    assert roster.keys["s1002"] == "alan.turing@example.edu"                   # ID number
    assert roster.people[0] == ("Ada Lovelace (ada.lovelace@example.edu)", "ada.lovelace@example.edu")
    by_id = load_roster(LMS / "moodle_participants.csv", "idnumber")
    assert by_id.keys["emmy.noether"] == "s1004"
    assert [value for _, value in by_id.people] == ["s1001", "s1002", "s1004"]  # Grace has no ID number


def test_a_roster_without_the_identifier_column_is_a_clear_error(tmp_path):
    from grader.errors import MoodleError

    (tmp_path / "p.csv").write_text("First name,Last name,Email address\nAda,Lovelace,a@x.edu\n")
    with pytest.raises(MoodleError, match='participants download with an "Username" column'):
        load_roster(tmp_path / "p.csv", "username")


# ---------------------------------------------------------------------------
# The end of a run, on a real batch with Canvas and Moodle
# ---------------------------------------------------------------------------

def test_the_end_of_a_run_says_where_every_file_is_and_how_many_rows_matched(tmp_path, capsys):
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(EXAMPLES / "alice_correct.py", subs / "alovelace.py")            # Canvas SIS Login ID
    shutil.copy(EXAMPLES / "bob_partly_wrong.py", subs / "alan.turing.py")       # Moodle e-mail's local part
    out = tmp_path / "out"
    assert main(["grade", str(subs), "--out", str(out), "--workers", "1", "--quiet",
                 "--canvas-gradebook", str(LMS / "canvas_gradebook.csv"),
                 "--moodle-identifier", "email", "--moodle-roster", str(LMS / "moodle_participants.csv")]) == 0
    printed = capsys.readouterr().out
    assert f"Summary:  {out / 'summary.html'}" in printed
    assert f"Class:    {out / 'grades.csv'}" in printed
    assert "not an import file" in printed and str(out / "gradescope") in printed
    canvas = next(line for line in printed.splitlines() if line.startswith("Canvas:"))
    assert str(out / "canvas_import.csv") in canvas
    assert "1 of 4 gradebook student(s) filled, 3 without a submission; 1 submission(s) matched no student" in canvas
    moodle = next(line for line in printed.splitlines() if line.startswith("Moodle:"))
    assert ("1 row(s) matched in the roster, 1 submission(s) not in it, 3 roster student(s) without a "
            "submission") in moodle
    unmatched = (out / "moodle_unmatched.txt").read_text()
    assert "Grace Hopper (grace.hopper@example.edu)" in unmatched
    with open(out / "moodle_import.csv", newline="") as handle:
        assert [row[0] for row in csv.reader(handle)][1:] == ["alan.turing@example.edu"]
    # Canvas names beside the ids, in grades.csv and in the summary.
    with open(out / "grades.csv", newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert rows["alovelace"]["name"] == "Lovelace, Ada" and rows["alan.turing"]["name"] == ""
    assert "| alovelace | Lovelace, Ada | 15 | 100% |" in (out / "summary.md").read_text()


def test_a_run_that_matches_no_canvas_student_says_so(tmp_path, capsys):
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(EXAMPLES / "alice_correct.py", subs / "nobody.py")
    assert main(["grade", str(subs), "--out", str(tmp_path / "out"), "--workers", "1", "--quiet",
                 "--canvas-gradebook", str(LMS / "canvas_gradebook.csv")]) == 0
    printed = capsys.readouterr().out
    assert "0 of 4 gradebook student(s) filled" in printed and "1 submission(s) matched no student" in printed
    results = json.loads((tmp_path / "out" / "gradescope" / "nobody" / "results.json").read_text())
    assert results["score"] == 15.0


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path):
    """``grade ... | head``: the reader is gone before the end-of-run lines; the reports are
    written, the command ends with status 1 and no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(EXAMPLES / "alice_correct.py"),
                             "--out", str(tmp_path / "out")], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # nobody reads what the run prints
    _, stderr = proc.communicate(timeout=300)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr[-2000:]
    assert proc.returncode == 1
    assert (tmp_path / "out" / "reports" / "alice_correct.json").exists()


@pytest.mark.parametrize("option", [["--workers", "3"], ["--processes", "2"]])
def test_worker_options_with_dask_are_a_usage_error_not_ignored(tmp_path, capsys, option):
    with pytest.raises(SystemExit) as exc:
        main(["grade", str(EXAMPLES / "alice_correct.py"), "--out", str(tmp_path / "out"),
              "--dask", "local:2", *option])
    assert exc.value.code == 2
    assert "do not apply with --dask" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_ctrl_c_in_a_terminal_prints_one_line_and_no_traceback(tmp_path):
    """Ctrl-C reaches the terminal's whole process group: the grader, its trusted processes and
    the sandbox. Only the grader answers it, with one line; the batch resumes on a rerun."""
    import os
    import signal
    import time

    subs = tmp_path / "subs"
    subs.mkdir()
    for n in range(40):  # each import sleeps 0.3 s: the batch is still grading when the signal comes
        text = (EXAMPLES / ("alice_correct.py" if n % 2 else "bob_partly_wrong.py")).read_text(encoding="utf-8")
        (subs / f"s{n:02d}.py").write_text(text + "\n\nimport time\n\ntime.sleep(0.3)\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(subs), "--out", str(out),
                             "--workers", "2", "--processes", "2"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list((out / "reports").glob("*.json"))) >= 2 if (out / "reports").is_dir() else False:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the batch finished before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.rstrip().endswith("interrupted; rerun the same command to resume")
    assert len(list((out / "reports").glob("*.json"))) < 40
