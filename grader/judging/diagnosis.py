"""What a wrong answer most likely is: the named mistakes that explain it, and the words.

Pure functions: given a function, its keys, the student's values (or the symbolic judge's
verdicts) and the inputs, each returns a :class:`Diagnosis` with the most specific
explanation(s). Single mistakes are tried first; two mistakes together only when no single
one fits; when nothing fits, the student is told so, with the step at which the values
first depart from the reference where there are steps. The selection rules and sentences
live in :mod:`grader.engine.explain`, shared with the student's public checks.

Symbolic diagnosis evaluates expressions: its work is charged to the ``work`` budget it is
given (the submission's naming budget, see :func:`grader.judging.items.judge_items`), and
:class:`~grader.engine.expressions.TooCostly` leaves it when that budget is spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from grader.engine.explain import (first_departure_step, label_ids, looks_like_float32, misconception_lines,
                                   name_mistakes, preferred, same_values, unexplained_line)
from grader.engine.expressions import Work
from grader.engine.pointwise import agreement, values_at
from grader.engine.wire import ArrayValue, expression_tree
from grader.judging.catalogue import CATALOGUE
from grader.judging.misconceptions import (NO_MEMO, AdamVariant, Memo, differing_labels, numeric_templates,
                                           symbolic_templates, variant_history)

#: The catalogue as the plain data :func:`misconception_lines` reads.
CATALOGUE_DATA: Mapping[str, Mapping[str, str]] = {
    ident: {"title": entry.title, "explanation": entry.explanation} for ident, entry in CATALOGUE.items()}


@dataclass(frozen=True)
class Diagnosis:
    """The named mistakes of one item (template labels) and what to tell the student."""

    labels: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()

    @property
    def ids(self) -> tuple[str, ...]:
        """The catalogue ids named, each once, in order."""
        out: list[str] = []
        for label in self.labels:
            out += [ident for ident in label_ids(label) if ident not in out]
        return tuple(out)


def _diagnosis(labels: Sequence[str], unexplained: str | None, prefer: Sequence[str] = ()) -> Diagnosis:
    labels = preferred(labels, prefer)
    if labels:
        return Diagnosis(tuple(labels), tuple(misconception_lines(labels, CATALOGUE_DATA)))
    return Diagnosis((), () if unexplained is None else (unexplained,))


def worth_naming(verdicts: Mapping) -> bool:
    """Could :func:`diagnose_symbolic` name anything, or say that nothing fits, for these
    verdicts? Only a wrong answer, or one with unknown symbols that matched a template, has
    a mistake to name; for the others the diagnosis is empty, so it need not be made."""
    return any(verdict.outcome == "wrong" or verdict.misconceptions for verdict in verdicts.values())


def diagnose_symbolic(judge, function: str, keys: Sequence, verdicts: Mapping, answers: Mapping,
                      allowed: Sequence[str], references: Mapping, *, work: Work, explained: Sequence = (),
                      right_elsewhere: Sequence[tuple] = ()) -> Diagnosis:
    """The mistakes that explain an item's symbolic answers (``keys``: dict keys, or ``[None]``).

    ``verdicts[key]`` is the judge's verdict for every judged key (its ``misconceptions``:
    the single-mistake labels that matched); ``references[(function, key)]`` the reference
    trees; ``explained`` lists wrong keys that need no "no single named mistake" line (a
    follow-through credit already says what happened); ``right_elsewhere`` lists the
    ``(function, key)`` of the student's right answers outside this item (Part 1's other
    keys): a mistake that would have made one of them wrong is not named either. Every
    evaluation is charged to ``work`` (:class:`TooCostly` when it is spent).
    """
    judged = [key for key in keys if key in verdicts]
    correct = [key for key in judged if verdicts[key].correct] + list(right_elsewhere)

    def match(key, pairs: bool):
        verdict = verdicts[key]
        if not pairs:
            return verdict.misconceptions
        tree = expression_tree(answers.get(key))
        if tree is None or verdict.outcome != "wrong":
            return ()
        return judge.matching(tree, _candidates(judge, tree, symbolic_templates(function, key, pairs=True),
                                                judge.points(references[(function, key)], allowed, work), work),
                              allowed, work=work)

    def predicted(key, pairs: bool):
        if isinstance(key, tuple):
            return differing_labels(*key, pairs=pairs)
        return set(symbolic_templates(function, key, pairs=pairs)) | differing_labels(function, key, pairs=pairs)

    labels = name_mistakes(judged + list(right_elsewhere), correct, match, predicted)
    unexplained = [key for key in judged if verdicts[key].outcome == "wrong" and key not in explained]
    has_templates = any(symbolic_templates(function, key) for key in unexplained)
    return _diagnosis(labels, unexplained_line() if unexplained and has_templates else None)


def _candidates(judge, tree, templates: Mapping[str, list], points, work: Work) -> dict:
    """The templates that agree with ``tree`` at the first two of the reference's points
    (a cheap sieve before the judge's full comparison, which draws points per template).
    The templates' values there are the same for every submission: the judge remembers
    them (and charges ``work`` their cost on every use)."""
    sieve = points.floats[:2]
    mine = values_at(tree, sieve, work=work)
    if any(value is None or type(value) is bool for value in mine):
        return dict(templates)
    sieve_key = f"{points.key}|first 2"
    return {label: template for label, template in templates.items()
            if agreement(mine, [_or_nan(v) for v in judge.cached_values(template, sieve, sieve_key, work)],
                         rtol=1e-6, atol=1e-9).agree}


def _or_nan(value):
    return float("nan") if value is None or type(value) is bool else value


def _values(template, args):
    try:
        with np.errstate(all="ignore"):
            return template(*args)
    except (ArithmeticError, ValueError, IndexError):
        return None


def diagnose_array(function: str, value: ArrayValue, expected: np.ndarray, args: tuple, *, rtol: float,
                   atol_scale: float, prefer: Sequence[str] = (), memo: Memo = NO_MEMO) -> Diagnosis:
    """The mistakes that explain a wrong (T, d) array, NaN and infinities included."""
    got = value.data
    if got.shape != expected.shape:  # a format mistake: the shape message says it all
        return _diagnosis([], None)
    if looks_like_float32(got, expected):
        return _diagnosis(["float32_rounding"], None)
    cache: dict = {}

    def templates(pairs: bool) -> dict:
        if pairs not in cache:
            cache[pairs] = {}
            for label, template in numeric_templates(function, pairs=pairs, memo=memo).items():
                values = _values(template, args)
                if values is not None and not same_values(values, expected, rtol=rtol, atol_scale=atol_scale):
                    cache[pairs][label] = np.asarray(values, dtype=np.float64)
        return cache[pairs]

    def match(_key, pairs: bool):
        return [label for label, values in templates(pairs).items()
                if same_values(got, values, rtol=rtol, atol_scale=atol_scale)]

    labels = name_mistakes(["value"], [], match, lambda _key, pairs: templates(pairs))
    step = first_departure_step(got, expected, rtol=rtol, atol_scale=atol_scale)
    return _diagnosis(labels, unexplained_line(step) if numeric_templates(function) else None, prefer)


def diagnose_ratios(function: str, value: Mapping, expected: Mapping, args: tuple, wrong_keys: Sequence[str],
                    *, rtol: float, atol_scale: float, prefer: Sequence[str] = (), memo: Memo = NO_MEMO) -> Diagnosis:
    """The mistakes that explain wrong ratios of one case (the other keys of it are right)."""
    keys = list(expected)
    cache: dict = {}

    def values(pairs: bool) -> dict:
        if pairs not in cache:
            found = {label: _values(template, args)
                     for label, template in numeric_templates(function, pairs=pairs, memo=memo).items()}
            cache[pairs] = {label: v for label, v in found.items() if isinstance(v, dict)}
        return cache[pairs]

    def close(a, b) -> bool:
        return a is not None and same_values(a, b, rtol=rtol, atol_scale=atol_scale)

    def match(key, pairs: bool):
        mine = value.get(key)
        if type(mine) not in (int, float):
            return ()
        return [label for label, v in values(pairs).items() if close(mine, v[key]) and not close(expected[key], v[key])]

    def predicted(key, pairs: bool):
        return [label for label, v in values(pairs).items() if not close(expected[key], v[key])]

    correct = [key for key in keys if key not in wrong_keys]
    return _diagnosis(name_mistakes(keys, correct, match, predicted), None, prefer)


def diagnose_probe(value: ArrayValue, args: tuple, *, rtol: float, atol_scale: float,
                   prefer: Sequence[str] = (), memo: Memo = NO_MEMO) -> Diagnosis:
    """The Adam mistakes whose steps on a property probe are the student's (NaN included).

    Templates that take the reference's own steps on this probe name nothing and are left
    out; pairs are tried when no single mistake fits.
    """
    right = variant_history(AdamVariant(), *args, memo=memo)[0]
    cache: dict = {}

    def templates(pairs: bool) -> dict:
        if pairs not in cache:
            cache[pairs] = {}
            for label, template in numeric_templates("adam_updates", pairs=pairs, memo=memo).items():
                values = _values(template, args)
                if values is not None and not same_values(values, right, rtol=rtol, atol_scale=atol_scale):
                    cache[pairs][label] = values
        return cache[pairs]

    def match(_key, pairs: bool):
        return [label for label, values in templates(pairs).items()
                if same_values(value.data, values, rtol=rtol, atol_scale=atol_scale)]

    return _diagnosis(name_mistakes(["value"], [], match, lambda _k, pairs: templates(pairs)), None, prefer)
