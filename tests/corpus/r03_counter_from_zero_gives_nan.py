# Adam vs momentum -- Part 1 by hand, Part 2 in numpy.
# In the numpy version I count steps from zero like everything else in Python.

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
    first = adam_first_update(w1, g1, alpha, beta1, beta2, eps)
    m2 = beta1 * first["m1"] + (1 - beta1) * g2
    v2 = beta2 * first["v1"] + (1 - beta2) * g2**2
    m_hat2 = m2 / (1 - beta1**2)
    v_hat2 = v2 / (1 - beta2**2)
    w3 = first["w2"] - alpha * m_hat2 / (sp.sqrt(v_hat2) + eps)
    return {"m2": m2, "v2": v2, "m_hat2": m_hat2, "v_hat2": v_hat2, "w3": w3}


def momentum_updates(grads, alpha, mu):
    grads = np.asarray(grads, dtype=float)
    u = np.zeros(grads.shape[1])
    steps = np.zeros_like(grads)
    for i in range(grads.shape[0]):
        u = mu * u + grads[i]
        steps[i] = -alpha * u
    return steps


def adam_updates(grads, alpha, beta1, beta2, eps):
    grads = np.asarray(grads, dtype=float)
    m = np.zeros(grads.shape[1])
    v = np.zeros(grads.shape[1])
    t = 0
    steps = []
    for g in grads:
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        steps.append(-alpha * m_hat / (np.sqrt(v_hat) + eps))
        t += 1
    return np.array(steps)


def momentum_constant_gradient_step(g, t, alpha, mu):
    return -alpha * g * (1 - mu**t) / (1 - mu)


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    # with a constant gradient both bias corrections cancel exactly
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
    v = np.zeros(grads.shape[1])
    out = []
    for t, g in enumerate(grads):
        v = beta2 * v + (1 - beta2) * g**2
        out.append(alpha / (np.sqrt(v / (1 - beta2**t)) + eps))
    return np.array(out)


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    plain = np.asarray(grads, dtype=float).reshape(-1, 1)
    spiked = plain.copy()
    spiked[t_spike - 1, 0] = spike
    row = t_spike - 1
    mom = abs(momentum_updates(spiked, alpha, mu)[row, 0]) / abs(momentum_updates(plain, alpha, mu)[row, 0])
    ada = (abs(adam_updates(spiked, alpha, beta1, beta2, eps)[row, 0])
           / abs(adam_updates(plain, alpha, beta1, beta2, eps)[row, 0]))
    return {"momentum": float(mom), "adam": float(ada)}


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    sparse = np.array([[g if step % k == 0 else 0.0] for step in range(1, T + 1)])
    dense = np.full((T, 1), float(g))
    mom = abs(momentum_updates(sparse, alpha, mu)[-1, 0]) / abs(momentum_updates(dense, alpha, mu)[-1, 0])
    ada = (abs(adam_updates(sparse, alpha, beta1, beta2, eps)[-1, 0])
           / abs(adam_updates(dense, alpha, beta1, beta2, eps)[-1, 0]))
    return {"momentum": float(mom), "adam": float(ada)}


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
