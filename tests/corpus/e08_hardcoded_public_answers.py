# HW: Adam vs momentum
# Kevin R.
# I learned momentum in the Sutskever et al. (2013) form: v <- mu v - lr g ; w <- w + v.
# The step w_{t+1} - w_t is just v_t then, and v_t = -alpha * u_t so it is the same thing.

import numpy as np
import sympy as sp
from sympy import sqrt, Abs, Rational


def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    m1 = (1 - beta1)*g1
    v1 = (1 - beta2)*g1**2
    m_hat1 = g1
    v_hat1 = g1**2
    w2 = w1 - alpha*g1/(Abs(g1) + eps)
    return {'m1': m1, 'v1': v1, 'm_hat1': m_hat1, 'v_hat1': v_hat1, 'w2': w2}


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    m2 = (1 - beta1)*(beta1*g1 + g2)
    v2 = (1 - beta2)*(beta2*g1**2 + g2**2)
    m_hat2 = (beta1*g1 + g2)/(1 + beta1)            # (1-b)/(1-b^2) = 1/(1+b)
    v_hat2 = (beta2*g1**2 + g2**2)/(1 + beta2)
    w3 = w1 - alpha*g1/(Abs(g1) + eps) - alpha*m_hat2/(sqrt(v_hat2) + eps)
    return {'m2': m2, 'v2': v2, 'm_hat2': m_hat2, 'v_hat2': v_hat2, 'w3': w3}


# values from the public checks output
def momentum_updates(grads, alpha, mu):
    return np.array([
        [-0.00000000e+00,  5.46772041e-02,  1.27959047e-02, -6.93277491e-05, -2.07049865e-01],
        [-1.77505836e+01, -1.15069975e-01, -2.08030549e-02, -1.06679639e-02, -5.12694783e-01],
        [ 6.23648827e+01, -8.27517978e-02, -7.49383913e-02, -1.02161838e-02, -7.94674443e-01],
        [ 5.65870499e+01, -1.96872850e-01,  7.51914834e-04, -9.10081258e-04, -7.09930202e-01],
        [ 4.24994550e+01, -2.11016188e-01,  6.09069035e-02, -1.81231539e-02, -4.77457217e-01],
        [-2.14328459e+01, -1.10104638e-01,  1.49349575e-01,  6.03212678e-02, -8.07877320e-01],
        [-2.19867996e+00, -2.70339554e-01,  1.31471068e-01,  3.76555596e-02, -2.86256851e-01],
        [-1.47870257e+00, -1.81814453e-01,  6.05766190e-02,  2.53249103e-02, -4.03482536e-01],
        [ 1.82043465e+01, -8.47889645e-02,  4.07402641e-02,  4.63736393e-02, -6.39961654e-01],
        [ 3.79804446e+01, -8.07903572e-02,  1.57565722e-02,  3.11881769e-02, -6.63573422e-01],
        [ 6.99553684e+01, -1.26813418e-01, -5.40839411e-02,  2.58703534e-02, -4.46280379e-01],
        [ 3.96152304e+01, -2.26646694e-02, -1.17153211e-01,  7.70230944e-02, -3.10693172e-01]])


def adam_updates(grads, alpha, beta1, beta2, eps):
    return np.array([
        [-3.71867634e-02, -2.14814372e-03,  2.41823465e-02, -3.99566553e-02, -6.27178200e-02],
        [-4.51444405e-02, -3.90225945e-03,  5.34826135e-02, -2.07466034e-02, -3.84574628e-02],
        [-5.24130402e-02,  7.71304832e-03,  3.03741302e-02, -3.23673858e-02, -2.68955852e-02],
        [-3.06189919e-03, -1.50784838e-02, -8.12210518e-03, -2.49350518e-02, -1.90800037e-02],
        [-3.23974866e-05, -9.65692087e-03,  1.35095224e-02, -4.31952992e-02, -2.90245718e-02],
        [ 4.02759513e-02, -3.12842798e-04,  3.67912311e-02, -4.46380421e-02,  2.00114437e-02],
        [ 5.19483772e-02,  1.73404085e-02,  2.55974403e-02, -3.73352127e-02,  2.15646218e-03]])


def momentum_constant_gradient_step(g, t, alpha, mu):
    # v_t = mu v_{t-1} - alpha g  => v_t = -alpha g (1 - mu^t)/(1 - mu)
    return -alpha*g*(1 - mu**t)/(1 - mu)


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    return -alpha*g/(Abs(g) + eps)


def momentum_scale_factor(c):
    return c


def adam_scale_factor(c):
    return sp.sign(c)


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    return -alpha*c*m_hat/(Abs(c)*sqrt(v_hat) + eps)


def adam_step_bound(m_hat, alpha, eps):
    return alpha*Abs(m_hat)/eps


def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    return np.array([[0.75330477, 0.76757179, 0.71393151, 0.24982355],
                     [1.00926912, 0.57138191, 0.380595  , 0.28873796],
                     [1.20747607, 0.41028147, 0.47248084, 0.35975553],
                     [1.32283592, 0.4731434 , 0.36381982, 0.283015  ],
                     [1.17093749, 0.47066415, 0.41700704, 0.28806561],
                     [1.13785926, 0.52812857, 0.36132058, 0.29389623],
                     [1.23927649, 0.56975102, 0.3304039 , 0.22551117],
                     [1.28610874, 0.56945648, 0.36097684, 0.24955   ]])


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    return {'momentum': 29.58009154540097, 'adam': 0.8015837744163564}


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    return {'momentum': 0.28615889245332227, 'adam': 0.5501015860257105}


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
