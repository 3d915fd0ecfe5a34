"""Homework: Adam vs. SGD with momentum.

Fill in every function below; each one raises ``NotImplementedError`` until you do.
(Mira J. -- ran out of time, Part 1 and the momentum steps only)
"""

import numpy as np
import sympy as sp


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m1 = (1 - beta1) * g1
    v1 = (1 - beta2) * g1**2
    m_hat1 = m1 / (1 - beta1)
    v_hat1 = v1 / (1 - beta2)
    w2 = w1 - alpha * m_hat1 / (sp.sqrt(v_hat1) + eps)
    return {"m1": m1, "v1": v1, "m_hat1": m_hat1, "v_hat1": v_hat1, "w2": w2}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    prev = adam_first_update(w1, g1, alpha, beta1, beta2, eps)
    m2 = beta1 * prev["m1"] + (1 - beta1) * g2
    v2 = beta2 * prev["v1"] + (1 - beta2) * g2**2
    m_hat2 = m2 / (1 - beta1**2)
    v_hat2 = v2 / (1 - beta2**2)
    w3 = prev["w2"] - alpha * m_hat2 / (sp.sqrt(v_hat2) + eps)
    return {"m2": m2, "v2": v2, "m_hat2": m_hat2, "v_hat2": v_hat2, "w3": w3}


def momentum_updates(grads, alpha, mu):
    grads = np.asarray(grads, dtype=float)
    u = np.zeros(grads.shape[1])
    steps = []
    for g in grads:
        u = mu * u + g
        steps.append(-alpha * u)
    return np.array(steps)


def adam_updates(grads, alpha, beta1, beta2, eps):
    """Run Adam over a gradient stream."""
    raise NotImplementedError("adam_updates")


def momentum_constant_gradient_step(g, t, alpha, mu):
    raise NotImplementedError("momentum_constant_gradient_step")


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    raise NotImplementedError("adam_constant_gradient_step")


def momentum_scale_factor(c):
    raise NotImplementedError("momentum_scale_factor")


def adam_scale_factor(c):
    raise NotImplementedError("adam_scale_factor")


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    raise NotImplementedError("adam_scaled_step")


def adam_step_bound(m_hat, alpha, eps):
    raise NotImplementedError("adam_step_bound")


def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    raise NotImplementedError("adam_effective_learning_rates")


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    raise NotImplementedError("spike_response")


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    raise NotImplementedError("sparse_feature_boost")


def concept_answers():
    raise NotImplementedError("concept_answers")
