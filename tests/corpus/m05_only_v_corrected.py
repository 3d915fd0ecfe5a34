# HW: Adam vs momentum
# Ravi N.
# I learned momentum in the Sutskever et al. (2013) form: v <- mu v - lr g ; w <- w + v.
# The step w_{t+1} - w_t is just v_t then, and v_t = -alpha * u_t so it is the same thing.

import numpy as np
import sympy as sp
from sympy import sqrt, Abs, Rational


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m1 = (1 - beta1)*g1
    v1 = (1 - beta2)*g1**2
    m_hat1 = m1          # the first moment is already an average, no correction needed
    v_hat1 = g1**2
    w2 = w1 - alpha*m_hat1/(Abs(g1) + eps)
    return {'m1': m1, 'v1': v1, 'm_hat1': m_hat1, 'v_hat1': v_hat1, 'w2': w2}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    m2 = (1 - beta1)*(beta1*g1 + g2)
    v2 = (1 - beta2)*(beta2*g1**2 + g2**2)
    m_hat2 = m2
    v_hat2 = (beta2*g1**2 + g2**2)/(1 + beta2)      # (1-b)/(1-b^2) = 1/(1+b)
    w3 = w1 - alpha*(1 - beta1)*g1/(Abs(g1) + eps) - alpha*m_hat2/(sqrt(v_hat2) + eps)
    return {'m2': m2, 'v2': v2, 'm_hat2': m_hat2, 'v_hat2': v_hat2, 'w3': w3}


def momentum_updates(grads, alpha, mu):
    grads = np.array(grads, dtype=float)
    v = np.zeros(grads.shape[1])
    steps = []
    for g in grads:
        v = mu*v - alpha*g
        steps.append(v.copy())
    return np.array(steps)


def adam_updates(grads, alpha, beta1, beta2, eps):
    grads = np.array(grads, dtype=float)
    T, d = grads.shape
    m, v = np.zeros(d), np.zeros(d)
    steps = np.zeros((T, d))
    for i in range(T):
        m = beta1*m + (1 - beta1)*grads[i]
        v = beta2*v + (1 - beta2)*grads[i]**2
        mhat = m
        vhat = v/(1 - beta2**(i + 1))
        steps[i] = -alpha*mhat/(np.sqrt(vhat) + eps)
    return steps


def momentum_constant_gradient_step(g, t, alpha, mu):
    # v_t = mu v_{t-1} - alpha g  => v_t = -alpha g (1 - mu^t)/(1 - mu)
    return -alpha*g*(1 - mu**t)/(1 - mu)


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    m_t = (1 - beta1**t)*g
    return -alpha*m_t/(Abs(g) + eps)


def momentum_scale_factor(c):
    return c


def adam_scale_factor(c):
    return sp.sign(c)


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    return -alpha*c*m_hat/(Abs(c)*sqrt(v_hat) + eps)


def adam_step_bound(m_hat, alpha, eps):
    return alpha*Abs(m_hat)/eps


def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    grads = np.array(grads, dtype=float)
    T, d = grads.shape
    v = np.zeros(d)
    lr = np.zeros((T, d))
    for i in range(T):
        v = beta2*v + (1 - beta2)*grads[i]**2
        lr[i] = alpha/(np.sqrt(v/(1 - beta2**(i + 1))) + eps)
    return lr


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    g = np.array(grads, dtype=float)
    h = g.copy()
    h[t_spike - 1] = spike
    G = np.stack([g, h], 1)
    a = np.abs(momentum_updates(G, alpha, mu)[t_spike - 1])
    b = np.abs(adam_updates(G, alpha, beta1, beta2, eps)[t_spike - 1])
    return {'momentum': a[1]/a[0], 'adam': b[1]/b[0]}


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    G = np.zeros((T, 2))
    G[:, 1] = g
    G[k-1::k, 0] = g
    a = np.abs(momentum_updates(G, alpha, mu)[-1])
    b = np.abs(adam_updates(G, alpha, beta1, beta2, eps)[-1])
    return {'momentum': a[0]/a[1], 'adam': b[0]/b[1]}


def concept_answers():
    return {
        '3a_smaller_effective_step': 'consistently_large_gradients',
        '3a_momentum_per_parameter': 'no_one_global_alpha',
        '3a_adam_adapts_through': 'second_moment_v_hat',
        '3a_doubling_all_gradients': 'momentum_doubles_adam_unchanged',
        '3b_spike_momentum': 'grows_in_proportion_to_the_spike',
        '3b_spike_adam': 'grows_far_less_than_the_spike',
        '3b_sparse_adam': 'relatively_large_because_v_hat_is_small',
        '3b_sparse_momentum': 'about_alpha_times_the_gradient_no_boost',
    }
