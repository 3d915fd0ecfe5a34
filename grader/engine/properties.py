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


def scaling_share(answers: Mapping[str, np.ndarray], factors: Sequence[float], *, rtol: float,
                  atol_scale: float) -> tuple[float, list[str]]:
    """Share earned (half per optimizer) and findings.

    ``answers`` holds ``"momentum"``/``"adam"`` (steps on the probe stream; Adam with
    eps = 0) and ``"momentum*i"``/``"adam*i"`` (steps on the stream times ``factors[i]``).
    """
    share, messages = 0.0, []
    for optimizer, rule, factor_of in SCALING_RULES:
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


def safety_share(zeros_steps: np.ndarray, tiny_steps: np.ndarray, tiny_bound: np.ndarray) -> tuple[float, list[str]]:
    """Share earned (half per probe) and findings, for finite arrays of the right shape.

    All-zero gradients must give zero steps; tiny gradients must give steps within the
    bound ``alpha |m_hat| / eps`` (computed from the reference on the trusted side).
    """
    share, messages = 0.0, []
    if np.any(zeros_steps != 0):
        messages.append("adam_updates on all-zero gradients must give zero steps")
    else:
        share += 0.5
        messages.append("adam_updates gives zero steps on all-zero gradients")
    if np.any(np.abs(tiny_steps) > tiny_bound * (1 + 1e-6) + 1e-300):
        messages.append("adam_updates on tiny gradients takes steps larger than alpha |m_hat| / eps, "
                        "which no correct Adam step can exceed")
    else:
        share += 0.5
        messages.append("adam_updates stays finite and bounded on tiny gradients")
    return share, messages
