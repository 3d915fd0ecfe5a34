import numpy as np
import sympy as sp

# Adam vs momentum -- Kim D.


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m1 = (1 - beta1) * g1
    v1 = (1 - beta2) * g1**2.0
    m_hat1 = m1 / (1 - beta1**1.0)
    v_hat1 = v1 / (1 - beta2**1.0)
    w2 = w1 - alpha * m_hat1 / (v_hat1**0.5 + eps)
    return {"m1": m1, "v1": v1, "m_hat1": m_hat1, "v_hat1": v_hat1, "w2": w2}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    m1 = (1 - beta1) * g1
    v1 = (1 - beta2) * g1**2.0
    w2 = w1 - alpha * g1 / ((g1**2.0) ** 0.5 + eps)
    m2 = beta1 * m1 + (1 - beta1) * g2
    v2 = beta2 * v1 + (1 - beta2) * g2**2.0
    m_hat2 = m2 / (1 - beta1**2.0)
    v_hat2 = v2 / (1 - beta2**2.0)
    w3 = w2 - alpha * m_hat2 / (v_hat2**0.5 + eps)
    return {"m2": m2, "v2": v2, "m_hat2": m_hat2, "v_hat2": v_hat2, "w3": w3}


def momentum_updates(grads, alpha, mu):
    g = np.array(grads)
    out = np.zeros(g.shape, dtype=np.float32)   # keep memory small
    buf = np.zeros(g.shape[1])
    for i in range(len(g)):
        buf = mu * buf + g[i]
        out[i] = -alpha * buf
    return out.astype(np.float64)


def adam_updates(grads, alpha, beta1, beta2, eps):
    g = np.array(grads, dtype=np.float64)
    m = np.zeros(g.shape[1])
    v = np.zeros(g.shape[1])
    out = np.empty(g.shape)
    for i in range(len(g)):
        t = i + 1
        m = beta1 * m + (1 - beta1) * g[i]
        v = beta2 * v + (1 - beta2) * g[i] ** 2.0
        out[i] = -alpha * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)) ** 0.5 + eps)
    return out


def momentum_constant_gradient_step(g, t, alpha, mu):
    return -alpha * g * (1.0 - mu**t) / (1.0 - mu)


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    return -alpha * g / ((g**2.0) ** 0.5 + eps)


def momentum_scale_factor(c):
    return "c"


def adam_scale_factor(c):
    return "sign(c)"


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    return -alpha * c * m_hat / ((c**2.0 * v_hat) ** 0.5 + eps)


def adam_step_bound(m_hat, alpha, eps):
    bound = alpha * (m_hat**2.0) ** 0.5 / eps
    print("bound:", bound)


def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    g = np.array(grads, dtype=np.float64)
    v = np.zeros(g.shape[1])
    out = np.empty(g.shape)
    for i in range(len(g)):
        v = beta2 * v + (1 - beta2) * g[i] ** 2.0
        out[i] = alpha / ((v / (1 - beta2 ** (i + 1))) ** 0.5 + eps)
    return out


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    base = np.array(grads, dtype=np.float64)[:, None]
    spiked = base.copy()
    spiked[t_spike - 1] = spike
    r = {}
    for name, fn, args in (("momentum", momentum_updates, (alpha, mu)),
                           ("adam", adam_updates, (alpha, beta1, beta2, eps))):
        r[name] = np.float32(abs(fn(spiked, *args)[t_spike - 1, 0]) / abs(fn(base, *args)[t_spike - 1, 0]))
    return r


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    G = np.zeros((T, 2))
    G[:, 1] = g
    G[k - 1::k, 0] = g
    mom = np.abs(momentum_updates(G, alpha, mu)[T - 1])
    ad = np.abs(adam_updates(G, alpha, beta1, beta2, eps)[T - 1])
    print({"momentum": mom[0] / mom[1], "adam": ad[0] / ad[1]})


def concept_answers():
    return dict(
        [
            ("3a_smaller_effective_step", "consistently_large_gradients"),
            ("3a_momentum_per_parameter", "no_one_global_alpha"),
            ("3a_adam_adapts_through", "second_moment_v_hat"),
            ("3a_doubling_all_gradients", "momentum_doubles_adam_unchanged"),
            ("3b_spike_momentum", "grows_in_proportion_to_the_spike"),
            ("3b_spike_adam", "grows_far_less_than_the_spike"),
            ("3b_sparse_adam", "relatively_large_because_v_hat_is_small"),
            ("3b_sparse_momentum", "about_alpha_times_the_gradient_no_boost"),
        ]
    )
