"""HW3 - Adam vs SGD with momentum.
Name: Priya R.   (worked with the TA notes from week 6)
"""

import numpy as np
import sympy as sp


# ---------------- Part 1 ----------------

def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m1 = sp.expand((1 - beta1) * g1)
    v1 = sp.expand((1 - beta2) * g1**2)
    m_hat1 = sp.simplify(m1 / (1 - beta1))      # = g1
    v_hat1 = sp.simplify(v1 / (1 - beta2))      # = g1^2
    w2 = sp.expand(w1 - alpha * m_hat1 / (sp.Abs(g1) + eps))
    return {"m1": m1, "v1": v1, "m_hat1": m_hat1, "v_hat1": v_hat1, "w2": w2}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    m2 = sp.expand(beta1 * (1 - beta1) * g1 + (1 - beta1) * g2)
    v2 = sp.expand(beta2 * (1 - beta2) * g1**2 + (1 - beta2) * g2**2)
    m_hat2 = sp.expand(m2 / (1 - beta1**2))
    v_hat2 = sp.expand(v2 / (1 - beta2**2))
    w2 = w1 - alpha * g1 / (sp.Abs(g1) + eps)
    w3 = sp.expand(w2 - alpha * m_hat2 / (sp.sqrt(v_hat2) + eps))
    return {"m2": m2, "v2": v2, "m_hat2": m_hat2, "v_hat2": v_hat2, "w3": w3}


# ---------------- Part 2 ----------------

def momentum_updates(grads, alpha, mu):
    grads = np.asarray(grads, dtype=float)
    u = np.zeros(grads.shape[1])
    out = np.zeros_like(grads)
    for t in range(grads.shape[0]):
        u = mu * u + grads[t]
        out[t] = -alpha * u
    return out


def adam_updates(grads, alpha, beta1, beta2, eps):
    grads = np.asarray(grads, dtype=float)
    T, d = grads.shape
    m = np.zeros(d)
    v = np.zeros(d)
    out = np.zeros((T, d))
    for t in range(1, T + 1):
        g = grads[t - 1]
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        out[t - 1] = -alpha * m_hat / (np.sqrt(v_hat) + eps)
    return out


def momentum_constant_gradient_step(g, t, alpha, mu):
    # u_t = g (1 + mu + ... + mu^(t-1))
    return sp.expand(-alpha * g * (1 - mu**t) / (1 - mu))


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    # m_hat = g and v_hat = g^2 at every step, bias correction is exact here
    return sp.expand(-alpha * g / (sp.Abs(g) + eps))


def momentum_scale_factor(c):
    return c


def adam_scale_factor(c):
    return sp.sign(c)


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    return sp.expand(-alpha * c * m_hat / (sp.Abs(c) * sp.sqrt(v_hat) + eps))


def adam_step_bound(m_hat, alpha, eps):
    return alpha * sp.Abs(m_hat) / eps


# ---------------- Part 3 ----------------

def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    grads = np.asarray(grads, dtype=float)
    T = grads.shape[0]
    v = np.zeros(grads.shape[1])
    rates = np.zeros_like(grads)
    for t in range(1, T + 1):
        v = beta2 * v + (1 - beta2) * grads[t - 1] ** 2
        rates[t - 1] = alpha / (np.sqrt(v / (1 - beta2**t)) + eps)
    return rates


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    g = np.asarray(grads, dtype=float).reshape(-1, 1)
    g_spiked = g.copy()
    g_spiked[t_spike - 1, 0] = spike
    i = t_spike - 1
    mom = abs(momentum_updates(g_spiked, alpha, mu)[i, 0]) / abs(momentum_updates(g, alpha, mu)[i, 0])
    ad = abs(adam_updates(g_spiked, alpha, beta1, beta2, eps)[i, 0]) / abs(adam_updates(g, alpha, beta1, beta2, eps)[i, 0])
    return {"momentum": float(mom), "adam": float(ad)}


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    steps = np.arange(1, T + 1)
    sparse = np.where(steps % k == 0, g, 0.0)
    dense = np.full(T, float(g))
    G = np.column_stack([sparse, dense])
    mom = momentum_updates(G, alpha, mu)[-1]
    ad = adam_updates(G, alpha, beta1, beta2, eps)[-1]
    return {"momentum": float(abs(mom[0]) / abs(mom[1])), "adam": float(abs(ad[0]) / abs(ad[1]))}


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
