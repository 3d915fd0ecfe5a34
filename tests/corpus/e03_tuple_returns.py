# Adam vs momentum HW -- Santiago P.
# (returns tuples, it's shorter than building dicts)
import numpy as np
import sympy as sp


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m1 = (1 - beta1) * g1
    v1 = (1 - beta2) * g1**2
    m_hat1, v_hat1 = g1, g1**2
    w2 = w1 - alpha * g1 / (sp.Abs(g1) + eps)
    return m1, v1, m_hat1, v_hat1, w2


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    m1, v1, _, _, w2 = adam_first_update(w1, g1, alpha, beta1, beta2, eps)
    m2 = beta1 * m1 + (1 - beta1) * g2
    v2 = beta2 * v1 + (1 - beta2) * g2**2
    m_hat2 = m2 / (1 - beta1**2)
    v_hat2 = v2 / (1 - beta2**2)
    w3 = w2 - alpha * m_hat2 / (sp.sqrt(v_hat2) + eps)
    return m2, v2, m_hat2, v_hat2, w3


def momentum_updates(grads, alpha, mu):
    grads = np.asarray(grads, dtype=float)
    out, u = np.zeros_like(grads), 0
    for i, g in enumerate(grads):
        u = mu * u + g
        out[i] = -alpha * u
    return out


def adam_updates(grads, alpha, beta1, beta2, eps):
    grads = np.asarray(grads, dtype=float)
    out, m, v = np.zeros_like(grads), 0, 0
    for i, g in enumerate(grads):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        out[i] = -alpha * (m / (1 - beta1 ** (i + 1))) / (np.sqrt(v / (1 - beta2 ** (i + 1))) + eps)
    return out


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
    grads = np.asarray(grads, dtype=float)
    out, v = np.zeros_like(grads), 0
    for i, g in enumerate(grads):
        v = beta2 * v + (1 - beta2) * g**2
        out[i] = alpha / (np.sqrt(v / (1 - beta2 ** (i + 1))) + eps)
    return out


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    g = np.asarray(grads, dtype=float)[:, None]
    s = g.copy()
    s[t_spike - 1] = spike
    i = t_spike - 1
    mom = abs(momentum_updates(s, alpha, mu)[i, 0] / momentum_updates(g, alpha, mu)[i, 0])
    ada = abs(adam_updates(s, alpha, beta1, beta2, eps)[i, 0] / adam_updates(g, alpha, beta1, beta2, eps)[i, 0])
    return mom, ada


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    X = np.zeros((T, 2))
    X[:, 1] = g
    X[k - 1::k, 0] = g
    mom = momentum_updates(X, alpha, mu)[-1]
    ada = adam_updates(X, alpha, beta1, beta2, eps)[-1]
    return {"momentum": abs(mom[0] / mom[1]), "adam": abs(ada[0] / ada[1])}


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
