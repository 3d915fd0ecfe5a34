"""Symbolic judging: is a student's expression the reference expression, whatever its form?

Follows SPEC section 3. The student's tree is checked against the whitelist (done when it
was decoded), then its symbol set, then its values at random float points drawn on the
sampling domain below, then at exact rational points in 50-digit arithmetic. ``simplify``
never decides anything. Verdicts are cached per distinct pair of expressions, so a batch
computes each verdict once.

Sampling domain (SPEC section 3): gradients of both signs with 0.5 <= |g| <= 2 and
|g1| != |g2|; alpha in [0.5, 2]; beta1, beta2, mu in [0.2, 0.8]; eps in [0.1, 1] (a
realistic 1e-8 would hide a misplaced eps); c of both signs with 0.25 <= |c| <= 4; m_hat of
both signs with 0.5 <= |m_hat| <= 2; v_hat in [0.25, 4]; integer t in 1..6.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Mapping, Sequence

from grader.engine import checks
from grader.engine.checks import SymbolicVerdict
from grader.engine.expressions import PRECISE, free_symbols
from grader.engine.pointwise import (FLOAT_ATOL, FLOAT_RTOL, PRECISE_ATOL, PRECISE_RTOL, PointAgreement,
                               agreement_with, values_at)
from grader.engine.wire import ExprValue, canonical_key, expression_tree

# name -> (low, high, both signs?, integer?)
DOMAIN: Mapping[str, tuple[float, float, bool, bool]] = {
    "g": (0.5, 2.0, True, False), "g1": (0.5, 2.0, True, False), "g2": (0.5, 2.0, True, False),
    "w1": (0.5, 2.0, True, False), "m_hat": (0.5, 2.0, True, False),
    "alpha": (0.5, 2.0, False, False), "eps": (0.1, 1.0, False, False),
    "beta1": (0.2, 0.8, False, False), "beta2": (0.2, 0.8, False, False), "mu": (0.2, 0.8, False, False),
    "c": (0.25, 4.0, True, False), "v_hat": (0.25, 4.0, False, False), "t": (1, 6, False, True),
}
#: Domain of a symbol that is not a parameter (only used to recognise misconceptions).
OTHER_DOMAIN = (0.5, 2.0, True, False)
#: Candidate points drawn per point needed: first pool, then a larger one for expressions
#: that are real on a small part of the domain only.
POOL_FACTORS = (4, 24)


@dataclass(frozen=True)
class SamplePoints:
    """Float points and exact points (as 50-digit numbers) over the same names."""

    names: tuple[str, ...]
    floats: tuple[Mapping[str, float], ...]
    exact: tuple[Mapping[str, object], ...]


def _draw(name: str, rng: random.Random, exact: bool):
    low, high, signed, integer = DOMAIN.get(name, OTHER_DOMAIN)
    if integer:
        value = rng.randint(int(low), int(high))
        return Fraction(value) if exact else float(value)
    magnitude = rng.uniform(low, high)
    if exact:
        magnitude = min(max(Fraction(magnitude).limit_denominator(64), Fraction(low)), Fraction(high))
    sign = rng.choice((-1, 1)) if signed else 1
    return sign * magnitude if exact else float(sign * magnitude)


def _valid(point: Mapping[str, object]) -> bool:
    """|g1| and |g2| must differ, so that answers mixing them up are told apart."""
    if "g1" in point and "g2" in point:
        return abs(abs(point["g1"]) - abs(point["g2"])) >= Fraction(1, 10)
    return True


def draw_points(names: Sequence[str], count: int, exact_count: int, *, seed: str) -> SamplePoints:
    """Points on the sampling domain, reproducible from ``seed``."""
    rng = random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))
    names = tuple(sorted(names))
    floats, exact = [], []
    while len(floats) < count:
        point = {name: _draw(name, rng, exact=False) for name in names}
        if _valid(point):
            floats.append(point)
    while len(exact) < exact_count:
        point = {name: _draw(name, rng, exact=True) for name in names}
        if _valid(point):
            exact.append({name: PRECISE.number(value) for name, value in point.items()})
    return SamplePoints(names, tuple(floats), tuple(exact))


@dataclass
class SymbolicJudge:
    """Judges symbolic answers; holds the per-batch caches of points and verdicts."""

    float_points: int = 24
    exact_points: int = 3
    rtol: float = FLOAT_RTOL
    atol: float = FLOAT_ATOL
    _points: dict = field(default_factory=dict)
    _values: dict = field(default_factory=dict)
    _agreements: dict = field(default_factory=dict)
    _verdicts: dict = field(default_factory=dict)
    #: Remember verdicts and agreements per distinct expression (off only to test that the
    #: cache changes nothing).
    cache: bool = True

    # -- points and values -----------------------------------------------------------
    def points(self, expected_tree, names: Sequence[str]) -> SamplePoints:
        """Points for comparing against ``expected_tree``: its value is finite at each one.

        The reference is finite on the whole domain; a misconception template may be real on
        a small part of it only (``sqrt(g1)`` and ``sqrt(beta2 g1 + g2)`` together: about a
        quarter), so a larger pool of candidates is drawn when the first one falls short.
        """
        key = (canonical_key(expected_tree), tuple(sorted(names)))
        if key not in self._points:
            seed = key[0] + "|" + ",".join(key[1])
            for factor in POOL_FACTORS:
                candidates = draw_points(names, factor * self.float_points, factor * self.exact_points,
                                         seed=seed if factor == POOL_FACTORS[0] else f"{seed}|{factor}")
                floats = [p for p, v in zip(candidates.floats, values_at(expected_tree, candidates.floats))
                          if v is not None][: self.float_points]
                exact = [p for p, v in zip(candidates.exact,
                                           values_at(expected_tree, candidates.exact, PRECISE))
                         if v is not None][: self.exact_points]
                if len(floats) == self.float_points and len(exact) == self.exact_points:
                    break
            else:
                floats = exact = None  # remembered, so that the pools are not drawn again
            self._points[key] = None if floats is None else SamplePoints(candidates.names, tuple(floats),
                                                                         tuple(exact))
        if self._points[key] is None:
            raise ValueError("the expression has too few finite values on the sampling domain")
        return self._points[key]

    def _values_of(self, tree, points: SamplePoints) -> tuple[list, list]:
        key = (canonical_key(tree), id(points))
        if key not in self._values:
            self._values[key] = (values_at(tree, points.floats), values_at(tree, points.exact, PRECISE))
        return self._values[key]

    def agree(self, tree, expected_tree, points: SamplePoints) -> PointAgreement:
        """Do two trees agree at every float point and every exact point?"""
        key = (canonical_key(tree), canonical_key(expected_tree), id(points))
        if not self.cache:
            self._agreements.pop(key, None)
        if key not in self._agreements:
            exp_f, exp_x = self._values_of(expected_tree, points)
            result = agreement_with(tree, points.floats, exp_f, rtol=self.rtol, atol=self.atol)
            if result.agree:
                exact = agreement_with(tree, points.exact, exp_x, arithmetic=PRECISE,
                                       rtol=PRECISE_RTOL, atol=PRECISE_ATOL)
                if not exact.agree:  # report the exact point's position after the float ones
                    result = PointAgreement(False, len(points.floats) + exact.index, exact.got, exact.expected)
            self._agreements[key] = result
        return self._agreements[key]

    # -- the verdict -----------------------------------------------------------------
    def judge(self, answer, expected_tree, allowed: Sequence[str], *, what: str,
              templates: Mapping[str, list] = {}) -> SymbolicVerdict:
        """Judge one decoded answer against the reference tree.

        ``templates`` maps misconception ids to trees (which may use symbols outside
        ``allowed``); every template that matches a wrong answer is named.
        """
        tree = expression_tree(answer)
        if tree is None:
            return checks.not_expression(what, answer)
        answer_key = answer.key if isinstance(answer, ExprValue) else canonical_key(tree)
        key = (answer_key, canonical_key(expected_tree), tuple(allowed), what, tuple(templates))
        if not self.cache:
            return self._judge_tree(tree, expected_tree, allowed, what, templates)
        if key not in self._verdicts:
            self._verdicts[key] = self._judge_tree(tree, expected_tree, allowed, what, templates)
        return self._verdicts[key]

    def _judge_tree(self, tree, expected_tree, allowed: Sequence[str], what: str,
                    templates: Mapping[str, list]) -> SymbolicVerdict:
        used = free_symbols(tree)
        unknown = sorted(used - set(allowed))
        if unknown:
            names = self.matching(tree, templates, allowed, only_with=set(unknown))
            return checks.unknown_symbols(what, unknown, allowed, names)
        points = self.points(expected_tree, allowed)
        result = self.agree(tree, expected_tree, points)
        if result.agree:
            return checks.correct(what)
        names = self.matching(tree, templates, allowed)
        return checks.wrong(what, self.describe(result, points), names)

    def describe(self, result: PointAgreement, points: SamplePoints) -> str:
        """Where two expressions differ, in words."""
        all_points = points.floats + points.exact
        return result.describe(all_points, points.names)

    def matching(self, tree, templates: Mapping[str, list], allowed: Sequence[str],
                 only_with: set | None = None) -> tuple[str, ...]:
        """The misconception ids whose template agrees with ``tree``."""
        names = []
        for ident, template in templates.items():
            template_symbols = free_symbols(template)
            if only_with is not None and not only_with <= template_symbols:
                continue
            symbols = sorted(set(allowed) | template_symbols | free_symbols(tree))
            try:
                points = self.points(template, symbols)
            except ValueError:
                continue
            if self.agree(tree, template, points).agree:
                names.append(ident)
        return tuple(names)
