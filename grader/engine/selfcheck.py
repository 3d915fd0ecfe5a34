"""The student's public checks: one rubric item at a time, against the public values.

Runs in the student's own Python (the student bundle's pytest run), on data generated from
the reference at public inputs (``public_checks.json``, read through :mod:`.publicdata`:
values, never formulas). Answers go through the same wire format, and are judged by the same
checks (:mod:`.checks`, :mod:`.numeric`, :mod:`.properties`) as in the grader, so a student
sees the same message here as in the report; a wrong answer is compared with the values of
every named misconception, so the student's run names the same misconceptions the grader
does. The final grade uses hidden inputs and more sample points; follow-through credit is
only decided by the grader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Mapping

import numpy as np

from . import checks
from .arguments import decode_argument
from .expressions import free_symbols
from .pointwise import agreement, values_at
from .properties import probe_arrays, safety_share, scaling_share
from .publicdata import PublicData, PublicItem
from .symbols import make_symbol
from .wire import WireError, decode_value, encode_value, expression_tree

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


def _call(module, function: str, args: list):
    """Call a student function and return its decoded answer (as the grader would see it)."""
    fn = getattr(module, function, None)
    if not callable(fn):
        raise _Raised(f"{function} is not defined in the submission")
    try:
        value = fn(*args)
    except NotImplementedError:
        raise _NotImplemented(f"{function} is not implemented yet (it raises NotImplementedError)") from None
    except Exception as exc:  # noqa: BLE001 - the student's exception becomes a message
        raise _Raised(f"{function} raised {type(exc).__name__}: {exc}") from None
    try:
        return decode_value(encode_value(value))
    except WireError as exc:
        raise _Raised(f"{function} returned invalid output: {exc}") from None


def _misconception_lines(names, catalogue) -> list[str]:
    return [f"Likely misconception: {catalogue[n]['title']}. {catalogue[n]['explanation']}" for n in names]


def _fmt(value) -> str:
    return f"{float(value):.6g}"


def _symbolic_verdict(answer, entry: Mapping, spec: Mapping, what: str, data: PublicData) -> checks.SymbolicVerdict:
    tree = expression_tree(answer)
    if tree is None:
        return checks.not_expression(what, answer)
    allowed = spec["symbols"]
    unknown = sorted(free_symbols(tree) - set(allowed))
    if unknown:
        return checks.unknown_symbols(what, unknown, allowed)
    tol = data.tolerances
    got = values_at(tree, spec["points"])
    result = agreement(got, entry["expected"], rtol=tol.symbolic_rtol, atol=tol.symbolic_atol)
    if result.agree:
        return checks.correct(what)
    names = [ident for ident, values in entry.get("misconceptions", {}).items()
             if agreement(got, values, rtol=tol.symbolic_rtol, atol=tol.symbolic_atol).agree]
    return checks.wrong(what, result.describe(spec["points"], sorted(allowed)), names)


def _lines(verdict: checks.SymbolicVerdict, data: PublicData) -> list[str]:
    return [verdict.message] + _misconception_lines(verdict.misconceptions, data.misconceptions)


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
        return result("not_implemented", 0.0, [str(exc)])
    except _Raised as exc:
        return result("error", 0.0, [str(exc)])
    if item.kind == "concepts":
        return result("format_ok" if passed_share >= 1 - 1e-9 else "failed", 0.0, messages)
    status = "passed" if passed_share >= 1 - 1e-9 else "failed"
    return result(status, item.points * passed_share, messages)


def _symbols_call(module, function: str, data: PublicData):
    spec = data.symbolic[function]
    return _call(module, function, [make_symbol(n) for n in spec["symbols"]]), spec


def _check_symbolic_keys(item: PublicItem, module, data: PublicData):
    answer, spec = _symbols_call(module, item.function, data)
    if not isinstance(answer, dict):
        return 0.0, [checks.not_a_dict(item.function, answer, spec["answers"].keys())]
    share, messages = 0.0, []
    for key in item.keys:
        if key not in answer:
            messages.append(checks.missing_key(key))
            continue
        verdict = _symbolic_verdict(answer[key], spec["answers"][key], spec, key, data)
        share += item.shares[key] * verdict.correct
        messages += _lines(verdict, data)
    return share, messages


def _check_single_symbolic(item: PublicItem, module, data: PublicData):
    answer, spec = _symbols_call(module, item.function, data)
    verdict = _symbolic_verdict(answer, spec["answers"][""], spec, f"the answer of {item.function}", data)
    return float(verdict.correct), _lines(verdict, data)


def _case_args(case: Mapping) -> list:
    return [decode_argument(a) for a in case["args"]]


def _array(entry: Mapping) -> np.ndarray:
    return np.array(entry["data"], dtype=np.float64).reshape(entry["shape"])


def _answers(module, function: str, cases) -> Callable[[int], object]:
    return lambda index: _call(module, function, _case_args(cases[index]))


def _check_array_item(item: PublicItem, module, data: PublicData):
    cases = data.numeric[item.id]["cases"]
    tol = data.tolerances
    found = checks.check_array_cases(
        _answers(module, item.function, cases), [_array(case["expected"]) for case in cases],
        function=item.function, where="public", rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale,
        templates=lambda index: {ident: _array(v) for ident, v in cases[index].get("misconceptions", {}).items()})
    return found.share, list(found.messages) + _misconception_lines(found.misconceptions, data.misconceptions)


def _check_ratios(item: PublicItem, module, data: PublicData):
    cases = data.numeric[item.id]["cases"]
    tol = data.tolerances
    found = checks.check_ratio_cases(
        _answers(module, item.function, cases), [case["expected"] for case in cases], function=item.function,
        shares=item.shares, where="public", rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale)
    return found.share, list(found.messages)


def _probe_answers(module, spec: Mapping) -> dict:
    return {probe["name"]: _call(module, probe["function"], _case_args(probe)) for probe in spec["probes"]}


def _check_scaling(item: PublicItem, module, data: PublicData):
    spec = data.properties[item.id]
    answers, messages = probe_arrays([(probe["name"], probe["function"],
                                       _call(module, probe["function"], _case_args(probe)))
                                      for probe in spec["probes"]])
    tol = data.tolerances
    share, found = scaling_share(answers, spec["factors"], shares=item.shares, rtol=tol.numeric_rtol,
                                 atol_scale=tol.numeric_atol_scale)
    return share, messages + found


def _check_safety(item: PublicItem, module, data: PublicData):
    spec = data.properties[item.id]
    answers = _probe_answers(module, spec)
    shapes = {probe["name"]: tuple(probe["args"][0]["array"]["shape"]) for probe in spec["probes"]}
    return safety_share(answers, shapes, _array(spec["tiny_bound"]), shares=item.shares)


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
