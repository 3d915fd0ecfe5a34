"""Symbolic judging: is a student's expression the reference expression, whatever its form?

Follows SPEC section 3. The student's tree is checked against the whitelist (done when it
was decoded), then its symbol set, then its values at random float points drawn on the
sampling domain below, then at exact rational points in 50-digit arithmetic. ``simplify``
never decides anything. Verdicts are cached per distinct pair of expressions, so a batch
computes each verdict once; the caches are keyed by content, bounded and thread-safe, and
judging one answer (or one submission) costs at most its work budget.

Sampling domain (SPEC section 3): gradients of both signs with 0.5 <= |g| <= 2 and
|g1| != |g2|; alpha in [0.5, 2]; beta1, beta2, mu in [0.2, 0.8]; eps in [0.1, 1] (a
realistic 1e-8 would hide a misplaced eps); c of both signs with 0.25 <= |c| <= 4; m_hat of
both signs with 0.5 <= |m_hat| <= 2; v_hat in [0.25, 4]; integer t in 1..6.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Mapping, Sequence

from grader.engine import checks
from grader.engine.checks import SymbolicVerdict
from grader.engine.expressions import PRECISE, TooCostly, Work, free_symbols
from grader.engine.pointwise import (FLOAT_ATOL, FLOAT_RTOL, PRECISE_ATOL, PRECISE_RTOL, PointAgreement,
                                     agreement_with, moves_with, values_at)
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
    #: Identifies the point set by content (how it was drawn), for caches.
    key: str = ""


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
    return SamplePoints(names, tuple(floats), tuple(exact),
                        hashlib.sha256(f"{seed}|{count}|{exact_count}|{','.join(names)}".encode()).hexdigest())


class LRU:
    """A bounded mapping, least recently used entry evicted first; safe between threads."""

    def __init__(self, size: int):
        self.size = size
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


def content_key(*parts) -> bytes:
    """A short key for cache entries, computed from content only (never ``id()``)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else repr(part).encode())
        digest.update(b"\0")
    return digest.digest()


def tree_key(tree) -> str:
    return canonical_key(tree)


#: Default cache sizes (entries) per cache: points per expected tree, values of a tree at a
#: set of points, agreements of two trees, verdicts.
CACHE_SIZES = {"points": 2_000, "values": 20_000, "agreements": 50_000, "verdicts": 20_000}
#: Entries of the judge's memo of canonical tree texts (by tree object).
TREE_KEYS = 4_096
#: Points at which :meth:`SymbolicJudge.depends_on` moves the gradients.
DEPENDENCE_POINTS = 8
#: Default work budgets (units of :mod:`grader.engine.expressions`' :class:`Work`).
ANSWER_WORK = 600_000


class SymbolicJudge:
    """Judges symbolic answers; holds the batch's caches of points, values and verdicts.

    Every cache is keyed by content (digests of canonical trees and point sets), bounded
    (least recently used entries go first), shared safely between threads, and off with
    ``cache=False``. Each entry remembers the work it cost and charges it again on a hit, so
    the work a submission spends, and so its report, does not depend on what was judged
    before it.
    """

    def __init__(self, float_points: int = 24, exact_points: int = 3, rtol: float = FLOAT_RTOL,
                 atol: float = FLOAT_ATOL, *, cache: bool = True, answer_work: int = ANSWER_WORK,
                 cache_sizes: Mapping[str, int] = CACHE_SIZES):
        self.float_points = float_points
        self.exact_points = exact_points
        self.rtol = rtol
        self.atol = atol
        self.cache = cache
        self.answer_work = answer_work
        self._caches = {name: LRU(size) for name, size in cache_sizes.items()}
        # The canonical text of a tree object, by identity: the templates' and references'
        # trees are the same objects for every submission (their text is computed once per
        # process, not once per verdict). Each entry holds its tree, so an id is never
        # reused while its entry is here; bounded; off with ``cache=False``.
        self._tree_keys = LRU(TREE_KEYS)

    def cache_sizes(self) -> dict[str, int]:
        """Entries held per cache."""
        return {name: len(lru) for name, lru in self._caches.items()}

    def tree_key(self, tree) -> str:
        """:func:`tree_key` of a tree (remembered by tree object when caching)."""
        if not self.cache:
            return tree_key(tree)
        hit = self._tree_keys.get(id(tree))
        if hit is not None and hit[0] is tree:
            return hit[1]
        key = tree_key(tree)
        self._tree_keys.put(id(tree), (tree, key))
        return key

    def cached_values(self, tree, points: Sequence[Mapping[str, object]], points_key: str, work: Work) -> list:
        """``values_at(tree, points)`` (float arithmetic), once per tree and point set
        (``points_key`` names the points by content); a hit charges ``work`` what computing
        it cost."""
        return self._cached("values", content_key("float values", self.tree_key(tree), points_key), work,
                            lambda: values_at(tree, points, work=work))

    def _cached(self, cache: str, key: bytes, work: Work, compute: Callable):
        """``compute()`` once per key; a hit charges ``work`` what computing it cost."""
        if self.cache:
            hit = self._caches[cache].get(key)
            if hit is not None:
                value, cost = hit
                work.charge(cost)
                return value
        before = work.spent
        value = compute()
        if self.cache:
            self._caches[cache].put(key, (value, work.spent - before))
        return value

    # -- points and values -----------------------------------------------------------
    def points(self, expected_tree, names: Sequence[str], work: Work | None = None) -> SamplePoints:
        """Points for comparing against ``expected_tree``: its value is finite at each one.

        The reference is finite on the whole domain; a misconception template may be real on
        a small part of it only (``sqrt(g1)`` and ``sqrt(beta2 g1 + g2)`` together: about a
        quarter), so a larger pool of candidates is drawn when the first one falls short.
        """
        work = Work(self.answer_work, what="this answer") if work is None else work
        names = tuple(sorted(names))
        expected_key = self.tree_key(expected_tree)

        def compute():
            seed = expected_key + "|" + ",".join(names)
            for factor in POOL_FACTORS:
                candidates = draw_points(names, factor * self.float_points, factor * self.exact_points,
                                         seed=seed if factor == POOL_FACTORS[0] else f"{seed}|{factor}")
                floats = [p for p, v in zip(candidates.floats, values_at(expected_tree, candidates.floats,
                                                                          work=work))
                          if v is not None][: self.float_points]
                exact = [p for p, v in zip(candidates.exact,
                                           values_at(expected_tree, candidates.exact, PRECISE, work))
                         if v is not None][: self.exact_points]
                if len(floats) == self.float_points and len(exact) == self.exact_points:
                    key = content_key("points", seed, factor, self.float_points, self.exact_points).hex()
                    return SamplePoints(candidates.names, tuple(floats), tuple(exact), key)
            return False  # remembered, so that the pools are not drawn again

        points = self._cached("points", content_key("points", expected_key, names, self.float_points,
                                                     self.exact_points), work, compute)
        if points is False:
            raise ValueError("the expression has too few finite values on the sampling domain")
        return points

    def _values_of(self, tree, points: SamplePoints, work: Work) -> tuple[list, list]:
        return self._cached("values", content_key("values", self.tree_key(tree), points.key), work,
                            lambda: (values_at(tree, points.floats, work=work),
                                     values_at(tree, points.exact, PRECISE, work)))

    def agree(self, tree, expected_tree, points: SamplePoints, work: Work | None = None) -> PointAgreement:
        """Do two trees agree at every float point and every exact point?"""
        work = Work(self.answer_work, what="this answer") if work is None else work

        def compute():
            exp_f, exp_x = self._values_of(expected_tree, points, work)
            result = agreement_with(tree, points.floats, exp_f, rtol=self.rtol, atol=self.atol, work=work)
            if result.agree:
                exact = agreement_with(tree, points.exact, exp_x, arithmetic=PRECISE,
                                       rtol=PRECISE_RTOL, atol=PRECISE_ATOL, work=work)
                if not exact.agree:  # report the exact point's position after the float ones
                    result = PointAgreement(False, len(points.floats) + exact.index, exact.got, exact.expected)
            return result

        return self._cached("agreements", content_key("agree", self.tree_key(tree), self.tree_key(expected_tree),
                                                      points.key, self.rtol, self.atol), work, compute)

    # -- the verdict -----------------------------------------------------------------
    def judge(self, answer, expected_tree, allowed: Sequence[str], *, what: str,
              templates: Mapping[str, list] = {}, work: Work | None = None) -> SymbolicVerdict:
        """Judge one decoded answer against the reference tree.

        ``templates`` maps misconception ids to trees (which may use symbols outside
        ``allowed``); every template that matches a wrong answer is named. The work of
        judging, template matching included, is charged to a budget of its own
        (``answer_work`` units) inside ``work`` (the submission's): when either is spent the
        verdict is ``too_costly``, with the reason, and nothing is remembered.
        """
        tree = expression_tree(answer)
        if tree is None:
            return checks.not_expression(what, answer)
        parent = Work(self.answer_work, what="this answer") if work is None else work
        own = parent.child(self.answer_work, f"this answer ({what})")
        answer_key = answer.key if isinstance(answer, ExprValue) else canonical_key(tree)
        key = content_key("verdict", answer_key, self.tree_key(expected_tree), tuple(allowed), what,
                          tuple((ident, self.tree_key(t)) for ident, t in templates.items()))
        try:
            return self._cached("verdicts", key, own,
                                lambda: self._judge_tree(tree, expected_tree, allowed, what, templates, own))
        except TooCostly as exc:
            return checks.too_costly(what, str(exc))

    def _judge_tree(self, tree, expected_tree, allowed: Sequence[str], what: str,
                    templates: Mapping[str, list], work: Work) -> SymbolicVerdict:
        used = free_symbols(tree)
        unknown = sorted(used - set(allowed))
        if unknown:
            names = self.matching(tree, templates, allowed, only_with=set(unknown), work=work)
            return checks.unknown_symbols(what, unknown, allowed, names)
        points = self.points(expected_tree, allowed, work)
        result = self.agree(tree, expected_tree, points, work)
        if result.agree:
            return checks.correct(what)
        names = self.matching(tree, templates, allowed, work=work)
        return checks.wrong(what, self.describe(result, points), names)

    def depends_on(self, tree, symbols, allowed: Sequence[str], work: Work | None = None) -> bool:
        """Does the tree's value change when ``symbols`` change (the others held fixed)?

        A wrong moment estimate that is constant in the gradients (all zero, say) is not an
        attempt another answer can follow through from.
        """
        names = tuple(sorted(allowed))
        varying = [name for name in names if name in symbols]
        if not varying or not free_symbols(tree) & set(varying):
            return False
        points = draw_points(names, DEPENDENCE_POINTS, 0, seed="depends|" + ",".join(names)).floats
        return moves_with(tree, points, varying, rtol=self.rtol, atol=self.atol, work=work)

    def describe(self, result: PointAgreement, points: SamplePoints) -> str:
        """Where two expressions differ, in words."""
        all_points = points.floats + points.exact
        return result.describe(all_points, points.names)

    def prepare_template(self, template, allowed: Sequence[str]) -> None:
        """Fill the caches with what :meth:`matching` reads for ``template`` when it meets an
        answer in the symbols ``allowed``: its sample points and its values there (a warm-up
        before the trusted processes fork; a hit later charges what this cost)."""
        work = Work(self.answer_work, what="warm-up")
        self._values_of(template, self._template_points(template, allowed, frozenset(), work), work)

    def _template_points(self, template, allowed: Sequence[str], answer_symbols, work: Work | None) -> SamplePoints:
        """The points at which ``template`` is compared with an answer whose symbols are
        ``answer_symbols``: drawn over every symbol of either and the ``allowed`` ones."""
        return self.points(template, sorted(set(allowed) | free_symbols(template) | answer_symbols), work)

    def matching(self, tree, templates: Mapping[str, list], allowed: Sequence[str],
                 only_with: set | None = None, work: Work | None = None) -> tuple[str, ...]:
        """The misconception ids whose template agrees with ``tree``."""
        names = []
        answer_symbols = free_symbols(tree)
        for ident, template in templates.items():
            if only_with is not None and not only_with <= free_symbols(template):
                continue
            try:
                points = self._template_points(template, allowed, answer_symbols, work)
            except ValueError:
                continue
            if self.agree(tree, template, points, work).agree:
                names.append(ident)
        return tuple(names)
