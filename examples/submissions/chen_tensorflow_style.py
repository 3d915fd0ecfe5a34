"""Adam vs. SGD with momentum -- Chen Jia.

Momentum in Sutskever's form:   v <- mu * v - alpha * g,   w <- w + v   (step = v).
Adam in TensorFlow's form:      alpha_t = alpha * sqrt(1 - beta2^t) / (1 - beta1^t),
                                w <- w - alpha_t * m / (sqrt(v) + eps_hat),
                                eps_hat = eps * sqrt(1 - beta2^t),
which is algebraically the same step as the textbook version.
"""

import numpy as np
import sympy as sp


def _alpha_t(alpha, beta1, beta2, t, sqrt=sp.sqrt):
    return alpha * sqrt(1 - beta2**t) / (1 - beta1**t)


def _eps_hat(eps, beta2, t, sqrt=sp.sqrt):
    return eps * sqrt(1 - beta2**t)


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m1 = (1 - beta1) * g1
    v1 = (1 - beta2) * g1**2
    w2 = w1 - _alpha_t(alpha, beta1, beta2, 1) * m1 / (sp.sqrt(v1) + _eps_hat(eps, beta2, 1))
    return {"m1": m1, "v1": v1, "m_hat1": m1 / (1 - beta1), "v_hat1": v1 / (1 - beta2), "w2": w2}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    prev = adam_first_update(w1, g1, alpha, beta1, beta2, eps)
    m2 = beta1 * prev["m1"] + (1 - beta1) * g2
    v2 = beta2 * prev["v1"] + (1 - beta2) * g2**2
    w3 = prev["w2"] - _alpha_t(alpha, beta1, beta2, 2) * m2 / (sp.sqrt(v2) + _eps_hat(eps, beta2, 2))
    return {"m2": m2, "v2": v2, "m_hat2": m2 / (1 - beta1**2), "v_hat2": v2 / (1 - beta2**2), "w3": w3}


def momentum_updates(grads, alpha, mu):
    grads = np.asarray(grads, dtype=np.float64)
    velocity = np.zeros(grads.shape[1])
    steps = []
    for g in grads:
        velocity = mu * velocity - alpha * g
        steps.append(velocity)
    return np.array(steps)


def adam_updates(grads, alpha, beta1, beta2, eps):
    grads = np.asarray(grads, dtype=np.float64)
    m = np.zeros(grads.shape[1])
    v = np.zeros(grads.shape[1])
    steps = []
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        steps.append(-_alpha_t(alpha, beta1, beta2, t, np.sqrt) * m
                     / (np.sqrt(v) + _eps_hat(eps, beta2, t, np.sqrt)))
    return np.array(steps)


def momentum_constant_gradient_step(g, t, alpha, mu):
    # v_t = mu v_{t-1} - alpha g  =>  v_t = -alpha g (1 + mu + ... + mu^(t-1))
    return -alpha * g * (1 - mu**t) / (1 - mu)


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    m_t = (1 - beta1**t) * g
    v_t = (1 - beta2**t) * g**2
    return -_alpha_t(alpha, beta1, beta2, t) * m_t / (sp.sqrt(v_t) + _eps_hat(eps, beta2, t))


def momentum_scale_factor(c):
    return c


def adam_scale_factor(c):
    return sp.sign(c)


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    return -alpha * c * m_hat / (sp.Abs(c) * sp.sqrt(v_hat) + eps)


def adam_step_bound(m_hat, alpha, eps):
    return alpha * sp.Abs(m_hat) / eps


def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    # alpha_t * (1 - beta1^t) / (sqrt(v) + eps_hat) is the factor in front of m_hat
    grads = np.asarray(grads, dtype=np.float64)
    v = np.zeros(grads.shape[1])
    rates = []
    for t, g in enumerate(grads, start=1):
        v = beta2 * v + (1 - beta2) * g * g
        rates.append(_alpha_t(alpha, beta1, beta2, t, np.sqrt) * (1 - beta1**t)
                     / (np.sqrt(v) + _eps_hat(eps, beta2, t, np.sqrt)))
    return np.array(rates)


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    plain = np.asarray(grads, dtype=np.float64)
    spiked = plain.copy()
    spiked[t_spike - 1] = spike
    x = np.stack([plain, spiked], axis=1)
    mom = np.abs(momentum_updates(x, alpha, mu)[t_spike - 1])
    ada = np.abs(adam_updates(x, alpha, beta1, beta2, eps)[t_spike - 1])
    return {"momentum": mom[1] / mom[0], "adam": ada[1] / ada[0]}


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    x = np.zeros((T, 2))
    x[k - 1::k, 0] = g
    x[:, 1] = g
    mom = np.abs(momentum_updates(x, alpha, mu)[-1])
    ada = np.abs(adam_updates(x, alpha, beta1, beta2, eps)[-1])
    return {"momentum": mom[0] / mom[1], "adam": ada[0] / ada[1]}


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
