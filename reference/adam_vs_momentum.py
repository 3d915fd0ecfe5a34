"""Reference solution: Adam vs. SGD with momentum.

Conventions (the same ones the handout states to students):

* Adam follows Kingma & Ba (2015), Algorithm 1. The moments start at zero,
  ``m_0 = v_0 = 0``, the step counter starts at ``t = 1``, bias correction divides by
  ``1 - beta**t`` and epsilon is added *outside* the square root of the *bias-corrected*
  second moment::

      m_t     = beta1 * m_{t-1} + (1 - beta1) * g_t
      v_t     = beta2 * v_{t-1} + (1 - beta2) * g_t**2
      m_hat_t = m_t / (1 - beta1**t)
      v_hat_t = v_t / (1 - beta2**t)
      w_{t+1} = w_t - alpha * m_hat_t / (sqrt(v_hat_t) + eps)

* Momentum SGD keeps an undamped velocity (the PyTorch form with ``dampening=0``)::

      u_0 = 0,   u_t = mu * u_{t-1} + g_t,   w_{t+1} = w_t - alpha * u_t

  Sutskever's form (``v = mu v - alpha g; w += v``) and the TensorFlow form
  (``a = mu a + g; w -= alpha a``) take exactly the same steps.

* A *step* (or *update*) is ``dw_t = w_{t+1} - w_t``: it carries the minus sign.

* Arrays: ``grads`` has shape ``(T, d)``; row ``t - 1`` holds ``g_t``; every column is an
  independent parameter with its own optimizer state. Step arrays have shape ``(T, d)``.

The same closed-form functions accept sympy symbols (Parts 1 and 2) and plain numbers.
Every formula is written once, below, in its readable form.
"""

from __future__ import annotations

import math
import numbers
from types import MappingProxyType
from typing import Mapping

import numpy as np
import sympy

__all__ = [
    "adam_first_update",
    "adam_second_update",
    "momentum_updates",
    "adam_updates",
    "momentum_constant_gradient_step",
    "adam_constant_gradient_step",
    "momentum_scale_factor",
    "adam_scale_factor",
    "adam_scaled_step",
    "adam_step_bound",
    "adam_effective_learning_rates",
    "spike_response",
    "sparse_feature_boost",
    "concept_answers",
    "adam_step",
    "adam_moment_history",
    "CONCEPT_QUESTIONS",
]


# ---------------------------------------------------------------------------
# Input checks (numeric calls only: symbolic arguments are taken as they are)
# ---------------------------------------------------------------------------

def _is_symbolic(*values) -> bool:
    return any(isinstance(v, sympy.Basic) for v in values)


def _check_finite_number(name: str, value, *, positive: bool = False, unit_interval: bool = False,
                         nonnegative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {type(value).__name__}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x!r}")
    if positive and x <= 0:
        raise ValueError(f"{name} must be > 0, got {x!r}")
    if nonnegative and x < 0:
        raise ValueError(f"{name} must be >= 0, got {x!r}")
    if unit_interval and not 0 <= x < 1:
        raise ValueError(f"{name} must lie in [0, 1), got {x!r}")
    return x


def _check_grads(grads, *, ndim: int = 2) -> np.ndarray:
    try:
        array = np.array(grads, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"grads must be an array of real numbers: {exc}") from None
    if array.ndim != ndim:
        shape = "(T, d)" if ndim == 2 else "(T,)"
        raise ValueError(f"grads must have shape {shape}, got shape {array.shape}")
    if array.shape[0] < 1 or (ndim == 2 and array.shape[1] < 1):
        raise ValueError("grads must hold at least one step and one parameter, "
                         f"got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("grads must be finite (no NaN or infinity)")
    return array


def _check_step_index(name: str, value, *, upper: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1 (steps are counted from 1), got {value}")
    if upper is not None and value > upper:
        raise ValueError(f"{name} must be <= {upper}, got {value}")
    return int(value)


def _check_numeric_step_index(t) -> None:
    """A numeric step index must be a whole number >= 1; a sympy symbol is taken as it is."""
    if not _is_symbolic(t):
        _check_step_index("t", t)


def _check_adam_hyperparameters(alpha, beta1, beta2, eps) -> None:
    _check_finite_number("alpha", alpha, positive=True)
    _check_finite_number("beta1", beta1, unit_interval=True)
    _check_finite_number("beta2", beta2, unit_interval=True)
    _check_finite_number("eps", eps, nonnegative=True)


def _check_momentum_hyperparameters(alpha, mu) -> None:
    _check_finite_number("alpha", alpha, positive=True)
    _check_finite_number("mu", mu, unit_interval=True)


def _sqrt(x):
    """Square root of a sympy expression, a number or an array."""
    return sympy.sqrt(x) if isinstance(x, sympy.Basic) else np.sqrt(x)


# ---------------------------------------------------------------------------
# The two update rules, one step at a time
# ---------------------------------------------------------------------------

def _adam_moments(m_prev, v_prev, g, t, beta1, beta2):
    """One Adam moment update at step ``t``; returns ``(m_t, v_t, m_hat_t, v_hat_t)``.

    ``m_t = beta1 m_{t-1} + (1 - beta1) g_t``, ``v_t = beta2 v_{t-1} + (1 - beta2) g_t**2``,
    ``m_hat_t = m_t / (1 - beta1**t)``, ``v_hat_t = v_t / (1 - beta2**t)``.
    """
    m = beta1 * m_prev + (1 - beta1) * g
    v = beta2 * v_prev + (1 - beta2) * g**2
    return m, v, m / (1 - beta1**t), v / (1 - beta2**t)


def adam_step(m_hat, v_hat, alpha, eps):
    """The Adam step ``dw = -alpha * m_hat / (sqrt(v_hat) + eps)``."""
    return -alpha * m_hat / (_sqrt(v_hat) + eps)


def adam_moment_history(grads: np.ndarray, beta1, beta2):
    """Bias-corrected moments ``(m_hat, v_hat)`` of Adam over a ``(T, d)`` stream.

    Row ``t - 1`` of each returned ``(T, d)`` array holds ``m_hat_t`` (``v_hat_t``).
    """
    m_hats = np.empty_like(grads)
    v_hats = np.empty_like(grads)
    m = np.zeros(grads.shape[1])
    v = np.zeros(grads.shape[1])
    for index, g in enumerate(grads):
        m, v, m_hats[index], v_hats[index] = _adam_moments(m, v, g, index + 1, beta1, beta2)
    return m_hats, v_hats


# ---------------------------------------------------------------------------
# Part 1: the first two Adam updates in closed form
# ---------------------------------------------------------------------------

def adam_first_update(w1, g1, alpha, beta1, beta2, eps) -> dict:
    """Adam's first update from ``w1`` after the gradient ``g1`` (t = 1, m_0 = v_0 = 0).

    ``m1 = (1 - beta1) g1`` and ``v1 = (1 - beta2) g1**2``. At t = 1 the bias correction
    divides by exactly those factors, so ``m_hat1 = g1`` and ``v_hat1 = g1**2``, and
    ``w2 = w1 - alpha g1 / (sqrt(g1**2) + eps)``, which is ``w1 - alpha g1 / (|g1| + eps)``
    for real g1.

    Returns a dict with keys ``m1, v1, m_hat1, v_hat1, w2``.
    """
    m1, v1, m_hat1, v_hat1 = _adam_moments(0, 0, g1, 1, beta1, beta2)
    w2 = w1 + adam_step(m_hat1, v_hat1, alpha, eps)
    return {"m1": m1, "v1": v1, "m_hat1": m_hat1, "v_hat1": v_hat1, "w2": w2}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps) -> dict:
    """Adam's second update (t = 2), after ``g1`` then ``g2``, starting from ``w1``.

    ``m2 = (1 - beta1)(beta1 g1 + g2)``, ``v2 = (1 - beta2)(beta2 g1**2 + g2**2)``,
    ``m_hat2 = m2 / (1 - beta1**2)``, ``v_hat2 = v2 / (1 - beta2**2)`` and
    ``w3 = w2 - alpha m_hat2 / (sqrt(v_hat2) + eps)`` with ``w2`` from
    :func:`adam_first_update`. Nothing cancels at t = 2.

    Returns a dict with keys ``m2, v2, m_hat2, v_hat2, w3``.
    """
    first = adam_first_update(w1, g1, alpha, beta1, beta2, eps)
    m2, v2, m_hat2, v_hat2 = _adam_moments(first["m1"], first["v1"], g2, 2, beta1, beta2)
    w3 = first["w2"] + adam_step(m_hat2, v_hat2, alpha, eps)
    return {"m2": m2, "v2": v2, "m_hat2": m_hat2, "v_hat2": v_hat2, "w3": w3}


# ---------------------------------------------------------------------------
# Part 2: compared with momentum SGD
# ---------------------------------------------------------------------------

def momentum_updates(grads, alpha, mu) -> np.ndarray:
    """Steps of momentum SGD over a gradient stream ``grads`` of shape ``(T, d)``.

    ``u_0 = 0``, ``u_t = mu u_{t-1} + g_t`` and ``dw_t = -alpha u_t``, per coordinate.
    Returns the ``(T, d)`` array of steps ``dw_t``.
    """
    grads = _check_grads(grads)
    _check_momentum_hyperparameters(alpha, mu)
    steps = np.empty_like(grads)
    u = np.zeros(grads.shape[1])
    for index, g in enumerate(grads):
        u = mu * u + g
        steps[index] = -alpha * u
    return steps


def adam_updates(grads, alpha, beta1, beta2, eps) -> np.ndarray:
    """Steps of Adam over a gradient stream ``grads`` of shape ``(T, d)``.

    ``dw_t = -alpha m_hat_t / (sqrt(v_hat_t) + eps)``, per coordinate, with the moments of
    the module docstring. With ``eps = 0`` a coordinate whose gradients have all been zero
    has ``m_hat = v_hat = 0`` and its step is taken as 0 (there is nothing to move by).
    Returns the ``(T, d)`` array of steps ``dw_t``.
    """
    grads = _check_grads(grads)
    _check_adam_hyperparameters(alpha, beta1, beta2, eps)
    m_hats, v_hats = adam_moment_history(grads, beta1, beta2)
    with np.errstate(invalid="ignore", divide="ignore"):
        steps = adam_step(m_hats, v_hats, alpha, eps)
    return np.where(np.isnan(steps), 0.0, steps)


def momentum_constant_gradient_step(g, t, alpha, mu):
    """Momentum step at step ``t`` when every gradient so far equals ``g``.

    ``u_t = g (1 + mu + ... + mu**(t-1)) = g (1 - mu**t) / (1 - mu)``, so
    ``dw_t = -alpha g (1 - mu**t) / (1 - mu)``: it grows towards ``-alpha g / (1 - mu)``.
    """
    _check_numeric_step_index(t)
    return -alpha * g * (1 - mu**t) / (1 - mu)


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    """Adam step at step ``t`` when every gradient so far equals ``g``.

    Bias correction makes the moments exact: ``m_hat_t = g`` and ``v_hat_t = g**2`` for every
    t, so ``dw_t = -alpha g / (|g| + eps)``; it does not depend on t, beta1 or beta2.
    """
    _check_numeric_step_index(t)
    m_hat, v_hat = g, g**2
    return adam_step(m_hat, v_hat, alpha, eps)


def momentum_scale_factor(c):
    """Factor by which every momentum step changes when every gradient is multiplied by c.

    ``u_t`` is linear in the gradients, so every step is multiplied by ``c``.
    """
    return c


def adam_scale_factor(c):
    """Factor by which every Adam step (eps = 0) changes when every gradient is multiplied by c.

    ``m_hat -> c m_hat`` and ``sqrt(v_hat) -> |c| sqrt(v_hat)``, so the step is multiplied by
    ``c / |c| = sign(c)``: same size, direction flipped when c < 0.
    """
    return sympy.sign(c) if isinstance(c, sympy.Basic) else float(np.sign(c))


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    """Adam step (eps > 0) after every gradient is multiplied by c, from the unscaled moments.

    ``dw = -alpha c m_hat / (|c| sqrt(v_hat) + eps)``: eps does not scale with c, so Adam is
    only approximately scale-invariant when eps > 0.
    """
    return adam_step(c * m_hat, c**2 * v_hat, alpha, eps)


def adam_step_bound(m_hat, alpha, eps):
    """Tightest bound on ``|dw|`` that holds for every ``v_hat >= 0``.

    ``sqrt(v_hat) + eps >= eps`` with equality at ``v_hat = 0``, hence
    ``|dw| <= alpha |m_hat| / eps``, attained when ``v_hat = 0``.
    """
    return alpha * abs(m_hat) / eps


# ---------------------------------------------------------------------------
# Part 3: noisy gradients and sparse features
# ---------------------------------------------------------------------------

def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps) -> np.ndarray:
    """Adam's per-parameter effective learning rate ``alpha / (sqrt(v_hat_t) + eps)``.

    Returns a ``(T, d)`` array: row ``t - 1``, column ``j`` is the rate that multiplies
    ``m_hat_t`` of coordinate j at step t.
    """
    grads = _check_grads(grads)
    _check_adam_hyperparameters(alpha, beta1, beta2, eps)
    _, v_hats = adam_moment_history(grads, beta1, beta2)
    with np.errstate(divide="ignore"):
        return alpha / (np.sqrt(v_hats) + eps)


def _step_size_at(steps: np.ndarray, t: int) -> np.ndarray:
    """``|dw_t|`` of every column of a ``(T, d)`` step array (t is 1-based)."""
    return np.abs(steps[t - 1])


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps) -> dict:
    """How much one outlying gradient inflates each optimizer's step.

    ``grads`` is a 1-D stream of length T. The gradient at (1-based) step ``t_spike`` is
    replaced by ``spike``; the result, per optimizer, is ``|dw_t_spike|`` on the spiked
    stream divided by ``|dw_t_spike|`` on the unchanged stream. Momentum passes the spike
    straight into its step; Adam divides it by an RMS that the spike itself inflates.

    Returns ``{"momentum": float, "adam": float}``.
    """
    stream = _check_grads(grads, ndim=1)
    t = _check_step_index("t_spike", t_spike, upper=stream.shape[0])
    spike = _check_finite_number("spike", spike)
    spiked = stream.copy()
    spiked[t - 1] = spike
    both = np.stack([stream, spiked], axis=1)  # column 0 unchanged, column 1 spiked
    ratios = {}
    for name, steps in (("momentum", momentum_updates(both, alpha, mu)),
                        ("adam", adam_updates(both, alpha, beta1, beta2, eps))):
        plain, spiked_size = _step_size_at(steps, t)
        if plain == 0:
            raise ValueError(f"grads: the {name} step at t_spike is zero on the unchanged stream, "
                             "so the ratio is undefined")
        ratios[name] = float(spiked_size / plain)
    return ratios


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps) -> dict:
    """Step of a rare feature relative to a dense one, at the last step T.

    The sparse coordinate sees gradient ``g`` at steps k, 2k, ..., T and 0 otherwise; the
    dense coordinate sees ``g`` at every step. The result, per optimizer, is
    ``|dw_T(sparse)| / |dw_T(dense)|``. Momentum scales the rare feature's step down with
    its share of non-zero gradients; Adam's small ``v_hat`` lifts it back towards the dense
    step, so Adam's ratio is the larger one.

    Returns ``{"momentum": float, "adam": float}``.
    """
    T = _check_step_index("T", T)
    k = _check_step_index("k", k, upper=T)
    if T % k:
        raise ValueError(f"T must be a multiple of k, got T={T}, k={k}")
    g = _check_finite_number("g", g)
    if g == 0:
        raise ValueError("g must be non-zero")
    steps_1_based = np.arange(1, T + 1)
    sparse = np.where(steps_1_based % k == 0, g, 0.0)
    dense = np.full(T, g)
    both = np.stack([sparse, dense], axis=1)
    ratios = {}
    for name, steps in (("momentum", momentum_updates(both, alpha, mu)),
                        ("adam", adam_updates(both, alpha, beta1, beta2, eps))):
        sparse_size, dense_size = _step_size_at(steps, T)
        ratios[name] = float(sparse_size / dense_size)
    return ratios


# ---------------------------------------------------------------------------
# Concept questions (Parts 3a and 3b)
# ---------------------------------------------------------------------------

CONCEPT_QUESTIONS: Mapping[str, Mapping[str, object]] = MappingProxyType({
    "3a_smaller_effective_step": MappingProxyType({
        "question": "In Adam, which coordinates get the smaller effective learning rate "
                    "alpha / (sqrt(v_hat) + eps)?",
        "options": ("all_coordinates_equal", "consistently_large_gradients",
                    "small_or_rare_gradients"),
    }),
    "3a_momentum_per_parameter": MappingProxyType({
        "question": "Does momentum SGD adapt its step size per parameter to the gradient scale?",
        "options": ("no_one_global_alpha", "yes_through_mu", "yes_through_the_velocity_u"),
    }),
    "3a_adam_adapts_through": MappingProxyType({
        "question": "Which quantity gives each Adam parameter its own step size?",
        "options": ("first_moment_m_hat", "second_moment_v_hat", "the_global_alpha"),
    }),
    "3a_doubling_all_gradients": MappingProxyType({
        "question": "All gradients double (eps negligible). What happens to the step sizes?",
        "options": ("both_double", "both_unchanged", "momentum_doubles_adam_unchanged",
                    "momentum_unchanged_adam_doubles"),
    }),
    "3b_spike_momentum": MappingProxyType({
        "question": "One gradient is a large noisy outlier. What does momentum SGD's step do?",
        "options": ("barely_changes", "becomes_zero", "grows_in_proportion_to_the_spike"),
    }),
    "3b_spike_adam": MappingProxyType({
        "question": "The same outlier hits Adam. What does Adam's step do?",
        "options": ("becomes_zero", "grows_far_less_than_the_spike",
                    "grows_in_proportion_to_the_spike"),
    }),
    "3b_sparse_adam": MappingProxyType({
        "question": "A rare (sparse) feature finally gets a non-zero gradient. "
                    "How large is its Adam step?",
        "options": ("exactly_the_dense_step", "relatively_large_because_v_hat_is_small",
                    "tiny_because_m_hat_is_small"),
    }),
    "3b_sparse_momentum": MappingProxyType({
        "question": "The same rare feature under momentum SGD: what is its step?",
        "options": ("about_alpha_times_the_gradient_no_boost",
                    "boosted_by_a_small_denominator", "exactly_the_dense_step"),
    }),
})

_CORRECT_CONCEPTS = MappingProxyType({
    "3a_smaller_effective_step": "consistently_large_gradients",
    "3a_momentum_per_parameter": "no_one_global_alpha",
    "3a_adam_adapts_through": "second_moment_v_hat",
    "3a_doubling_all_gradients": "momentum_doubles_adam_unchanged",
    "3b_spike_momentum": "grows_in_proportion_to_the_spike",
    "3b_spike_adam": "grows_far_less_than_the_spike",
    "3b_sparse_adam": "relatively_large_because_v_hat_is_small",
    "3b_sparse_momentum": "about_alpha_times_the_gradient_no_boost",
})


def concept_answers() -> dict:
    """The correct option for every concept question (keys start with ``3a_`` or ``3b_``)."""
    return dict(_CORRECT_CONCEPTS)
