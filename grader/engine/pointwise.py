"""Symbolic judging by values: two expressions agree when they agree at every sample point.

Plain ``simplify(a - b) == 0`` marks correct answers wrong (nested square roots, ``Abs``
against ``sqrt(g**2)``, unevaluated sums), so answers are compared by their values: at many
random float points with a relative tolerance, then at a few exact rational points in
50-digit arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from .expressions import FLOAT, Arithmetic, Work, evaluator, free_symbols
from .numeric import distinct_digits

#: Float points: relative tolerance and absolute floor.
FLOAT_RTOL = 1e-9
FLOAT_ATOL = 1e-12
#: 50-digit points: agreement to this relative precision.
PRECISE_RTOL = 1e-35
PRECISE_ATOL = 1e-40


@dataclass(frozen=True)
class PointAgreement:
    """Whether two lists of values agree; where not, the first point that differs."""

    agree: bool
    index: int = -1
    got: object = None
    expected: object = None

    def describe(self, points: Sequence[Mapping[str, object]], names: Sequence[str] | None = None) -> str:
        """A sentence saying where the values differ ("" when they agree)."""
        if self.agree:
            return ""
        point = points[self.index]
        shown = ", ".join(f"{name}={_fmt(point[name])}" for name in (names or sorted(point)) if name in point)
        if self.got is None:
            expected, got = _fmt(self.expected), "no finite real value"
        else:
            expected, got = _shown_apart(self.expected, self.got)
        return f"at {shown}: expected {expected}, got {got}"


def values_at(tree, points: Sequence[Mapping[str, object]], arithmetic: Arithmetic = FLOAT,
              work: Work | None = None) -> list:
    """The tree's value at each point (``None`` where it has no finite real value); the work
    is charged to ``work``."""
    value_at = evaluator(tree, arithmetic)
    return [value_at(point, work) for point in points]


def moves_with(tree, points: Sequence[Mapping[str, object]], varying: Sequence[str], *,
               rtol: float = FLOAT_RTOL, atol: float = FLOAT_ATOL, work: Work | None = None) -> bool:
    """Does the tree's value change when only the symbols ``varying`` change? Each point is
    compared with itself after taking the ``varying`` values of the next point (the last
    takes the first's): a value that changes, or that appears or vanishes (``sqrt(g1)`` as
    g1 changes sign), is a change; a tree without any of them never moves. The one rule for
    "this answer depends on the gradients", on the grader's points and on the public ones."""
    varying = [name for name in varying if all(name in point for point in points)]
    if not varying or not free_symbols(tree) & set(varying) or len(points) < 2:
        return False
    points = list(points)
    moved = [{**p, **{name: q[name] for name in varying}} for p, q in zip(points, points[1:] + points[:1])]
    before, after = values_at(tree, points, work=work), values_at(tree, moved, work=work)
    return any((a is None) != (b is None) or (a is not None and b is not None and type(a) is not bool and
                                              abs(a - b) > rtol * (abs(a) + abs(b)) + atol)
               for a, b in zip(before, after))


def agreement(got: Sequence, expected: Sequence, *, rtol: float = FLOAT_RTOL,
              atol: float = FLOAT_ATOL) -> PointAgreement:
    """Compare values point by point: ``|got - expected| <= atol + rtol * |expected|``."""
    _same_length(got, expected)
    for index, (g, e) in enumerate(zip(got, expected)):
        if not _close(g, e, rtol, atol):
            return PointAgreement(False, index, g, e)
    return PointAgreement(True)


def agreement_with(tree, points: Sequence[Mapping[str, object]], expected: Sequence, *,
                   arithmetic: Arithmetic = FLOAT, rtol: float = FLOAT_RTOL,
                   atol: float = FLOAT_ATOL, work: Work | None = None) -> PointAgreement:
    """Like :func:`agreement` of ``values_at(tree, points)``, evaluating only up to the first
    point that differs (most wrong answers differ at the first point)."""
    _same_length(points, expected)
    value_at = evaluator(tree, arithmetic)
    for index, (point, e) in enumerate(zip(points, expected)):
        g = value_at(point, work)
        if not _close(g, e, rtol, atol):
            return PointAgreement(False, index, g, e)
    return PointAgreement(True)


def _same_length(a: Sequence, b: Sequence) -> None:
    """``zip(a, b, strict=True)`` without Python 3.10 (the bundle runs on 3.9)."""
    if len(a) != len(b):
        raise ValueError(f"{len(a)} values against {len(b)}")


def _close(got, expected, rtol: float, atol: float) -> bool:
    if type(expected) is bool or type(got) is bool:
        return type(got) is type(expected) and got == expected
    if got is None or expected is None:
        return got is None and expected is None
    return abs(got - expected) <= atol + rtol * abs(expected)


def _shown_apart(expected, got) -> tuple[str, str]:
    """Both values with 6 significant digits, or as many more as it takes to tell them apart:
    a near miss shown as the same number twice tells a student nothing. Values at the exact
    points (50-digit numbers) that differ where their doubles do not show their own digits."""
    if type(expected) is bool or type(got) is bool:
        return _fmt(expected), _fmt(got)
    try:
        shown = distinct_digits(float(expected), float(got))
    except (TypeError, ValueError, OverflowError):
        return _fmt(expected), _fmt(got)
    if shown[0] == shown[1] and hasattr(expected, "_mpf_") and hasattr(got, "_mpf_"):
        for digits in range(18, 51):
            precise = expected.context.nstr(expected, digits), got.context.nstr(got, digits)
            if precise[0] != precise[1]:
                return precise
    return shown


def _fmt(value) -> str:
    if type(value) is bool:
        return str(value)
    try:
        return f"{float(value):.6g}"
    except (TypeError, ValueError):
        return str(value)
