"""One public check per rubric item; see conftest.py and README.md."""

import json
from pathlib import Path

import pytest

from grader.engine.selfcheck import CheckResult, check_item

ITEMS = json.loads((Path(__file__).resolve().parent / "public_checks.json").read_text(encoding="utf-8"))["items"]


@pytest.mark.parametrize("item", ITEMS, ids=[item["id"] for item in ITEMS])
def test_public_check(item, student, public_data, record_check):
    problem = getattr(student, "message", None) if type(student).__name__ == "ImportProblem" else None
    if problem:
        record_check(CheckResult(item["id"], item["title"], item["part"], item["points"], "error", 0.0, (problem,)))
        pytest.fail(problem, pytrace=False)
    result = check_item(item, student, public_data)
    record_check(result)
    if not result.ok:
        pytest.fail("\n".join(result.messages), pytrace=False)
