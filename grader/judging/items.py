"""How each rubric item is judged: the calls it needs and the points its answers earn.

:func:`plan_calls` lists every call a submission must answer (deduplicated, in a fixed
order); :func:`judge_items` turns the outcomes of those calls into one :class:`ItemResult`
per rubric item. Judging is pure: the same outcomes always give the same results.
Expected values come from the reference, in this trusted process only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Mapping, Sequence

import numpy as np
import sympy

from reference import adam_vs_momentum as reference

from grader.engine.arguments import encode_argument
from grader.engine.expressions import encode_sympy, substitute
from grader.engine.numeric import check_array
from grader.engine import checks
from grader.engine.checks import NO_ANSWER, Unanswered
from grader.engine.contract import FUNCTIONS, SYMBOLIC_FUNCTIONS
from grader.engine.properties import probe_arrays, safety_share, scaling_share
from grader.engine.symbols import make_symbols
from grader.engine.wire import expression_tree
from grader.judging.inputs import Case, HiddenInputs, Probe, adam_step_bounds
from grader.judging.misconceptions import (CATALOGUE, CONCEPT_MISCONCEPTIONS, numeric_templates,
                             symbolic_templates, template_id)
from grader.results import CallOutcome, ItemResult, item_status
from grader.rubric import Item, Rubric
from grader.judging.symbolic import SymbolicJudge

#: Part 1 items: (function, keys) each.
PART1_KEYS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "1a": ("adam_first_update", ("m1", "v1")),
    "1b": ("adam_first_update", ("m_hat1", "v_hat1")),
    "1c": ("adam_first_update", ("w2",)),
    "1d": ("adam_second_update", ("m2", "v2")),
    "1e": ("adam_second_update", ("m_hat2", "v_hat2")),
    "1f": ("adam_second_update", ("w3",)),
}
#: Part 2 items answered by one symbolic expression.
SYMBOLIC_ITEMS: Mapping[str, str] = {
    "2.1.momentum_constant_gradient_step": "momentum_constant_gradient_step",
    "2.1.adam_constant_gradient_step": "adam_constant_gradient_step",
    "2.2.momentum_scale_factor": "momentum_scale_factor",
    "2.2.adam_scale_factor": "adam_scale_factor",
    "2.2.adam_scaled_step": "adam_scaled_step",
    "2.3.adam_step_bound": "adam_step_bound",
}
ARRAY_ITEMS = ("2.1.momentum_updates", "2.1.adam_updates", "3a.adam_effective_learning_rates")
RATIO_ITEMS = ("3b.spike_response", "3b.sparse_feature_boost")
CONCEPT_ITEMS = {"3a.concepts": "3a_", "3b.concepts": "3b_"}
RATIO_KEYS = ("momentum", "adam")


@dataclass(frozen=True)
class Call:
    """One call of a student function with plain arguments."""

    function: str
    args: tuple

    @cached_property
    def key(self) -> str:
        """Canonical text of the call (outcomes are stored under it)."""
        return json.dumps([self.function, list(self.args)], separators=(",", ":"))


def symbolic_call(function: str) -> Call:
    return Call(function, tuple({"sym": name} for name in SYMBOLIC_FUNCTIONS[function]))


def value_call(function: str, args: Sequence) -> Call:
    return Call(function, tuple(encode_argument(a) for a in args))


def case_calls(inputs: HiddenInputs) -> dict[int, Call]:
    """The call of every numeric case and probe, by ``id()`` of the case (built once)."""
    everything = [case for item_id in ARRAY_ITEMS + RATIO_ITEMS for case in inputs.cases[item_id]]
    everything += [probe for probes in inputs.probes.values() for probe in probes]
    return {id(case): value_call(case.function, case.args) for case in everything}


def plan_calls(inputs: HiddenInputs, index: Mapping[int, Call] | None = None) -> tuple[Call, ...]:
    """Every call a submission must answer, once each, in a fixed order.

    ``index`` is :func:`case_calls` of the same inputs when the caller already has it.
    """
    calls = [symbolic_call(f) for f in SYMBOLIC_FUNCTIONS]
    calls += (case_calls(inputs) if index is None else index).values()
    calls.append(Call("concept_answers", ()))
    unique = {call.key: call for call in calls}
    return tuple(unique.values())


# ---------------------------------------------------------------------------
# Reference answers for the symbolic functions
# ---------------------------------------------------------------------------

def reference_trees() -> dict[tuple[str, str | None], list]:
    """(function, key or None) -> the reference answer's tree."""
    out = {}
    for function, names in SYMBOLIC_FUNCTIONS.items():
        answer = getattr(reference, function)(*make_symbols(names).values())
        if isinstance(answer, dict):
            for key, expr in answer.items():
                out[(function, key)] = encode_sympy(sympy.sympify(expr))
        else:
            out[(function, None)] = encode_sympy(sympy.sympify(answer))
    return out


def follow_through_templates() -> dict[str, list]:
    """Trees of the update rule applied to placeholders W (previous w), M (m_hat), V (v_hat)."""
    S = make_symbols(["w1", "alpha", "eps"])
    W, M, V = (sympy.Symbol(n, real=True) for n in ("W_", "M_", "V_"))
    return {
        "w2": encode_sympy(S["w1"] + reference.adam_step(M, V, S["alpha"], S["eps"])),
        "w3": encode_sympy(W + reference.adam_step(M, V, S["alpha"], S["eps"])),
    }


# ---------------------------------------------------------------------------
# Judging
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Judging:
    """What judging needs besides the outcomes: the rubric, the judge and the references."""

    rubric: Rubric
    judge: SymbolicJudge
    references: Mapping[tuple[str, str | None], list]
    follow_through: Mapping[str, list]

    @classmethod
    def create(cls, rubric: Rubric) -> "Judging":
        tol = rubric.tolerances
        judge = SymbolicJudge(float_points=tol.symbolic_points, exact_points=tol.exact_points,
                              rtol=tol.symbolic_rtol, atol=tol.symbolic_atol)
        return cls(rubric, judge, reference_trees(), follow_through_templates())


@dataclass
class _Finding:
    """Points and words gathered while judging one item (local to one item's judging)."""

    points: float = 0.0
    feedback: list = None
    misconceptions: list = None
    kinds: set = None

    def __post_init__(self):
        self.feedback, self.misconceptions, self.kinds = [], [], set()

    def name(self, idents: Sequence[str]) -> None:
        for ident in idents:
            ident = template_id(ident)
            if ident not in self.misconceptions:
                self.misconceptions.append(ident)
                entry = CATALOGUE[ident]
                self.feedback.append(f"Likely misconception: {entry.title}. {entry.explanation}")

    def result(self, item: Item) -> ItemResult:
        points = round(min(max(self.points, 0.0), item.points), 6)
        return ItemResult(item.id, item.part, item.title, points, item.points,
                          item_status(points, item.points, self.kinds), tuple(self.feedback),
                          tuple(self.misconceptions))


def _unusable(outcome: CallOutcome, function: str) -> str | None:
    """Why an outcome has no answer to judge (None when it has one)."""
    if outcome.kind == "value":
        return None
    if outcome.kind == "not_implemented":
        return f"{function} is not implemented yet (it raises NotImplementedError)"
    if outcome.kind == "missing":
        return f"{function} is not defined in the submission"
    if outcome.kind in ("not_loaded", "ungradable"):
        return outcome.detail
    return outcome.detail or f"{function} gave no answer ({outcome.kind})"


def judge_items(judging: Judging, inputs: HiddenInputs, outcomes: Mapping[str, CallOutcome],
                index: Mapping[int, Call] | None = None) -> tuple[ItemResult, ...]:
    """One result per rubric item, in rubric order (``index``: as for :func:`plan_calls`)."""
    calls = case_calls(inputs) if index is None else index
    results = []
    for item in judging.rubric.items:
        finding = _Finding()
        if item.id in PART1_KEYS:
            _judge_part1(judging, item, outcomes, finding)
        elif item.id in SYMBOLIC_ITEMS:
            _judge_symbolic(judging, item, outcomes, finding)
        elif item.id in ARRAY_ITEMS:
            _judge_arrays(judging, item, inputs.cases[item.id], calls, outcomes, finding)
        elif item.id in RATIO_ITEMS:
            _judge_ratios(judging, item, inputs.cases[item.id], calls, outcomes, finding)
        elif item.id == "2.2.scaling_property":
            _judge_scaling(judging, item, inputs, calls, outcomes, finding)
        elif item.id == "2.3.numerical_safety":
            _judge_safety(item, inputs.probes[item.id], calls, outcomes, finding)
        elif item.id in CONCEPT_ITEMS:
            _judge_concepts(item, CONCEPT_ITEMS[item.id], outcomes, finding)
        results.append(finding.result(item))
    return tuple(results)


def _outcome(outcomes: Mapping[str, CallOutcome], call: Call, finding: _Finding):
    """The answer of a call, or :data:`NO_ANSWER` after noting why there is none."""
    outcome = outcomes.get(call.key, CallOutcome("ungradable", detail="the call was never made"))
    finding.kinds.add(outcome.kind)
    why = _unusable(outcome, call.function)
    if why is not None:
        if why not in finding.feedback:
            finding.feedback.append(why)
        return NO_ANSWER
    return outcome.value


def _judge_part1(judging: Judging, item: Item, outcomes, finding: _Finding) -> None:
    function, keys = PART1_KEYS[item.id]
    answer = _outcome(outcomes, symbolic_call(function), finding)
    if answer is NO_ANSWER:
        return
    if not isinstance(answer, dict):
        finding.feedback.append(checks.not_a_dict(function, answer, FUNCTIONS[function].keys))
        return
    share = item.points / len(keys)
    allowed = SYMBOLIC_FUNCTIONS[function]
    matched: dict[str, tuple[str, ...]] = {}
    correct_keys = set()
    for key in keys:
        if key not in answer:
            finding.feedback.append(checks.missing_key(key))
            continue
        verdict = judging.judge.judge(answer[key], judging.references[(function, key)], allowed,
                                      what=key, templates=symbolic_templates(function, key))
        finding.feedback.append(verdict.message)
        matched[key] = tuple(template_id(label) for label in verdict.misconceptions)
        if verdict.correct:
            correct_keys.add(key)
            finding.points += share
        elif key in judging.follow_through and item.follow_through > 0:
            if _follows_through(judging, key, answer, outcomes):
                finding.points += item.points * item.follow_through
                finding.feedback.append(
                    f"Follow-through credit: your {key} applies the update rule correctly to your "
                    f"own earlier answers, which are wrong; it earns {item.follow_through:g} of this item.")
    finding.name(consistent_misconceptions(function, keys, matched, correct_keys))


def consistent_misconceptions(function: str, keys: Sequence[str], matched: Mapping[str, Sequence[str]],
                              correct_keys: set) -> list[str]:
    """The misconceptions that explain an item's keys together, in order of first match.

    Each key is matched on its own, so a wrong ``m_hat1`` alone fits "no bias correction"
    and "only v corrected" alike. Across the item's keys, a misconception is dropped when it
    predicts a key wrong that the student has right, or when another matched one explains
    every key it explains and more (a student with no bias correction at all is not also
    told that only one moment was corrected).
    """
    explains: dict[str, set] = {}
    for key in keys:
        for ident in matched.get(key, ()):
            explains.setdefault(ident, set()).add(key)
    predicted_wrong = {key: {template_id(label) for label in symbolic_templates(function, key)}
                       for key in keys}
    kept = []
    for ident, explained in explains.items():
        if any(ident in predicted_wrong[key] for key in correct_keys):
            continue
        if any(explained < other for name, other in explains.items() if name != ident):
            continue
        kept.append(ident)
    return kept


def _follows_through(judging: Judging, key: str, answer: dict, outcomes) -> bool:
    """Is a wrong w2 / w3 the update rule applied to the student's own (wrong) moments?"""
    judge, refs = judging.judge, judging.references
    if key == "w2":
        function, parts = "adam_first_update", {"M_": "m_hat1", "V_": "v_hat1"}
        own = answer
    else:
        function, parts = "adam_second_update", {"M_": "m_hat2", "V_": "v_hat2"}
        first = outcomes.get(symbolic_call("adam_first_update").key)
        if first is None or first.kind != "value" or not isinstance(first.value, dict):
            return False
        own = {**answer, "w2": first.value.get("w2")}
        parts = {**parts, "W_": "w2"}
    allowed = SYMBOLIC_FUNCTIONS[function]
    trees = {}
    any_wrong = False
    for placeholder, name in parts.items():
        tree = expression_tree(own.get(name))
        if tree is None:
            return False
        ref_function = "adam_first_update" if name == "w2" else function
        verdict = judge.judge(own[name], refs[(ref_function, name)], SYMBOLIC_FUNCTIONS[ref_function],
                              what=name)
        if verdict.outcome == "unknown_symbols":
            return False
        any_wrong |= not verdict.correct
        trees[placeholder] = tree
    if not any_wrong:
        return False
    template = substitute(judging.follow_through[key], trees)
    try:
        points = judge.points(template, allowed)
    except ValueError:
        return False
    own_tree = expression_tree(answer[key])
    return own_tree is not None and judge.agree(own_tree, template, points).agree


def _judge_symbolic(judging: Judging, item: Item, outcomes, finding: _Finding) -> None:
    function = SYMBOLIC_ITEMS[item.id]
    answer = _outcome(outcomes, symbolic_call(function), finding)
    if answer is NO_ANSWER:
        return
    verdict = judging.judge.judge(answer, judging.references[(function, None)],
                                  SYMBOLIC_FUNCTIONS[function], what=f"the answer of {function}",
                                  templates=symbolic_templates(function))
    finding.feedback.append(verdict.message)
    finding.name(verdict.misconceptions)
    if verdict.correct:
        finding.points = item.points


def _answers(outcomes, calls, cases, finding: _Finding):
    """The answer getter of numeric cases for the shared checks (raises :class:`Unanswered`)."""
    def answer(index: int):
        value = _outcome(outcomes, calls[id(cases[index])], finding)
        if value is NO_ANSWER:
            raise Unanswered
        return value
    return answer


def _judge_arrays(judging: Judging, item: Item, cases: Sequence[Case], calls, outcomes,
                  finding: _Finding) -> None:
    tol = judging.rubric.tolerances

    def templates(index: int) -> dict:
        case = cases[index]
        return {ident: expected for ident, template in numeric_templates(case.function).items()
                if (expected := _template_values(template, case.args)) is not None}

    try:
        found = checks.check_array_cases(
            _answers(outcomes, calls, cases, finding), [case.expected for case in cases],
            function=cases[0].function, where="hidden", rtol=tol.numeric_rtol,
            atol_scale=tol.numeric_atol_scale, templates=templates)
    except Unanswered:
        return
    finding.points = item.points * found.share
    finding.feedback.extend(found.messages)
    finding.name(found.misconceptions)


def _template_values(template: Callable, args):
    try:
        expected = template(*args)
    except (ArithmeticError, ValueError):
        return None
    return expected if np.all(np.isfinite(expected)) else None


def _judge_ratios(judging: Judging, item: Item, cases: Sequence[Case], calls, outcomes,
                  finding: _Finding) -> None:
    tol = judging.rubric.tolerances
    shares = {key: 1 / len(RATIO_KEYS) for key in RATIO_KEYS}
    try:
        found = checks.check_ratio_cases(
            _answers(outcomes, calls, cases, finding), [case.expected for case in cases],
            function=cases[0].function, shares=shares, where="hidden", rtol=tol.numeric_rtol,
            atol_scale=tol.numeric_atol_scale)
    except Unanswered:
        return
    finding.points += item.points * found.share
    finding.feedback.extend(found.messages)


def _judge_scaling(judging: Judging, item: Item, inputs: HiddenInputs, calls, outcomes,
                   finding: _Finding) -> None:
    answers, messages = probe_arrays([(probe.name, probe.function, _outcome(outcomes, calls[id(probe)], finding))
                                      for probe in inputs.probes[item.id]])
    finding.feedback.extend(messages)
    tol = judging.rubric.tolerances
    share, messages = scaling_share(answers, inputs.scale_factors, shares={"momentum": 0.5, "adam": 0.5},
                                    rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale)
    finding.points += item.points * share
    finding.feedback.extend(messages)


def _judge_safety(item: Item, probes: Sequence[Probe], calls, outcomes, finding: _Finding) -> None:
    answers = {probe.name: value for probe in probes
               if (value := _outcome(outcomes, calls[id(probe)], finding)) is not NO_ANSWER}
    tiny = next(probe for probe in probes if probe.name == "tiny")
    share, messages = safety_share(answers, {probe.name: probe.args[0].shape for probe in probes},
                                   adam_step_bounds(*tiny.args),
                                   shares={probe.name: 1 / len(probes) for probe in probes})
    finding.points += item.points * share
    finding.feedback.extend(messages)


def _judge_concepts(item: Item, prefix: str, outcomes, finding: _Finding) -> None:
    answers = _outcome(outcomes, Call("concept_answers", ()), finding)
    if answers is NO_ANSWER:
        return
    options = {key: q["options"] for key, q in reference.CONCEPT_QUESTIONS.items() if key.startswith(prefix)}
    found = checks.check_concepts(answers, options, reference.concept_answers())
    finding.points += item.points * found.share
    finding.feedback.extend(found.messages)
    for choice in found.wrong_choices:
        ident = CONCEPT_MISCONCEPTIONS.get(choice)
        if ident:
            finding.name([ident])
