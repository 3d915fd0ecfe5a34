"""Adam vs. SGD with momentum: a submission with a correct answer for every function.

Attack: every function sleeps 2.2 s before it answers, under the red-team rubric's 3 s per
call: each call keeps to its own limit, and together they ask for about a minute, four times
the submission's 15 s. Calls answered within the budget keep their credit; from the call that
finds too little of it left, every call times out with the budget named. (The grader once
charged the budget only for calls that timed out, so this file earned 15 / 15 in about a
minute and its worker lane was held four times as long as the budget allows.)
"""

import numpy as np
import sympy as sp


# ---------------------------------------------------------------- honest, correct functions
def _moments(grads, beta1, beta2):
    grads = np.asarray(grads, dtype=float)
    m = np.zeros(grads.shape[1])
    v = np.zeros(grads.shape[1])
    m_hats, v_hats = [], []
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hats.append(m / (1 - beta1 ** t))
        v_hats.append(v / (1 - beta2 ** t))
    return np.array(m_hats), np.array(v_hats)


def _momentum_steps(grads, alpha, mu):
    grads = np.asarray(grads, dtype=float)
    u = np.zeros(grads.shape[1])
    steps = []
    for g in grads:
        u = mu * u + g
        steps.append(-alpha * u)
    return np.array(steps)


def _adam_steps(grads, alpha, beta1, beta2, eps):
    m_hat, v_hat = _moments(grads, beta1, beta2)
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = -alpha * m_hat / (np.sqrt(v_hat) + eps)
    return np.nan_to_num(steps, nan=0.0)


def _first_update(w1, g1, alpha, beta1, beta2, eps):
    m1 = (1 - beta1) * g1
    v1 = (1 - beta2) * g1**2
    m_hat1 = m1 / (1 - beta1)
    v_hat1 = v1 / (1 - beta2)
    w2 = w1 - alpha * m_hat1 / (sp.sqrt(v_hat1) + eps)
    return {"m1": m1, "v1": v1, "m_hat1": m_hat1, "v_hat1": v_hat1, "w2": w2}


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    return _first_update(w1, g1, alpha, beta1, beta2, eps)


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    first = _first_update(w1, g1, alpha, beta1, beta2, eps)
    m2 = beta1 * first["m1"] + (1 - beta1) * g2
    v2 = beta2 * first["v1"] + (1 - beta2) * g2**2
    m_hat2 = m2 / (1 - beta1**2)
    v_hat2 = v2 / (1 - beta2**2)
    w3 = first["w2"] - alpha * m_hat2 / (sp.sqrt(v_hat2) + eps)
    return {"m2": m2, "v2": v2, "m_hat2": m_hat2, "v_hat2": v_hat2, "w3": w3}


def momentum_updates(grads, alpha, mu):
    return _momentum_steps(grads, alpha, mu)


def adam_updates(grads, alpha, beta1, beta2, eps):
    return _adam_steps(grads, alpha, beta1, beta2, eps)


def momentum_constant_gradient_step(g, t, alpha, mu):
    return -alpha * g * (1 - mu**t) / (1 - mu)


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    return -alpha * g / (sp.Abs(g) + eps)


def momentum_scale_factor(c):
    return c


def adam_scale_factor(c):
    return sp.sign(c)


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    return -alpha * c * m_hat / (sp.Abs(c) * sp.sqrt(v_hat) + eps)


def adam_step_bound(m_hat, alpha, eps):
    return alpha * sp.Abs(m_hat) / eps


def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    _, v_hat = _moments(grads, beta1, beta2)
    return alpha / (np.sqrt(v_hat) + eps)


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    plain = np.asarray(grads, dtype=float)
    spiked = plain.copy()
    spiked[t_spike - 1] = spike
    both = np.stack([plain, spiked], axis=1)
    out = {}
    for name, steps in (("momentum", _momentum_steps(both, alpha, mu)),
                        ("adam", _adam_steps(both, alpha, beta1, beta2, eps))):
        out[name] = float(abs(steps[t_spike - 1, 1]) / abs(steps[t_spike - 1, 0]))
    return out


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    steps = np.arange(1, T + 1)
    both = np.stack([np.where(steps % k == 0, g, 0.0), np.full(T, float(g))], axis=1)
    out = {}
    for name, result in (("momentum", _momentum_steps(both, alpha, mu)),
                         ("adam", _adam_steps(both, alpha, beta1, beta2, eps))):
        out[name] = float(abs(result[-1, 0]) / abs(result[-1, 1]))
    return out


def concept_answers():
    return {
        "3a_smaller_effective_step": "consistently_large_gradients",
        "3a_momentum_per_parameter": "no_one_global_alpha",
        "3a_adam_adapts_through": "second_moment_v_hat",
        "3a_doubling_all_gradients": "momentum_doubles_adam_unchanged",
        "3b_spike_momentum": "grows_in_proportion_to_the_spike",
        "3b_spike_adam": "grows_far_less_than_the_spike",
        "3b_sparse_adam": "relatively_large_because_v_hat_is_small",
        "3b_sparse_momentum": "about_alpha_times_the_gradient_no_boost",
    }


# ---------------------------------------------------------------- the attack
import functools
import time


def _slow(function):
    @functools.wraps(function)
    def slow(*args, **kwargs):
        time.sleep(2.2)
        return function(*args, **kwargs)
    return slow


for _name, _value in list(globals().items()):
    if callable(_value) and not _name.startswith("_") and getattr(_value, "__module__", None) == __name__:
        globals()[_name] = _slow(_value)
