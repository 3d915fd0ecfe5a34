# ADAM VS MOMENTUM -- homework 3
# author: Amara D.
# (eps_hat = eps*sqrt(1 - beta2^t) as in the paper's footnote, I think that's the "real" eps)
#
# Part 1: I don't trust my algebra, so I literally run the recurrences in sympy
# and let sympy build the expressions.

import numpy as np
import sympy as sp


def _run_adam_symbolic(w, gs, alpha, beta1, beta2, eps):
    m, v = sp.Integer(0), sp.Integer(0)
    history = []
    for t, g in enumerate(gs, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        w = w - alpha * m_hat / (sp.sqrt(v_hat) + eps * sp.sqrt(1 - beta2**t))
        history.append((m, v, m_hat, v_hat, w))
    return history


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    (m, v, mh, vh, w), = _run_adam_symbolic(w1, [g1], alpha, beta1, beta2, eps)
    return {"m1": m, "v1": v, "m_hat1": mh, "v_hat1": vh, "w2": w}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    _, (m, v, mh, vh, w) = _run_adam_symbolic(w1, [g1, g2], alpha, beta1, beta2, eps)
    return {"m2": m, "v2": v, "m_hat2": mh, "v_hat2": vh, "w3": w}


def momentum_updates(grads, alpha, mu):
    G = np.asarray(grads, dtype=float)
    u = np.zeros_like(G[0])
    res = []
    for g in G:
        u = mu * u + g
        res.append(-alpha * u)
    return np.vstack(res)


def adam_updates(grads, alpha, beta1, beta2, eps):
    G = np.asarray(grads, dtype=float)
    m = np.zeros_like(G[0])
    v = np.zeros_like(G[0])
    res = []
    for t, g in enumerate(G, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        res.append(-alpha * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps * np.sqrt(1 - beta2**t)))
    return np.vstack(res)


def momentum_constant_gradient_step(g, t, alpha, mu):
    # geometric series 1 + mu + ... + mu^(t-1)
    geo = (mu**t - 1) / (mu - 1)
    return -alpha * geo * g


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    m_t = g * (1 - beta1**t)          # EMA of a constant, started at 0
    v_t = g**2 * (1 - beta2**t)
    m_hat = m_t / (1 - beta1**t)
    v_hat = v_t / (1 - beta2**t)
    return -alpha * m_hat / (sp.sqrt(v_hat) + eps * sp.sqrt(1 - beta2**t))


def momentum_scale_factor(c):
    return c


def adam_scale_factor(c):
    return c / sp.Abs(c)


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    new_m_hat = c * m_hat
    new_v_hat = c**2 * v_hat
    return -alpha * new_m_hat / (sp.sqrt(new_v_hat) + eps)


def adam_step_bound(m_hat, alpha, eps):
    # worst case v_hat = 0
    return alpha * sp.Abs(m_hat) / eps


def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    G = np.asarray(grads, dtype=float)
    v = np.zeros_like(G[0])
    res = []
    for t, g in enumerate(G, start=1):
        v = beta2 * v + (1 - beta2) * g**2
        res.append(alpha / (np.sqrt(v / (1 - beta2**t)) + eps * np.sqrt(1 - beta2**t)))
    return np.vstack(res)


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    g = np.asarray(grads, dtype=float)
    s = g.copy()
    s[t_spike - 1] = spike
    out = {}
    mom_plain = momentum_updates(g[:, None], alpha, mu)[t_spike - 1, 0]
    mom_spiked = momentum_updates(s[:, None], alpha, mu)[t_spike - 1, 0]
    out["momentum"] = abs(mom_spiked / mom_plain)
    adam_plain = adam_updates(g[:, None], alpha, beta1, beta2, eps)[t_spike - 1, 0]
    adam_spiked = adam_updates(s[:, None], alpha, beta1, beta2, eps)[t_spike - 1, 0]
    out["adam"] = abs(adam_spiked / adam_plain)
    return out


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    sparse = np.array([[g if (t + 1) % k == 0 else 0.0] for t in range(T)])
    dense = np.full((T, 1), g)
    out = {}
    out["momentum"] = abs(momentum_updates(sparse, alpha, mu)[-1, 0] / momentum_updates(dense, alpha, mu)[-1, 0])
    out["adam"] = abs(adam_updates(sparse, alpha, beta1, beta2, eps)[-1, 0]
                      / adam_updates(dense, alpha, beta1, beta2, eps)[-1, 0])
    return out


def concept_answers():
    return {
        "3a_adam_adapts_through": "second_moment_v_hat",
        "3a_doubling_all_gradients": "momentum_doubles_adam_unchanged",
        "3a_momentum_per_parameter": "no_one_global_alpha",
        "3a_smaller_effective_step": "consistently_large_gradients",
        "3b_sparse_adam": "relatively_large_because_v_hat_is_small",
        "3b_sparse_momentum": "about_alpha_times_the_gradient_no_boost",
        "3b_spike_adam": "grows_far_less_than_the_spike",
        "3b_spike_momentum": "grows_in_proportion_to_the_spike",
    }
