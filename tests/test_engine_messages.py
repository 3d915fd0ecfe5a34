"""The words a student reads about a wrong answer, in the local ``pytest`` run and in the
grader's report alike (grader/engine words both):

* a symbolic near miss shows two different numbers, not the same rounded number twice;
* a NumPy string (``np.str_``) is an answer judged on its text, as the same Python ``str``;
* a sympy function returned uncalled (``sympy.cos`` for ``sympy.cos(c)``) is named as such,
  with what to do about it.

Each is checked on the engine's own functions, then end to end on both sides: the grader's
worker encoding the answer, its client decoding it and the grader's judges wording it, and
the student's local run (the submission in a child process, judged by the public checks).
"""

from __future__ import annotations

import json
import types
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from reference import adam_vs_momentum as reference

from grader.engine import checks
from grader.engine.checks import check_concepts, describe
from grader.engine.expressions import PRECISE, encode_sympy
from grader.engine.localrun import Limits, LocalRun
from grader.engine.pointwise import PRECISE_ATOL, PRECISE_RTOL, agreement
from grader.engine.publicdata import load_public_data
from grader.engine.selfcheck import check_item
from grader.engine.wire import MAX_STRING, OtherValue, decode_value, encode_value
from grader.judging.symbolic import SymbolicJudge

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignment"
PUBLIC = json.loads((ASSIGNMENT / "public_checks.json").read_text(encoding="utf-8"))


def sent(value):
    """What the trusted side decodes of ``value`` as a worker sends it (through JSON)."""
    return decode_value(json.loads(json.dumps(encode_value(value))))


def shown_pair(message: str) -> tuple[str, str]:
    """The expected and the obtained number of an "expected A, got B" message."""
    expected, got = message.rsplit(": expected ", 1)[1].split(", got ")
    return expected, got


# ---------------------------------------------------------------------------
# 1. A near miss shows two different numbers
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("expected, got, words", [
    (0.3333333, 0.3333334, "expected 0.3333333, got 0.3333334"),     # differ in the 7th digit
    (1.0, 1.0 + 3e-9, "expected 1, got 1.000000003"),                 # just over the 1e-9 tolerance
    (-0.251981775207, -0.251981775207 * (1 + 5e-9), "expected -0.251981775, got -0.251981776"),
    (1 / 3, 2 / 3, "expected 0.333333, got 0.666667"),                # clearly different: 6 digits
    (0.5, 2.0, "expected 0.5, got 2"),
    (1.0, 1e-7, "expected 1, got 1e-07"),
])
def test_a_symbolic_mismatch_shows_numbers_that_differ(expected, got, words):
    result = agreement([got], [expected])
    assert not result.agree
    assert result.describe([{"x": 0.25}]) == f"at x=0.25: {words}"


def test_booleans_and_missing_values_are_shown_as_before():
    assert agreement([True], [False]).describe([{"x": 1.0}]) == "at x=1: expected False, got True"
    assert agreement([None], [0.5]).describe([{"x": 1.0}]) == "at x=1: expected 0.5, got no finite real value"


def test_a_near_miss_at_an_exact_point_shows_as_many_of_its_50_digits_as_it_takes():
    """At the exact points (50-digit arithmetic, agreement to 1e-35) two values can differ
    where their doubles are the same number: their own digits tell them apart."""
    expected = PRECISE.number(Fraction(1, 3))
    got = expected * (1 + PRECISE.number(Fraction(1, 10 ** 25)))
    result = agreement([got], [expected], rtol=PRECISE_RTOL, atol=PRECISE_ATOL)
    assert not result.agree
    a, b = shown_pair(result.describe([{"x": PRECISE.number(Fraction(1, 2))}]))
    assert a != b
    assert a.startswith("0.33333333333333333333333") and len(a) < 40


def test_the_graders_judge_shows_a_near_miss_with_different_numbers():
    g1 = sp.Symbol("g1", real=True)
    judge = SymbolicJudge(cache=False)
    verdict = judge.judge(sent(g1 * sp.Float("0.3333337")), encode_sympy(g1 / 3), ["g1"], what="m1")
    assert verdict.outcome == "wrong"
    a, b = shown_pair(verdict.message)
    assert a != b, verdict.message


# ---------------------------------------------------------------------------
# 2. A NumPy string is judged on its text
# ---------------------------------------------------------------------------

def test_a_numpy_string_is_sent_as_the_plain_string_it_holds():
    letters = np.array(["a", "b", "c"])
    for value in (np.str_("b"), letters[1], np.random.default_rng(0).choice(letters)):
        encoded = encode_value(value)
        assert encoded == encode_value(str(value)) and type(encoded["v"]) is str
        assert sent(value) == str(value) and type(sent(value)) is str
    assert sent({"q1": letters[0]}) == {"q1": "a"}
    assert sent({np.str_("q1"): "a"}) == {"q1": "a"}  # a key taken from a numpy array of names


def test_a_numpy_string_has_the_same_length_limit_as_a_str():
    at_limit, over = "x" * MAX_STRING, "x" * (MAX_STRING + 1)
    assert encode_value(np.str_(at_limit)) == encode_value(at_limit) == {"t": "str", "v": at_limit}
    too_long = encode_value(np.str_(over))
    assert too_long["t"] == "other" and too_long["why"] == encode_value(over)["why"] == "string too long"


def test_concept_answers_in_numpy_strings_are_judged_as_their_text():
    options = {"q1": ("a", "b"), "q2": ("c", "d")}
    plain = check_concepts(sent({"q1": "a", "q2": "d"}), options, {"q1": "a", "q2": "c"})
    numpy = check_concepts(sent({"q1": np.array(["a", "b"])[0], "q2": np.str_("d")}), options,
                           {"q1": "a", "q2": "c"})
    assert numpy == plain
    assert numpy.share == 0.5 and numpy.messages == ("q1: correct", "q2: 'd' is not the best answer")


# ---------------------------------------------------------------------------
# 3. A sympy function returned uncalled is named
# ---------------------------------------------------------------------------

UNCALLED = [(sp.cos, "cos"), (sp.exp, "exp"), (sp.Abs, "Abs"), (sp.sign, "sign"), (sp.Function("f"), "f"),
            (sp.sqrt, "sqrt"), (np.sqrt, "sqrt")]


@pytest.mark.parametrize("function, name", UNCALLED, ids=[name for _, name in UNCALLED])
def test_a_function_returned_uncalled_is_named_with_what_to_do(function, name):
    answer = sent(function)
    assert isinstance(answer, OtherValue)
    assert describe(answer) == f"the function {name} itself (not applied to an argument)"
    verdict = checks.not_expression("the answer of f", answer)
    assert verdict.outcome == "not_expression"
    assert verdict.message == (f"the answer of f is the function {name} itself, not an expression: "
                               f"apply it to an argument, as in {name}(x)")


def test_other_values_keep_their_words():
    assert checks.not_expression("m1", sent(("a", 1))).message == "m1 is a tuple, not a sympy expression"
    assert checks.not_expression("m1", sent(object())).message == (
        "m1 is an object (not a number, array, expression, string or dict), not a sympy expression")
    assert checks.not_expression("m1", sent(lambda c: c)).message.startswith("m1 is a function (")


# ---------------------------------------------------------------------------
# End to end: the grader's report and the student's local run say the same
# ---------------------------------------------------------------------------

CONCEPT_OPTIONS = {key: entry["options"] for key, entry in PUBLIC["concepts"].items()}

SOURCE = f'''
import numpy as np
import sympy

OPTIONS = {CONCEPT_OPTIONS!r}


def momentum_scale_factor(c):
    return sympy.cos


def adam_step_bound(m_hat, alpha, eps):
    return alpha * abs(m_hat) / eps * sympy.Float("1.000000005")


def concept_answers():
    return {{key: np.array(options)[0] for key, options in OPTIONS.items()}}
'''


def _student_answers():
    """The answers of SOURCE, computed here (as the grader's worker would call them)."""
    namespace: dict = {}
    exec(compile(SOURCE, "adam_vs_momentum.py", "exec"), namespace)
    module = types.ModuleType("adam_vs_momentum")
    module.__dict__.update(namespace)
    return module


@pytest.fixture(scope="module")
def grader_feedback():
    """Each item's feedback in the grader's report of SOURCE: the reference's answers, but
    SOURCE's for its three functions, each through the worker's reply and the client's reading."""
    from grader.judging.inputs import draw_inputs
    from grader.judging.items import Judging, judge_items, plan_calls, reference_outcomes
    from grader.rubric import load_rubric
    from grader.sandbox import worker
    from grader.sandbox.client import _call_outcome

    module = _student_answers()
    inputs = draw_inputs("student messages")
    outcomes = dict(reference_outcomes(inputs))
    for call in plan_calls(inputs):
        if call.function in ("momentum_scale_factor", "adam_step_bound", "concept_answers"):
            reply = worker._call(module, {"id": 1, "function": call.function, "args": list(call.args)},
                                 "adam_vs_momentum.py")
            outcomes[call.key] = _call_outcome(json.loads(json.dumps(reply)), call, 1)[0]
    results = judge_items(Judging.create(load_rubric()), inputs, outcomes)
    return {result.id: result for result in results}


@pytest.fixture(scope="module")
def local_results():
    """The public checks of SOURCE as the student's ``pytest`` runs them."""
    data = load_public_data(ASSIGNMENT / "public_checks.json")
    run = LocalRun(SOURCE, "adam_vs_momentum.py", Limits.from_data(PUBLIC), bundle=ASSIGNMENT)
    try:
        return {item: check_item(item, run, data)
                for item in ("2.2.momentum_scale_factor", "2.3.adam_step_bound", "3a.concepts", "3b.concepts")}
    finally:
        run.close()


def test_an_uncalled_function_is_named_in_the_report_and_in_the_local_run(grader_feedback, local_results):
    words = ("the answer of momentum_scale_factor is the function cos itself, not an expression: "
             "apply it to an argument, as in cos(x)")
    assert grader_feedback["2.2.momentum_scale_factor"].points == 0
    assert grader_feedback["2.2.momentum_scale_factor"].feedback[0] == words
    local = local_results["2.2.momentum_scale_factor"]
    assert local.status == "failed"
    assert any("is the function cos itself, not an expression: apply it to an argument, as in cos(x)" in line
               for line in local.messages), local.messages


def test_a_near_miss_shows_different_numbers_in_the_report_and_in_the_local_run(grader_feedback,
                                                                               local_results):
    report = grader_feedback["2.3.adam_step_bound"]
    assert report.points == 0 and "is not right" in report.feedback[0]
    assert shown_pair(report.feedback[0])[0] != shown_pair(report.feedback[0])[1], report.feedback
    local = [line for line in local_results["2.3.adam_step_bound"].messages if "is not right" in line]
    assert local and shown_pair(local[0])[0] != shown_pair(local[0])[1], local


def test_numpy_string_concept_answers_are_judged_in_the_report_and_in_the_local_run(grader_feedback,
                                                                                   local_results):
    for item in ("3a.concepts", "3b.concepts"):
        assert local_results[item].status == "format_ok", local_results[item].messages
        feedback = grader_feedback[item].feedback
        assert not any("is not one of the options" in line for line in feedback), feedback
        chosen = [line for line in feedback if line.endswith(": correct") or "is not the best answer" in line]
        assert len(chosen) == len([k for k in CONCEPT_OPTIONS if k.startswith(item[:2] + "_")]), feedback
