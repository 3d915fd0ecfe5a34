"""The speed-ups change nothing: same reports with and without the verdict cache, and with
one or two parallel workers."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from grader.judging.grading import grade
from grader.judging.items import Judging
from grader.outputs.reports import report_json
from grader.rubric import load_rubric
from grader.sandbox.manager import Sandbox
from grader.intake.submissions import discover

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"
# Correct forms, misconceptions with follow-through, unknown symbols, wrong types.
SAMPLE = ("c01_expanded_vectorised", "c04_sum_piecewise", "c10_unevaluated_nodes", "m01_no_bias_correction",
          "m07_eps_inside_sqrt", "m10_sqrt_of_square_as_g", "m25_slip_in_m_hat2_follow_through",
          "e05_missing_and_misspelt_keys", "e07_unknown_symbols")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample")
    for name in SAMPLE:
        source = CORPUS / f"{name}.py"
        (folder / source.name).write_bytes(source.read_bytes())
    # Each twice under another name, so that the second copy is judged from the cache.
    for name in SAMPLE:
        (folder / f"{name}_again.py").write_bytes((CORPUS / f"{name}.py").read_bytes())
    return folder


def test_same_reports_with_and_without_the_verdict_cache(sample):
    rubric = load_rubric()
    cached = Judging.create(rubric)
    uncached = dataclasses.replace(cached, judge=dataclasses.replace(cached.judge, cache=False,
                                                                      _verdicts={}, _agreements={}))
    submissions = discover([sample])
    with Sandbox(rubric.limits) as sandbox:
        with_cache = [report_json(grade(cached, sandbox, 0, s)) for s in submissions]
        without = [report_json(grade(uncached, sandbox, 0, s)) for s in submissions]
    assert with_cache == without
    assert cached.judge._verdicts and not uncached.judge._verdicts


def tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_output_with_one_and_with_two_workers(sample, tmp_path):
    for workers in (1, 2):
        subprocess.run([sys.executable, "-m", "grader", "grade", str(sample), "--out", str(tmp_path / f"w{workers}"),
                        "--workers", str(workers), "--quiet"], check=True, capture_output=True, timeout=600)
    one, two = tree(tmp_path / "w1"), tree(tmp_path / "w2")
    assert sorted(one) == sorted(two) and len(one) > 2 * len(SAMPLE)
    assert [name for name in one if one[name] != two[name]] == []
