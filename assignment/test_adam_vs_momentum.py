"""One public check per rubric item; see conftest.py and README.md."""

from pathlib import Path

import pytest

from grader.engine.publicdata import load_public_data
from grader.engine.selfcheck import check_item

DATA = load_public_data(Path(__file__).resolve().parent / "public_checks.json")


@pytest.mark.parametrize("item", DATA.items, ids=[item.id for item in DATA.items])
def test_public_check(item, student, record_check):
    result = check_item(item, student, DATA)
    record_check(result)
    if not result.ok:
        pytest.fail("\n".join(result.messages), pytrace=False)
