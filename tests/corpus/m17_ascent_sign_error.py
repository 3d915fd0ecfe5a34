"""Adam vs SGD(momentum) -- I wrote the numeric parts like torch.optim does it
(param tensor + state dict, then I record w_{t+1} - w_t).
- Tariq A.
"""

import numpy as np
import sympy as sp


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    exp_avg = (1 - beta1) * g1
    exp_avg_sq = (1 - beta2) * g1 * g1
    bias_correction1 = 1 - beta1
    bias_correction2 = 1 - beta2
    m_hat1 = exp_avg / bias_correction1
    v_hat1 = exp_avg_sq / bias_correction2
    denom = sp.sqrt(exp_avg_sq) / sp.sqrt(bias_correction2) + eps
    w2 = w1 + alpha / bias_correction1 * exp_avg / denom
    return {"m1": exp_avg, "v1": exp_avg_sq, "m_hat1": m_hat1, "v_hat1": v_hat1, "w2": w2}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    state = adam_first_update(w1, g1, alpha, beta1, beta2, eps)
    exp_avg = beta1 * state["m1"] + (1 - beta1) * g2
    exp_avg_sq = beta2 * state["v1"] + (1 - beta2) * g2 * g2
    bias_correction1 = 1 - beta1**2
    bias_correction2 = 1 - beta2**2
    denom = sp.sqrt(exp_avg_sq) / sp.sqrt(bias_correction2) + eps
    step_size = alpha / bias_correction1
    w3 = state["w2"] + step_size * exp_avg / denom
    return {"m2": exp_avg, "v2": exp_avg_sq, "m_hat2": exp_avg / bias_correction1,
            "v_hat2": exp_avg_sq / bias_correction2, "w3": w3}


class SGDMomentum:
    def __init__(self, lr, momentum):
        self.lr, self.momentum = lr, momentum
        self.buf = None

    def step(self, param, grad):
        if self.buf is None:
            self.buf = grad.copy()           # torch: first step buf = grad
        else:
            self.buf = self.momentum * self.buf + grad
        return param + self.lr * self.buf


class Adam:
    def __init__(self, lr, betas, eps):
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.step_count = 0
        self.exp_avg = self.exp_avg_sq = None

    def step(self, param, grad):
        if self.exp_avg is None:
            self.exp_avg = np.zeros_like(grad)
            self.exp_avg_sq = np.zeros_like(grad)
        self.step_count += 1
        self.exp_avg = self.beta1 * self.exp_avg + (1 - self.beta1) * grad
        self.exp_avg_sq = self.beta2 * self.exp_avg_sq + (1 - self.beta2) * grad * grad
        bc1 = 1 - self.beta1 ** self.step_count
        bc2 = 1 - self.beta2 ** self.step_count
        denom = np.sqrt(self.exp_avg_sq) / np.sqrt(bc2) + self.eps
        return param + (self.lr / bc1) * self.exp_avg / denom


def _run(opt, grads):
    grads = np.asarray(grads, dtype=np.float64)
    w = np.zeros(grads.shape[1])
    deltas = []
    for g in grads:
        w_new = opt.step(w, g)
        deltas.append(w_new - w)
        w = w_new
    return np.array(deltas)


def momentum_updates(grads, alpha, mu):
    return _run(SGDMomentum(alpha, mu), grads)


def adam_updates(grads, alpha, beta1, beta2, eps):
    return _run(Adam(alpha, (beta1, beta2), eps), grads)


def momentum_constant_gradient_step(g, t, alpha, mu):
    return alpha * g * (1 - mu**t) / (1 - mu)


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    return alpha * g / (sp.Abs(g) + eps)


def momentum_scale_factor(c):
    return c


def adam_scale_factor(c):
    return sp.sign(c)


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    return alpha * c * m_hat / (sp.Abs(c) * sp.sqrt(v_hat) + eps)


def adam_step_bound(m_hat, alpha, eps):
    return alpha * sp.Abs(m_hat) / eps


def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    grads = np.asarray(grads, dtype=np.float64)
    sq = np.zeros(grads.shape[1])
    out = []
    for t, g in enumerate(grads, start=1):
        sq = beta2 * sq + (1 - beta2) * g * g
        out.append(alpha / (np.sqrt(sq) / np.sqrt(1 - beta2**t) + eps))
    return np.array(out)


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    g = np.asarray(grads, dtype=np.float64)
    g2 = g.copy()
    g2[t_spike - 1] = spike
    pair = np.column_stack([g, g2])
    mom = np.abs(momentum_updates(pair, alpha, mu)[t_spike - 1])
    ad = np.abs(adam_updates(pair, alpha, beta1, beta2, eps)[t_spike - 1])
    return {"momentum": float(mom[1] / mom[0]), "adam": float(ad[1] / ad[0])}


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    pair = np.zeros((T, 2))
    pair[:, 1] = g
    pair[np.arange(T) % k == k - 1, 0] = g
    mom = np.abs(momentum_updates(pair, alpha, mu)[-1])
    ad = np.abs(adam_updates(pair, alpha, beta1, beta2, eps)[-1])
    return {"momentum": float(mom[0] / mom[1]), "adam": float(ad[0] / ad[1])}


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
