"""An LMS "download all submissions" zip becomes one submission per student, keyed for the LMS,
when it is recognised as a whole (Canvas) or the instructor says so (``class_archive``)."""

import io
import zipfile

import pytest

from grader.intake.names import canvas_file, canvas_student_of, file_student_id
from grader.intake.submissions import discover, find_submissions


def make_zip(path, members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    path.write_bytes(buffer.getvalue())


CODE = "def momentum_scale_factor(c):\n    return c\n"
CANVAS = {"lovelaceada_12345_67890_adam_vs_momentum.py": CODE,
          "hoppergrace_LATE_222_333_adam_vs_momentum-1.py": CODE}


def test_canvas_download_names_give_canvas_user_ids(tmp_path):
    make_zip(tmp_path / "submissions.zip", CANVAS)
    found = {s.student: s for s in discover([tmp_path / "submissions.zip"])}
    assert set(found) == {"12345", "222"}
    assert found["12345"].source == CODE and found["12345"].error is None
    assert found["222"].origin.endswith("hoppergrace_LATE_222_333_adam_vs_momentum-1.py")


def test_an_explicit_class_archive_takes_canvas_ids_and_file_stems(tmp_path):
    make_zip(tmp_path / "submissions.zip", {**CANVAS, "someone_else.py": CODE})
    found = {s.student for s in discover([tmp_path / "submissions.zip"], class_archive=True)}
    assert found == {"12345", "222", "someone_else"}


def test_one_students_zip_is_still_named_after_the_zip(tmp_path):
    make_zip(tmp_path / "alice.zip", {"hw/adam_vs_momentum.py": "x = 1\n", "hw/notes.py": "y = 2\n"})
    (only,) = discover([tmp_path / "alice.zip"])
    assert only.student == "alice" and only.source == "x = 1\n"


HELPER = "import numpy as np\n"
#: One Canvas download with a student who uploaded two files (their helper file has the lower
#: attachment id, so it sorts first), and one who uploaded two attachments of one name.
TWO_FILES = {"kimdana_1003_6001_plots.py": HELPER, "kimdana_1003_6002_adam_vs_momentum.py": CODE,
             "lovelaceada_12345_67890_adam_vs_momentum.py": CODE,
             "turingalan_77_1_solution.py": HELPER, "turingalan_77_2_solution.py": CODE}


def _by_student(submissions):
    return {s.student: s for s in submissions}


def test_an_unzipped_canvas_download_gives_each_student_one_submission_as_the_zip_does(tmp_path):
    make_zip(tmp_path / "submissions.zip", TWO_FILES)
    folder = tmp_path / "unzipped"
    folder.mkdir()
    for name, text in TWO_FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    zipped, loose = _by_student(discover([tmp_path / "submissions.zip"])), _by_student(discover([folder]))
    assert set(loose) == set(zipped) == {"1003", "12345", "77"}
    for found in (zipped, loose):
        assert found["1003"].source == CODE and found["1003"].origin.endswith("kimdana_1003_6002_adam_vs_momentum.py")
        assert found["1003"].notes == ("Also submitted, not graded: 'plots.py'",)
    # two attachments of one name: both seen, one graded and the other listed, never dropped
    notes = " ".join(loose["77"].notes) + " " + (loose["77"].error or "")
    assert ("turingalan_77_1_solution.py" in notes) or ("turingalan_77_2_solution.py" in notes), notes


# ---------------------------------------------------------------------------
# Canvas's other member forms: text entry, URL, anonymous grading
# ---------------------------------------------------------------------------

UPLOADS = {"lovelaceada_12345_67890_adam_vs_momentum.py": CODE,
           "turingalan_23456_78901_adam_vs_momentum.py": CODE}


@pytest.mark.parametrize("name, student, user, kind, own", [
    ("lovelaceada_LATE_12345_67890_adam_vs_momentum-1.py", "12345", "12345", "upload", "adam_vs_momentum-1.py"),
    ("curiemarie_45678_text.html", "45678", "45678", "text", None),
    ("curiemarie_LATE_45678_link.html", "45678", "45678", "link", None),
    ("curiemarie_45678_99_text.html", "45678", "45678", "upload", "text.html"),  # an uploaded text.html
    ("anon_k3Fq9_67890_adam_vs_momentum.py", "anon_k3Fq9", None, "upload", "adam_vs_momentum.py"),
    ("LATE_anon_a1b2c_89012_adam_vs_momentum.py", "anon_a1b2c", None, "upload", "adam_vs_momentum.py"),
    ("anon_12345_67890_adam_vs_momentum.py", "anon_12345", None, "upload", "adam_vs_momentum.py"),
    ("LATE_anon_a1b2c_text.html", "anon_a1b2c", None, "text", None),
])
def test_canvas_file_names_of_every_form_say_whose_they_are(name, student, user, kind, own):
    found = canvas_file(name)
    assert (found.student, found.user, found.kind, found.file) == (student, user, kind, own)
    assert canvas_student_of(name) == user  # an anonymous id is never taken for a Canvas user id
    assert file_student_id(name) == student


@pytest.mark.parametrize("name", ["adam_vs_momentum.py", "lastfirst_12345_text.htm", "lastfirst_text.html",
                                  "anon__1_x.py", "lastfirst_12345_adam_vs_momentum.py"])
def test_names_that_are_not_canvas_download_names(name):
    assert canvas_file(name) is None


@pytest.mark.parametrize("member, what", [("curiemarie_45678_text.html", "a text entry"),
                                          ("curiemarie_LATE_45678_link.html", "a URL")])
def test_a_text_entry_or_url_member_keeps_the_canvas_download_a_class_and_is_listed(tmp_path, member, what):
    make_zip(tmp_path / "submissions.zip", {**UPLOADS, member: "<p>my answers</p>"})
    intake = find_submissions([tmp_path / "submissions.zip"])
    assert {s.student: s.error for s in intake.submissions} == {"12345": None, "23456": None}
    (skipped,) = intake.skipped
    assert skipped.path == f"submissions.zip:{member}"
    assert skipped.reason.startswith(f"{what} submission on Canvas") and "'45678'" in skipped.reason
    assert "not graded" in skipped.reason
    folder = tmp_path / "unzipped"  # the same download unzipped says the same
    folder.mkdir()
    (folder / member).write_text("<p>my answers</p>")
    (loose,) = find_submissions([folder]).skipped
    assert loose.reason == skipped.reason


def test_an_anonymous_canvas_download_grades_each_student_under_their_anonymous_id(tmp_path):
    download = {"anon_k3Fq9_67890_adam_vs_momentum.py": "# k3Fq9\n" + CODE,
                "anon_Zp02x_78901_adam_vs_momentum.py": CODE,
                "LATE_anon_a1b2c_89012_adam_vs_momentum.py": CODE,
                "LATE_anon_a1b2c_89013_plots.py": "x = 1\n",
                "anon_Qw3rt_text.html": "<p>typed</p>"}
    make_zip(tmp_path / "submissions.zip", download)
    intake = find_submissions([tmp_path / "submissions.zip"])
    found = {s.student: s for s in intake.submissions}
    assert set(found) == {"anon_k3Fq9", "anon_Zp02x", "anon_a1b2c"}
    assert found["anon_k3Fq9"].source.startswith("# k3Fq9") and found["anon_k3Fq9"].error is None
    assert found["anon_a1b2c"].notes == ("Also submitted, not graded: 'plots.py'",)
    assert [(s.path, "a text entry" in s.reason) for s in intake.skipped] == [
        ("submissions.zip:anon_Qw3rt_text.html", True)]
    folder = tmp_path / "unzipped"
    folder.mkdir()
    for name, text in download.items():
        (folder / name).write_text(text)
    assert {s.student for s in discover([folder])} == set(found)


# ---------------------------------------------------------------------------
# Nothing in a Canvas zip vanishes
# ---------------------------------------------------------------------------

PDF_DOWNLOAD = {"lovelaceada_12345_67890_adam_vs_momentum.py": CODE,
                "lovelaceada_12345_67891_derivation.pdf": "%PDF-1.4 derivation",
                "turingalan_23456_78901_adam_vs_momentum.py": CODE,
                "hoppergrace_34567_89012_homework.pdf": "%PDF-1.4 only a PDF"}


def test_files_of_a_canvas_zip_that_are_not_graded_are_listed_as_in_the_unzipped_folder(tmp_path):
    make_zip(tmp_path / "submissions.zip", PDF_DOWNLOAD)
    folder = tmp_path / "unzipped"
    folder.mkdir()
    for name, text in PDF_DOWNLOAD.items():
        (folder / name).write_text(text)
    zipped, loose = find_submissions([tmp_path / "submissions.zip"]), find_submissions([folder])
    pdfs = ("hoppergrace_34567_89012_homework.pdf", "lovelaceada_12345_67891_derivation.pdf")
    assert sorted(s.path for s in zipped.skipped) == [f"submissions.zip:{name}" for name in pdfs]
    assert sorted(s.path for s in loose.skipped) == [f"unzipped/{name}" for name in pdfs]
    assert {s.reason for s in zipped.skipped} == {s.reason for s in loose.skipped}
    assert all(s.reason.startswith("not a .py, .ipynb or .zip file") for s in zipped.skipped)
    for intake in (zipped, loose):
        found = _by_student(intake.submissions)
        assert set(found) == {"12345", "23456"}  # the PDF-only student is listed, not given a 0
        assert found["12345"].error is None
        assert found["12345"].notes == ("Also submitted, not graded: 'derivation.pdf'",)
        assert found["23456"].notes == ()


def test_a_file_added_by_hand_to_a_canvas_zip_is_listed_and_the_class_is_still_graded(tmp_path):
    make_zip(tmp_path / "submissions.zip", {**UPLOADS, "README.txt": "downloaded on Monday"})
    intake = find_submissions([tmp_path / "submissions.zip"])
    assert {s.student for s in intake.submissions} == {"12345", "23456"}
    (skipped,) = intake.skipped
    assert skipped.path == "submissions.zip:README.txt" and "not a .py, .ipynb or .zip file" in skipped.reason


def test_a_zip_mostly_named_like_canvas_with_a_stray_source_file_is_one_students_and_says_so(tmp_path):
    """A source file Canvas did not name is nobody's: the zip may be a student's own, so it stays
    one student's zip (the rule of SPEC 6), but never silently: the report and the end of the
    run say why, and how to grade the class."""
    make_zip(tmp_path / "submissions.zip", {**UPLOADS, "someone_else.py": CODE})
    intake = find_submissions([tmp_path / "submissions.zip"])
    (only,) = intake.submissions
    assert only.student == "submissions"
    (note,) = [n for n in only.notes if "Download Submissions" in n]
    assert "'someone_else.py'" in note and "--class-archive" in note and "2 of its 3 files" in note
    (listed,) = intake.skipped
    assert listed.path.endswith("submissions.zip") and listed.reason == note
    found = {s.student for s in discover([tmp_path / "submissions.zip"], class_archive=True)}
    assert found == {"12345", "23456", "someone_else"}


def test_a_students_own_zip_with_one_canvas_looking_file_gets_no_canvas_note(tmp_path):
    make_zip(tmp_path / "jdoe.zip", {"adam_vs_momentum.py": CODE, "kai_1002_1_old.py": CODE, "notes.py": CODE})
    intake = find_submissions([tmp_path / "jdoe.zip"])
    (only,) = intake.submissions
    assert only.student == "jdoe" and only.error is None
    assert not intake.skipped and not any("Canvas" in note for note in only.notes)


# ---------------------------------------------------------------------------
# One student's zip or folder: every file not graded is in the report
# ---------------------------------------------------------------------------

JDOE = {"hw/adam_vs_momentum.py": CODE, "hw/README.txt": "read me", "hw/plot.png": "png",
        "hw/helper.py": "x = 1\n", "hw/.DS_Store": "mac", "__MACOSX/hw/._plot.png": "mac"}


def test_every_file_of_a_students_zip_or_folder_that_is_not_graded_is_in_the_report(tmp_path):
    make_zip(tmp_path / "jdoe.zip", JDOE)
    (zipped,) = discover([tmp_path / "jdoe.zip"])
    assert zipped.error is None
    assert zipped.notes == ("Also submitted, not graded: 'hw/README.txt', 'hw/plot.png', 'hw/helper.py'",)
    folder = tmp_path / "subs" / "jdoe"
    for name, text in JDOE.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    (loose,) = discover([tmp_path / "subs"])
    assert loose.student == "jdoe" and loose.error is None
    assert loose.notes == ("Also submitted, not graded: 'hw/README.txt', 'hw/helper.py', 'hw/plot.png'",)


def test_a_students_folder_in_a_class_archive_with_no_source_file_is_their_message_not_nothing(tmp_path):
    make_zip(tmp_path / "class.zip", {"carol/adam_vs_momentum.py": CODE, "carol/notes.txt": "n",
                                      "dan/homework.pdf": "%PDF"})
    found = _by_student(discover([tmp_path / "class.zip"], class_archive=True))
    assert set(found) == {"carol", "dan"}
    assert found["carol"].notes == ("Also submitted, not graded: 'notes.txt'",)
    assert found["dan"].source is None and "no adam_vs_momentum.py" in found["dan"].error
