import numpy as np
import sympy as sp

"""
Adam vs SGD with momentum
Carlos M. -- everything symbolic is passed through sp.simplify at the end
"""


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m1 = (1 - beta1) * g1
    v1 = (1 - beta2) * g1**2
    m_hat1 = sp.simplify(m1 / (1 - beta1))
    v_hat1 = sp.simplify(v1 / (1 - beta2))
    w2 = sp.simplify(w1 - alpha * m_hat1 / (sp.sqrt(v_hat1) + eps))
    return {"m1": sp.simplify(m1), "v1": sp.simplify(v1), "m_hat1": m_hat1, "v_hat1": v_hat1, "w2": w2}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    m2 = sp.simplify((1 - beta1) * (beta1 * g1 + g2))
    v2 = sp.simplify((1 - beta2) * (beta2 * g1**2 + g2**2))
    m_hat2 = sp.simplify(m2 / (1 - beta1**2))      # -> (beta1*g1 + g2)/(beta1 + 1)
    v_hat2 = sp.simplify(v2 / (1 - beta2**2))
    w2 = w1 - alpha * g1 / (sp.Abs(g1) + eps)
    w3 = sp.simplify(w2 - alpha * m_hat2 / (sp.sqrt(v_hat2) + eps))
    return {"m2": m2, "v2": v2, "m_hat2": m_hat2, "v_hat2": v_hat2, "w3": w3}


def momentum_updates(grads, alpha, mu):
    grads = np.asarray(grads, dtype=float)
    steps = np.empty_like(grads)
    velocity = np.zeros(grads.shape[1])
    for t, g in enumerate(grads):
        velocity = mu * velocity + g
        steps[t] = -alpha * velocity
    return steps


def adam_updates(grads, alpha, beta1, beta2, eps):
    grads = np.asarray(grads, dtype=float)
    steps = np.empty_like(grads)
    m = np.zeros(grads.shape[1])
    v = np.zeros(grads.shape[1])
    for t, g in enumerate(grads, 1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * np.square(g)
        steps[t - 1] = -alpha * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return steps


def momentum_constant_gradient_step(g, t, alpha, mu):
    k = sp.Symbol("k", integer=True, nonnegative=True)
    return sp.simplify(-alpha * g * sp.summation(mu**k, (k, 0, t - 1)))


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    return sp.simplify(-alpha * g / (sp.sqrt(g**2) + eps))


def momentum_scale_factor(c):
    return sp.simplify(c * 1)


def adam_scale_factor(c):
    return sp.simplify(c / sp.sqrt(c**2))


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    return sp.simplify(-alpha * c * m_hat / (sp.sqrt(c**2 * v_hat) + eps))


def adam_step_bound(m_hat, alpha, eps):
    return sp.simplify(alpha * sp.Abs(m_hat) / eps)


def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    grads = np.asarray(grads, dtype=float)
    rates = np.empty_like(grads)
    v = np.zeros(grads.shape[1])
    for t, g in enumerate(grads, 1):
        v = beta2 * v + (1 - beta2) * np.square(g)
        rates[t - 1] = alpha / (np.sqrt(v / (1 - beta2**t)) + eps)
    return rates


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    plain = np.asarray(grads, dtype=float).reshape(-1, 1)
    spiked = plain.copy()
    spiked[t_spike - 1, 0] = spike
    row = t_spike - 1
    ratio = lambda a, b: float(np.abs(a[row, 0]) / np.abs(b[row, 0]))
    return {
        "momentum": ratio(momentum_updates(spiked, alpha, mu), momentum_updates(plain, alpha, mu)),
        "adam": ratio(adam_updates(spiked, alpha, beta1, beta2, eps), adam_updates(plain, alpha, beta1, beta2, eps)),
    }


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    grads = np.zeros((T, 2))
    grads[:, 1] = g
    for t in range(k, T + 1, k):
        grads[t - 1, 0] = g
    mom = momentum_updates(grads, alpha, mu)[T - 1]
    ad = adam_updates(grads, alpha, beta1, beta2, eps)[T - 1]
    return {"momentum": float(abs(mom[0] / mom[1])), "adam": float(abs(ad[0] / ad[1]))}


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
