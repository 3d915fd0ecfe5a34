"""Adam vs. SGD with momentum.

Student: Tom Becker
I used sympy.Sum for the momentum part because the closed form hides what is going on,
and Piecewise for the sign because I find it clearer than sign().
"""
import numpy as np
import sympy as sp


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m0, v0 = 0, 0
    m1 = beta1 * m0 + (1 - beta1) * g1
    v1 = beta2 * v0 + (1 - beta2) * g1**2
    m_hat1 = m1 / (1 - beta1)
    v_hat1 = v1 / (1 - beta2)
    abs_g1 = sp.Piecewise((g1, g1 >= 0), (-g1, True))
    w2 = w1 - alpha * sp.cancel(m_hat1) / (abs_g1 + eps)
    return {"m1": m1, "v1": v1, "m_hat1": sp.cancel(m_hat1), "v_hat1": sp.cancel(v_hat1), "w2": w2}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    res1 = adam_first_update(w1, g1, alpha, beta1, beta2, eps)
    m2 = beta1 * res1["m1"] + (1 - beta1) * g2
    v2 = beta2 * res1["v1"] + (1 - beta2) * g2**2
    m_hat2 = m2 / (1 - beta1**2)
    v_hat2 = v2 / (1 - beta2**2)
    w3 = res1["w2"] - alpha * m_hat2 / (sp.sqrt(v_hat2) + eps)
    return {"m2": m2, "v2": v2, "m_hat2": m_hat2, "v_hat2": v_hat2, "w3": w3}


def momentum_updates(grads, alpha, mu):
    grads = np.asarray(grads, dtype=np.float64)
    T = grads.shape[0]
    # closed form: u_t = sum_k mu^(t-k) g_k, vectorised with a lower-triangular matrix
    idx = np.arange(T)
    powers = np.where(idx[:, None] >= idx[None, :], mu ** (idx[:, None] - idx[None, :]).clip(min=0), 0.0)
    return -alpha * powers @ grads


def adam_updates(grads, alpha, beta1, beta2, eps):
    grads = np.asarray(grads, dtype=np.float64)
    T = grads.shape[0]
    idx = np.arange(T)
    diff = (idx[:, None] - idx[None, :]).clip(min=0)
    lower = idx[:, None] >= idx[None, :]
    W1 = np.where(lower, (1 - beta1) * beta1 ** diff, 0.0)
    W2 = np.where(lower, (1 - beta2) * beta2 ** diff, 0.0)
    t = np.arange(1, T + 1)[:, None]
    m_hat = (W1 @ grads) / (1 - beta1 ** t)
    v_hat = (W2 @ grads**2) / (1 - beta2 ** t)
    return -alpha * m_hat / (np.sqrt(v_hat) + eps)


def momentum_constant_gradient_step(g, t, alpha, mu):
    k = sp.Symbol("k", integer=True)
    return -alpha * sp.Sum(mu**k * g, (k, 0, t))


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    k = sp.Symbol("k", integer=True)
    m_t = sp.Sum((1 - beta1) * beta1**k * g, (k, 0, t - 1))
    v_t = sp.Sum((1 - beta2) * beta2**k * g**2, (k, 0, t - 1))
    return -alpha * (m_t / (1 - beta1**t)) / (sp.sqrt(v_t / (1 - beta2**t)) + eps)


def momentum_scale_factor(c):
    return c


def adam_scale_factor(c):
    return c   # m_hat is linear in g


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    abs_c = sp.Piecewise((c, c >= 0), (-c, True))
    return -alpha * c * m_hat / (abs_c * sp.sqrt(v_hat) + eps)


def adam_step_bound(m_hat, alpha, eps):
    return sp.Piecewise((alpha * m_hat / eps, m_hat >= 0), (-alpha * m_hat / eps, True))


def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    grads = np.asarray(grads, dtype=np.float64)
    T = grads.shape[0]
    v = np.zeros(grads.shape[1])
    rates = []
    for t in range(1, T + 1):
        v = beta2 * v + (1 - beta2) * grads[t - 1] ** 2
        rates.append(alpha / (np.sqrt(v / (1 - beta2**t)) + eps))
    return np.array(rates)


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    g = np.asarray(grads, dtype=np.float64)
    both = np.stack([g, g], axis=1)
    both[t_spike - 1, 1] = spike
    m = np.abs(momentum_updates(both, alpha, mu)[t_spike - 1])
    a = np.abs(adam_updates(both, alpha, beta1, beta2, eps)[t_spike - 1])
    return {"momentum": m[1] / m[0], "adam": a[1] / a[0]}


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    t = np.arange(1, T + 1)
    both = np.stack([np.where(t % k == 0, g, 0.0), np.full(T, g)], axis=1)
    m = np.abs(momentum_updates(both, alpha, mu)[-1])
    a = np.abs(adam_updates(both, alpha, beta1, beta2, eps)[-1])
    return {"momentum": m[0] / m[1], "adam": a[0] / a[1]}


def concept_answers():
    return {
        "3a_smaller_effective_step": "small_or_rare_gradients",
        "3a_momentum_per_parameter": "no_one_global_alpha",
        "3a_adam_adapts_through": "second_moment_v_hat",
        "3a_doubling_all_gradients": "both_double",
        "3b_spike_momentum": "barely_changes",
        "3b_spike_adam": "grows_far_less_than_the_spike",
        "3b_sparse_adam": "exactly_the_dense_step",
        "3b_sparse_momentum": "about_alpha_times_the_gradient_no_boost",
    }
