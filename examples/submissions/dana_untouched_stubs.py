"""Homework: Adam vs. SGD with momentum.

Fill in every function below; each one raises ``NotImplementedError`` until you do.
Read ``README.md`` first: it states the problem and the conventions the grader uses.
Run ``pytest`` in this folder to check your work against the public sample points.

Conventions (binding: the grader uses exactly these):

* Adam as in Kingma & Ba (2015), Algorithm 1: ``m_0 = v_0 = 0``, the step counter t starts
  at 1, bias correction divides by ``1 - beta**t``, and eps is added outside the square root
  of the bias-corrected second moment ``v_hat``.
* Momentum SGD: ``u_0 = 0``, ``u_t = mu * u_{t-1} + g_t``, ``w_{t+1} = w_t - alpha * u_t``.
* A "step" or "update" is ``dw_t = w_{t+1} - w_t``; it carries the minus sign.
* ``grads`` has shape ``(T, d)``: row ``t - 1`` is ``g_t`` and every column is its own
  parameter. Array answers have shape ``(T, d)``.
* Symbolic functions receive sympy symbols named like their parameters and must return sympy
  expressions (a plain number is fine where the answer is a constant).
"""

import numpy as np
import sympy as sp


# ---------------------------------------------------------------------------
# Part 1: the first two Adam updates, in closed form (6 points)
# ---------------------------------------------------------------------------

def adam_first_update(w1, g1, alpha, beta1, beta2, eps):
    """Adam's first update, t = 1, starting from m_0 = v_0 = 0.

    Arguments are sympy symbols. Express every quantity in terms of them.

    Returns a dict with the keys:
        "m1", "v1"          the raw first and second moments after g1,
        "m_hat1", "v_hat1"  the bias-corrected moments,
        "w2"                the parameter after the first update.
    """
    raise NotImplementedError("adam_first_update")


def adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):
    """Adam's second update, t = 2, after the gradients g1 and then g2.

    Arguments are sympy symbols. Express every quantity in terms of them (not in terms of
    m1, v1 or w2: substitute them).

    Returns a dict with the keys:
        "m2", "v2"          the raw moments after g2,
        "m_hat2", "v_hat2"  the bias-corrected moments,
        "w3"                the parameter after the second update.
    """
    raise NotImplementedError("adam_second_update")


# ---------------------------------------------------------------------------
# Part 2: compared with momentum SGD (5 points)
# ---------------------------------------------------------------------------

def momentum_updates(grads, alpha, mu):
    """Run momentum SGD over a gradient stream.

    grads: array of shape (T, d); row t - 1 is the gradient g_t. alpha, mu: floats.
    Returns an array of shape (T, d) holding the steps dw_t = w_{t+1} - w_t.
    """
    raise NotImplementedError("momentum_updates")


def adam_updates(grads, alpha, beta1, beta2, eps):
    """Run Adam over a gradient stream.

    grads: array of shape (T, d); row t - 1 is the gradient g_t. Hyperparameters: floats.
    Returns an array of shape (T, d) holding the steps dw_t = w_{t+1} - w_t. Your function
    must stay finite for every input, including all-zero gradients.
    """
    raise NotImplementedError("adam_updates")


def momentum_constant_gradient_step(g, t, alpha, mu):
    """The momentum step dw_t at step t when every gradient g_1 = ... = g_t equals g.

    g, alpha, mu are sympy symbols; t is a positive integer symbol. Return a sympy
    expression in closed form or as a sympy Sum.
    """
    raise NotImplementedError("momentum_constant_gradient_step")


def adam_constant_gradient_step(g, t, alpha, beta1, beta2, eps):
    """The Adam step dw_t at step t when every gradient g_1 = ... = g_t equals g.

    Arguments are sympy symbols (t a positive integer). Return a sympy expression.
    """
    raise NotImplementedError("adam_constant_gradient_step")


def momentum_scale_factor(c):
    """Every gradient g_t is replaced by c * g_t (c a nonzero real symbol).

    Return the factor by which every momentum step dw_t changes, as a sympy expression in c.
    """
    raise NotImplementedError("momentum_scale_factor")


def adam_scale_factor(c):
    """Every gradient g_t is replaced by c * g_t, and eps = 0.

    Return the factor by which every Adam step dw_t changes, as a sympy expression in c.
    """
    raise NotImplementedError("adam_scale_factor")


def adam_scaled_step(c, m_hat, v_hat, alpha, eps):
    """The Adam step (eps > 0) after every gradient has been multiplied by c.

    m_hat and v_hat are the bias-corrected moments of the *unscaled* gradients. Return the
    new step dw as a sympy expression in c, m_hat, v_hat, alpha and eps.
    """
    raise NotImplementedError("adam_scaled_step")


def adam_step_bound(m_hat, alpha, eps):
    """The tightest upper bound on |dw| of one Adam step that holds for every v_hat >= 0.

    Return a sympy expression in m_hat, alpha and eps.
    """
    raise NotImplementedError("adam_step_bound")


# ---------------------------------------------------------------------------
# Part 3: noisy gradients and sparse features (4 points)
# ---------------------------------------------------------------------------

def adam_effective_learning_rates(grads, alpha, beta1, beta2, eps):
    """Adam's effective learning rate alpha / (sqrt(v_hat_t) + eps) per step and coordinate.

    grads: array of shape (T, d). Returns an array of shape (T, d).
    """
    raise NotImplementedError("adam_effective_learning_rates")


def spike_response(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
    """How strongly does one outlying gradient change each optimizer's step?

    grads: 1-D array of length T (one parameter). t_spike: 1-based step index.
    Replace the gradient at step t_spike by `spike` and compare |dw| at step t_spike on the
    spiked stream with |dw| at the same step on the unchanged stream.

    Returns {"momentum": float, "adam": float}: spiked |dw| divided by unchanged |dw|.
    """
    raise NotImplementedError("spike_response")


def sparse_feature_boost(T, k, g, alpha, mu, beta1, beta2, eps):
    """How large is a rare feature's step compared with a dense feature's?

    Over T steps (T a multiple of k), a sparse coordinate sees the gradient g at steps
    k, 2k, ..., T and 0 at every other step; a dense coordinate sees g at every step.

    Returns {"momentum": float, "adam": float}: |dw_T| of the sparse coordinate divided by
    |dw_T| of the dense one.
    """
    raise NotImplementedError("sparse_feature_boost")


def concept_answers():
    """Your choices for the concept questions of Parts 3a and 3b.

    Return a dict mapping each key to one option string, exactly as spelled here:

    "3a_smaller_effective_step": In Adam, which coordinates get the smaller effective
        learning rate alpha / (sqrt(v_hat) + eps)?
        "all_coordinates_equal" | "consistently_large_gradients" | "small_or_rare_gradients"
    "3a_momentum_per_parameter": Does momentum SGD adapt its step size per parameter to the
        gradient scale?
        "no_one_global_alpha" | "yes_through_mu" | "yes_through_the_velocity_u"
    "3a_adam_adapts_through": Which quantity gives each Adam parameter its own step size?
        "first_moment_m_hat" | "second_moment_v_hat" | "the_global_alpha"
    "3a_doubling_all_gradients": All gradients double (eps negligible). What happens to the
        step sizes?
        "both_double" | "both_unchanged" | "momentum_doubles_adam_unchanged" |
        "momentum_unchanged_adam_doubles"
    "3b_spike_momentum": One gradient is a large noisy outlier. What does momentum SGD's
        step do?
        "barely_changes" | "becomes_zero" | "grows_in_proportion_to_the_spike"
    "3b_spike_adam": The same outlier hits Adam. What does Adam's step do?
        "becomes_zero" | "grows_far_less_than_the_spike" |
        "grows_in_proportion_to_the_spike"
    "3b_sparse_adam": A rare (sparse) feature finally gets a non-zero gradient. How large is
        its Adam step?
        "exactly_the_dense_step" | "relatively_large_because_v_hat_is_small" |
        "tiny_because_m_hat_is_small"
    "3b_sparse_momentum": The same rare feature under momentum SGD: what is its step?
        "about_alpha_times_the_gradient_no_boost" | "boosted_by_a_small_denominator" |
        "exactly_the_dense_step"
    """
    raise NotImplementedError("concept_answers")
