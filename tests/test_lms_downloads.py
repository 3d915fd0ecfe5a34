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
