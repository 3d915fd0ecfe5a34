"""An LMS "download all submissions" zip becomes one submission per student, keyed for the LMS,
when it is recognised as a whole (Canvas) or the instructor says so (``class_archive``)."""

import io
import zipfile

from grader.intake.submissions import discover


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
