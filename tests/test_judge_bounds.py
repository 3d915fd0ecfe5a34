"""The trusted judge is bounded and its caches cannot lie (issue 9.5, issue 10.6).

Caches are keyed by content, bounded, shared safely between threads and all off with
``cache=False``; judging one answer and one submission has a work budget that becomes a
clear message on the item; naming the mistakes of one submission has a budget of its own
that drops names, never points; recursion is "too deeply nested", never an ungradable report.
"""

import dataclasses
import importlib.util
import json
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from reference import adam_vs_momentum as reference

from grader.engine.arguments import decode_argument
from grader.engine.contract import SYMBOLIC_FUNCTIONS
from grader.engine.expressions import Work
from grader.engine.symbols import make_symbols
from grader.engine.wire import ExprValue, canonical_key, decode_value, encode_value
from grader.errors import RubricError
from grader.judging.inputs import draw_inputs, submission_seed
from grader.judging.items import reference_outcomes as product_reference_outcomes
from grader.judging.items import UNNAMED, Judging, judge_items, plan_calls, symbolic_call
from grader.judging.misconceptions import symbolic_templates
from grader.judging.symbolic import SymbolicJudge
from grader.results import CallOutcome
from grader.rubric import DEFAULT_RUBRIC, load_rubric

RUBRIC = load_rubric()
K = sp.Symbol("k", integer=True)
CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.fixture(scope="module")
def judging():
    return Judging.create(RUBRIC)


def wire(value):
    return decode_value(encode_value(value))


def reference_outcomes(inputs, change=None):
    """Outcomes of the reference on every planned call; ``change(function, answer)`` may alter them."""
    outcomes = {}
    for call in plan_calls(inputs):
        answer = answer_of(reference, call)
        if change is not None:
            answer = change(call.function, answer)
        outcomes[call.key] = CallOutcome("value", wire(answer))
    return outcomes


def answer_of(module, call):
    """What ``module``'s function answers to a planned call."""
    if call.args and "sym" in call.args[0]:
        return getattr(module, call.function)(*make_symbols(SYMBOLIC_FUNCTIONS[call.function]).values())
    if call.args:
        return getattr(module, call.function)(*(decode_argument(a) for a in call.args))
    return getattr(module, call.function)()


def corpus_module(student: str):
    """A (trusted, honest) corpus file imported here, and the hidden inputs the grader draws for it."""
    path = CORPUS / f"{student}.py"
    spec = importlib.util.spec_from_file_location(f"corpus_{student}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, draw_inputs(submission_seed(path.read_bytes()))


def corpus_outcomes(student: str):
    """The hidden inputs of a corpus file and the outcomes of its answers to every planned call."""
    module, inputs = corpus_module(student)
    return inputs, {call.key: CallOutcome("value", wire(answer_of(module, call))) for call in plan_calls(inputs)}


def with_naming_budget(judging, units):
    """The same judging (the same judge and caches) with another naming budget per submission."""
    limits = dataclasses.replace(judging.rubric.limits, judge_work_naming_per_submission=units)
    return dataclasses.replace(judging, rubric=dataclasses.replace(judging.rubric, limits=limits))


class Counted:
    """Every work unit charged to any budget while it is on (each unit once: a charge to an
    answer's budget is also its submission's), and the submissions' grading and naming budgets."""

    def __init__(self, monkeypatch):
        self.units = 0
        self.gradings: list[Work] = []
        self.namings: list[Work] = []
        charge, init = Work.charge, Work.__init__

        def counting_charge(work, units):
            self.units += units
            return charge(work, units)

        def recording_init(work, limit, parent=None, *, what="this answer"):
            init(work, limit, parent, what=what)
            if what == "this submission":
                self.gradings.append(work)
            elif "mistakes" in what:
                self.namings.append(work)

        monkeypatch.setattr(Work, "charge", counting_charge)
        monkeypatch.setattr(Work, "__init__", recording_init)


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


def test_cache_false_also_turns_off_the_memo_the_misconception_templates_share(monkeypatch):
    """The templates of a wrong optimizer share their raw moments through the submission's
    memo: remembered within one submission (never across two, nor across threads), and
    computed afresh at every use with ``cache=False``, with the same report either way."""
    from grader.judging import misconceptions

    inputs, outcomes = corpus_outcomes("m01_no_bias_correction")
    computed = []
    raw = misconceptions._raw_moments
    monkeypatch.setattr(misconceptions, "_raw_moments", lambda *a: computed.append(1) or raw(*a))

    def moments_computed(judging):
        computed.clear()
        results = judge_items(judging, inputs, outcomes)
        return results, len(computed)

    cached = Judging.create(RUBRIC)
    first, with_memo = moments_computed(cached)
    again, with_memo_again = moments_computed(cached)
    plain, without = moments_computed(Judging.create(RUBRIC, cache=False))
    assert first == again == plain
    assert "no_bias_correction" in {m for r in first for m in r.misconceptions}
    # without the memo every template computes its moments (80 here); with it, the distinct
    # ones only (23)
    assert 0 < with_memo < without / 2
    assert with_memo_again == with_memo  # nothing carried over from the first submission


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


def test_the_template_warm_up_before_the_fork_changes_no_report():
    """The batch's warm-up for several trusted processes fills the judge's caches with the
    points and values of every single-mistake template (and builds the pair templates);
    judging afterwards gives the very same results, the work charged included."""
    from grader.batch import warm_up

    cold = Judging.create(RUBRIC)
    warm_up(cold)
    warmed = Judging.create(RUBRIC)
    warm_up(warmed, templates=True)
    assert warmed.judge.cache_sizes()["values"] > cold.judge.cache_sizes()["values"] + 100
    for student in ("m01_no_bias_correction", "m07_eps_inside_sqrt", "m25_slip_in_m_hat2_follow_through"):
        inputs, outcomes = corpus_outcomes(student)
        assert judge_items(warmed, inputs, outcomes) == judge_items(cold, inputs, outcomes), student


def test_the_rehearsal_of_a_cold_start_changes_no_report():
    """The batch judges the reference's answers to a throwaway draw before its first
    submission (``rehearse``), so that the first one pays no first-use costs; a judge that
    rehearsed gives the very same results, the work charged included, as one that did not,
    for a correct file and three with mistakes; the rehearsal itself earns full marks (it went
    through every judge)."""
    from grader.judging.items import rehearse

    fresh, rehearsed = Judging.create(RUBRIC), Judging.create(RUBRIC)
    rehearse(rehearsed)
    assert rehearsed.judge.cache_sizes()["values"] > fresh.judge.cache_sizes()["values"]
    inputs = draw_inputs("rehearsal")
    assert total(judge_items(fresh, inputs, product_reference_outcomes(inputs))) == 15
    fresh = Judging.create(RUBRIC)
    for student in ("c01_expanded_vectorised", "r05_no_sqrt_and_wrong_correction", "m07_eps_inside_sqrt",
                    "m25_slip_in_m_hat2_follow_through"):
        inputs, outcomes = corpus_outcomes(student)
        assert judge_items(rehearsed, inputs, outcomes) == judge_items(fresh, inputs, outcomes), student


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


def m01_padded_outcomes(inputs, terms: int):
    """Outcomes of the reference, except Part 1: m01's answers (no bias correction, so wrong and
    named), each padded with a zero Sum of ``terms`` terms (costly to evaluate, yet each
    verdict within one answer's budget)."""
    m01, _ = corpus_module("m01_no_bias_correction")
    padding = sp.Sum(sp.Heaviside(K) - 1, (K, 1, terms))
    outcomes = reference_outcomes(inputs)
    for function in ("adam_first_update", "adam_second_update"):
        call = symbolic_call(function)
        answer = {key: value + padding for key, value in answer_of(m01, call).items()}
        outcomes[call.key] = CallOutcome("value", wire(answer))
    return outcomes


def test_naming_the_mistakes_of_a_padded_file_is_bounded_by_its_own_budget_and_drops_names_only(
        judging, monkeypatch):
    # Before the naming budget, each diagnosis call had a fresh answer's budget: this file
    # cost about 25.7 million work units (23 s of CPU here); now at most the two budgets.
    limits = RUBRIC.limits
    inputs = draw_inputs("bounds")
    outcomes = m01_padded_outcomes(inputs, 1000)
    counted = Counted(monkeypatch)
    results = judge_items(Judging.create(RUBRIC, cache=False), inputs, outcomes)
    monkeypatch.undo()
    (naming,) = counted.namings
    one_answer = limits.judge_work_per_answer  # the overshoot: the last evaluations of a spent budget
    assert naming.limit == limits.judge_work_naming_per_submission
    assert limits.judge_work_naming_per_submission < naming.spent <= naming.limit + one_answer
    assert counted.units <= limits.judge_work_per_submission + limits.judge_work_naming_per_submission + 2 * one_answer
    unnamed = [r for r in results if UNNAMED in r.feedback]
    assert unnamed and all(not r.misconceptions for r in unnamed)
    assert all(r.status != "ungradable" for r in results)
    # with all the naming work it needs, the same file names the mistake there, and earns the
    # same points on every item
    ample = {r.id: r for r in judge_items(with_naming_budget(judging, 10**12), inputs, outcomes)}
    assert all(UNNAMED not in r.feedback for r in ample.values())
    assert any("no_bias_correction" in ample[r.id].misconceptions for r in unnamed)
    assert [(r.id, r.points, r.status) for r in results] == [(r.id, r.points, r.status) for r in ample.values()]
    assert total(results) == 7  # as before the naming budget


def test_an_honest_file_is_named_well_within_the_naming_budget(judging, monkeypatch):
    # Charging the names to the grading budget cost m01 points; its own budget changes nothing.
    module, inputs = corpus_module("m01_no_bias_correction")
    outcomes = {call.key: CallOutcome("value", wire(answer_of(module, call))) for call in plan_calls(inputs)}
    counted = Counted(monkeypatch)
    results = judge_items(judging, inputs, outcomes)
    # a naming budget too small for m01's names takes nothing from grading either
    judge_items(with_naming_budget(judging, RUBRIC.limits.judge_work_per_answer), inputs, outcomes)
    monkeypatch.undo()
    expected = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))["students"]["m01_no_bias_correction"]
    assert {r.id: r.points for r in results} == expected["items"]
    named = {r.id: r.misconceptions for r in results}
    for item, idents in expected["misconceptions"].items():
        assert set(idents) <= set(named[item]), item
    for item, idents in expected["not_named"].items():
        assert not set(idents) & set(named[item]), item
    assert not [r.id for r in results if UNNAMED in r.feedback]
    assert counted.namings[0].spent <= RUBRIC.limits.judge_work_naming_per_submission / 2
    assert counted.namings[1].spent > counted.namings[1].limit
    assert counted.gradings[0].spent == counted.gradings[1].spent
    assert judge_items(with_naming_budget(judging, 10**12), inputs, outcomes) == results


def test_the_naming_budget_is_a_rubric_limit_of_at_least_one_answer(tmp_path):
    text = DEFAULT_RUBRIC.read_text(encoding="utf-8")
    path = tmp_path / "rubric.toml"
    path.write_text(re.sub(r"^judge_work_naming_per_submission = .*$", "judge_work_naming_per_submission = 4_000_000",
                           text, flags=re.M), encoding="utf-8")
    assert load_rubric(path).limits.judge_work_naming_per_submission == 4_000_000
    path.write_text(re.sub(r"^judge_work_naming_per_submission = .*$", "judge_work_naming_per_submission = 1_000",
                           text, flags=re.M), encoding="utf-8")
    with pytest.raises(RubricError, match="judge_work_naming_per_submission must be at least judge_work_per_answer"):
        load_rubric(path)
    path.write_text(re.sub(r"^judge_work_naming_per_submission = .*\n", "", text, flags=re.M), encoding="utf-8")
    with pytest.raises(RubricError, match="judge_work_naming_per_submission"):
        load_rubric(path)


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
