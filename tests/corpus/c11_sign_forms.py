"""
Homework 3 -- Adam vs. SGD with momentum
Student: Noor H.

For real g, g/|g| = sign(g) and |g| = sign(g)*g, so I wrote the answers with sign().
"""
import numpy as np
import sympy as sp


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m1 = g1 - beta1 * g1
    v1 = g1**2 - beta2 * g1**2
    m_hat1, v_hat1 = g1, g1**2
    w2 = w1 - alpha * g1 / (sp.sign(g1) * g1 + eps)
    return {"m1": m1, "v1": v1, "m_hat1": m_hat1, "v_hat1": v_hat1, "w2": w2}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    m2 = beta1 * (g1 - beta1 * g1) + (1 - beta1) * g2
    v2 = beta2 * (g1**2 - beta2 * g1**2) + (1 - beta2) * g2**2
    m_hat2 = m2 / ((1 - beta1) * (1 + beta1))
    v_hat2 = v2 / ((1 - beta2) * (1 + beta2))
    w2 = w1 - alpha * sp.sign(g1) * sp.Abs(g1) / (sp.Abs(g1) + eps)
    w3 = w2 - alpha * m_hat2 / (sp.sqrt(v_hat2) + eps)
    return {"m2": m2, "v2": v2, "m_hat2": m_hat2, "v_hat2": v_hat2, "w3": w3}


def _adam_core(grads, beta1, beta2):
    grads = np.asarray(grads, dtype=float)
    T = len(grads)
    t = np.arange(1, T + 1).reshape(-1, 1)
    m_hat = np.zeros_like(grads)
    v_hat = np.zeros_like(grads)
    m = np.zeros(grads.shape[1])
    v = np.zeros(grads.shape[1])
    for i in range(T):
        m = beta1 * m + (1 - beta1) * grads[i]
        v = beta2 * v + (1 - beta2) * grads[i] ** 2
        m_hat[i], v_hat[i] = m, v
    return m_hat / (1 - beta1**t), v_hat / (1 - beta2**t)


def momentum_updates(grads, alpha, mu):
    grads = np.asarray(grads, dtype=float)
    u = np.zeros_like(grads)
    u[0] = grads[0]
    for i in range(1, len(grads)):
        u[i] = mu * u[i - 1] + grads[i]
    return -alpha * u


def adam_updates(grads, alpha, beta1, beta2, eps):
    m_hat, v_hat = _adam_core(grads, beta1, beta2)
    return -alpha * m_hat / (np.sqrt(v_hat) + eps)


def momentum_constant_gradient_step(g, t, alpha, mu):
    return -alpha * sp.sign(g) * sp.Abs(g) * (1 - mu**t) / (1 - mu)


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    return -alpha * sp.sign(g) * sp.Abs(g) / (sp.Abs(g) + eps)


def momentum_scale_factor(c):
    return sp.sign(c) * sp.Abs(c)


def adam_scale_factor(c):
    return sp.sign(c)


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    return -alpha * sp.sign(c) * sp.Abs(c) * m_hat / (sp.Abs(c) * sp.sqrt(v_hat) + eps)


def adam_step_bound(m_hat, alpha, eps):
    return alpha * m_hat * sp.sign(m_hat) / eps


def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    _, v_hat = _adam_core(grads, beta1, beta2)
    return alpha / (np.sqrt(v_hat) + eps)


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    g = np.asarray(grads, dtype=float)
    s = np.array(g)
    s[t_spike - 1] = spike
    X = np.vstack([g, s]).T
    i = t_spike - 1
    mom = np.abs(momentum_updates(X, alpha, mu)[i])
    ad = np.abs(adam_updates(X, alpha, beta1, beta2, eps)[i])
    return {"momentum": float(mom[1] / mom[0]), "adam": float(ad[1] / ad[0])}


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    on = (np.arange(1, T + 1) % k == 0)
    X = np.vstack([np.where(on, g, 0.0), np.full(T, g)]).T
    mom = np.abs(momentum_updates(X, alpha, mu)[-1])
    ad = np.abs(adam_updates(X, alpha, beta1, beta2, eps)[-1])
    return {"momentum": float(mom[0] / mom[1]), "adam": float(ad[0] / ad[1])}


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
