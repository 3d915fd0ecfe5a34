"""The trusted judge is bounded and its caches cannot lie (issue 9.5, issue 10.6).

Caches are keyed by content, bounded, shared safely between threads and all off with
``cache=False``; judging one answer and one submission has a work budget that becomes a
clear message on the item; recursion is "too deeply nested", never an ungradable report.
"""

import threading

import numpy as np
import pytest
import sympy as sp

from reference import adam_vs_momentum as reference

from grader.engine.contract import SYMBOLIC_FUNCTIONS
from grader.engine.symbols import make_symbols
from grader.engine.wire import ExprValue, canonical_key, decode_value, encode_value
from grader.judging.inputs import draw_inputs
from grader.judging.items import Judging, judge_items, plan_calls, symbolic_call
from grader.judging.misconceptions import symbolic_templates
from grader.judging.symbolic import SymbolicJudge
from grader.results import CallOutcome
from grader.rubric import load_rubric

RUBRIC = load_rubric()
K = sp.Symbol("k", integer=True)


@pytest.fixture(scope="module")
def judging():
    return Judging.create(RUBRIC)


def wire(value):
    return decode_value(encode_value(value))


def reference_outcomes(inputs, change=None):
    """Outcomes of the reference on every planned call; ``change(function, answer)`` may alter them."""
    outcomes = {}
    for call in plan_calls(inputs):
        if call.args and "sym" in call.args[0]:
            answer = getattr(reference, call.function)(*make_symbols(SYMBOLIC_FUNCTIONS[call.function]).values())
        elif call.args:
            from grader.engine.arguments import decode_argument
            answer = getattr(reference, call.function)(*(decode_argument(a) for a in call.args))
        else:
            answer = getattr(reference, call.function)()
        if change is not None:
            answer = change(call.function, answer)
        outcomes[call.key] = CallOutcome("value", wire(answer))
    return outcomes


def total(results):
    return sum(r.points for r in results)


def bound_answer(expr_of):
    S = make_symbols(SYMBOLIC_FUNCTIONS["adam_step_bound"])
    return wire(expr_of(S))


def judge_bound(judge, answer, judging, **kw):
    return judge.judge(answer, judging.references[("adam_step_bound", None)], SYMBOLIC_FUNCTIONS["adam_step_bound"],
                       what="bound", templates=symbolic_templates("adam_step_bound"), **kw)


# ---------------------------------------------------------------------------
# Caches
# ---------------------------------------------------------------------------

def test_caches_are_keyed_by_content_not_identity(judging):
    judge = SymbolicJudge()
    first = judge_bound(judge, bound_answer(lambda S: S["alpha"] * S["m_hat"] / S["eps"]), judging)
    sizes = judge.cache_sizes()
    # the same expression built again (new objects everywhere) is a hit everywhere
    again = judge_bound(judge, bound_answer(lambda S: S["alpha"] * S["m_hat"] / S["eps"]), judging)
    assert again == first and judge.cache_sizes() == sizes
    other = judge_bound(judge, bound_answer(lambda S: S["alpha"] * sp.Abs(S["m_hat"]) / S["eps"]), judging)
    assert other.correct and not first.correct


def test_cache_false_turns_every_cache_off(judging):
    judge = SymbolicJudge(cache=False)
    for expr in (lambda S: S["alpha"] / S["eps"], lambda S: S["alpha"] * sp.Abs(S["m_hat"]) / S["eps"]):
        judge_bound(judge, bound_answer(expr), judging)
    assert not any(judge.cache_sizes().values())


def test_caches_are_bounded(judging):
    judge = SymbolicJudge(cache_sizes={"points": 8, "values": 8, "agreements": 8, "verdicts": 8})
    for n in range(40):
        judge_bound(judge, bound_answer(lambda S: S["alpha"] * S["m_hat"] * (n + 2) / S["eps"]), judging)
    assert all(size <= 8 for size in judge.cache_sizes().values())
    assert judge_bound(judge, bound_answer(lambda S: S["alpha"] * sp.Abs(S["m_hat"]) / S["eps"]), judging).correct


def test_the_judge_is_safe_to_share_between_threads(judging):
    answers = [bound_answer(lambda S, n=n: S["alpha"] * sp.Abs(S["m_hat"]) / S["eps"] * (1 + n % 3))
               for n in range(24)]
    expected = [judge_bound(SymbolicJudge(cache=False), a, judging) for a in answers]
    shared = SymbolicJudge()
    got = [None] * len(answers)

    def work(indices):
        for i in indices:
            got[i] = judge_bound(shared, answers[i], judging)

    threads = [threading.Thread(target=work, args=(range(k, len(answers), 4),)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == expected


def test_a_warm_cache_gives_the_same_report_budget_included(judging):
    inputs = draw_inputs("bounds")
    padded = sp.Sum(sp.Heaviside(K) - 1, (K, 1, 200))

    def pad(function, answer):
        if function in SYMBOLIC_FUNCTIONS:
            return {k: v + padded for k, v in answer.items()} if isinstance(answer, dict) else answer + padded
        return answer

    outcomes = reference_outcomes(inputs, pad)
    cold = judge_items(Judging.create(RUBRIC, cache=False), inputs, outcomes)
    warm_judging = Judging.create(RUBRIC)
    judge_items(warm_judging, inputs, outcomes)
    assert judge_items(warm_judging, inputs, outcomes) == cold


# ---------------------------------------------------------------------------
# Work budgets
# ---------------------------------------------------------------------------

def test_a_correct_file_is_judged_well_within_its_budget(judging):
    inputs = draw_inputs("bounds")
    assert total(judge_items(judging, inputs, reference_outcomes(inputs))) == 15


def test_an_answer_over_its_budget_gets_a_clear_message_and_the_rest_is_judged(judging):
    inputs = draw_inputs("bounds")
    huge = sp.Sum(sp.Heaviside(K) - 1, (K, 1, 10_000))

    def pad_bound(function, answer):
        return answer + huge if function == "adam_step_bound" else answer

    results = {r.id: r for r in judge_items(judging, inputs, reference_outcomes(inputs, pad_bound))}
    bound = next(r for r in results.values() if "adam_step_bound" in " ".join(r.feedback))
    assert bound.points == 0 and bound.status == "failed"
    assert "could not be judged" in bound.feedback[0] and "600,000 work units" in bound.feedback[0]
    assert total(results.values()) == 15 - bound.max_points


def test_the_submission_budget_bounds_the_whole_file(judging):
    inputs = draw_inputs("bounds")
    huge = sp.Sum(sp.Heaviside(K) - 1, (K, 1, 10_000))

    def pad(function, answer):
        if function in SYMBOLIC_FUNCTIONS:
            return {k: v + huge for k, v in answer.items()} if isinstance(answer, dict) else answer + huge
        return answer

    results = judge_items(judging, inputs, reference_outcomes(inputs, pad))
    said = "\n".join(line for r in results for line in r.feedback)
    assert "this submission needs more than 3,000,000 work units" in said
    assert all(r.status != "ungradable" for r in results)
    assert total(results) == 6  # the numeric and concept items


def test_recursion_is_too_deeply_nested_never_ungradable(judging):
    inputs = draw_inputs("bounds")
    outcomes = reference_outcomes(inputs)
    # a forged tree that skips validation: 2,000 nested limits
    limits = [["Limits", ["Symbol", f"k{i}"], ["Integer", "1"], ["Integer", "1"]] for i in range(2000)]
    tree = ["Add", ["Sum", ["Integer", "0"], *limits], ["Symbol", "alpha"]]
    outcomes[symbolic_call("adam_step_bound").key] = CallOutcome("value", ExprValue(tree, canonical_key(tree)))
    results = judge_items(judging, inputs, outcomes)
    bound = [r for r in results if r.points == 0]
    assert len(bound) == 1 and "nested too deeply" in " ".join(bound[0].feedback)
    assert total(results) == 14.5


def test_a_sum_with_600_limits_is_refused_as_nested_too_deeply():
    S = make_symbols(SYMBOLIC_FUNCTIONS["adam_step_bound"])
    ks = sp.symbols("k0:600", integer=True)
    value = wire(S["alpha"] + sp.Sum(sp.Integer(0), *[(k, 1, 1) for k in ks]))
    assert "nested too deeply" in value.why
