"""Intake rules (SPEC section 6, issue 11): whose submission a file is, what is skipped and why.

These tests read inputs only (nothing is graded), so they are fast; the end-to-end runs
are in tests/test_intake_batch.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from grader.errors import InputError, InstructorFault, StudentFault, SubmissionError
from grader.intake.names import choose_source, display_name, student_id
from grader.intake.submissions import IntakeLimits, discover, find_submissions, read_zip

CODE = "def momentum_scale_factor(c):\n    return c\n"


def make_zip(members: dict, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def ids(paths, **options) -> dict:
    return {s.student: s for s in discover(paths, **options)}


# ---------------------------------------------------------------------------
# 1. A student's zip is one submission with that student's id
# ---------------------------------------------------------------------------

def test_a_students_zip_with_other_students_folders_is_one_submission_and_steals_nothing(tmp_path):
    (tmp_path / "jdoe.zip").write_bytes(make_zip({f"{who}/adam_vs_momentum.py": f"# {who}\n" + CODE
                                                  for who in ("jdoe", "sobrien", "jmuller")}))
    (tmp_path / "sobrien.py").write_text("# the real one\n" + CODE)
    found = ids([tmp_path])
    assert set(found) == {"jdoe", "sobrien"}
    assert found["sobrien"].origin == "sobrien.py" and found["sobrien"].source.startswith("# the real one")
    assert found["jdoe"].origin == "jdoe.zip:jdoe/adam_vs_momentum.py"
    assert any("sobrien/adam_vs_momentum.py" in note for note in found["jdoe"].notes)


def test_a_member_named_like_a_canvas_download_file_creates_no_student(tmp_path):
    (tmp_path / "jdoe.zip").write_bytes(make_zip({"kai_1002_1_a.py": "# forged\n" + CODE}))
    (tmp_path / "kai_1002_77_adam_vs_momentum.py").write_text("# Kai's own\n" + CODE)
    found = ids([tmp_path])
    assert set(found) == {"jdoe", "1002"}
    assert found["1002"].source.startswith("# Kai's own")


def test_a_canvas_looking_zip_named_on_the_command_line_cannot_claim_an_id_another_input_has(tmp_path):
    forged = tmp_path / "submissions.zip"
    forged.write_bytes(make_zip({"kai_1002_1_adam_vs_momentum.py": "# forged\n" + CODE,
                                 "ann_1003_2_adam_vs_momentum.py": CODE}))
    real = tmp_path / "kai_1002_77_adam_vs_momentum.py"
    real.write_text("# Kai's own\n" + CODE)
    for order in ([forged, real], [real, forged]):
        intake = find_submissions(order)
        found = {s.student: s for s in intake.submissions}
        assert set(found) == {"1002", "1003"}
        assert found["1002"].source.startswith("# Kai's own")
        (refused,) = intake.skipped
        assert "claims student id '1002'" in refused.reason and "kai_1002_1" in refused.path


@pytest.mark.parametrize("neighbour", ["ann.zip", "ann.py", "late"])
def test_a_students_zip_laid_out_like_canvas_and_globbed_with_the_others_is_one_submission(tmp_path, neighbour):
    """``grade subs/*`` names every student's zip on the command line: a zip that a student laid
    out like Canvas's download must not create (or fill) the grades of Kai and Ann."""
    forged = tmp_path / "jdoe.zip"
    forged.write_bytes(make_zip({"kai_1002_1_adam_vs_momentum.py": "# forged\n" + CODE,
                                 "mueller_1003_2_adam_vs_momentum.py": "# forged\n" + CODE}))
    other = tmp_path / neighbour
    if neighbour.endswith(".zip"):
        other.write_bytes(make_zip({"adam_vs_momentum.py": CODE}))
    elif neighbour.endswith(".py"):
        other.write_text(CODE)
    else:  # a folder of submissions
        other.mkdir()
        (other / "ann.py").write_text(CODE)
    for order in ([forged, other], [other, forged]):
        intake = find_submissions(order)
        found = {s.student: s for s in intake.submissions}
        assert set(found) == {"jdoe", "ann"}, set(found)
        assert found["jdoe"].origin.startswith("jdoe.zip")
        assert any("laid out like Canvas" in note and "--class-archive" in note for note in found["jdoe"].notes)
        assert not intake.skipped
    found = ids([forged, other], class_archive=True)  # the instructor says it is a class archive
    assert {"1002", "1003"} <= set(found)


@pytest.mark.parametrize("class_archive", [False, True])
def test_a_students_zip_inside_a_class_download_is_that_students_submission(tmp_path, class_archive):
    """Canvas keeps a zip a student uploaded as one file of its download: that student is graded
    from it (one level down, by the student-zip rule), not listed as not graded."""
    inner = make_zip({"hw/adam_vs_momentum.py": "# Kai's\n" + CODE, "hw/notes.py": "x = 1\n"})
    nested = make_zip({"deeper.zip": make_zip({"adam_vs_momentum.py": CODE})})
    prefix = "" if class_archive else "kai_"
    (tmp_path / "submissions.zip").write_bytes(make_zip({
        f"{prefix}1002{'_1_myhw' if not class_archive else ''}.zip": inner,
        "ann_1003_2_adam_vs_momentum.py": CODE,
        "bo_1004_3_bundle.zip": nested}))
    intake = find_submissions([tmp_path / "submissions.zip"], class_archive=class_archive)
    found = {s.student: s for s in intake.submissions}
    assert set(found) == {"1002", "1003", "1004"}
    assert found["1002"].source.startswith("# Kai's") and found["1002"].origin.endswith("hw/adam_vs_momentum.py")
    assert any("hw/notes.py" in note for note in found["1002"].notes)
    assert found["1004"].source is None and "archive inside the archive" in found["1004"].error
    assert not intake.skipped


def test_student_folders_globbed_on_the_command_line_are_one_submission_each(tmp_path):
    """``grade subs/*`` over a folder per student: no file inside jdoe's folder takes O'Brien's
    id or creates Kai, even when jdoe leaves out adam_vs_momentum.py to look like a class folder."""
    subs = tmp_path / "subs"
    for who in ("ann", "sobrien", "jdoe"):
        (subs / who).mkdir(parents=True)
    (subs / "ann" / "adam_vs_momentum.py").write_text("# Ann\n" + CODE)
    (subs / "sobrien" / "adam_vs_momentum.py").write_text("# the real one\n" + CODE)
    (subs / "jdoe" / "sobrien.py").write_text("# forged\n" + CODE)
    (subs / "jdoe" / "kai_1002_1_adam_vs_momentum.py").write_text("# forged\n" + CODE)
    globbed = sorted(subs.iterdir())
    for order in (globbed, globbed[::-1]):
        intake = find_submissions(order)
        found = {s.student: s for s in intake.submissions}
        assert set(found) == {"ann", "sobrien", "jdoe"}, set(found)
        assert found["sobrien"].source.startswith("# the real one")
        assert found["jdoe"].source is None  # two candidates, neither the expected name: its message
    assert {s.student for s in find_submissions([subs]).submissions} == {"ann", "sobrien", "jdoe"}


def test_folders_of_submissions_on_the_command_line_stay_folders_of_submissions(tmp_path):
    for section, students in (("sec1", ("alice", "bob")), ("sec2", ("carol", "dan"))):
        (tmp_path / section).mkdir()
        for who in students:
            (tmp_path / section / f"{who}.py").write_text(CODE)
    (tmp_path / "sec1" / "adam_vs_momentum.py").write_text(CODE)  # one student did not rename it
    found = {s.student for s in find_submissions([tmp_path / "sec1", tmp_path / "sec2"]).submissions}
    assert found == {"alice", "bob", "adam_vs_momentum", "carol", "dan"}
    found = {s.student for s in find_submissions([tmp_path / "sec1"]).submissions}  # one folder, on its own
    assert found == {"alice", "bob", "adam_vs_momentum"}


def test_canvas_download_zip_is_recognised_as_a_whole_never_per_member(tmp_path):
    canvas = {"lovelaceada_12345_67890_adam_vs_momentum.py": CODE,
              "hoppergrace_LATE_222_333_adam_vs_momentum-1.py": CODE,
              "hoppergrace_LATE_222_334_helper.py": "x = 1\n"}
    (tmp_path / "submissions.zip").write_bytes(make_zip(canvas))
    found = ids([tmp_path / "submissions.zip"])
    assert set(found) == {"12345", "222"}
    assert found["222"].origin.endswith("hoppergrace_LATE_222_333_adam_vs_momentum-1.py")
    # One file that is not Canvas-named: not Canvas's download, so one student's archive.
    (tmp_path / "mixed.zip").write_bytes(make_zip({**canvas, "someone_else.py": CODE}))
    (only,) = discover([tmp_path / "mixed.zip"])
    assert only.student == "mixed"


def test_a_zip_inside_a_folder_is_always_one_students_even_if_it_looks_like_a_class_download(tmp_path):
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "submissions.zip").write_bytes(make_zip({"lovelaceada_12345_67890_a.py": CODE}))
    assert set(ids([tmp_path / "class"])) == {"submissions"}


def test_a_multi_student_archive_only_when_the_instructor_says_so(tmp_path):
    archive = tmp_path / "class.zip"
    archive.write_bytes(make_zip({"bob/adam_vs_momentum.py": CODE, "carol/adam_vs_momentum.py": CODE,
                                  "carol/notes.py": "x = 1"}))
    assert set(ids([archive])) == {"class"}
    found = ids([archive], class_archive=True)
    assert set(found) == {"bob", "carol"}
    assert found["carol"].origin == "class.zip:carol/adam_vs_momentum.py"
    assert any("notes.py" in note for note in found["carol"].notes)


def test_a_folder_holding_one_students_files_is_one_submission_named_after_the_folder(tmp_path):
    student = tmp_path / "batch" / "Ada Lovelace_123_assignsubmission_file_"
    (student / "work").mkdir(parents=True)
    (student / "work" / "adam_vs_momentum.py").write_text(CODE)
    (student / "helper.py").write_text("x = 1\n")
    (only,) = discover([tmp_path / "batch"])
    assert only.student == student_id(student.name) == "Ada_Lovelace_123_assignsubmission_file"
    assert only.source == CODE and only.origin.endswith("/work/adam_vs_momentum.py")
    assert any("helper.py" in note for note in only.notes)


def test_one_rule_chooses_the_file_in_a_zip_a_folder_and_on_gradescope():
    assert choose_source(["a/adam_vs_momentum.ipynb", "b/c/adam_vs_momentum.py", "adam_vs_momentum.py"])[0] \
        == "adam_vs_momentum.py"
    assert choose_source(["hw/solution.py", "hw/data.zip"])[0] == "hw/solution.py"
    with pytest.raises(SubmissionError, match="several files could be the submission"):
        choose_source(["a.py", "b.py"])
    from grader.release import gradescope
    import inspect
    assert "choose(" in inspect.getsource(gradescope.find_submission)  # the one rule, with its reader


# ---------------------------------------------------------------------------
# 2. One input never stops the batch
# ---------------------------------------------------------------------------

def _damage(data: bytes, member: str) -> bytes:
    """The zip with the middle of ``member``'s compressed stream overwritten (headers intact)."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 3
    return data[:middle] + b"\xff\x00\xfe" * 8 + data[middle + 24:]


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_LZMA, zipfile.ZIP_BZIP2])
def test_a_damaged_compressed_stream_is_that_students_message(tmp_path, compression):
    text = "".join(f"value_{i} = {i * 7919 % 1000}  # line {i}\n" for i in range(3000))
    data = make_zip({"adam_vs_momentum.py": text}, compression)
    (tmp_path / "damaged.zip").write_bytes(_damage(data, "adam_vs_momentum.py"))
    (tmp_path / "fine.py").write_text(CODE)
    found = ids([tmp_path])
    assert set(found) == {"damaged", "fine"}
    assert found["damaged"].source is None and "damaged" in found["damaged"].error
    assert found["fine"].error is None


def test_a_file_name_that_is_not_utf8_is_read_and_shown_as_one_clean_line(tmp_path):
    folder = os.fsencode(tmp_path)
    with open(os.path.join(folder, b"caf\xe9\n.py"), "w") as handle:
        handle.write(CODE)
    (sub,) = discover([tmp_path])
    assert sub.source == CODE
    json.dumps(sub.origin, ensure_ascii=False).encode("utf-8")  # would raise on a lone surrogate
    assert "\n" not in sub.origin and "\ufffd" in sub.origin


def test_an_unexpected_error_while_reading_one_input_is_that_students_message(tmp_path, monkeypatch):
    import grader.intake.submissions as intake

    (tmp_path / "boom.py").write_text(CODE)
    (tmp_path / "fine.py").write_text(CODE)
    real = intake.read_submission

    def explode(student, origin, content, *, notebook):
        if student == "boom":
            raise MemoryError("simulated")
        return real(student, origin, content, notebook=notebook)

    monkeypatch.setattr(intake, "read_submission", explode)
    found = ids([tmp_path])
    assert "MemoryError" in found["boom"].error and found["fine"].error is None


# ---------------------------------------------------------------------------
# 3. Archive bombs by count
# ---------------------------------------------------------------------------

def test_a_zip_of_thousands_of_small_files_is_one_submission_with_a_clear_message(tmp_path):
    (tmp_path / "many.zip").write_bytes(make_zip({f"f{i}.py": "x = 1\n" for i in range(5000)}))
    (sub,) = discover([tmp_path / "many.zip"])
    assert sub.student == "many"
    assert "holds 5,000 entries; the limit is 1,000" in sub.error


def test_a_class_archive_or_a_batch_past_the_cap_is_refused_before_grading(tmp_path):
    (tmp_path / "class.zip").write_bytes(make_zip({f"s{i}/adam_vs_momentum.py": CODE for i in range(60)}))
    with pytest.raises(InputError, match="60 submissions; the limit is 50 per batch"):
        find_submissions([tmp_path / "class.zip"], class_archive=True, limits=IntakeLimits(batch_submissions=50))
    intake = find_submissions([tmp_path / "class.zip"], class_archive=True,
                              limits=IntakeLimits(class_archive_entries=10))
    assert not intake.submissions and "60 entries; the limit is 10" in intake.skipped[0].reason


def test_a_students_folder_with_too_many_files_gets_a_clear_message(tmp_path):
    folder = tmp_path / "batch" / "alice"
    folder.mkdir(parents=True)
    for i in range(30):
        (folder / f"f{i}.txt").write_text("x")
    (sub,) = discover([tmp_path / "batch"], limits=IntakeLimits(folder_files=20))
    assert sub.student == "alice" and "more than 20 files" in sub.error


# ---------------------------------------------------------------------------
# 4. Nothing vanishes silently
# ---------------------------------------------------------------------------

def test_every_input_that_is_not_graded_is_listed_with_its_reason(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "adam_vs_momentum.py").write_text(CODE)
    (tmp_path / "x.py").mkdir()
    (tmp_path / "x.py" / "solution.py").write_text(CODE)
    (tmp_path / "bob.py ").write_text(CODE)
    for name in ("notes.txt", "~", "backup.py~", ".hidden.py", "report.pdf"):
        (tmp_path / name).write_text("x")
    intake = find_submissions([tmp_path])
    assert {s.student for s in intake.submissions} == {"alice", "x", "bob"}
    reasons = {Path(s.path).name: s.reason for s in intake.skipped}
    assert set(reasons) == {"notes.txt", "~", "backup.py~", ".hidden.py", "report.pdf"}
    assert "not a .py, .ipynb or .zip file" in reasons["report.pdf"]
    assert "hidden" in reasons[".hidden.py"] and "backup" in reasons["backup.py~"]


def test_a_link_to_a_folder_is_listed_as_a_link_not_as_an_unknown_kind_of_file(tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "adam_vs_momentum.py").write_text(CODE)
    (tmp_path / "subs" / "carol").symlink_to(tmp_path / "real")
    intake = find_submissions([tmp_path / "subs"])
    assert not intake.submissions
    (skipped,) = intake.skipped
    assert "symbolic link to a folder" in skipped.reason and "not followed" in skipped.reason


def test_a_path_that_does_not_exist_is_an_instructor_error_not_a_phantom_student(tmp_path):
    with pytest.raises(InputError, match="no such file or folder") as caught:
        find_submissions([tmp_path / "missing.py"])
    assert isinstance(caught.value, InstructorFault) and not isinstance(caught.value, StudentFault)


# ---------------------------------------------------------------------------
# 5. Duplicate names in a zip
# ---------------------------------------------------------------------------

def test_a_zip_with_two_members_of_the_same_name_is_refused_with_a_message(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("adam_vs_momentum.py", "# first\n" + CODE)
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("adam_vs_momentum.py", "# second\n" + CODE)
    (sub,) = read_zip("dup.zip", buffer.getvalue())
    assert sub.source is None
    assert "several entries with the same name ('adam_vs_momentum.py')" in sub.error


def test_display_names_are_one_line():
    assert display_name("a\nb\r\x1b[31mc\u2028d") == "a b [31mc d"


def test_a_students_zip_in_a_class_archive_passes_the_same_safety_rules_as_any_member():
    """One rule for every member: a top-level zip that is a link, encrypted, or would expand
    past the limits is not opened as a student's upload, and is refused with the words any
    member gets."""
    from grader.intake import submissions as intake

    def member(name, *, size=100, compressed=100, link=False, encrypted=False):
        info = zipfile.ZipInfo(name)
        info.file_size, info.compress_size = size, compressed
        if link:
            info.external_attr = 0o120777 << 16
        if encrypted:
            info.flag_bits |= 0x1
        return info

    plain = member("alice.zip")
    assert intake._is_student_zip_member(plain)
    refused = {"link.zip": member("link.zip", link=True),
               "locked.zip": member("locked.zip", encrypted=True),
               "huge.zip": member("huge.zip", size=intake.MAX_ZIP_TOTAL + 1, compressed=intake.MAX_ZIP_TOTAL),
               "bomb.zip": member("bomb.zip", size=10_000_000, compressed=1_000),
               "../up.zip": member("../up.zip"), ".hidden.zip": member(".hidden.zip")}
    assert [name for name, info in refused.items() if intake._is_student_zip_member(info)] == []
    _, problems = intake._candidates(list(refused.values()))
    assert problems == ["'link.zip' is a symbolic link; skipped", "'locked.zip' is encrypted; skipped",
                        f"'huge.zip' expands to {intake.MAX_ZIP_TOTAL + 1:,} bytes; the limit is "
                        f"{intake.MAX_ZIP_TOTAL:,}; skipped",
                        "'bomb.zip' expands 10000-fold (a zip bomb?); skipped",
                        "'../up.zip' points outside the archive (path traversal); skipped"]


# ---------------------------------------------------------------------------
# 6. An untouched stub next to a worked notebook: the notebook is graded
# ---------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
STUB = (ROOT / "assignment" / "adam_vs_momentum.py").read_bytes()


def _worked_notebook(code: str = CODE) -> str:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("My work"), nbformat.v4.new_code_cell(code)]
    return nbformat.writes(notebook)


def _stub_note(sub) -> bool:
    return any("unchanged stub" in note and "notebook" in note for note in sub.notes)


def test_a_zip_with_the_unchanged_stub_and_a_worked_notebook_grades_the_notebook(tmp_path):
    (tmp_path / "nina.zip").write_bytes(make_zip({"hw3/adam_vs_momentum.py": STUB,
                                                  "hw3/adam_vs_momentum.ipynb": _worked_notebook()}))
    (sub,) = discover([tmp_path])
    assert sub.student == "nina" and sub.origin == "nina.zip:hw3/adam_vs_momentum.ipynb"
    assert sub.error is None and "momentum_scale_factor" in sub.source
    assert _stub_note(sub) and any("Also submitted" in n and "adam_vs_momentum.py" in n for n in sub.notes)


def test_a_folder_with_the_unchanged_stub_and_a_worked_notebook_grades_the_notebook(tmp_path):
    student = tmp_path / "subs" / "omar"
    student.mkdir(parents=True)
    (student / "adam_vs_momentum.py").write_bytes(STUB)
    (student / "adam_vs_momentum.ipynb").write_text(_worked_notebook())
    (sub,) = discover([tmp_path / "subs"])
    assert sub.student == "omar" and sub.origin == "omar/adam_vs_momentum.ipynb"
    assert sub.error is None and "momentum_scale_factor" in sub.source and _stub_note(sub)


def test_the_stub_is_recognised_whatever_its_line_endings_bom_and_trailing_white_space(tmp_path):
    text = STUB.decode("utf-8")
    mangled = "\ufeff" + "".join(line.rstrip("\n") + "  \r\n" for line in text.splitlines(True)) + "\r\n\r\n"
    (tmp_path / "pia.zip").write_bytes(make_zip({"adam_vs_momentum.py": mangled.encode("utf-8"),
                                                 "adam_vs_momentum.ipynb": _worked_notebook()}))
    (sub,) = discover([tmp_path])
    assert sub.origin == "pia.zip:adam_vs_momentum.ipynb" and _stub_note(sub)


def test_an_edited_py_is_still_preferred_over_the_notebook(tmp_path):
    edited = STUB.replace(b'raise NotImplementedError("momentum_scale_factor")', b"return 1 / (1 - mu)")
    assert edited != STUB
    (tmp_path / "quinn.zip").write_bytes(make_zip({"adam_vs_momentum.py": edited,
                                                   "adam_vs_momentum.ipynb": _worked_notebook()}))
    student = tmp_path / "rosa"
    student.mkdir()
    (student / "adam_vs_momentum.py").write_bytes(STUB + b"\n# one more comment\n")
    (student / "adam_vs_momentum.ipynb").write_text(_worked_notebook())
    found = ids([tmp_path])
    assert found["quinn"].origin == "quinn.zip:adam_vs_momentum.py" and not _stub_note(found["quinn"])
    assert found["rosa"].origin == "rosa/adam_vs_momentum.py" and not _stub_note(found["rosa"])


def test_the_stub_is_graded_when_the_notebook_is_deeper_or_absent(tmp_path):
    (tmp_path / "sam.zip").write_bytes(make_zip({"adam_vs_momentum.py": STUB,
                                                 "old/adam_vs_momentum.ipynb": _worked_notebook()}))
    (tmp_path / "tia.zip").write_bytes(make_zip({"adam_vs_momentum.py": STUB, "notes.py": CODE}))
    found = ids([tmp_path])
    assert found["sam"].origin == "sam.zip:adam_vs_momentum.py" and not _stub_note(found["sam"])
    assert found["tia"].origin == "tia.zip:adam_vs_momentum.py" and not _stub_note(found["tia"])


def test_without_the_released_stub_the_py_is_graded_as_before(tmp_path, monkeypatch):
    import grader.intake.names as names

    monkeypatch.setattr(names, "released_stub", lambda: None)
    (tmp_path / "uma.zip").write_bytes(make_zip({"adam_vs_momentum.py": STUB,
                                                 "adam_vs_momentum.ipynb": _worked_notebook()}))
    (sub,) = discover([tmp_path])
    assert sub.origin == "uma.zip:adam_vs_momentum.py" and not _stub_note(sub)


def test_the_grader_finds_the_released_stub_next_to_its_package():
    from grader.intake.names import is_unchanged_stub, normalised_source, released_stub

    assert released_stub() == normalised_source(STUB) and "NotImplementedError" in released_stub()
    assert is_unchanged_stub(STUB) and not is_unchanged_stub(CODE.encode()) and not is_unchanged_stub(None)


@pytest.mark.parametrize("class_archive", [False, True])
def test_a_canvas_download_with_the_stub_and_a_notebook_grades_the_notebook(tmp_path, class_archive):
    download = tmp_path / "submissions.zip"
    download.write_bytes(make_zip({"vega_1003_1_adam_vs_momentum.py": STUB,
                                   "vega_1003_2_adam_vs_momentum.ipynb": _worked_notebook(),
                                   "wu_1004_3_adam_vs_momentum.py": CODE}))
    found = ids([download], class_archive=class_archive)
    assert found["1003"].origin == "submissions.zip:vega_1003_2_adam_vs_momentum.ipynb"
    assert found["1003"].error is None and _stub_note(found["1003"])
    assert found["1004"].origin == "submissions.zip:wu_1004_3_adam_vs_momentum.py"
    unzipped = tmp_path / "unzipped"
    unzipped.mkdir()
    (unzipped / "vega_1003_1_adam_vs_momentum.py").write_bytes(STUB)
    (unzipped / "vega_1003_2_adam_vs_momentum.ipynb").write_text(_worked_notebook())
    (sub,) = discover([unzipped])
    assert sub.student == "1003" and sub.origin == "vega_1003_2_adam_vs_momentum.ipynb" and _stub_note(sub)


def test_choose_takes_the_notebook_only_through_the_one_rule():
    from grader.intake.names import choose

    names = ["adam_vs_momentum.py", "adam_vs_momentum.ipynb"]
    assert choose(names, read=lambda name: STUB) == (
        "adam_vs_momentum.ipynb", ("adam_vs_momentum.py",),
        ("'adam_vs_momentum.py' is the unchanged stub of the assignment, so the notebook "
         "'adam_vs_momentum.ipynb' was graded instead",))
    assert choose(names, read=lambda name: CODE.encode())[:2] == ("adam_vs_momentum.py", ("adam_vs_momentum.ipynb",))
    assert choose(names, read=lambda name: None)[0] == "adam_vs_momentum.py"  # unreadable: today's rule
    assert choose_source(names)[0] == "adam_vs_momentum.py"  # nothing read: today's rule


# ---------------------------------------------------------------------------
# 7. Student ids from names that are not ASCII
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("José.py", "Jose"), ("Zoë.py", "Zoe"), ("Ærø.ipynb", "AEro"), ("Straße.zip", "Strasse"),
    ("Łukasz Żółć.py", "Lukasz_Zolc"), ("Dvořák_12.py", "Dvorak_12"), ("Ｊｏｓｅ.py", "Jose"),
    ("Jose\u0301.py", "Jose"),  # a macOS (NFD) file name: the same id as the NFC one
    ("résumé — final (1).py", "resume_final_1"),
])
def test_letters_with_an_ascii_base_are_transliterated(name, expected):
    assert student_id(name) == expected


@pytest.mark.parametrize("name, expected", [
    ("alice.py", "alice"), ("Ada Lovelace_123_assignsubmission_file_", "Ada_Lovelace_123_assignsubmission_file"),
    ("-rm -rf.py", "rm_-rf"), ("...", "student"), ("a" * 150 + ".py", "a" * 100), ("Bob.Smith-2.ipynb", "Bob.Smith-2"),
])
def test_plain_ascii_names_keep_their_ids(name, expected):
    assert student_id(name) == expected


def test_names_without_ascii_letters_get_a_stable_id_of_their_own():
    li, han = student_id("李雷.py"), student_id("韩梅梅.py")
    assert li != han and li.startswith("student-") and len(li) == len("student-") + 8
    assert li == student_id("李雷.ipynb") == student_id("李雷.zip") == student_id("李雷")
    assert re.fullmatch(r"[A-Za-z0-9._-]+", li) and not li.startswith("-")
    # letters without an ASCII base next to ASCII ones: never the id of the ASCII part alone
    assert student_id("Иван_Smith.py") != student_id("Пётр_Smith.py") != "Smith"
    assert student_id("Иван_Smith.py").startswith("Smith-")
    assert student_id("caf\udce9.py") == "caf"  # a name that is not UTF-8: as before


def test_students_with_non_ascii_names_get_ids_that_do_not_depend_on_the_batch(tmp_path):
    names = ["李雷.py", "韩梅梅.py", "Иван.py", "Пётр.py", "José.py", "Zoë.py"]
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    for name in names:
        (first / name).write_text(CODE, encoding="utf-8")
    for name in names[1::2]:  # half of them, in another batch
        (second / name).write_text(CODE, encoding="utf-8")
    everyone = {s.origin: s.student for s in discover([first])}
    half = {s.origin: s.student for s in discover([second])}
    assert len(set(everyone.values())) == len(names)
    assert not any("also used by" in note for s in discover([first]) for note in s.notes)
    assert {"Jose", "Zoe"} <= set(everyone.values())
    assert all(everyone[origin] == student for origin, student in half.items())
