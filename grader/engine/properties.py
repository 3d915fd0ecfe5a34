"""Property checks of a student's own optimizers (the scaling and numerical-safety items).

Shared by the grader and the public checks: both pass the student's answers on the probes
and receive the share of the item earned with one message per finding.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .numeric import check_array
from .checks import NO_ANSWER, describe
from .explain import nonfinite_steps_message, probe_words
from .wire import ArrayValue

#: How each optimizer's steps must change when every gradient is multiplied by c.
SCALING_RULES = (("momentum", "by c", lambda c: c),
                 ("adam", "by sign(c) when eps = 0", lambda c: float(np.sign(c))))


def probe_array(function: str, probe: str, value) -> tuple[np.ndarray | None, str | None]:
    """The finite float array a probe's answer must be, or ``(None, why)``."""
    if isinstance(value, ArrayValue) and value.nonfinite == 0:
        return value.data, None
    return None, f"{function} must return a finite float array (on {probe_words(probe)} it returned {describe(value)})"


def probe_arrays(answers: Sequence[tuple[str, str, object]]) -> tuple[dict, list[str]]:
    """The arrays of ``(probe, function, answer)`` triples (None where there is none) and the
    messages: one for the first unusable answer of each optimizer (``NO_ANSWER``: the caller
    has said why)."""
    arrays, messages = {}, []
    for probe, function, value in answers:
        optimizer = probe.split("*")[0].split("~")[0]
        array, why = (None, None) if value is NO_ANSWER else probe_array(function, probe, value)
        if why and not any(arrays[other] is None for other in arrays
                           if other.split("*")[0].split("~")[0] == optimizer):
            messages.append(why)
        arrays[probe] = array
    return arrays, messages


def remembers(steps: np.ndarray, changed: np.ndarray, shape: Sequence[int], *, rtol: float = 1e-6,
              atol_scale: float = 1e-9) -> bool:
    """Do the later steps change when the first gradient does (``changed``: the steps on the
    stream with its first gradient changed; ``shape``: the stream's (T, d))? Momentum and
    Adam remember past gradients; an optimizer that does not (``-alpha * g``,
    ``-alpha * sign(g)``) is no attempt at either. Steps of the stream's size are read in
    its shape (a flattened answer is still an attempt); any other size tells nothing."""
    shape = tuple(shape)
    if steps.shape != changed.shape or steps.size != int(np.prod(shape)) or len(shape) != 2 or shape[0] < 2:
        return False
    later, later_changed = steps.reshape(shape)[1:], changed.reshape(shape)[1:]
    return not check_array(ArrayValue(later_changed, 0), later, rtol=rtol, atol_scale=atol_scale).ok


def not_genuine(optimizer: str) -> str:
    name = {"adam": "Adam"}.get(optimizer, optimizer)
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return (f"no credit for this property: your {name} steps do not depend on earlier gradients "
            f"(changing the first gradient changes none of the later steps), so they are not "
            f"{article} {name} implementation whose properties could be checked")


def scaling_share(answers: Mapping[str, np.ndarray | None], factors: Sequence[float], *,
                  shares: Mapping[str, float], rtol: float, atol_scale: float,
                  shape: Sequence[int] = ()) -> tuple[float, list[str]]:
    """Share of the item earned (``shares`` per optimizer) and one message per finding.

    ``answers`` holds ``"momentum"``/``"adam"`` (steps on the probe stream; Adam with
    eps = 0) and ``"momentum*i"``/``"adam*i"`` (steps on the stream times ``factors[i]``).
    An optimizer with a missing answer (None) earns nothing here and gets no message: the
    caller has already said why the answer is missing.
    """
    share, messages = 0.0, []
    for optimizer, rule, factor_of in SCALING_RULES:
        mine = [name for name in answers if name.split("*")[0].rstrip("~") == optimizer]
        if any(answers[name] is None for name in mine):
            continue
        base = answers[optimizer]
        if not np.any(base):
            messages.append(f"your {optimizer} steps are all zero, so their scaling shows nothing")
            continue
        if f"{optimizer}~" in answers and not remembers(base, answers[f"{optimizer}~"], shape, rtol=rtol,
                                                         atol_scale=atol_scale):
            messages.append(not_genuine(optimizer))
            continue
        ok = True
        for index, c in enumerate(factors):
            verdict = check_array(ArrayValue(answers[f"{optimizer}*{index}"], 0), factor_of(c) * base,
                                  rtol=rtol, atol_scale=atol_scale,
                                  what=f"your {optimizer} steps with every gradient multiplied by {c:.3g}")
            if not verdict.ok:
                ok = False
                messages.append(f"{verdict.message}; they should scale {rule}")
                break
        if ok:
            share += shares[optimizer]
            messages.append(f"your {optimizer}_updates steps scale {rule}")
    return share, messages


def safety_verdict(probe: str, steps: np.ndarray, bound: np.ndarray) -> tuple[bool, str]:
    """Whether finite Adam steps on a safety probe are right, and what to say.

    On the ``"zeros"`` probe (all-zero gradients) every step must be zero; on the ``"tiny"``
    probe every step must stay within ``bound`` = alpha |m_hat| / eps (computed from the
    reference on the trusted side, shipped as values to the public checks).
    """
    if probe == "zeros":
        if np.any(steps != 0):
            return False, "adam_updates on all-zero gradients must give zero steps"
        return True, "adam_updates gives zero steps on all-zero gradients"
    if not np.any(steps):
        return False, ("adam_updates returns only zero steps on tiny non-zero gradients: a correct "
                       "Adam still moves there (by about alpha m_hat / eps)")
    if np.any(np.abs(steps) > bound * (1 + 1e-6) + 1e-300):
        return False, ("adam_updates on tiny gradients takes steps larger than alpha |m_hat| / eps, "
                       "which no correct Adam step can exceed")
    return True, "adam_updates stays finite and bounded on tiny gradients"


def safety_share(answers: Mapping[str, object], shapes: Mapping[str, tuple], bound: np.ndarray, *,
                 shares: Mapping[str, float], named: Mapping[str, Sequence[str]] = {}) -> tuple[float, list[str]]:
    """Share of the numerical-safety item earned (``shares`` per probe) and its messages.

    ``named`` gives, per probe, the labels of the mistakes whose steps are the student's
    there (so a NaN is blamed on what causes it).

    ``answers`` maps the probes that have an answer (``"zeros"``, ``"tiny"``) to the decoded
    answers of ``adam_updates`` there; ``shapes`` gives each probe's gradient shape and
    ``bound`` the reference bound on the tiny probe.
    """
    share, messages = 0.0, []
    tiny, changed = answers.get("tiny"), answers.get("tiny~")
    if all(isinstance(v, ArrayValue) and v.nonfinite == 0 for v in (tiny, changed)) and np.any(tiny.data) \
            and not remembers(tiny.data, changed.data, shapes["tiny"]):
        return 0.0, [not_genuine("adam")]
    for probe in shares:
        if probe not in answers:
            continue  # no answer: the caller has said why
        value = answers[probe]
        got = value.data if isinstance(value, ArrayValue) else None
        if got is None or got.shape != tuple(shapes[probe]):
            messages.append(f"adam_updates on {probe_words(probe)} must return a {tuple(shapes[probe])} float array")
            continue
        if value.nonfinite:
            messages.append(nonfinite_steps_message(probe, named.get(probe, ())))
            continue
        ok, message = safety_verdict(probe, got, bound)
        messages.append(message)
        share += shares[probe] * ok
    return share, messages
