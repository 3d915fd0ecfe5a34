# Adam vs momentum. My Adam follows the pseudo-code in my lecture notes:
#   t <- 1 ... loop: t <- t + 1, update m and v, correct, step.
# Part 1 is the same loop run on the symbols.

import numpy as np
import sympy as sp


def _adam_loop(w, gs, alpha, beta1, beta2, eps, sqrt):
    m = v = 0 * gs[0]
    t = 1
    rows = []
    for g in gs:
        t += 1
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        step = -alpha * m_hat / (sqrt(v_hat) + eps)
        w = w + step
        rows.append((m, v, m_hat, v_hat, w, step))
    return rows


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m, v, mh, vh, w, _ = _adam_loop(w1, [g1], alpha, beta1, beta2, eps, sp.sqrt)[0]
    return {"m1": m, "v1": v, "m_hat1": mh, "v_hat1": vh, "w2": w}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    m, v, mh, vh, w, _ = _adam_loop(w1, [g1, g2], alpha, beta1, beta2, eps, sp.sqrt)[1]
    return {"m2": m, "v2": v, "m_hat2": mh, "v_hat2": vh, "w3": w}


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
    rows = _adam_loop(np.zeros(grads.shape[1]), list(grads), alpha, beta1, beta2, eps, np.sqrt)
    return np.array([row[5] for row in rows])


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
    rows = _adam_loop(np.zeros(grads.shape[1]), list(grads), alpha, beta1, beta2, eps, np.sqrt)
    return np.array([alpha / (np.sqrt(row[3]) + eps) for row in rows])


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
