"""Bad input is a clear error for that student, the batch goes on, and nothing is lost (SPEC 6).

One CLI run grades a folder of broken files (empty, binary, not UTF-8, oversized, syntax
errors, malformed notebooks, notebooks with shell escapes and magics, hostile zips, links,
missing functions, wrong return types) next to two folders that both hold ``alice.py``.
Every file gets a report with a precise message; every input is byte- and mtime-identical
afterwards; no shell escape ever ran.
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader.intake.submissions import MAX_BYTES, discover, read_zip

ROOT = Path(__file__).resolve().parent.parent
HONEST = (ROOT / "tests" / "attacks" / "zz_victim.py").read_text(encoding="utf-8")
TAG = uuid.uuid4().hex[:8]
PWNED = Path(f"/tmp/adam-pwned-{TAG}")


def _notebook(*cells) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(c[3:]) if c.startswith("md:") else nbformat.v4.new_code_cell(c)
                      for c in cells]
    return nbformat.writes(notebook)


def _zip(members: dict, *, compression=zipfile.ZIP_DEFLATED, links=()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


MISSING = "import sympy as sp\n\ndef momentum_scale_factor(c):\n    return c\n"
WRONG_TYPES = """
import numpy as np
def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    return (1, 2, 3)
def momentum_updates(grads, alpha, mu):
    return "steps"
def adam_updates(grads, alpha, beta1, beta2, eps):
    return np.zeros(3)
def momentum_scale_factor(c):
    return None
def adam_scale_factor(c):
    return [1, 2]
def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    return 1.5
def concept_answers():
    return ["consistently_large_gradients"]
"""


def _files() -> dict[str, bytes]:
    """name -> bytes of every file in the bad-input folder."""
    shell = [f"!touch {PWNED}-bang", f"files = !touch {PWNED}-assign", f"%system touch {PWNED}-magic",
             f"get_ipython().system('touch {PWNED}-getipython')"]
    return {
        "empty.py": b"",
        "binary.py": bytes(range(256)) * 4,
        "latin1.py": HONEST.replace("honest neighbour", "honest neighbour (caf\u00e9)").encode("latin-1"),
        "oversized.py": (HONEST + "#" * (MAX_BYTES + 10)).encode(),
        "syntax_error.py": (HONEST + "\ndef broken(:\n    pass\n").encode(),
        "malformed.ipynb": b'{"cells": [ {"cell_type": "code", "source": "x = 1"',
        "not_a_notebook.ipynb": b'{"hello": "world"}',
        "magics.ipynb": _notebook("md:# My solution", *shell, f"%%bash\ntouch {PWNED}-cellmagic",
                                  HONEST, "%timeit momentum_scale_factor(2)",
                                  f"import os\nos.system('touch {PWNED}-ossystem')").encode(),
        "missing.py": MISSING.encode(),
        "wrong_types.py": WRONG_TYPES.encode(),
        "traversal.zip": _zip({"../evil.py": HONEST, "/abs.py": HONEST, "C:\\windows.py": HONEST}),
        "traversal_and_good.zip": _zip({"../../etc/evil.py": HONEST, "work/adam_vs_momentum.py": HONEST}),
        "links.zip": _zip({}, links=[("adam_vs_momentum.py", "/etc/passwd")]),
        "bomb.zip": _zip({"adam_vs_momentum.py": b"#" * 50_000_000}),
        "wide_bomb.zip": _zip({f"part{i}.py": b" " * 900_000 for i in range(300)}),
        "nested.zip": _zip({"inner.zip": _zip({"adam_vs_momentum.py": HONEST})}),
        "corrupt.zip": _zip({"adam_vs_momentum.py": HONEST})[:200],
        "class_download.zip": _zip({"bob/adam_vs_momentum.py": HONEST, "carol/adam_vs_momentum.py": MISSING,
                                    "carol/notes.py": "x = 1"}),
        "honest.py": HONEST.encode(),
        # PowerShell 5's Compress-Archive writes backslashes between a member's folders
        "windows_paths.zip": _zip({"hw3\\adam_vs_momentum.py": HONEST, "hw3\\conftest.py": "x = 1",
                                   "hw3\\test_adam_vs_momentum.py": "x = 2"}),
        "plotted.ipynb": _plotted_notebook(HONEST, 1_500_000).encode(),  # outputs saved: over 1 MB
        "bom.ipynb": ("\ufeff" + _notebook(HONEST)).encode(),
    }


def _plotted_notebook(code: str, picture_bytes: int) -> str:
    """A notebook whose one code cell has a saved plot of ``picture_bytes`` bytes."""
    import base64

    picture = base64.b64encode(b"\x89PNG" + bytes(picture_bytes)).decode()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(code, outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": picture})])]
    return nbformat.writes(notebook)


@pytest.fixture(scope="session")
def bad_batch(tmp_path_factory):
    base = tmp_path_factory.mktemp("bad-input")
    bad = base / "bad"
    bad.mkdir()
    for name, data in _files().items():
        (bad / name).write_bytes(data)
    outside = base / "outside.py"
    outside.write_text(HONEST, encoding="utf-8")
    (bad / "symlink.py").symlink_to(outside)
    os.mkfifo(bad / "fifo.py")
    for folder in ("dup1", "dup2"):
        (base / folder).mkdir()
        (base / folder / "alice.py").write_text(HONEST if folder == "dup1" else MISSING, encoding="utf-8")
    inputs = [p for p in sorted(base.rglob("*")) if p.is_file() and not p.is_symlink()]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in inputs}
    links_before = {p: os.readlink(p) for p in base.rglob("*") if p.is_symlink()}
    out = base / "out"
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(bad), str(base / "dup1"), str(base / "dup2"),
                          "--out", str(out), "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - started
    reports = {json.loads(p.read_text(encoding="utf-8"))["student"]: json.loads(p.read_text(encoding="utf-8"))
               for p in (out / "reports").glob("*.json")}
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in inputs}
    links_after = {p: os.readlink(p) for p in base.rglob("*") if p.is_symlink()}
    return {"run": run, "reports": reports, "before": before, "after": after, "seconds": seconds,
            "links": (links_before, links_after), "out": out}


def _text(report) -> str:
    """Everything the student reads: notes and every item's feedback."""
    return "\n".join(list(report["notes"]) + [line for item in report["items"] for line in item["feedback"]])


def test_the_batch_goes_on_and_every_input_gets_a_report(bad_batch):
    assert bad_batch["run"].returncode == 0, bad_batch["run"].stderr[-2000:]
    expected = {Path(name).stem for name in _files()}
    expected |= {"symlink", "fifo", "alice", "alice-2"}
    assert expected <= set(bad_batch["reports"])
    assert bad_batch["reports"]["honest"]["total"] == 15
    assert bad_batch["seconds"] < 120


def test_no_input_was_modified_or_deleted(bad_batch):
    assert bad_batch["after"] == bad_batch["before"]
    links_before, links_after = bad_batch["links"]
    assert links_after == links_before


@pytest.mark.parametrize("student, phrases", [
    ("empty", ["the file is empty"]),
    ("binary", ["binary", "NUL bytes"]),
    ("latin1", ["not UTF-8", "byte 0xe9", "save it as UTF-8"]),
    ("oversized", ["bytes; the limit is 1,000,000 bytes"]),
    ("syntax_error", ["SyntaxError", "line "]),
    ("malformed", ["the notebook cannot be read"]),
    ("not_a_notebook", ["the notebook cannot be read"]),
    ("missing", ["is not defined in the submission"]),
    ("traversal", ["path traversal", "'../evil.py'", "'/abs.py'", "holds no .py or .ipynb file"]),
    ("links", ["symbolic link"]),
    ("bomb", ["expands to 50,000,000 bytes"]),
    ("wide_bomb", ["expands to more than 200 MB"]),
    ("nested", ["'inner.zip' is an archive inside the archive"]),
    ("corrupt", ["the zip archive cannot be read"]),
    ("symlink", ["symbolic link", "not followed"]),
    ("fifo", ["not a regular file"]),
])
def test_each_bad_input_gets_a_precise_message_in_its_own_report(bad_batch, student, phrases):
    report = bad_batch["reports"][student]
    text = _text(report)
    for phrase in phrases:
        assert phrase in text, f"{student}: {phrase!r} not in\n{text[:1500]}"
    assert report["total"] == (0.5 if student == "missing" else 0)  # missing.py defines one function
    assert not any(item["status"] == "ungradable" for item in report["items"]), \
        "a student's broken file is the student's problem, never 'ungradable'"


def test_a_zip_with_traversal_next_to_a_good_file_grades_the_good_file_and_says_what_it_skipped(bad_batch):
    report = bad_batch["reports"]["traversal_and_good"]
    assert report["total"] == 15
    assert any("path traversal" in note and "../../etc/evil.py" in note for note in report["notes"])
    assert report["submission"] == "traversal_and_good.zip:work/adam_vs_momentum.py"


def test_a_zip_in_a_folder_is_one_students_submission_even_with_a_folder_per_student(bad_batch):
    reports = bad_batch["reports"]
    assert "bob" not in reports and "carol" not in reports  # ids never come from inside a zip
    report = reports["class_download"]
    assert report["total"] == 15 and report["submission"] == "class_download.zip:bob/adam_vs_momentum.py"
    assert any("carol/adam_vs_momentum.py" in note and "carol/notes.py" in note for note in report["notes"])


@pytest.mark.parametrize("student, submission", [
    ("windows_paths", "windows_paths.zip:hw3/adam_vs_momentum.py"),
    ("plotted", "plotted.ipynb"),
    ("bom", "bom.ipynb"),
])
def test_files_that_run_in_jupyter_or_unzip_anywhere_are_graded_in_full(bad_batch, student, submission):
    """A zip made on Windows, a notebook larger than a .py may be because of its saved plots,
    and a notebook saved with a byte-order mark are each graded as the file they hold."""
    report = bad_batch["reports"][student]
    assert report["total"] == 15, _text(report)[:1500]
    assert report["submission"] == submission


def test_wrong_return_types_are_named_item_by_item(bad_batch):
    report = bad_batch["reports"]["wrong_types"]
    feedback = {item["id"]: item["feedback"][0] for item in report["items"]}
    assert report["total"] == 0
    assert "must return a dict" in feedback["1a"]          # a tuple
    assert "is a str" in feedback["2.1.momentum_updates"]  # a string
    assert "shape (3,)" in feedback["2.1.adam_updates"]    # the wrong shape
    assert "None" in feedback["2.2.momentum_scale_factor"]
    assert "not a sympy expression" in feedback["2.2.adam_scale_factor"]  # a list
    assert "must return a dict" in feedback["3b.spike_response"]          # a float
    assert "must return a dict" in feedback["3a.concepts"]                # a list
    assert "is not defined in the submission" in feedback["1d"]
    assert all(item["status"] in ("failed", "not_attempted") for item in report["items"])


def test_notebook_shell_escapes_and_magics_are_dropped_with_a_note_and_never_run(bad_batch):
    report = bad_batch["reports"]["magics"]
    assert report["total"] == 15, _text(report)[:2000]
    notes = "\n".join(report["notes"])
    for kind in ("shell escape", "cell magic", "line magic", "get_ipython() call"):
        assert f"dropped {kind}" in notes, notes
    time.sleep(0.2)
    assert not list(Path("/tmp").glob(f"{PWNED.name}*")), "a shell escape or os.system reached the host"


def test_two_folders_holding_alice_py_keep_both_submissions_apart(bad_batch):
    reports = bad_batch["reports"]
    first, second = reports["alice"], reports["alice-2"]
    assert {first["total"], second["total"]} == {15, 0.5}
    note = " ".join(second["notes"])
    assert "student id 'alice' is also used by dup1/alice.py" in note
    assert "(dup2/alice.py) is reported as 'alice-2'" in note


def test_student_ids_differing_only_in_case_get_distinct_report_files(tmp_path):
    (tmp_path / "Alice.py").write_text("x = 1\n")
    (tmp_path / "alice.py").write_text("x = 2\n")
    ids = sorted(s.student for s in discover([tmp_path]))
    assert len({i.lower() for i in ids}) == 2


def test_read_zip_never_extracts_anything_to_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    list(read_zip("x.zip", _zip({"../escape.py": "x = 1", "adam_vs_momentum.py": "x = 2"})))
    assert list(tmp_path.iterdir()) == []
    assert not (tmp_path.parent / "escape.py").exists()
