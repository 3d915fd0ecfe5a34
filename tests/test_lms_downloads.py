"""An LMS "download all submissions" zip becomes one submission per student, keyed for the LMS."""

import io
import zipfile

from grader.intake.submissions import discover


def make_zip(path, members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    path.write_bytes(buffer.getvalue())


def test_canvas_download_names_give_canvas_user_ids(tmp_path):
    code = "def momentum_scale_factor(c):\n    return c\n"
    make_zip(tmp_path / "submissions.zip", {
        "lovelaceada_12345_67890_adam_vs_momentum.py": code,
        "hoppergrace_LATE_222_333_adam_vs_momentum-1.py": code,
        "someone_else.py": code,
    })
    found = {s.student: s for s in discover([tmp_path / "submissions.zip"])}
    assert set(found) == {"12345", "222", "someone_else"}
    assert found["12345"].source == code and found["12345"].error is None
    assert found["222"].origin.endswith("hoppergrace_LATE_222_333_adam_vs_momentum-1.py")


def test_one_students_zip_is_still_named_after_the_zip(tmp_path):
    make_zip(tmp_path / "alice.zip", {"hw/adam_vs_momentum.py": "x = 1\n", "hw/notes.py": "y = 2\n"})
    (only,) = discover([tmp_path / "alice.zip"])
    assert only.student == "alice" and only.source == "x = 1\n"
