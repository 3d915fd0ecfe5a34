"""Property checks of a student's own optimizers (items 2.2.scaling_property, 2.3.numerical_safety).

Shared by the grader and the public checks: both pass the student's answers on the probes
and receive the share of the item earned with one message per finding.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .numeric import check_array
from .wire import ArrayValue

#: How each optimizer's steps must change when every gradient is multiplied by c.
SCALING_RULES = (("momentum", "by c", lambda c: c),
                 ("adam", "by sign(c) when eps = 0", lambda c: float(np.sign(c))))


def scaling_share(answers: Mapping[str, np.ndarray | None], factors: Sequence[float], *, rtol: float,
                  atol_scale: float) -> tuple[float, list[str]]:
    """Share of the item earned (half per optimizer) and one message per finding.

    ``answers`` holds ``"momentum"``/``"adam"`` (steps on the probe stream; Adam with
    eps = 0) and ``"momentum*i"``/``"adam*i"`` (steps on the stream times ``factors[i]``).
    An optimizer with a missing answer (None) earns nothing here and gets no message: the
    caller has already said why the answer is missing.
    """
    share, messages = 0.0, []
    for optimizer, rule, factor_of in SCALING_RULES:
        mine = [name for name in answers if name.split("*")[0] == optimizer]
        if any(answers[name] is None for name in mine):
            continue
        base = answers[optimizer]
        if not np.any(base):
            messages.append(f"your {optimizer} steps are all zero, so their scaling shows nothing")
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
            share += 0.5
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
