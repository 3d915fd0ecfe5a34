# Adam vs momentum -- Eli Cohen (work in progress)
import numpy as np
import sympy as sp


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m1 = (1 - beta1) * g1
    v1 = (1 - beta2) * g1**2
    m_hat1 = m1 / (1 - beta1)
    v_hat1 = v1 / (1 - beta2)
    w2 = w1 - alpha * m_hat1 / (sp.sqrt(v_hat1) + eps)
    return {"m1": m1, "v1": v1, "m_hat1": m_hat1, "v_hat1": v_hat1, "w2": w2}


def momentum_updates(grads, alpha, mu)
    u = np.zeros(grads.shape[1])
    steps = []
    for g in grads:
        u = mu * u + g
        steps.append(-alpha * u)
    return np.array(steps)
