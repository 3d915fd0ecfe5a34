"""The shared checks (grader/engine/checks.py) and the public data schema (publicdata.py):
one implementation for the grader's judges and the students' public checks."""

import json
from pathlib import Path

import numpy as np
import pytest

from grader.engine import checks
from grader.engine.checks import Unanswered, check_array_cases, check_concepts, check_ratio_cases, describe
from grader.engine.publicdata import VERSION, PublicDataError, load_public_data
from grader.engine.wire import ArrayValue, ExprValue, OtherValue

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ROOT / "assignment" / "public_checks.json"


def arr(x):
    return ArrayValue(np.asarray(x, dtype=float), 0)


@pytest.mark.parametrize("value, words", [
    (None, "None (did the function forget to return?)"),
    ("abc", "the string 'abc'"),
    (True, "the boolean True"),
    (0.5, "the number 0.5"),
    ({}, "a dict"),
    (arr([[1.0]]), "an array of shape (1, 1)"),
    (ExprValue(["Integer", "1"], ""), "a sympy expression"),
    (OtherValue("tuple", "TypeError: ..."), "a tuple"),
    (OtherValue("ComplexInfinity", "unsupported expression node 'ComplexInfinity'"),
     "infinite or undefined (it holds sympy's zoo: a division by zero?)"),
])
def test_describe(value, words):
    assert describe(value) == words


def test_array_cases_stop_at_the_first_mismatch_and_name_matching_templates():
    answers = [arr([1.0, 2.0]), arr([3.0, 5.0])]
    found = check_array_cases(answers.__getitem__, [[1.0, 2.0], [3.0, 4.0]], function="f", where="public",
                              rtol=1e-6, atol_scale=1e-9, templates=lambda i: {"slip": np.array([3.0, 5.0])})
    assert found.share == 0 and found.misconceptions == ("slip",)
    assert found.messages[0].startswith("the result on public input 2: 1 of 2 elements differ")
    ok = check_array_cases(answers[:1].__getitem__, [[1.0, 2.0]], function="f", where="hidden",
                           rtol=1e-6, atol_scale=1e-9)
    assert ok.share == 1 and ok.messages == ("f matches the reference on all 1 hidden inputs",)


def test_an_unanswered_case_propagates_to_the_caller():
    def answer(index):
        raise Unanswered
    with pytest.raises(Unanswered):
        check_array_cases(answer, [[1.0]], function="f", where="hidden", rtol=1e-6, atol_scale=1e-9)


def test_ratios_earn_their_share_per_key():
    found = check_ratio_cases([{"momentum": 2.0, "adam": 1.5}].__getitem__, [{"momentum": 2.0, "adam": 1.0}],
                              function="spike", shares={"momentum": 0.25, "adam": 0.75}, where="public",
                              rtol=1e-6, atol_scale=1e-9)
    assert found.share == 0.25 and "'momentum' matches the reference on every public input" in found.messages
    missing = check_ratio_cases([{"momentum": 2.0}].__getitem__, [{"momentum": 2.0, "adam": 1.0}],
                                function="spike", shares={"momentum": 0.5, "adam": 0.5}, where="public",
                                rtol=1e-6, atol_scale=1e-9)
    assert checks.missing_key("adam") in missing.messages
    not_dict = check_ratio_cases([None].__getitem__, [{"momentum": 2.0, "adam": 1.0}], function="spike",
                                 shares={"momentum": 0.5, "adam": 0.5}, where="public", rtol=1e-6, atol_scale=1e-9)
    assert not_dict.share == 0 and "spike must return a dict with the keys momentum, adam" in not_dict.messages[-1]


def test_concepts_grade_with_answers_and_only_validate_without():
    options = {"q1": ("a", "b"), "q2": ("c", "d")}
    graded = check_concepts({"q1": "a", "q2": "d"}, options, {"q1": "a", "q2": "c"})
    assert graded.share == 0.5 and graded.wrong_choices == (("q2", "d"),)
    public = check_concepts({"q1": "a", "q2": "x"}, options, None)
    assert public.share == 0.5 and any("is not one of the options (c, d)" in m for m in public.messages)
    assert check_concepts([], options, None).share == 0


def test_the_public_data_loads_typed_and_refuses_another_version(tmp_path):
    data = load_public_data(PUBLIC)
    assert data.version == VERSION and data.items and data.tolerances.numeric_rtol > 0
    raw = json.loads(PUBLIC.read_text())
    for change, message in ((lambda d: d.update(version=1), "version 1; these checks read"),
                            (lambda d: d.pop("schema"), "has schema None"),
                            (lambda d: d.update(contract="0" * 16), "stale"),
                            (lambda d: d["items"][0].update(kind="magic"), "unknown kind"),
                            (lambda d: d.pop("tolerances"), "malformed")):
        broken = json.loads(json.dumps(raw))
        change(broken)
        path = tmp_path / "public_checks.json"
        path.write_text(json.dumps(broken))
        with pytest.raises(PublicDataError, match=message):
            load_public_data(path)
    (tmp_path / "public_checks.json").write_text("{")
    with pytest.raises(PublicDataError, match="cannot read"):
        load_public_data(tmp_path / "public_checks.json")
