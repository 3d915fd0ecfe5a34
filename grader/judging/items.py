"""How each rubric item is judged: the calls it needs and the points its answers earn.

Every item's spec is in :mod:`grader.judging.registry`; its kind picks one judge of
:data:`JUDGES`, and every judge has the signature of :data:`Judge`. :func:`plan_calls`
lists every call a submission must answer (deduplicated, in a fixed order);
:func:`judge_items` turns the outcomes of those calls into one :class:`ItemResult` per
rubric item. Judging is pure: the same outcomes always give the same results. Expected
values come from the reference, in this trusted process only. Misconceptions are named at
one point, :meth:`_Finding.name`.

Two work budgets bound judging one submission: grading's (``judge_work_per_submission``,
every verdict that earns points draws on it) and naming's
(``judge_work_naming_per_submission``, every symbolic misconception diagnosis of the
submission draws on it, see :func:`_named`). They are apart so that naming the mistakes never
takes work that grading needs; a spent naming budget drops names, never points.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Mapping, Sequence

import sympy

from reference import adam_vs_momentum as reference

from grader.engine import checks
from grader.engine.calls import unusable
from grader.engine.arguments import encode_argument
from grader.engine.checks import NO_ANSWER, Unanswered
from grader.engine.contract import FUNCTIONS, GRADIENT_SYMBOLS, SYMBOLIC_FUNCTIONS
from grader.engine.explain import OWN_OPTIMIZERS
from grader.engine.expressions import TooCostly, Work, encode_sympy, substitute
from grader.engine.numeric import check_array
from grader.engine.properties import probe_arrays, safety_share, scaling_share
from grader.engine.symbols import make_symbols
from grader.engine.wire import ArrayValue as _ArrayValue
from grader.engine.wire import expression_tree
from grader.judging import diagnosis
from grader.judging.inputs import HiddenInputs, adam_step_bounds
from grader.judging.catalogue import CONCEPT_MISCONCEPTIONS
from grader.judging.misconceptions import NO_MEMO, Memo, symbolic_templates
from grader.judging.registry import ITEMS, SPECS, ItemSpec
from grader.judging.symbolic import SymbolicJudge
from grader.results import CallOutcome, ItemResult, item_status
from grader.rubric import Item, Rubric


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
    """The call of every numeric case and probe, by ``id()`` of the case (built once):
    the cases of every item in registry order, then the probes."""
    everything = [case for spec in ITEMS for case in inputs.cases.get(spec.id, ())]
    everything += [probe for spec in ITEMS for probe in inputs.probes.get(spec.id, ())]
    return {id(case): value_call(case.function, case.args) for case in everything}


def plan_calls(inputs: HiddenInputs, index: Mapping[int, Call] | None = None) -> tuple[Call, ...]:
    """Every call a submission must answer, once each, in a fixed order.

    ``index`` is :func:`case_calls` of the same inputs when the caller already has it.
    """
    symbolic = {spec.function for spec in ITEMS if spec.kind in ("symbolic", "symbolic_keys")}
    calls = [symbolic_call(f) for f in SYMBOLIC_FUNCTIONS if f in symbolic]
    calls += (case_calls(inputs) if index is None else index).values()
    calls += [Call(spec.function, ()) for spec in ITEMS if spec.kind == "concepts"]
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
    """Trees of the update rule applied to placeholders W (previous w), M (m_hat), V (v_hat),
    by the key they stand for."""
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
    def create(cls, rubric: Rubric, *, cache: bool = True) -> "Judging":
        tol = rubric.tolerances
        judge = SymbolicJudge(float_points=tol.symbolic_points, exact_points=tol.exact_points,
                              rtol=tol.symbolic_rtol, atol=tol.symbolic_atol, cache=cache,
                              answer_work=rubric.limits.judge_work_per_answer)
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
        """Name misconceptions on this item (by catalogue id)."""
        self.explain(diagnosis.Diagnosis(tuple(idents), tuple(diagnosis.misconception_lines(
            idents, diagnosis.CATALOGUE_DATA))))

    def explain(self, found: "diagnosis.Diagnosis") -> None:
        """Name the mistakes of a diagnosis (each id once per item) with its sentences."""
        if not found.ids or not set(found.ids) <= set(self.misconceptions):
            self.feedback.extend(line for line in found.lines if line not in self.feedback)
        self.misconceptions.extend(ident for ident in found.ids if ident not in self.misconceptions)

    def result(self, item: Item) -> ItemResult:
        points = round(min(max(self.points, 0.0), item.points), 6)
        return ItemResult(item.id, item.part, item.title, points, item.points,
                          item_status(points, item.points, self.kinds), tuple(self.feedback),
                          tuple(self.misconceptions))


@dataclass(frozen=True)
class Context:
    """What a judge reads: the judging, the submission's inputs, the outcomes of its calls."""

    judging: Judging
    inputs: HiddenInputs
    outcomes: Mapping[str, CallOutcome]
    calls: Mapping[int, Call]
    #: The submission's judging budget (every symbolic verdict draws on it).
    work: Work
    #: The submission's naming budget (every symbolic misconception diagnosis draws on it).
    naming: Work
    #: Catalogue ids named on the array items of the student's own optimizers, by function
    #: (filled as the items are judged, in rubric order).
    named: dict = field(default_factory=dict)
    #: Is the student's answer to (function, key) of Part 1 right? Judged once per submission
    #: on the naming budget, for the diagnosis of the other Part 1 items (:func:`_right_in_part1`).
    right_answers: dict = field(default_factory=dict)
    #: The computations the misconception templates share, remembered for this submission only
    #: (:class:`~grader.judging.misconceptions.Memo`; remembers nothing when the judging's
    #: caches are off).
    memo: Memo = NO_MEMO

    def named_on(self, spec: "ItemSpec") -> tuple[str, ...]:
        """The mistakes named on the student's own optimizers, for an item computed from them."""
        if spec.kind == "array" and spec.function in OWN_OPTIMIZERS:
            return ()
        return tuple(ident for function in OWN_OPTIMIZERS for ident in self.named.get(function, ()))

    def outcome(self, call: Call, finding: _Finding):
        """The answer of a call, or :data:`NO_ANSWER` after noting why there is none."""
        outcome = self.outcomes.get(call.key, CallOutcome("ungradable", detail="the call was never made"))
        finding.kinds.add(outcome.kind)
        why = unusable(outcome, call.function)
        if why is not None:
            if why not in finding.feedback:
                finding.feedback.append(why)
            return NO_ANSWER
        return outcome.value

    def answers(self, cases: Sequence, finding: _Finding) -> Callable[[int], object]:
        """The answer getter of numeric cases for the shared checks (raises :class:`Unanswered`)."""
        def answer(index: int):
            value = self.outcome(self.calls[id(cases[index])], finding)
            if value is NO_ANSWER:
                raise Unanswered
            return value
        return answer


#: Every judge: (context, the item's spec, the rubric item, the finding to fill) -> None.
Judge = Callable[[Context, ItemSpec, Item, _Finding], None]


def reference_outcomes(inputs: HiddenInputs, index: Mapping[int, Call] | None = None) -> dict[str, CallOutcome]:
    """The reference's own answer to every planned call, as a worker would send it (through
    the wire format): what :func:`judge_items` sees of a correct submission. Trusted code
    only, run in the trusted process."""
    from grader.engine.arguments import decode_argument
    from grader.engine.wire import decode_value, encode_value

    outcomes = {}
    for call in plan_calls(inputs, index):
        function = getattr(reference, call.function)
        if call.args and "sym" in call.args[0]:
            answer = function(*make_symbols(SYMBOLIC_FUNCTIONS[call.function]).values())
        else:
            answer = function(*(decode_argument(arg) for arg in call.args))
        outcomes[call.key] = CallOutcome("value", decode_value(encode_value(answer)))
    return outcomes


def rehearse(judging: Judging, seed: str = "rehearsal") -> None:
    """Draw the hidden inputs of ``seed`` and judge the reference's answers to them once, so
    that a batch's first submission does not pay what the first use of each judge costs
    (imports, compiled evaluators, numpy's first calls: about 0.2 s of a cold start against
    a few milliseconds later). Its results are thrown away; the judge's caches charge a hit
    what computing it cost, so no report depends on whether this ran."""
    from grader.judging.inputs import draw_inputs

    inputs = draw_inputs(seed)
    index = case_calls(inputs)
    judge_items(judging, inputs, reference_outcomes(inputs, index), index)


def judge_items(judging: Judging, inputs: HiddenInputs, outcomes: Mapping[str, CallOutcome],
                index: Mapping[int, Call] | None = None) -> tuple[ItemResult, ...]:
    """One result per rubric item, in rubric order (``index``: as for :func:`plan_calls`)."""
    limits = judging.rubric.limits
    work = Work(limits.judge_work_per_submission, what="this submission")
    naming = Work(limits.judge_work_naming_per_submission, what="the mistakes of this submission")
    context = Context(judging, inputs, outcomes, case_calls(inputs) if index is None else index, work, naming,
                      memo=Memo(enabled=judging.judge.cache))
    results = []
    for item in judging.rubric.items:
        spec = SPECS[item.id]
        finding = _Finding()
        try:
            JUDGES[spec.kind](context, spec, item, finding)
        except (TooCostly, RecursionError) as exc:
            # a judge's own work outside the symbolic verdicts (which say so themselves)
            why = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            finding.feedback.append(f"This answer could not be judged: {why}.")
        results.append(finding.result(item))
        if spec.kind == "array" and spec.function in OWN_OPTIMIZERS:
            context.named[spec.function] = results[-1].misconceptions
    return tuple(results)


#: What an item says when naming its mistakes would take more than the naming budget left.
UNNAMED = ("The mistake in this answer could not be named within the judging budget "
           "(this does not change its points).")


def _named(context: Context, finding: _Finding, diagnose: Callable[[Work], "diagnosis.Diagnosis"]) -> None:
    """Name the mistakes ``diagnose(naming budget)`` finds; when the submission's naming
    budget is spent (or the diagnosis is too costly in any other way) the item gets no names,
    only :data:`UNNAMED`, and keeps its points."""
    try:
        found = diagnose(context.naming)
    except (TooCostly, RecursionError):
        found = diagnosis.Diagnosis()
        if UNNAMED not in finding.feedback:
            finding.feedback.append(UNNAMED)
    finding.explain(found)


def _judge_symbolic_keys(context: Context, spec: ItemSpec, item: Item, finding: _Finding) -> None:
    judging, function = context.judging, spec.function
    answer = context.outcome(symbolic_call(function), finding)
    if answer is NO_ANSWER:
        return
    if not isinstance(answer, dict):
        finding.feedback.append(checks.not_a_dict(function, answer, FUNCTIONS[function].keys))
        return
    shares = item.share_map or {key: 1.0 for key in spec.keys}
    allowed = SYMBOLIC_FUNCTIONS[function]
    verdicts, explained = {}, []
    for key in spec.keys:
        if key not in answer:
            finding.feedback.append(checks.missing_key(key))
            continue
        verdict = judging.judge.judge(answer[key], judging.references[(function, key)], allowed,
                                      what=key, templates=symbolic_templates(function, key),
                                      work=context.work)
        finding.feedback.append(verdict.message)
        verdicts[key] = verdict
        if verdict.correct:
            finding.points += item.points * shares[key]
        elif spec.follow_through and item.follow_through > 0 and verdict.outcome == "wrong":
            follows, why_not = _follows_through(context, spec, key, answer)
            if follows:
                explained.append(key)
                finding.points += item.points * item.follow_through
                finding.feedback.append(checks.follow_through_credit(key, item.follow_through))
            elif why_not:
                finding.feedback.append(checks.no_follow_through(why_not))
    if diagnosis.worth_naming(verdicts):
        _named(context, finding, lambda naming: diagnosis.diagnose_symbolic(
            judging.judge, function, spec.keys, verdicts, answer, allowed, judging.references, work=naming,
            explained=explained, right_elsewhere=_right_in_part1(context, spec.keys, naming)))


def _right_in_part1(context: Context, keys: Sequence[str], naming: Work) -> list[tuple[str, str]]:
    """The (function, key) of the student's right answers to the other symbolic-keys items.

    Each answer is judged once per submission (then remembered in the context), on one
    answer's budget inside the naming budget; :class:`TooCostly` when the naming budget is
    spent (a list cut short could name a mistake that one of those answers rules out)."""
    judging, right = context.judging, []
    for other in ITEMS:
        if other.kind != "symbolic_keys":
            continue
        outcome = context.outcomes.get(symbolic_call(other.function).key)
        if outcome is None or outcome.kind != "value" or not isinstance(outcome.value, dict):
            continue
        for key in other.keys:
            if key in keys or key not in outcome.value:
                continue
            if (other.function, key) not in context.right_answers:
                verdict = judging.judge.judge(outcome.value[key], judging.references[(other.function, key)],
                                              SYMBOLIC_FUNCTIONS[other.function], what=key,
                                              templates=symbolic_templates(other.function, key), work=naming)
                naming.charge(0)  # a verdict says "too costly" itself: raise if the naming budget is spent
                context.right_answers[(other.function, key)] = verdict.correct
            if context.right_answers[(other.function, key)]:
                right.append((other.function, key))
    return right


def _follows_through(context: Context, spec: ItemSpec, key: str, answer: dict) -> tuple[bool, str]:
    """Is a wrong answer under ``key`` the update rule applied to the student's own earlier
    answers (at least one of them wrong, each a genuine attempt that depends on the
    gradients)? Returns the decision and, where it matters to the student, why not."""
    judging = context.judging
    judge, refs = judging.judge, judging.references
    work = context.work.child(judge.answer_work, f"the follow-through check of {key}")
    trees = {}
    any_wrong = False
    try:
        for placeholder, function, name in spec.follow_through:
            if function == spec.function:
                own = answer
            else:
                other = context.outcomes.get(symbolic_call(function).key)
                if other is None or other.kind != "value" or not isinstance(other.value, dict):
                    return False, ""
                own = other.value
            tree = expression_tree(own.get(name))
            if tree is None:
                return False, ""
            verdict = judge.judge(own[name], refs[(function, name)], SYMBOLIC_FUNCTIONS[function], what=name,
                                  work=work)
            if verdict.outcome in ("unknown_symbols", "too_costly"):
                return False, ""
            if not verdict.correct and not judge.depends_on(tree, GRADIENT_SYMBOLS, SYMBOLIC_FUNCTIONS[function],
                                                            work):
                return False, checks.not_an_attempt(name, key)
            any_wrong |= not verdict.correct
            trees[placeholder] = tree
        if not any_wrong:
            return False, ""
        template = substitute(judging.follow_through[key], trees)
        allowed = SYMBOLIC_FUNCTIONS[spec.function]
        try:
            points = judge.points(template, allowed, work)
        except ValueError:
            return False, ""
        own_tree = expression_tree(answer[key])
        return own_tree is not None and judge.agree(own_tree, template, points, work).agree, ""
    except TooCostly as exc:
        return False, f"checking it would cost too much ({exc})"


def _judge_symbolic(context: Context, spec: ItemSpec, item: Item, finding: _Finding) -> None:
    judging, function = context.judging, spec.function
    answer = context.outcome(symbolic_call(function), finding)
    if answer is NO_ANSWER:
        return
    verdict = judging.judge.judge(answer, judging.references[(function, None)],
                                  SYMBOLIC_FUNCTIONS[function], what=f"the answer of {function}",
                                  templates=symbolic_templates(function), work=context.work)
    finding.feedback.append(verdict.message)
    if verdict.correct:
        finding.points = item.points
    if diagnosis.worth_naming({None: verdict}):
        _named(context, finding, lambda naming: diagnosis.diagnose_symbolic(
            judging.judge, function, [None], {None: verdict}, {None: answer}, SYMBOLIC_FUNCTIONS[function],
            judging.references, work=naming))


def _judge_array(context: Context, spec: ItemSpec, item: Item, finding: _Finding) -> None:
    cases = context.inputs.cases[item.id]
    tol = context.judging.rubric.tolerances
    try:
        found = checks.check_array_cases(
            context.answers(cases, finding), [case.expected for case in cases], function=spec.function,
            where="hidden", rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale)
    except Unanswered:
        return
    finding.points = item.points * found.share
    finding.feedback.extend(found.messages)
    wrong = _first_wrong(context, cases, finding)
    if wrong is not None and isinstance(wrong[1], _ArrayValue):
        case, value = wrong
        finding.explain(diagnosis.diagnose_array(case.function, value, case.expected, case.args,
                                                 rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale,
                                                 prefer=context.named_on(spec), memo=context.memo))


def _first_wrong(context: Context, cases: Sequence, finding: _Finding, key: str | None = None):
    """``(case, answer)`` of the first case whose answer (or its ``key``) is not the expected one."""
    tol = context.judging.rubric.tolerances
    for case in cases:
        value = context.outcome(context.calls[id(case)], finding)
        if value is NO_ANSWER:
            return None
        mine, want = (value, case.expected) if key is None else (
            value.get(key) if isinstance(value, dict) else None, case.expected[key])
        if mine is None or not check_array(mine, want, rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale).ok:
            return case, value
    return None


def _judge_ratios(context: Context, spec: ItemSpec, item: Item, finding: _Finding) -> None:
    cases = context.inputs.cases[item.id]
    tol = context.judging.rubric.tolerances
    try:
        found = checks.check_ratio_cases(
            context.answers(cases, finding), [case.expected for case in cases], function=spec.function,
            shares=item.share_map, where="hidden", rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale)
    except Unanswered:
        return
    finding.points += item.points * found.share
    finding.feedback.extend(found.messages)
    for key in item.share_map:
        wrong = _first_wrong(context, cases, finding, key)
        if wrong is not None and isinstance(wrong[1], dict):
            case, value = wrong
            wrong_keys = [k for k in item.share_map if k not in value or not check_array(
                value[k], case.expected[k], rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale).ok]
            finding.explain(diagnosis.diagnose_ratios(case.function, value, case.expected, case.args, wrong_keys,
                                                      rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale,
                                                      prefer=context.named_on(spec), memo=context.memo))
            break


def _judge_scaling(context: Context, spec: ItemSpec, item: Item, finding: _Finding) -> None:
    probes = context.inputs.probes[item.id]
    answers, messages = probe_arrays([(probe.name, probe.function, context.outcome(context.calls[id(probe)], finding))
                                      for probe in probes])
    finding.feedback.extend(messages)
    tol = context.judging.rubric.tolerances
    share, messages = scaling_share(answers, context.inputs.factors[item.id], shares=item.share_map,
                                    rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale,
                                    shape=probes[0].args[0].shape)
    finding.points += item.points * share
    finding.feedback.extend(messages)
    adam = next((probe for probe in probes if probe.name == "adam"), None)
    if adam is not None and answers.get("adam") is not None and not any(
            m.startswith("your adam_updates steps scale") for m in messages):
        finding.explain(diagnosis.diagnose_probe(_ArrayValue(answers["adam"], 0), adam.args, rtol=tol.numeric_rtol,
                                                 atol_scale=tol.numeric_atol_scale,
                                                 prefer=context.named_on(spec), memo=context.memo))


def _judge_safety(context: Context, spec: ItemSpec, item: Item, finding: _Finding) -> None:
    probes = context.inputs.probes[item.id]
    answers = {probe.name: value for probe in probes
               if (value := context.outcome(context.calls[id(probe)], finding)) is not NO_ANSWER}
    tiny = next(probe for probe in probes if probe.name == "tiny")
    tol = context.judging.rubric.tolerances
    # The diagnosis of a probe's answer (pure, costly: every template, then every pair) is made
    # only where it is read: the names of a probe with NaN or infinite steps, and the first
    # probe with names when the item is not fully earned. Same results as diagnosing them all.
    diagnosable = [probe for probe in probes if isinstance(answers.get(probe.name), _ArrayValue)
                   and answers[probe.name].data.shape == probe.args[0].shape]
    found: dict = {}

    def diagnosed(probe) -> "diagnosis.Diagnosis":
        if probe.name not in found:
            found[probe.name] = diagnosis.diagnose_probe(
                answers[probe.name], probe.args, rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale,
                prefer=context.named_on(spec), memo=context.memo)
        return found[probe.name]

    named = {probe.name: diagnosed(probe).labels for probe in diagnosable if answers[probe.name].nonfinite}
    share, messages = safety_share(answers, {probe.name: probe.args[0].shape for probe in probes},
                                   adam_step_bounds(*tiny.args), shares=item.share_map, named=named)
    finding.points += item.points * share
    finding.feedback.extend(messages)
    if share < sum(item.share_map.values()) - 1e-9:
        for probe in diagnosable:
            d = diagnosed(probe)
            if d.labels:
                finding.explain(d)
                break


def _judge_concepts(context: Context, spec: ItemSpec, item: Item, finding: _Finding) -> None:
    answers = context.outcome(Call(spec.function, ()), finding)
    if answers is NO_ANSWER:
        return
    options = {key: q["options"] for key, q in reference.CONCEPT_QUESTIONS.items() if key.startswith(spec.prefix)}
    found = checks.check_concepts(answers, options, reference.concept_answers())
    finding.points += item.points * found.share
    finding.feedback.extend(found.messages)
    for choice in found.wrong_choices:
        ident = CONCEPT_MISCONCEPTIONS.get(choice)
        if ident:
            finding.name([ident])


#: The judge of each kind of item (the registry's specs name the kind).
JUDGES: Mapping[str, Judge] = {
    "symbolic_keys": _judge_symbolic_keys,
    "symbolic": _judge_symbolic,
    "array": _judge_array,
    "ratios": _judge_ratios,
    "scaling": _judge_scaling,
    "safety": _judge_safety,
    "concepts": _judge_concepts,
}
