# Homework 3: Adam vs SGD + momentum
# Julia S.
# (v is an average of squares so it can't be "biased" the same way -- I only correct m)
#
# I kept everything factored (sympy.factor) because it's easier to compare to
# my handwritten derivation. Numeric parts are plain python loops, one parameter
# at a time, and I return lists of lists.

import math
import sympy


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m1 = sympy.factor((1 - beta1) * g1)
    v1 = sympy.factor((1 - beta2) * g1 ** 2)
    m_hat1 = sympy.factor(m1 / (1 - beta1 ** 1))
    v_hat1 = v1
    w2 = w1 - alpha * m_hat1 / (sympy.sqrt(v_hat1) + eps)
    return dict(m1=m1, v1=v1, m_hat1=m_hat1, v_hat1=v_hat1, w2=sympy.factor(w2))


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    first = adam_first_update(w1, g1, alpha, beta1, beta2, eps)
    m2 = sympy.factor(beta1 * first["m1"] + (1 - beta1) * g2)
    v2 = sympy.factor(beta2 * first["v1"] + (1 - beta2) * g2 ** 2)
    m_hat2 = sympy.factor(m2 / (1 - beta1 ** 2))
    v_hat2 = v2
    w3 = first["w2"] - alpha * m_hat2 / (sympy.sqrt(v_hat2) + eps)
    return dict(m2=m2, v2=v2, m_hat2=m_hat2, v_hat2=v_hat2, w3=sympy.factor(w3))


def _column(grads, j):
    return [float(row[j]) for row in grads]


def _momentum_1d(gs, alpha, mu):
    u = 0.0
    steps = []
    for g in gs:
        u = mu * u + g
        steps.append(-alpha * u)
    return steps


def _adam_1d(gs, alpha, beta1, beta2, eps):
    m = v = 0.0
    steps, rates = [], []
    for t, g in enumerate(gs, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        mh = m / (1 - beta1 ** t)
        vh = v
        rate = alpha / (math.sqrt(vh) + eps)
        rates.append(rate)
        steps.append(-rate * mh)
    return steps, rates


def _per_column(grads, fn):
    T, d = len(grads), len(grads[0])
    cols = [fn(_column(grads, j)) for j in range(d)]
    return [[cols[j][t] for j in range(d)] for t in range(T)]


def momentum_updates(grads, alpha, mu):
    return _per_column(grads, lambda col: _momentum_1d(col, alpha, mu))


def adam_updates(grads, alpha, beta1, beta2, eps):
    return _per_column(grads, lambda col: _adam_1d(col, alpha, beta1, beta2, eps)[0])


def momentum_constant_gradient_step(g, t, alpha, mu):
    return sympy.factor(-alpha * g * (1 - mu ** t) / (1 - mu))


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    m_hat = (1 - beta1 ** t) * g / (1 - beta1 ** t)
    v_hat = (1 - beta2 ** t) * g ** 2
    return sympy.factor(-alpha * m_hat / (sympy.sqrt(v_hat) + eps))


def momentum_scale_factor(c):
    return c


def adam_scale_factor(c):
    return sympy.factor(c / sympy.sqrt(c ** 2))


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    return sympy.factor(-alpha * (c * m_hat) / (sympy.sqrt(c ** 2 * v_hat) + eps))


def adam_step_bound(m_hat, alpha, eps):
    return sympy.factor(alpha * sympy.sqrt(m_hat ** 2) / eps)


def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    return _per_column(grads, lambda col: _adam_1d(col, alpha, beta1, beta2, eps)[1])


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    clean = [float(x) for x in grads]
    spiked = list(clean)
    spiked[t_spike - 1] = spike
    i = t_spike - 1
    m_ratio = abs(_momentum_1d(spiked, alpha, mu)[i]) / abs(_momentum_1d(clean, alpha, mu)[i])
    a_ratio = abs(_adam_1d(spiked, alpha, beta1, beta2, eps)[0][i]) / abs(_adam_1d(clean, alpha, beta1, beta2, eps)[0][i])
    return {"momentum": m_ratio, "adam": a_ratio}


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    sparse = [g if t % k == 0 else 0.0 for t in range(1, T + 1)]
    dense = [g] * T
    res = {}
    res["momentum"] = abs(_momentum_1d(sparse, alpha, mu)[-1]) / abs(_momentum_1d(dense, alpha, mu)[-1])
    res["adam"] = (abs(_adam_1d(sparse, alpha, beta1, beta2, eps)[0][-1])
                   / abs(_adam_1d(dense, alpha, beta1, beta2, eps)[0][-1]))
    return res


def concept_answers():
    answers = {}
    answers["3a_smaller_effective_step"] = "consistently_large_gradients"
    answers["3a_momentum_per_parameter"] = "no_one_global_alpha"
    answers["3a_adam_adapts_through"] = "second_moment_v_hat"
    answers["3a_doubling_all_gradients"] = "momentum_doubles_adam_unchanged"
    answers["3b_spike_momentum"] = "grows_in_proportion_to_the_spike"
    answers["3b_spike_adam"] = "grows_far_less_than_the_spike"
    answers["3b_sparse_adam"] = "relatively_large_because_v_hat_is_small"
    answers["3b_sparse_momentum"] = "about_alpha_times_the_gradient_no_boost"
    return answers
