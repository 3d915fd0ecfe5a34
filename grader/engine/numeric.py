"""Numeric judging: one answer against one expected array, in a fixed order.

The checks run as PrairieLearn orders them: present, convertible to float64, shape, finite,
close. The first that fails decides the verdict and its message; a mismatch reports how many
elements differ and the largest absolute and relative error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .expressions import evaluate
from .wire import ArrayValue, ExprValue, OtherValue

Outcome = Literal["close", "missing", "not_convertible", "wrong_shape", "not_finite", "mismatch"]

#: Default tolerances: relative, and absolute as a fraction of the largest expected magnitude.
RTOL = 1e-6
ATOL_SCALE = 1e-9


@dataclass(frozen=True)
class NumericVerdict:
    """The result of comparing one answer with one expected array."""

    outcome: Outcome
    message: str
    mismatches: int = 0
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == "close"


def as_float_array(value) -> tuple[np.ndarray | None, str]:
    """The float64 array of a decoded answer, or ``(None, why)`` when it has none."""
    if isinstance(value, ArrayValue):
        return value.data, ""
    if type(value) in (int, float):
        return np.asarray(float(value)), ""
    if isinstance(value, ExprValue):
        number = evaluate(value.tree, {})
        if number is None or type(number) is bool:
            return None, "a symbolic expression where a number was expected"
        return np.asarray(float(number)), ""
    if value is None:
        return None, "None (did the function forget to return?)"
    if isinstance(value, OtherValue):
        return None, f"a {value.type_name} that is not a number array ({value.why})"
    return None, f"a {type(value).__name__}, not a number or array"


def check_array(value, expected, *, rtol: float = RTOL, atol_scale: float = ATOL_SCALE,
                present: bool = True, what: str = "the result") -> NumericVerdict:
    """Compare a decoded answer with ``expected`` (array-like of finite floats)."""
    expected = np.asarray(expected, dtype=np.float64)
    if not present:
        return NumericVerdict("missing", f"{what} is missing")
    got, why = as_float_array(value)
    if got is None:
        return NumericVerdict("not_convertible", f"{what} is {why}")
    if got.shape != expected.shape:
        if expected.ndim == 0 and got.size == 1:
            got = got.reshape(())
        else:
            return NumericVerdict(
                "wrong_shape", f"{what} has shape {_shape(got.shape)}, expected {_shape(expected.shape)}")
    bad = ~np.isfinite(got)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0]) if got.ndim else ()
        return NumericVerdict(
            "not_finite",
            f"invalid output: {int(bad.sum())} of {got.size} elements of {what} are NaN or "
            f"infinite (first at index {list(where)})", mismatches=int(bad.sum()))
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    atol = atol_scale * scale + 1e-300
    diff = np.abs(got - expected)
    tolerance = atol + rtol * np.abs(expected)
    wrong = diff > tolerance
    if not wrong.any():
        return NumericVerdict("close", f"{what} matches")
    max_abs = float(diff.max())
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(np.abs(expected) > 0, diff / np.abs(expected), np.inf)
    max_rel = float(rel[wrong].max())
    first = tuple(int(i) for i in np.argwhere(wrong)[0]) if got.ndim else ()
    shown_expected, shown_got = distinct_digits(float(expected[first]), float(got[first]))
    detail = (f" (first at index {list(first)}: expected {shown_expected}, got {shown_got})"
              if got.ndim else f" (expected {shown_expected}, got {shown_got})")
    return NumericVerdict(
        "mismatch",
        f"{what}: {int(wrong.sum())} of {got.size} elements differ; largest absolute error "
        f"{max_abs:.3g}, largest relative error {max_rel:.3g}{detail}",
        mismatches=int(wrong.sum()), max_abs_error=max_abs, max_rel_error=max_rel)


def distinct_digits(expected: float, got: float) -> tuple[str, str]:
    """Both numbers with 6 significant digits, or as many more as it takes to tell them apart."""
    for digits in range(6, 18):
        a, b = f"{expected:.{digits}g}", f"{got:.{digits}g}"
        if a != b:
            return a, b
    return a, b


def _shape(shape: tuple) -> str:
    return "()" if not shape else "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
