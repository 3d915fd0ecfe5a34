# Homework 3 -- Adam vs momentum
# I reused the optimizer I wrote for the CS231n assignment: one update function that keeps
# its state in a config dict, run on sympy symbols for Part 1 and on arrays for Part 2.

import numpy as np
import sympy as sp


def adam_update(w, dw, config, sqrt):
    """One Adam step; config holds the moments and the step counter."""
    config.setdefault("m", 0 * dw)
    config.setdefault("v", 0 * dw)
    config.setdefault("t", 1)
    b1, b2 = config["beta1"], config["beta2"]
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw**2
    m_hat = config["m"] / (1 - b1 ** config["t"])
    v_hat = config["v"] / (1 - b2 ** config["t"])
    next_w = w - config["learning_rate"] * m_hat / (sqrt(v_hat) + config["epsilon"])
    return next_w, m_hat, v_hat


def _symbolic_run(w1, gs, alpha, beta1, beta2, eps):
    config = {"learning_rate": alpha, "beta1": beta1, "beta2": beta2, "epsilon": eps}
    w, out = w1, []
    for g in gs:
        w, m_hat, v_hat = adam_update(w, g, config, sp.sqrt)
        out.append((config["m"], config["v"], m_hat, v_hat, w))
    return out


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    (m, v, m_hat, v_hat, w), = _symbolic_run(w1, [g1], alpha, beta1, beta2, eps)
    return {"m1": m, "v1": v, "m_hat1": m_hat, "v_hat1": v_hat, "w2": w}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    _, (m, v, m_hat, v_hat, w) = _symbolic_run(w1, [g1, g2], alpha, beta1, beta2, eps)
    return {"m2": m, "v2": v, "m_hat2": m_hat, "v_hat2": v_hat, "w3": w}


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
    config = {"learning_rate": alpha, "beta1": beta1, "beta2": beta2, "epsilon": eps}
    w = np.zeros(grads.shape[1])
    steps = np.zeros_like(grads)
    for i in range(grads.shape[0]):
        new_w, _, _ = adam_update(w, grads[i], config, np.sqrt)
        steps[i] = new_w - w
        w = new_w
    return steps


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
    config = {"learning_rate": alpha, "beta1": beta1, "beta2": beta2, "epsilon": eps}
    rates = np.zeros_like(grads)
    for i in range(grads.shape[0]):
        _, _, v_hat = adam_update(np.zeros(grads.shape[1]), grads[i], config, np.sqrt)
        rates[i] = alpha / (np.sqrt(v_hat) + eps)
    return rates


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
