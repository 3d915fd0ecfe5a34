"""The student's public checks: one rubric item at a time, against the public values.

Runs in the student's own Python (the student bundle's pytest run), on data generated from
the reference at public inputs (``public_checks.json``: values, never formulas). Answers go
through the same wire format and the same comparison rules as in the grader, and a wrong
answer is compared with the values of every named misconception, so the student's run names
the same misconceptions the grader does. The final grade uses hidden inputs and more sample
points; follow-through credit is only decided by the grader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Mapping

import numpy as np

from .arguments import decode_argument
from .expressions import free_symbols
from .numeric import check_array
from .pointwise import agreement, values_at
from .properties import safety_verdict, scaling_share
from .symbols import make_symbol
from .wire import ArrayValue, WireError, decode_value, encode_value, expression_tree

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
        raise _Raised(f"{function} is not defined")
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


def _fmt_point(point: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in point.items())


def _misconception_lines(names, catalogue) -> list[str]:
    return [f"Likely misconception: {catalogue[n]['title']}. {catalogue[n]['explanation']}" for n in names]


def _check_symbolic(answer, entry: dict, spec: dict, what: str, data: dict) -> tuple[bool, list[str]]:
    tree = expression_tree(answer)
    if tree is None:
        return False, [f"{what}: expected a sympy expression, got {_describe(answer)}"]
    unknown = sorted(free_symbols(tree) - set(spec["symbols"]))
    if unknown:
        return False, [f"{what} uses {', '.join(unknown)}, which are not parameters of this function "
                       f"(allowed: {', '.join(spec['symbols'])})"]
    tol = data["tolerances"]
    got = values_at(tree, spec["points"])
    result = agreement(got, entry["expected"], rtol=tol["symbolic_rtol"], atol=tol["symbolic_atol"])
    if result.agree:
        return True, [f"{what}: matches at all {len(got)} public points"]
    point = spec["points"][result.index]
    shown = "no finite real value" if result.got is None else f"{result.got:.6g}"
    lines = [f"{what}: at the public point {_fmt_point(point)} expected {result.expected:.6g}, got {shown}"]
    names = [ident for ident, values in entry.get("misconceptions", {}).items()
             if agreement(got, values, rtol=tol["symbolic_rtol"], atol=tol["symbolic_atol"]).agree]
    return False, lines + _misconception_lines(names, data["misconceptions"])


def _describe(answer) -> str:
    if isinstance(answer, ArrayValue):
        return f"an array of shape {answer.shape}"
    if answer is None:
        return "None"
    if isinstance(answer, dict):
        return "a dict"
    return f"a {type(answer).__name__}"


def _array_expected(entry: dict) -> np.ndarray:
    return np.array(entry["data"], dtype=np.float64).reshape(entry["shape"])


def _check_numeric(answer, expected, data: dict, what: str, templates: Mapping = {}) -> tuple[bool, list[str]]:
    tol = data["tolerances"]
    verdict = check_array(answer, expected, rtol=tol["numeric_rtol"], atol_scale=tol["numeric_atol_scale"],
                          what=what)
    if verdict.ok:
        return True, [f"{what}: matches"]
    names = []
    if verdict.outcome == "mismatch":
        names = [ident for ident, value in templates.items()
                 if check_array(answer, _array_expected(value), rtol=tol["numeric_rtol"],
                                atol_scale=tol["numeric_atol_scale"]).ok]
    return False, [verdict.message] + _misconception_lines(names, data["misconceptions"])


def check_item(item: dict, module, data: dict) -> CheckResult:
    """Run the public check of one rubric item against a student module."""
    def result(status: Status, preview: float, messages) -> CheckResult:
        return CheckResult(item["id"], item["title"], item["part"], item["points"], status,
                           round(preview, 6), tuple(messages))

    try:
        passed_share, messages = _CHECKS[item["kind"]](item, module, data)
    except _NotImplemented as exc:
        return result("not_implemented", 0.0, [str(exc)])
    except _Raised as exc:
        return result("error", 0.0, [str(exc)])
    if item["kind"] == "concepts":
        return result("format_ok" if passed_share == 1 else "failed", 0.0, messages)
    status = "passed" if passed_share >= 1 - 1e-9 else "failed"
    return result(status, item["points"] * passed_share, messages)


def _symbols_call(module, function: str, data: dict):
    spec = data["symbolic"][function]
    return _call(module, function, [make_symbol(n) for n in spec["symbols"]]), spec


def _check_symbolic_keys(item, module, data):
    answer, spec = _symbols_call(module, item["function"], data)
    if not isinstance(answer, dict):
        return 0.0, [f"{item['function']} must return a dict; it returned {_describe(answer)}"]
    share, messages = 0.0, []
    for key in item["keys"]:
        if key not in answer:
            messages.append(f"the returned dict has no key {key!r}")
            continue
        ok, lines = _check_symbolic(answer[key], spec["answers"][key], spec, key, data)
        share += ok / len(item["keys"])
        messages += lines
    return share, messages


def _check_single_symbolic(item, module, data):
    answer, spec = _symbols_call(module, item["function"], data)
    ok, lines = _check_symbolic(answer, spec["answers"][""], spec, item["function"], data)
    return float(ok), lines


def _case_args(case: dict) -> list:
    return [decode_argument(a) for a in case["args"]]


def _check_array_item(item, module, data):
    messages = []
    for number, case in enumerate(data["numeric"][item["id"]]["cases"], start=1):
        answer = _call(module, item["function"], _case_args(case))
        ok, lines = _check_numeric(answer, _array_expected(case["expected"]), data,
                                   f"public input {number}", case.get("misconceptions", {}))
        messages += lines
        if not ok:
            return 0.0, messages
    return 1.0, messages


def _check_ratios(item, module, data):
    good = {"momentum": True, "adam": True}
    messages = []
    for number, case in enumerate(data["numeric"][item["id"]]["cases"], start=1):
        answer = _call(module, item["function"], _case_args(case))
        if not isinstance(answer, dict):
            return 0.0, [f"{item['function']} must return a dict with keys 'momentum' and 'adam'; "
                         f"it returned {_describe(answer)}"]
        for key in good:
            if not good[key]:
                continue
            if key not in answer:
                good[key] = False
                messages.append(f"the returned dict has no key {key!r}")
                continue
            ok, lines = _check_numeric(answer[key], np.asarray(case["expected"][key]), data,
                                       f"{key!r} on public input {number}")
            good[key] = ok
            if not ok:
                messages += lines
    return sum(good.values()) / len(good), messages or ["both ratios match"]


def _check_property(item, module, data):
    spec = data["properties"][item["id"]]
    answers = {}
    for probe in spec["probes"]:
        value = _call(module, probe["function"], _case_args(probe))
        if not isinstance(value, ArrayValue) or value.nonfinite:
            return 0.0, [f"{probe['function']} gave no finite float array on the {probe['name']} probe"]
        answers[probe["name"]] = value.data
    tol = data["tolerances"]
    if item["id"] == "2.3.numerical_safety":
        verdicts = [safety_verdict(name, answers[name], _array_expected(spec["tiny_bound"]))
                    for name in ("zeros", "tiny")]
        return sum(ok for ok, _ in verdicts) / len(verdicts), [message for _, message in verdicts]
    return scaling_share(answers, spec["factors"], rtol=tol["numeric_rtol"],
                         atol_scale=tol["numeric_atol_scale"])


def _check_concepts(item, module, data):
    answers = _call(module, "concept_answers", [])
    if not isinstance(answers, dict):
        return 0.0, [f"concept_answers must return a dict; it returned {_describe(answers)}"]
    messages, valid = [], 0
    keys = [k for k in data["concepts"] if k.startswith(item["prefix"])]
    for key in keys:
        options = data["concepts"][key]["options"]
        chosen = answers.get(key)
        if type(chosen) is str and chosen in options:
            valid += 1
        else:
            messages.append(f"{key}: {chosen!r} is not one of {options}")
    messages.append("answers are graded on submission; this check only validates their format")
    return valid / len(keys), messages


_CHECKS: Mapping[str, Callable] = {
    "symbolic_keys": _check_symbolic_keys,
    "symbolic": _check_single_symbolic,
    "array": _check_array_item,
    "ratios": _check_ratios,
    "property": _check_property,
    "concepts": _check_concepts,
}
