# HW3, Adam vs. SGD with momentum
# Sam K.
# Ran out of time on the bias correction of step 2: m_hat2 and v_hat2 are placeholders for
# now (0 and 1), and w3 is the update rule applied to them, so the rest of the file runs.

import numpy as np
import sympy as sp


# ---------------------------------------------------------------- helpers

def _moments(m_prev, v_prev, g, t, beta1, beta2):
    """One Adam moment update; returns m, v and their bias-corrected versions."""
    m = beta1 * m_prev + (1 - beta1) * g
    v = beta2 * v_prev + (1 - beta2) * g**2
    return m, v, m / (1 - beta1**t), v / (1 - beta2**t)


def _adam_run(grads, alpha, beta1, beta2, eps):
    """Steps and v_hat of Adam over a (T, d) stream."""
    grads = np.asarray(grads, dtype=float)
    steps = np.zeros_like(grads)
    v_hats = np.zeros_like(grads)
    m = np.zeros(grads.shape[1])
    v = np.zeros(grads.shape[1])
    for i, g in enumerate(grads):
        m, v, m_hat, v_hat = _moments(m, v, g, i + 1, beta1, beta2)
        steps[i] = -alpha * m_hat / (np.sqrt(v_hat) + eps)
        v_hats[i] = v_hat
    return steps, v_hats


# ---------------------------------------------------------------- Part 1

def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m1, v1, m_hat1, v_hat1 = _moments(0, 0, g1, 1, beta1, beta2)
    m_hat1, v_hat1 = sp.cancel(m_hat1), sp.cancel(v_hat1)
    w2 = w1 - alpha * m_hat1 / (sp.sqrt(v_hat1) + eps)
    return {"m1": m1, "v1": v1, "m_hat1": m_hat1, "v_hat1": v_hat1, "w2": w2}


def momentum_updates(grads, alpha, mu):
    grads = np.asarray(grads, dtype=float)
    steps = np.zeros_like(grads)
    u = np.zeros(grads.shape[1])
    for i, g in enumerate(grads):
        u = mu * u + g
        steps[i] = -alpha * u
    return steps


def adam_updates(grads, alpha, beta1, beta2, eps):
    return _adam_run(grads, alpha, beta1, beta2, eps)[0]


def momentum_constant_gradient_step(g, t, alpha, mu):
    # u_t = g (1 + mu + ... + mu^(t-1))
    return -alpha * g * (1 - mu**t) / (1 - mu)


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    # with a constant gradient, m_t = (1 - beta1^t) g, so m_hat = g and v_hat = g^2 exactly
    return -alpha * g / (sp.Abs(g) + eps)


def momentum_scale_factor(c):
    return c


def adam_scale_factor(c):
    return c / sp.Abs(c)


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    return -alpha * (c * m_hat) / (sp.sqrt(c**2 * v_hat) + eps)


def adam_step_bound(m_hat, alpha, eps):
    # sqrt(v_hat) + eps >= eps, equality at v_hat = 0
    return alpha * sp.Abs(m_hat) / eps


# ---------------------------------------------------------------- Part 3

def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    _, v_hats = _adam_run(grads, alpha, beta1, beta2, eps)
    return alpha / (np.sqrt(v_hats) + eps)


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    clean = np.asarray(grads, dtype=float)
    spiked = clean.copy()
    spiked[t_spike - 1] = spike
    both = np.column_stack([clean, spiked])
    row = t_spike - 1
    mom = np.abs(momentum_updates(both, alpha, mu)[row])
    ada = np.abs(adam_updates(both, alpha, beta1, beta2, eps)[row])
    return {"momentum": float(mom[1] / mom[0]), "adam": float(ada[1] / ada[0])}


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    t = np.arange(1, T + 1)
    both = np.column_stack([np.where(t % k == 0, g, 0.0), np.full(T, float(g))])
    mom = np.abs(momentum_updates(both, alpha, mu)[-1])
    ada = np.abs(adam_updates(both, alpha, beta1, beta2, eps)[-1])
    return {"momentum": float(mom[0] / mom[1]), "adam": float(ada[0] / ada[1])}


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

def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    first = adam_first_update(w1, g1, alpha, beta1, beta2, eps)
    m2 = beta1 * first["m1"] + (1 - beta1) * g2
    v2 = beta2 * first["v1"] + (1 - beta2) * g2**2
    m_hat2 = 0  # TODO
    v_hat2 = 1  # TODO
    w3 = first["w2"] - alpha * m_hat2 / (sp.sqrt(v_hat2) + eps)
    return {"m2": m2, "v2": v2, "m_hat2": m_hat2, "v_hat2": v_hat2, "w3": w3}
