"""The student's public checks: one rubric item at a time, against the public values.

Runs in the student's own Python (the student bundle's pytest run), on data generated from
the reference at public inputs (``public_checks.json``, read through :mod:`.publicdata`:
values, never formulas). Answers go through the same wire format, and are judged by the same
checks (:mod:`.checks`, :mod:`.numeric`, :mod:`.properties`) as in the grader, so a student
sees the same message here as in the report; a wrong answer is compared with the values of
every named misconception, so the student's run names the same misconceptions the grader
does. Follow-through credit is decided as the grader decides it, on the public points. The
final grade uses hidden inputs and more sample points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Mapping

import numpy as np

from . import checks
from .calls import unusable
from .explain import (OWN_OPTIMIZERS, first_departure_step, is_pair, label_ids, looks_like_float32,
                      misconception_lines, name_mistakes, preferred, same_values, unexplained_line)
from .expressions import TooCostly, free_symbols
from .numeric import check_array
from .contract import GRADIENT_SYMBOLS
from .pointwise import agreement, moves_with, values_at
from .properties import probe_arrays, safety_share, scaling_share
from .publicdata import PublicData, PublicItem
from .wire import ArrayValue, expression_tree

Status = Literal["passed", "failed", "not_implemented", "error", "format_ok"]


@dataclass(frozen=True)
class CheckResult:
    """The public check of one rubric item."""

    item: str
    title: str
    part: str
    max_points: float
    status: Status
    #: Points this item would earn if the hidden checks agree with the public ones.
    preview: float
    messages: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "format_ok")


class _NotImplemented(Exception):
    pass


class _Raised(Exception):
    pass


def _call(run, function: str, args: list):
    """Call a student function with encoded arguments and return its decoded answer.

    ``run`` answers calls as the grader's worker does (a :class:`~grader.engine.localrun.LocalRun`:
    the submission runs in a child process under the rubric's limits); a call without an
    answer raises with the grader's words for it (:func:`grader.engine.calls.unusable`).
    """
    outcome = run.call(function, args)
    why = unusable(outcome, function)
    if outcome.kind in ("not_implemented", "missing"):  # the grader's "not attempted"
        raise _NotImplemented(why)
    if why is not None:
        raise _Raised(why)
    return outcome.value


def _misconception_lines(names, catalogue) -> list[str]:
    return misconception_lines(names, catalogue)


def _named_lines(keys, correct_keys, match, predicted, data, unexplained: str | None,
                 prefer: tuple = ()) -> list[str]:
    """The sentences naming the mistakes that explain an item's answers (as the grader does)."""
    return _lines(preferred(name_mistakes(keys, correct_keys, match, predicted), prefer), data, unexplained)


def _lines(labels, data, unexplained: str | None = None) -> list[str]:
    if labels:
        return misconception_lines(labels, data.misconceptions)
    return [] if unexplained is None else [unexplained]


def template_agreement(got, template, *, rtol: float, atol: float) -> bool:
    """Does an answer's values agree with a symbolic template's at the public points where
    the template has a finite real value (``None`` elsewhere)? The grader compares a template
    at points drawn where it is finite, so a mistake whose template is undefined on part of
    the domain (sqrt of a negative v, a division by 1 - beta**0) is recognised on both sides."""
    kept = [index for index, value in enumerate(template) if value is not None]
    return bool(kept) and agreement([got[i] for i in kept], [template[i] for i in kept], rtol=rtol, atol=atol).agree


def _own_optimizer_ids(module, data) -> tuple[str, ...]:
    """The mistakes named on the array items of the student's own optimizers, in the order the
    grader keeps them: an item computed from those optimizers prefers them among the
    mistakes that fit it equally well (the effective rates cannot tell "no bias correction"
    from "only m corrected"; adam_updates can)."""
    named = {}
    for other in data.items:
        if other.kind == "array" and other.function in OWN_OPTIMIZERS:
            try:
                named[other.function] = _array_check(other, module, data, ())[2]
            except (_NotImplemented, _Raised, TooCostly):
                named[other.function] = ()
    ids: list[str] = []
    for function in OWN_OPTIMIZERS:
        for label in named.get(function, ()):
            ids += [ident for ident in label_ids(label) if ident not in ids]
    return tuple(ids)


def _prefer(item, module, data) -> tuple[str, ...]:
    """What an item prefers (as the grader's ``Context.named_on``): nothing on the own
    optimizers' array items themselves, their named mistakes on every item computed from them."""
    if item.kind == "array" and item.function in OWN_OPTIMIZERS:
        return ()
    return _own_optimizer_ids(module, data)


def _split(templates: Mapping, pairs: bool) -> dict:
    return {label: value for label, value in templates.items() if is_pair(label) == pairs}


def _symbolic_lines(keys, entries: Mapping, values: Mapping, correct_keys, data, right_elsewhere: Mapping = {},
                    explained=(), named: Mapping = {}):
    """Name the mistakes whose public values match the student's wrong answers; a mistake
    that would make one of the student's right answers elsewhere (``right_elsewhere``: the
    other Part 1 keys, with their entries) wrong is not named. ``explained``: wrong keys that
    need no "no single named mistake" line (a follow-through credit says what happened);
    ``named``: the mistakes that fit an answer using symbols that are not parameters."""
    tol = data.tolerances
    judged = [key for key in keys if values.get(key) is not None or key in named]

    def match(key, pairs: bool):
        if key in named:
            return [] if pairs else list(named[key])
        others = entries[key].get("other_symbols", {})  # an answer without those symbols is not those
        return [label for label, template in _split(entries[key].get("misconceptions", {}), pairs).items()
                if label not in others
                and template_agreement(values[key], template, rtol=tol.symbolic_rtol, atol=tol.symbolic_atol)]

    def predicted(key, pairs: bool):
        entry = right_elsewhere[key] if key in right_elsewhere else entries[key]
        return set(_split(entry.get("misconceptions", {}), pairs)) | {
            label for label in entry.get("differs", ()) if is_pair(label) == pairs}

    unexplained = [key for key in judged if key not in correct_keys and key not in explained and key not in named]
    has_templates = any(not is_pair(label) for key in unexplained
                        for label in (*entries[key].get("misconceptions", {}), *entries[key].get("differs", ())))
    correct = [k for k in judged if k in correct_keys] + list(right_elsewhere)
    return _named_lines(judged + list(right_elsewhere), correct, match, predicted, data,
                        unexplained_line() if unexplained and has_templates else None)


def _right_elsewhere(item, module, data) -> dict:
    """The student's right answers to the other Part 1 keys: ``(function, key)`` -> public entry."""
    right = {}
    for other in data.items:
        if other.kind != "symbolic_keys":
            continue
        try:
            answer, spec = _symbols_call(module, other.function, data)
        except (_NotImplemented, _Raised):
            continue
        if not isinstance(answer, dict):
            continue
        for key in other.keys:
            if key not in item.keys and key in answer and _symbolic_values(answer[key], spec["answers"][key],
                                                                           spec, key, data)[0].correct:
                right[(other.function, key)] = spec["answers"][key]
    return right


def _fmt(value) -> str:
    return f"{float(value):.6g}"


def _symbolic_values(answer, entry: Mapping, spec: Mapping, what: str, data: PublicData):
    """The verdict of one symbolic answer and its values at the public points (None: not judged)."""
    tree = expression_tree(answer)
    if tree is None:
        return checks.not_expression(what, answer), None
    allowed = spec["symbols"]
    unknown = sorted(free_symbols(tree) - set(allowed))
    if unknown:
        return checks.unknown_symbols(what, unknown, allowed, _other_symbol_mistakes(tree, unknown, entry, spec,
                                                                                     data)), None
    tol = data.tolerances
    got = values_at(tree, spec["points"])
    result = agreement(got, entry["expected"], rtol=tol.symbolic_rtol, atol=tol.symbolic_atol)
    if result.agree:
        return checks.correct(what), got
    return checks.wrong(what, result.describe(spec["points"], sorted(allowed))), got


def _other_symbol_mistakes(tree, unknown, entry: Mapping, spec: Mapping, data: PublicData) -> list[str]:
    """The mistakes written with the same symbols that are not parameters (``m`` for
    ``m_hat``) whose values the answer takes, as the grader names them with its verdict."""
    tol, names = data.tolerances, []
    for label, extra in entry.get("other_symbols", {}).items():
        if not set(unknown) <= set(extra):
            continue
        points = [{**point, **{name: extra[name][i] for name in extra}} for i, point in enumerate(spec["points"])]
        if template_agreement(values_at(tree, points), entry["misconceptions"][label], rtol=tol.symbolic_rtol,
                              atol=tol.symbolic_atol):
            names.append(label)
    return names


def check_item(item, module, data) -> CheckResult:
    """Run the public check of one rubric item against a student module.

    ``data`` is the :class:`PublicData` (or the decoded JSON of the file), ``item`` one of its
    items (or an item's id, or its JSON entry).
    """
    if not isinstance(data, PublicData):
        data = PublicData.from_json(data)
    if not isinstance(item, PublicItem):
        item = data.item(item if isinstance(item, str) else item["id"])

    def result(status: Status, preview: float, messages) -> CheckResult:
        return CheckResult(item.id, item.title, item.part, item.points, status, round(preview, 6),
                           tuple(messages))

    try:
        passed_share, messages = _CHECKS[item.kind](item, module, data)
    except _NotImplemented as exc:
        return result("not_implemented", 0.0, [str(a) for a in exc.args])
    except _Raised as exc:
        return result("error", 0.0, [str(a) for a in exc.args])
    except TooCostly as exc:
        return result("failed", 0.0, [f"this answer could not be checked: {exc}"])
    if item.kind == "concepts":
        return result("format_ok" if passed_share >= 1 - 1e-9 else "failed", 0.0, messages)
    status = "passed" if passed_share >= 1 - 1e-9 else "failed"
    return result(status, item.points * passed_share, messages)


def _symbols_call(module, function: str, data: PublicData):
    spec = data.symbolic[function]
    return _call(module, function, [{"sym": n} for n in spec["symbols"]]), spec


def _check_symbolic_keys(item: PublicItem, module, data: PublicData):
    answer, spec = _symbols_call(module, item.function, data)
    if not isinstance(answer, dict):
        return 0.0, [checks.not_a_dict(item.function, answer, spec["answers"].keys())]
    share, messages, values, correct, explained, named = 0.0, [], {}, [], [], {}
    for key in item.keys:
        if key not in answer:
            messages.append(checks.missing_key(key))
            continue
        verdict, values[key] = _symbolic_values(answer[key], spec["answers"][key], spec, key, data)
        if verdict.outcome == "unknown_symbols":
            named[key] = verdict.misconceptions
        share += item.shares[key] * verdict.correct
        messages.append(verdict.message)
        if verdict.correct:
            correct.append(key)
        elif item.follow_through > 0 and key in _FOLLOW_THROUGH:
            follows, why_not = _follows_through(module, key, answer, data)
            if follows:
                share += item.follow_through
                explained.append(key)
                messages.append(checks.follow_through_credit(key, item.follow_through))
            elif why_not:
                messages.append(checks.no_follow_through(why_not))
    share = min(share, 1.0)
    wrong = len(correct) < len(values)
    return share, messages + _symbolic_lines(item.keys, spec["answers"], values, correct, data,
                                             _right_elsewhere(item, module, data) if wrong else {}, explained,
                                             named)


#: What a w2 / w3 is built from: its function and {role: the student's own key}, in the order
#: the grader's registry checks them (``judging.registry``, items 1c and 1f), so that the
#: first answer named as not an attempt is the same on both sides.
_FOLLOW_THROUGH = {
    "w2": ("adam_first_update", {"m_hat": "m_hat1", "v_hat": "v_hat1"}),
    "w3": ("adam_second_update", {"w": "w2", "m_hat": "m_hat2", "v_hat": "v_hat2"}),
}


def _update_rule(w: float, m_hat: float, v_hat: float, alpha: float, eps: float) -> float | None:
    """The handout's update ``w + dw``, ``dw = -alpha m_hat / (sqrt(v_hat) + eps)``, at one point."""
    if v_hat < 0:
        return None
    return w - alpha * m_hat / (v_hat ** 0.5 + eps)


def _follows_through(module, key: str, answer: dict, data: PublicData) -> tuple[bool, str]:
    """Is a wrong w2 / w3 the update rule applied, at every public point, to the student's
    own moments (and w2), at least one of which is wrong, each wrong one a genuine attempt
    that depends on the gradients? Returns the decision and, where it matters to the
    student, why not: as the grader decides it."""
    function, roles = _FOLLOW_THROUGH[key]
    spec = data.symbolic[function]
    own = dict(answer)
    if "w" in roles:
        try:
            first, _ = _symbols_call(module, "adam_first_update", data)
        except (_NotImplemented, _Raised):
            return False, ""
        if not isinstance(first, dict):
            return False, ""
        own["w2"] = first.get("w2")
    tol = data.tolerances
    values, any_wrong = {}, False
    for role, name in roles.items():
        tree = expression_tree(own.get(name))
        if tree is None:
            return False, ""
        source = data.symbolic["adam_first_update" if name == "w2" else function]
        if free_symbols(tree) - set(source["symbols"]):
            return False, ""
        values[role] = values_at(tree, spec["points"])
        if name == "w2":
            expected = values_at(tree, source["points"]), source["answers"]["w2"]["expected"]
        else:
            expected = values[role], spec["answers"][name]["expected"]
        wrong = not agreement(*expected, rtol=tol.symbolic_rtol, atol=tol.symbolic_atol).agree
        if wrong and not moves_with(tree, source["points"], sorted(GRADIENT_SYMBOLS),
                                    rtol=tol.symbolic_rtol, atol=tol.symbolic_atol):
            return False, checks.not_an_attempt(name, key)
        any_wrong |= wrong
    if not any_wrong:
        return False, ""
    template = []
    for index, point in enumerate(spec["points"]):
        w = values["w"][index] if "w" in values else point["w1"]
        m_hat, v_hat = values["m_hat"][index], values["v_hat"][index]
        template.append(None if None in (w, m_hat, v_hat) else _update_rule(w, m_hat, v_hat, point["alpha"],
                                                                            point["eps"]))
    mine = expression_tree(answer[key])
    return mine is not None and agreement(values_at(mine, spec["points"]), template,
                                          rtol=tol.symbolic_rtol, atol=tol.symbolic_atol).agree, ""


def _check_single_symbolic(item: PublicItem, module, data: PublicData):
    answer, spec = _symbols_call(module, item.function, data)
    verdict, values = _symbolic_values(answer, spec["answers"][""], spec, f"the answer of {item.function}", data)
    named = {"": verdict.misconceptions} if verdict.outcome == "unknown_symbols" else {}
    return float(verdict.correct), [verdict.message] + _symbolic_lines(
        [""], spec["answers"], {"": values}, [""] if verdict.correct else [], data, named=named)


def _case_args(case: Mapping) -> list:
    return list(case["args"])


def _array(entry: Mapping) -> np.ndarray:
    return np.array(entry["data"], dtype=np.float64).reshape(entry["shape"])


def _answers(module, function: str, cases) -> Callable[[int], object]:
    return lambda index: _call(module, function, _case_args(cases[index]))


def _check_array_item(item: PublicItem, module, data: PublicData):
    share, messages, labels = _array_check(item, module, data, None)
    return share, messages


def _array_check(item: PublicItem, module, data: PublicData, prefer):
    """``(share, messages, labels named)`` of an array item (``prefer``: None to look it up)."""
    cases = data.numeric[item.id]["cases"]
    tol = data.tolerances
    answer = _answers(module, item.function, cases)
    found = checks.check_array_cases(
        answer, [_array(case["expected"]) for case in cases],
        function=item.function, where="public", rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale)
    if found.share >= 1:
        return found.share, list(found.messages), ()
    for case in cases:  # name the mistakes on the first case that is wrong
        value, expected = answer(cases.index(case)), _array(case["expected"])
        if check_array(value, expected, rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale).ok:
            continue
        labels, lines = _array_lines(value, expected, case, data,
                                     lambda: _prefer(item, module, data) if prefer is None else prefer)
        return found.share, list(found.messages) + lines, labels
    return found.share, list(found.messages), ()


def _array_lines(value, expected: np.ndarray, case: Mapping, data: PublicData, prefer) -> tuple[list, list[str]]:
    """The labels named for a wrong array and their sentences (``prefer()``: see :func:`_prefer`)."""
    if not isinstance(value, ArrayValue):
        return [], []
    tol = data.tolerances
    rtol, atol_scale = tol.numeric_rtol, tol.numeric_atol_scale
    got = value.data
    arrays = {label: _array(v) for label, v in case.get("misconceptions", {}).items()}
    if got.shape != expected.shape:  # a format mistake: the shape message says it all, as in the grader
        return [], []
    if looks_like_float32(got, expected):
        return ["float32_rounding"], misconception_lines(["float32_rounding"], data.misconceptions)

    def match(_key, pairs: bool):
        return [label for label, v in _split(arrays, pairs).items()
                if same_values(got, v, rtol=rtol, atol_scale=atol_scale)]

    labels = name_mistakes(["value"], [], match, lambda _k, pairs: _split(arrays, pairs))
    if labels:
        labels = preferred(labels, prefer())
    step = first_departure_step(got, expected, rtol=rtol, atol_scale=atol_scale)
    return labels, _lines(labels, data, unexplained_line(step) if arrays else None)


def _check_ratios(item: PublicItem, module, data: PublicData):
    cases = data.numeric[item.id]["cases"]
    tol = data.tolerances
    answer = _answers(module, item.function, cases)
    found = checks.check_ratio_cases(
        answer, [case["expected"] for case in cases], function=item.function,
        shares=item.shares, where="public", rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale)
    if found.share >= 1:
        return found.share, list(found.messages)
    for index, case in enumerate(cases):
        value = answer(index)
        if isinstance(value, dict) and any(not _close(value.get(k), v, tol) for k, v in case["expected"].items()):
            return found.share, list(found.messages) + _ratio_lines(value, case, data,
                                                                    _prefer(item, module, data))
    return found.share, list(found.messages)


def _close(a, b, tol) -> bool:
    return type(a) in (int, float) and same_values(np.asarray(float(a)), np.asarray(float(b)),
                                                   rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale)


def _ratio_lines(answer: dict, case: Mapping, data: PublicData, prefer: tuple = ()) -> list[str]:
    """Name the mistakes whose ratios on this public input match the student's wrong ones."""
    tol, templates, expected = data.tolerances, case.get("misconceptions", {}), case["expected"]
    wrong = [key for key in expected if not _close(answer.get(key), expected[key], tol)]

    def match(key, pairs: bool):
        return [label for label, v in _split(templates, pairs).items()
                if _close(answer.get(key), v[key], tol) and not _close(expected[key], v[key], tol)]

    def predicted(key, pairs: bool):
        return [label for label, v in _split(templates, pairs).items() if not _close(expected[key], v[key], tol)]

    return _named_lines(list(expected), [k for k in expected if k not in wrong], match, predicted, data, None,
                        prefer)


def _probe_answers(module, spec: Mapping) -> tuple[dict, list[str]]:
    """Each probe's answer (``NO_ANSWER`` when its call gave none) and why any gave none, as
    the grader judges property items: a probe without an answer costs its own share only."""
    answers, messages, raised = {}, [], False
    for probe in spec["probes"]:
        try:
            answers[probe["name"]] = _call(module, probe["function"], _case_args(probe))
        except (_NotImplemented, _Raised) as exc:
            raised |= isinstance(exc, _Raised)
            answers[probe["name"]] = checks.NO_ANSWER
            if str(exc) not in messages:
                messages.append(str(exc))
    if all(value is checks.NO_ANSWER for value in answers.values()):
        raise (_Raised if raised else _NotImplemented)(*messages)
    return answers, messages


def _check_scaling(item: PublicItem, module, data: PublicData):
    spec = data.properties[item.id]
    answers, unanswered = _probe_answers(module, spec)
    answers, messages = probe_arrays([(probe["name"], probe["function"], answers[probe["name"]])
                                      for probe in spec["probes"]])
    messages = unanswered + messages
    tol = data.tolerances
    share, found = scaling_share(answers, spec["factors"], shares=item.shares, rtol=tol.numeric_rtol,
                                 atol_scale=tol.numeric_atol_scale,
                                 shape=spec["probes"][0]["args"][0]["array"]["shape"])
    adam = next((probe for probe in spec["probes"] if probe["name"] == "adam"), None)
    if adam is not None and answers.get("adam") is not None and not any(
            m.startswith("your adam_updates steps scale") for m in found):  # as the grader decides it
        found = list(found) + _lines(_probe_labels(answers["adam"], adam, data, _prefer(item, module, data)), data)
    return share, messages + found


def _probe_labels(steps: np.ndarray, probe: Mapping, data: PublicData, prefer: tuple) -> list:
    """The Adam mistakes (single, else two together) whose steps on a property probe are the
    student's, NaN included (the grader's diagnosis of a probe)."""
    tol = data.tolerances
    arrays = {label: _array(v) for label, v in probe.get("misconceptions", {}).items()}

    def match(_key, pairs: bool):
        return [label for label, v in _split(arrays, pairs).items()
                if same_values(steps, v, rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale)]

    labels = name_mistakes(["value"], [], match, lambda _k, pairs: _split(arrays, pairs))
    return preferred(labels, prefer) if labels else []


def _check_safety(item: PublicItem, module, data: PublicData):
    spec = data.properties[item.id]
    answers, unanswered = _probe_answers(module, spec)
    answers = {name: value for name, value in answers.items() if value is not checks.NO_ANSWER}
    shapes = {probe["name"]: tuple(probe["args"][0]["array"]["shape"]) for probe in spec["probes"]}
    named, prefer = {}, None
    for probe in spec["probes"]:
        value = answers.get(probe["name"])
        if isinstance(value, ArrayValue) and value.data.shape == shapes[probe["name"]]:
            prefer = _prefer(item, module, data) if prefer is None else prefer
            named[probe["name"]] = _probe_labels(value.data, probe, data, prefer)
    share, messages = safety_share(answers, shapes, _array(spec["tiny_bound"]), shares=item.shares, named=named)
    if share < 1 - 1e-9:
        labels = next((labels for labels in named.values() if labels), [])
        messages = list(messages) + misconception_lines(labels, data.misconceptions)
    return share, unanswered + list(messages)


def _check_concepts(item: PublicItem, module, data: PublicData):
    answers = _call(module, item.function, [])
    options = {key: q["options"] for key, q in data.concepts.items() if key.startswith(item.prefix)}
    found = checks.check_concepts(answers, options, None)
    return found.share, list(found.messages)


_CHECKS: Mapping[str, Callable] = {
    "symbolic_keys": _check_symbolic_keys,
    "symbolic": _check_single_symbolic,
    "array": _check_array_item,
    "ratios": _check_ratios,
    "scaling": _check_scaling,
    "safety": _check_safety,
    "concepts": _check_concepts,
}
