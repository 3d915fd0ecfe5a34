# Adam vs. SGD with momentum
# Name: Mateo G.
# I built the expressions with evaluate=False so that they print exactly like my notes.

import numpy as np
from sympy import Abs, Add, Mul, Pow, Integer, sqrt, sign


def _one_minus(x):
    return Add(Integer(1), Mul(Integer(-1), x, evaluate=False), evaluate=False)


def _div(a, b):
    return Mul(a, Pow(b, Integer(-1), evaluate=False), evaluate=False)


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m1 = Mul(_one_minus(beta1), g1, evaluate=False)
    v1 = Mul(_one_minus(beta2), Pow(g1, 2, evaluate=False), evaluate=False)
    m_hat1 = _div(m1, _one_minus(beta1))
    v_hat1 = _div(v1, _one_minus(beta2))
    step = _div(Mul(alpha, m_hat1, evaluate=False), Add(Pow(v_hat1, Integer(1) / 2, evaluate=False), eps, evaluate=False))
    w2 = Add(w1, Mul(Integer(-1), step, evaluate=False), evaluate=False)
    return {"m1": m1, "v1": v1, "m_hat1": m_hat1, "v_hat1": v_hat1, "w2": w2}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    first = adam_first_update(w1, g1, alpha, beta1, beta2, eps)
    m2 = Add(Mul(beta1, first["m1"], evaluate=False), Mul(_one_minus(beta1), g2, evaluate=False), evaluate=False)
    v2 = Add(Mul(beta2, first["v1"], evaluate=False),
             Mul(_one_minus(beta2), Pow(g2, 2, evaluate=False), evaluate=False), evaluate=False)
    m_hat2 = _div(m2, _one_minus(Pow(beta1, 2, evaluate=False)))
    v_hat2 = _div(v2, _one_minus(Pow(beta2, 2, evaluate=False)))
    step = _div(Mul(alpha, m_hat2, evaluate=False), Add(sqrt(v_hat2, evaluate=False), eps, evaluate=False))
    w3 = Add(first["w2"], Mul(Integer(-1), step, evaluate=False), evaluate=False)
    return {"m2": m2, "v2": v2, "m_hat2": m_hat2, "v_hat2": v_hat2, "w3": w3}


def momentum_updates(grads, alpha, mu):
    grads = np.asarray(grads, dtype=float)
    T, d = grads.shape
    out = np.zeros((T, d))
    for j in range(d):
        u = 0.0
        for t in range(T):
            u = mu * u + grads[t, j]
            out[t, j] = -alpha * u
    return out


def adam_updates(grads, alpha, beta1, beta2, eps):
    grads = np.asarray(grads, dtype=float)
    T, d = grads.shape
    out = np.zeros((T, d))
    for j in range(d):
        m = v = 0.0
        for t in range(1, T + 1):
            g = grads[t - 1, j]
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g**2
            out[t - 1, j] = -alpha * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)) ** 0.5 + eps)
    return out


def momentum_constant_gradient_step(g, t, alpha, mu):
    return Mul(Integer(-1), alpha, g, _div(_one_minus(Pow(mu, t, evaluate=False)), _one_minus(mu)), evaluate=False)


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    return Mul(Integer(-1), _div(Mul(alpha, g, evaluate=False), Add(Abs(g), eps, evaluate=False)), evaluate=False)


def momentum_scale_factor(c):
    return Mul(Integer(1), c, evaluate=False)


def adam_scale_factor(c):
    return sign(c)


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    num = Mul(Integer(-1), alpha, c, m_hat, evaluate=False)
    den = Add(Mul(Abs(c), sqrt(v_hat), evaluate=False), eps, evaluate=False)
    return _div(num, den)


def adam_step_bound(m_hat, alpha, eps):
    return _div(Mul(alpha, Abs(m_hat), evaluate=False), eps)


def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    grads = np.asarray(grads, dtype=float)
    T, d = grads.shape
    out = np.zeros((T, d))
    for j in range(d):
        v = 0.0
        for t in range(1, T + 1):
            v = beta2 * v + (1 - beta2) * grads[t - 1, j] ** 2
            out[t - 1, j] = alpha / ((v / (1 - beta2**t)) ** 0.5 + eps)
    return out


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    col = np.asarray(grads, dtype=float)
    spiked = col.copy()
    spiked[t_spike - 1] = spike
    both = np.column_stack((col, spiked))
    r = t_spike - 1
    mo = momentum_updates(both, alpha, mu)
    ad = adam_updates(both, alpha, beta1, beta2, eps)
    return {"momentum": abs(mo[r, 1] / mo[r, 0]), "adam": abs(ad[r, 1] / ad[r, 0])}


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    both = np.zeros((T, 2))
    for t in range(1, T + 1):
        both[t - 1, 1] = g
        if t % k == 0:
            both[t - 1, 0] = g
    mo = momentum_updates(both, alpha, mu)
    ad = adam_updates(both, alpha, beta1, beta2, eps)
    return {"momentum": abs(mo[-1, 0] / mo[-1, 1]), "adam": abs(ad[-1, 0] / ad[-1, 1])}


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
