"""One chunk of submissions graded from plain data gives the reports a batch writes."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from grader.chunk import grade_chunk, submission_from_data, submission_to_data
from grader.intake.submissions import discover
from grader.judging.items import Judging
from grader.rubric import DEFAULT_RUBRIC, load_rubric
from grader.sandbox.manager import Sandbox

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "submissions"


def plain(value) -> bool:
    """Only what JSON or msgpack carry: no object of any class of ours."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain(v) for v in value)
    return value is None or type(value) in (str, bytes, int, float, bool)


def test_a_submission_crosses_as_plain_data_and_comes_back_equal(tmp_path):
    (tmp_path / "empty.py").write_bytes(b"")
    subs = discover([EXAMPLES, tmp_path / "empty.py"])  # a missing path is an InputError (issue 11)
    assert any(s.error for s in subs) and any(s.notes for s in subs)
    for sub in subs:
        data = submission_to_data(sub)
        assert plain(data)
        assert submission_from_data(pickle.loads(pickle.dumps(data))) == sub
    data = submission_to_data(subs[0])
    for field, bad in (("notes", [1]), ("content", "text"), ("student", None)):
        with pytest.raises(TypeError, match=field):
            submission_from_data({**data, field: bad})
    with pytest.raises(ValueError):
        submission_from_data({**data, "extra": 1})


def test_a_chunk_graded_from_plain_data_gives_the_batch_reports_byte_for_byte(tmp_path):
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "grader", "grade", str(EXAMPLES), "--out", str(out), "--quiet",
                    "--workers", "2"], check=True, capture_output=True, timeout=300, cwd=tmp_path)
    digest = json.loads((out / "reports" / "alice_correct.json").read_text())["rubric_sha256"]
    rubric = load_rubric(DEFAULT_RUBRIC)
    chunk = [submission_to_data(s) for s in discover([EXAMPLES])]
    seen = []
    with Sandbox(rubric.limits, hide={str(EXAMPLES), str(out)}) as sandbox:
        reports = grade_chunk(Judging.create(rubric), sandbox, chunk, slots=(0, 1), rubric_sha256=digest,
                              on_report=lambda report, seconds: seen.append(report["student"]))
    assert [r["student"] for r in reports] == [d["student"] for d in chunk]
    assert sorted(seen) == sorted(d["student"] for d in chunk)
    for report in reports:
        assert plain(report)
        text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
        assert text == (out / "reports" / f"{report['student']}.json").read_text(encoding="utf-8")
