"""Explaining a wrong answer: which named mistakes fit it, in words a student can act on.

Shared by the grader and the student's public checks, so that both name the same mistakes
with the same sentences. Pure functions over plain data (labels, sets of keys, arrays of
values): no formula and no expected value lives here.

A *label* names one template of the misconception catalogue: a catalogue id
(``no_bias_correction``), the same id with a ``#suffix`` for a second template of the same
mistake (``ema_weights_swapped#m``: the mistake in the first moment only), or two ids
joined by ``+`` for two mistakes made together (``no_bias_correction+eps_inside_sqrt``).
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import numpy as np

#: The student's own optimizers: an item computed from them (the effective rates, the 3b
#: ratios, the property probes) prefers, among the mistakes that fit it equally well, those
#: named on these functions' array items (see :func:`preferred`).
OWN_OPTIMIZERS = ("momentum_updates", "adam_updates")

#: Said when no named mistake (alone or with one other) explains a wrong answer.
UNEXPLAINED = "No single named mistake explains this"


def label_ids(label: str) -> tuple[str, ...]:
    """The catalogue ids a label names (two for a pair of mistakes)."""
    return tuple(part.split("#")[0] for part in label.split("+"))


def is_pair(label: str) -> bool:
    return "+" in label


def explain(keys: Sequence[str], matched: Mapping[str, Iterable[str]], predicted_wrong: Mapping[str, Iterable[str]],
            correct_keys: Iterable[str]) -> list[str]:
    """The most specific labels that explain an item's answers, in order of first match.

    ``matched[key]`` holds the labels whose template agrees with the student's (wrong) answer
    for ``key``; ``predicted_wrong[key]`` every label whose template differs from the
    reference there. A label that predicts wrong a key the student has right is out. A label
    that explains every wrong key is a complete explanation: single mistakes come before
    pairs, and only complete explanations are named when there is one. Otherwise each
    remaining label explains part of the answers, and one is left out when another explains
    every key it does and more.
    """
    correct = set(correct_keys)
    wrong = [key for key in keys if key not in correct and key in matched]
    order: list[str] = []
    explains: dict[str, set] = {}
    for key in keys:
        for label in matched.get(key, ()):
            if label not in explains:
                order.append(label)
                explains[label] = set()
            explains[label].add(key)
    fitting = [label for label in order
               if not any(label in set(predicted_wrong.get(key, ())) for key in correct)]
    for pairs in (False, True):
        complete = [label for label in fitting if is_pair(label) == pairs and set(wrong) <= explains[label]]
        if wrong and complete:
            return _distinct(complete)
    kept = [label for label in fitting
            if not any(explains[label] < explains[other] for other in fitting if other != label)]
    singles = [label for label in kept if not is_pair(label)]
    covered = set().union(*(explains[label] for label in singles)) if singles else set()
    kept = singles + [label for label in kept if is_pair(label) and not explains[label] <= covered]
    return _distinct(kept)


def _distinct(labels: Sequence[str]) -> list[str]:
    """One label per mistake (or pair of mistakes): the first template of each."""
    seen, out = set(), []
    for label in labels:
        ids = frozenset(label_ids(label))
        if ids not in seen:
            seen.add(ids)
            out.append(label)
    return out


def preferred(labels: Sequence[str], prefer: Iterable[str]) -> list[str]:
    """Of labels that fit equally well, those whose mistakes were all named elsewhere
    (``prefer``: catalogue ids, e.g. those named on the student's own optimizer); all of
    them when none was."""
    prefer = set(prefer)
    chosen = [label for label in labels if set(label_ids(label)) <= prefer]
    return chosen or list(labels)


def misconception_lines(labels: Sequence[str], catalogue: Mapping[str, Mapping[str, str]]) -> list[str]:
    """One sentence per named mistake (or pair), with its explanation.

    ``catalogue`` maps ids to ``{"title", "explanation"}``.
    """
    lines = []
    for label in labels:
        ids = label_ids(label)
        if len(ids) == 1:
            entry = catalogue[ids[0]]
            lines.append(f"Likely misconception: {entry['title']}. {entry['explanation']}")
        else:
            entries = [catalogue[ident] for ident in ids]
            lines.append("Likely two mistakes together: " + " and ".join(e["title"] for e in entries) + ". "
                         + " ".join(e["explanation"] for e in entries))
    return lines


def unexplained_line(step: int | None = None) -> str:
    """What to say when no named mistake fits (``step``: where the values first depart)."""
    if step is None:
        return f"{UNEXPLAINED} answer; compare your derivation with the definitions step by step."
    return (f"{UNEXPLAINED} answer; your values first depart from the reference at step {step} "
            f"(row {step} of the result), so look at what your code does differently there.")


def first_departure_step(got: np.ndarray, expected: np.ndarray, *, rtol: float, atol_scale: float) -> int | None:
    """The 1-based step (row) where a (T, d) answer first differs from the expected one."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape or got.ndim != 2:
        return None
    with np.errstate(invalid="ignore"):
        scale = float(np.max(np.abs(expected))) if expected.size else 0.0
        bad = ~(np.abs(got - expected) <= atol_scale * scale + 1e-300 + rtol * np.abs(expected))
    rows = np.flatnonzero(bad.any(axis=1))
    return int(rows[0]) + 1 if rows.size else None


def same_values(got: np.ndarray, expected: np.ndarray, *, rtol: float, atol_scale: float) -> bool:
    """Do two arrays agree, NaN and infinities included?

    Non-finite values must sit in exactly the same places (NaN where NaN, infinities of the
    same sign), at least one value must be finite, and the finite values must be close with
    the numeric tolerances. A template of a mistake that produces NaN (``sqrt`` of a
    negative ``v``) is thus recognised from the student's NaN as well.

    Two plain floats, and arrays with no NaN or infinity (the common cases when mistakes are
    named), take shortcuts: the same comparison on the same floats, so the same answer.
    """
    if type(got) is float and type(expected) is float:  # IEEE doubles, numpy's order of operations
        if not (math.isfinite(got) and math.isfinite(expected)):
            return False  # not finite in both, or no finite value at all
        return abs(got - expected) <= atol_scale * abs(expected) + 1e-300 + rtol * abs(expected)
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return False
    if got.size and np.isfinite(expected).all() and np.isfinite(got).all():
        return _close(got, expected, rtol, atol_scale)
    return _same_with_non_finite(got, expected, rtol=rtol, atol_scale=atol_scale)


def _same_with_non_finite(got: np.ndarray, expected: np.ndarray, *, rtol: float, atol_scale: float) -> bool:
    """:func:`same_values` of two float arrays of one shape, any of whose values may be NaN or
    infinite (the general case, finite arrays included)."""
    finite = np.isfinite(expected)
    if not np.array_equal(np.isnan(got), np.isnan(expected)) or not np.array_equal(np.isfinite(got), finite):
        return False
    if not np.array_equal(got[np.isinf(got)], expected[np.isinf(expected)]) or not finite.any():
        return False
    return _close(got[finite], expected[finite], rtol, atol_scale)


def _close(mine: np.ndarray, exp: np.ndarray, rtol: float, atol_scale: float) -> bool:
    scale = float(np.max(np.abs(exp)))
    return bool(np.all(np.abs(mine - exp) <= atol_scale * scale + 1e-300 + rtol * np.abs(exp)))


#: Relative errors up to this size, on values a float32 holds exactly, are float32 rounding.
FLOAT32_REL_ERROR = 1e-4


def looks_like_float32(got: np.ndarray, expected: np.ndarray) -> bool:
    """Is a mismatch the rounding of an answer computed in float32?

    Every returned value is exactly a float32 and the largest relative error is small
    (float32 keeps about 7 significant digits, so errors of 1e-7 to 1e-5 relative).
    """
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape or not got.size or not np.all(np.isfinite(got)):
        return False
    with np.errstate(all="ignore"):
        if not np.array_equal(got.astype(np.float32).astype(np.float64), got):
            return False
        nonzero = np.abs(expected) > 0
        if not nonzero.any():
            return False
        rel = np.abs(got - expected)[nonzero] / np.abs(expected[nonzero])
    return bool(np.max(rel) <= FLOAT32_REL_ERROR)


def unknown_symbols_message(what: str, unknown: Sequence[str], allowed: Sequence[str]) -> str:
    """An answer uses names that are not parameters of its function."""
    names = ", ".join(unknown)
    if len(unknown) == 1:
        which = f"the symbol {names}, which is not a parameter"
    else:
        which = f"the symbols {names}, which are not parameters"
    return f"{what} uses {which} of this function (its parameters: {', '.join(allowed)})"


#: The property checks' gradient streams, in words.
PROBE_WORDS = {"zeros": "all-zero gradients", "tiny": "tiny gradients (about 1e-12)",
               "momentum": "the scaling check's gradients", "adam": "the scaling check's gradients (eps = 0)"}


def probe_words(name: str) -> str:
    """A property probe's name in words (``adam*1``: the stream times one of the factors)."""
    base, _, _ = name.partition("*")
    words = PROBE_WORDS.get(base, "a check's gradients")
    return f"{words} multiplied by a constant c" if "*" in name else words


def nonfinite_steps_message(probe: str, named: Sequence[str]) -> str:
    """Adam gave NaN or infinite steps on a safety probe; ``named``: the mistakes that fit."""
    head = f"adam_updates gives NaN or infinite steps on {probe_words(probe)} (eps = 1e-8)"
    if "v_from_g_not_g_squared" in {ident for label in named for ident in label_ids(label)}:
        return head + ": the denominator is not zero there, but v is negative, and its square root is NaN"
    return head + (": a correct Adam stays finite there; look for a division by zero or the "
                   "square root of a negative number")


def name_mistakes(keys: Sequence[str], correct_keys: Iterable[str], match, predicted) -> list[str]:
    """The labels to name for an item's answers: single mistakes, then pairs where needed.

    ``match(key, pairs)`` gives the labels whose template agrees with the student's wrong
    answer for ``key`` (single mistakes with ``pairs=False``, two together with ``True``);
    ``predicted(key, pairs)`` every label whose template differs from the reference at
    ``key``. Pairs are only tried when a wrong key has no single mistake that fits it.
    """
    correct = set(correct_keys)
    wrong = [key for key in keys if key not in correct]
    matched = {key: list(match(key, False)) for key in wrong}
    predicted_wrong = {key: set(predicted(key, False)) for key in keys}
    if any(not matched[key] for key in wrong):
        for key in wrong:
            matched[key] += [label for label in match(key, True) if label not in matched[key]]
        for key in correct:
            predicted_wrong[key] |= set(predicted(key, True))
    return explain(keys, matched, predicted_wrong, correct)
