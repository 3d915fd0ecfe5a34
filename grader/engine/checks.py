"""The pure checks of an answer, shared by the grader's judges and the students' public checks.

One implementation for both sides, so the same answer gets the same message in the student's
``pytest`` run as in the report: a dict with the right keys, arrays against expected arrays
case by case, the two ratios of Part 3b, concept options, and the words that describe what a
function returned. The callers supply the answers (the grader from the worker's outcomes, the
public checks by calling the student's module) and the expected values (the grader from the
reference, the public checks from ``public_checks.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Mapping, Sequence

import numpy as np

from .explain import unknown_symbols_message
from .numeric import check_array
from .wire import ArrayValue, ExprValue, OtherValue, uncalled_function


class Unanswered(Exception):
    """Raised by an answer getter when a call has no answer to judge (the caller said why)."""


#: Stands for a call without an answer (a function may return None), where the caller has
#: already said why.
NO_ANSWER = object()


@dataclass(frozen=True)
class Finding:
    """What a check found: the share of the item earned, messages, named misconceptions."""

    share: float
    messages: tuple[str, ...]
    misconceptions: tuple[str, ...] = ()


# ---------------------------------------------------------------------------
# Describing what a function returned
# ---------------------------------------------------------------------------

#: sympy's non-finite numbers, by class name, as a student would see them printed.
_NON_FINITE_NODES = {"ComplexInfinity": "zoo", "Infinity": "oo", "NegativeInfinity": "-oo", "NaN": "nan"}


def describe(value) -> str:
    """Words for a decoded answer: "None (did the function forget to return?)", "a tuple", ..."""
    if value is None:
        return "None (did the function forget to return?)"
    if type(value) is bool:
        return f"the boolean {value}"
    if type(value) is str:
        return f"the string {value[:40]!r}"
    if type(value) in (int, float):
        return f"the number {value:.6g}"
    if type(value) is dict:
        return "a dict"
    if isinstance(value, ArrayValue):
        return f"an array of shape {value.shape}" + (" with NaN or infinite values" if value.nonfinite else "")
    if isinstance(value, ExprValue):
        return "a sympy expression"
    if isinstance(value, OtherValue):
        function = uncalled_function(value)
        if function is not None:
            return f"the function {function} itself (not applied to an argument)"
        infinite = [name for name in _NON_FINITE_NODES if f"'{name}'" in value.why]
        if infinite:
            name = _NON_FINITE_NODES[infinite[0]]
            hint = ": a division by zero?" if name in ("zoo", "nan") else ""
            return f"infinite or undefined (it holds sympy's {name}{hint})"
        article = "an" if value.type_name[:1].lower() in "aeiou" else "a"
        if value.type_name in ("tuple", "list"):
            return f"{article} {value.type_name}"  # why it has no wire form is beside the point here
        return f"{article} {value.type_name} ({value.why})"
    return f"a {type(value).__name__}"


def not_a_dict(function: str, value, keys: Sequence[str]) -> str:
    return f"{function} must return a dict with the keys {', '.join(keys)}; it returned {describe(value)}"


def follow_through_credit(key: str, share: float) -> str:
    """The line for a wrong ``key`` that follows through from the student's own earlier answers."""
    return (f"Follow-through credit: your {key} applies the update rule correctly to your own earlier "
            f"answers, which are wrong; it earns {share:g} of this item.")


def no_follow_through(why: str) -> str:
    """The line for a wrong answer that gets no follow-through credit, and why."""
    return f"No follow-through credit: {why}."


def not_an_attempt(name: str, key: str) -> str:
    """Why ``key`` cannot follow through from a wrong ``name`` that ignores the gradients."""
    return f"your {name} does not depend on the gradients, so it is not an attempt that {key} could follow through from"


def missing_key(key: str) -> str:
    return f"the returned dict has no key {key!r}"


# ---------------------------------------------------------------------------
# Symbolic answers: the verdict and its words (the deciding is the caller's: the grader's
# judge at hidden points, the public checks at public points)
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SymbolicVerdict:
    """The judgement of one symbolic answer."""

    outcome: Literal["correct", "wrong", "unknown_symbols", "not_expression", "too_costly"]
    message: str
    misconceptions: tuple[str, ...] = ()

    @property
    def correct(self) -> bool:
        return self.outcome == "correct"


def not_expression(what: str, answer) -> SymbolicVerdict:
    function = uncalled_function(answer)
    if function is not None:  # sympy.cos where sympy.cos(c) was meant
        return SymbolicVerdict("not_expression", f"{what} is the function {function} itself, not an expression: "
                                                 f"apply it to an argument, as in {function}(x)")
    return SymbolicVerdict("not_expression", f"{what} is {describe(answer)}, not a sympy expression")


def unknown_symbols(what: str, unknown: Sequence[str], allowed: Sequence[str],
                    names: Sequence[str] = ()) -> SymbolicVerdict:
    return SymbolicVerdict("unknown_symbols", unknown_symbols_message(what, sorted(unknown), allowed), tuple(names))


def correct(what: str) -> SymbolicVerdict:
    return SymbolicVerdict("correct", f"{what} is correct")


def wrong(what: str, where: str, names: Sequence[str] = ()) -> SymbolicVerdict:
    """``where`` says where the values differ ("at g1=0.5, ...: expected 1, got 2")."""
    return SymbolicVerdict("wrong", f"{what} is not right: {where}", tuple(names))


def too_costly(what: str, why: str) -> SymbolicVerdict:
    return SymbolicVerdict("too_costly", f"{what} could not be judged: {why}")


# ---------------------------------------------------------------------------
# Numeric answers: arrays case by case, and the two ratios
# ---------------------------------------------------------------------------

def check_array_cases(answer: Callable[[int], object], expected: Sequence, *, function: str, where: str,
                      rtol: float, atol_scale: float,
                      templates: Callable[[int], Mapping[str, np.ndarray]] = lambda index: {}) -> Finding:
    """All cases must match, in order; the first that does not decides the message.

    ``answer(i)`` is the decoded answer on case ``i`` (it raises :class:`Unanswered` when there
    is none); ``where`` is "hidden" or "public"; ``templates(i)`` gives the values of the
    named misconceptions on case ``i`` (asked only on a mismatch).
    """
    for index, want in enumerate(expected):
        value = answer(index)
        verdict = check_array(value, want, rtol=rtol, atol_scale=atol_scale,
                              what=f"the result on {where} input {index + 1}")
        if not verdict.ok:
            names = ()
            if verdict.outcome == "mismatch":
                names = tuple(ident for ident, values in templates(index).items()
                              if check_array(value, values, rtol=rtol, atol_scale=atol_scale).ok)
            return Finding(0.0, (verdict.message,), names)
    return Finding(1.0, (f"{function} matches the reference on all {len(expected)} {where} inputs",))


def check_ratio_cases(answer: Callable[[int], object], expected: Sequence[Mapping[str, float]], *,
                      function: str, shares: Mapping[str, float], where: str, rtol: float,
                      atol_scale: float) -> Finding:
    """A dict of ratios per case; each key earns its share when it matches on every case."""
    keys = tuple(shares)
    good = {key: True for key in keys}
    messages = []
    for index, want in enumerate(expected):
        value = answer(index)
        if not isinstance(value, dict):
            return Finding(0.0, tuple(messages) + (not_a_dict(function, value, keys),))
        for key in keys:
            if not good[key]:
                continue
            if key not in value:
                messages.append(missing_key(key))
                good[key] = False
                continue
            verdict = check_array(value[key], want[key], rtol=rtol, atol_scale=atol_scale,
                                  what=f"{key!r} on {where} input {index + 1}")
            if not verdict.ok:
                messages.append(verdict.message)
                good[key] = False
    share = 0.0
    for key in keys:
        if good[key]:
            share += shares[key]
            messages.append(f"{key!r} matches the reference on every {where} input")
    return Finding(share, tuple(messages))


# ---------------------------------------------------------------------------
# Concept questions
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ConceptFinding(Finding):
    #: (key, chosen option) of every valid but wrong choice (the grader names misconceptions).
    wrong_choices: tuple[tuple[str, str], ...] = ()


def check_concepts(answers, options: Mapping[str, Sequence[str]],
                   correct_options: Mapping[str, str] | None) -> ConceptFinding:
    """Each key of ``options`` earns an equal share when its chosen option is correct.

    Without ``correct_options`` (the public checks), a valid option earns the share: only the
    format is checked, the answers are graded on submission.
    """
    if not isinstance(answers, dict):
        return ConceptFinding(0.0, (f"concept_answers must return a dict; it returned {describe(answers)}",))
    share, messages, wrong_choices = 0.0, [], []
    for key in sorted(options):
        chosen = answers.get(key)
        if key not in answers:
            messages.append(f"{key}: no answer (the returned dict has no key {key!r}); choose one of: "
                            f"{', '.join(options[key])}")
        elif type(chosen) is not str or chosen not in options[key]:
            messages.append(f"{key}: {describe(chosen)} is not one of the options ({', '.join(options[key])})")
        elif correct_options is None:
            share += 1 / len(options)
        elif chosen == correct_options[key]:
            share += 1 / len(options)
            messages.append(f"{key}: correct")
        else:
            messages.append(f"{key}: {chosen!r} is not the best answer")
            wrong_choices.append((key, chosen))
    if correct_options is None:
        messages.append("answers are graded on submission; this check only validates their format")
    return ConceptFinding(share, tuple(messages), (), tuple(wrong_choices))
