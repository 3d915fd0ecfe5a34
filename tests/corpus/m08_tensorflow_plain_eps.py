"""Adam vs. momentum (homework 3).

Author: Lukas H.

I implemented Adam the efficient way (like tf.keras.optimizers.Adam): fold the bias
correction into a step size lr_t = alpha * sqrt(1 - beta2^t) / (1 - beta1^t), then
w -= lr_t * m / (sqrt(v) + eps).
Momentum is the TF form too: accum = mu * accum + g ; var -= lr * accum.
"""

import numpy as np
import sympy as sp


def _lr_t(alpha, beta1, beta2, t, sqrt):
    return alpha * sqrt(1 - beta2**t) / (1 - beta1**t)


def _eps_hat(eps, beta2, t, sqrt):
    return eps   # keras just uses epsilon here


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m1 = (1 - beta1) * g1
    v1 = (1 - beta2) * g1**2
    lr_1 = _lr_t(alpha, beta1, beta2, 1, sp.sqrt)
    w2 = w1 - lr_1 * m1 / (sp.sqrt(v1) + _eps_hat(eps, beta2, 1, sp.sqrt))
    return {"m1": m1, "v1": v1, "m_hat1": m1 / (1 - beta1), "v_hat1": v1 / (1 - beta2), "w2": w2}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    first = adam_first_update(w1, g1, alpha, beta1, beta2, eps)
    m2 = beta1 * first["m1"] + (1 - beta1) * g2
    v2 = beta2 * first["v1"] + (1 - beta2) * g2**2
    lr_2 = _lr_t(alpha, beta1, beta2, 2, sp.sqrt)
    w3 = first["w2"] - lr_2 * m2 / (sp.sqrt(v2) + _eps_hat(eps, beta2, 2, sp.sqrt))
    return {"m2": m2, "v2": v2, "m_hat2": m2 / (1 - beta1**2), "v_hat2": v2 / (1 - beta2**2), "w3": w3}


def momentum_updates(grads, alpha, mu):
    grads = np.asarray(grads, dtype=np.float64)
    accum = np.zeros(grads.shape[1])
    var = np.zeros(grads.shape[1])
    deltas = np.zeros_like(grads)
    for t in range(grads.shape[0]):
        accum = accum * mu + grads[t]
        deltas[t] = -alpha * accum
        var = var + deltas[t]
    return deltas


def adam_updates(grads, alpha, beta1, beta2, eps):
    grads = np.asarray(grads, dtype=np.float64)
    m = np.zeros(grads.shape[1])
    v = np.zeros(grads.shape[1])
    deltas = np.zeros_like(grads)
    for i in range(grads.shape[0]):
        t = i + 1
        m = beta1 * m + (1 - beta1) * grads[i]
        v = beta2 * v + (1 - beta2) * grads[i] ** 2
        lr_t = _lr_t(alpha, beta1, beta2, t, np.sqrt)
        deltas[i] = -lr_t * m / (np.sqrt(v) + _eps_hat(eps, beta2, t, np.sqrt))
    return deltas


def momentum_constant_gradient_step(g, t, alpha, mu):
    return -alpha * g * (1 - mu**t) / (1 - mu)


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    m_t = (1 - beta1**t) * g
    v_t = (1 - beta2**t) * g**2
    return -_lr_t(alpha, beta1, beta2, t, sp.sqrt) * m_t / (sp.sqrt(v_t) + _eps_hat(eps, beta2, t, sp.sqrt))


def momentum_scale_factor(c):
    return c


def adam_scale_factor(c):
    return sp.sign(c)


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    return -alpha * c * m_hat / (sp.Abs(c) * sp.sqrt(v_hat) + eps)


def adam_step_bound(m_hat, alpha, eps):
    return alpha * sp.Abs(m_hat) / eps


def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    # the rate that multiplies m_hat: lr_t * (1 - beta1^t) / (sqrt(v) + eps_hat)
    grads = np.asarray(grads, dtype=np.float64)
    v = np.zeros(grads.shape[1])
    rates = np.zeros_like(grads)
    for i in range(grads.shape[0]):
        t = i + 1
        v = beta2 * v + (1 - beta2) * grads[i] ** 2
        rates[i] = alpha * np.sqrt(1 - beta2**t) / (np.sqrt(v) + _eps_hat(eps, beta2, t, np.sqrt))
    return rates


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    clean = np.asarray(grads, dtype=np.float64)
    noisy = clean.copy()
    noisy[t_spike - 1] = spike
    x = np.stack([clean, noisy], axis=1)
    i = t_spike - 1
    mom = momentum_updates(x, alpha, mu)[i]
    ad = adam_updates(x, alpha, beta1, beta2, eps)[i]
    return {"momentum": abs(mom[1]) / abs(mom[0]), "adam": abs(ad[1]) / abs(ad[0])}


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    x = np.zeros((T, 2))
    x[:, 1] = g
    x[k - 1::k, 0] = g
    mom = momentum_updates(x, alpha, mu)[-1]
    ad = adam_updates(x, alpha, beta1, beta2, eps)[-1]
    return {"momentum": abs(mom[0]) / abs(mom[1]), "adam": abs(ad[0]) / abs(ad[1])}


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
