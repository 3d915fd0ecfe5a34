"""The misconception catalogue: named wrong answers, each a template judged like an answer.

One catalogue serves the grader and the student's public checks: the grader compares a
wrong answer with every template of its item (symbolically or numerically, with the same
engine as the reference); ``grader release`` evaluates the templates at the public sample
points only, so the student bundle holds names and values, never a formula.

Most Adam misconceptions are one change to the algorithm (no bias correction, eps inside
the square root, ...). They are described as an :class:`AdamVariant` and computed by the
small variant engine below, which follows the reference's update rule with that one
change; ``AdamVariant()`` with no change reproduces the reference (a test pins that).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np
import sympy

from grader.engine.expressions import ExpressionError, encode_sympy
from grader.engine.symbols import make_symbol, make_symbols


@dataclass(frozen=True)
class Misconception:
    """A named, recognisable mistake and what to say about it."""

    id: str
    title: str
    explanation: str


_ENTRIES = (
    Misconception("no_bias_correction", "No bias correction",
                  "m and v start at zero, so early on they are biased towards zero; Adam divides "
                  "them by (1 - beta**t) before using them."),
    Misconception("bias_correction_power_t_minus_1", "Bias correction with beta**(t-1)",
                  "At step t the correction divides by 1 - beta**t, with the step counter starting at 1."),
    Misconception("bias_correction_one_minus_beta_power", "Bias correction with (1 - beta)**t",
                  "The correction factor is 1 - beta**t, not (1 - beta)**t."),
    Misconception("only_m_corrected", "Only m bias-corrected",
                  "Both moments start at zero; v needs its own correction by 1 - beta2**t."),
    Misconception("only_v_corrected", "Only v bias-corrected",
                  "Both moments start at zero; m needs its own correction by 1 - beta1**t."),
    Misconception("bias_correction_multiplied", "Bias correction multiplied instead of divided",
                  "The biased moments are too small; correcting them divides by 1 - beta**t."),
    Misconception("eps_inside_sqrt", "eps inside the square root",
                  "In Kingma & Ba's Adam, eps is added after the square root: sqrt(v_hat) + eps."),
    Misconception("eps_hat_tensorflow", "TensorFlow/Keras epsilon placement",
                  "TensorFlow folds the bias correction into the step size "
                  "alpha * sqrt(1 - beta2**t) / (1 - beta1**t) and adds its epsilon to sqrt(v) "
                  "before correction; with the plain eps that amounts to eps / sqrt(1 - beta2**t) "
                  "next to sqrt(v_hat). It equals this homework's Adam only with "
                  "eps_hat = eps * sqrt(1 - beta2**t) in that form (and plain eps in Kingma & Ba's form)."),
    Misconception("sqrt_of_square_as_identity", "sqrt(g**2) written as g",
                  "For a real g, sqrt(g**2) is |g|, not g: the two differ when g < 0."),
    Misconception("eps_dropped", "eps dropped",
                  "The denominator is sqrt(v_hat) + eps; without eps the answer changes whenever eps > 0."),
    Misconception("ema_weights_swapped", "EMA weights swapped",
                  "The new gradient enters with weight (1 - beta), the old average with weight beta."),
    Misconception("betas_swapped", "beta1 and beta2 swapped",
                  "beta1 drives the first moment m, beta2 the second moment v."),
    Misconception("v_from_g_not_g_squared", "v built from g instead of g**2",
                  "The second moment averages squared gradients."),
    Misconception("sqrt_split_over_sum", "Square root split over a sum",
                  "sqrt(a + b) is not sqrt(a) + sqrt(b)."),
    Misconception("stale_moments_in_w3", "w3 uses the first step's moments",
                  "The second update uses the moments after g2: m_hat2 and v_hat2."),
    Misconception("ascent_sign_error", "Sign error (gradient ascent)",
                  "A descent step moves against the gradient: w_{t+1} = w_t - alpha * (...)."),
    Misconception("damped_momentum", "Momentum with a (1 - mu) damping factor",
                  "The homework's momentum is u_t = mu * u_{t-1} + g_t, with no (1 - mu) on g_t."),
    Misconception("momentum_steady_state_only", "Only the long-run momentum step",
                  "alpha * g / (1 - mu) is the limit as t grows; at step t only t gradients have "
                  "been summed."),
    Misconception("momentum_sum_off_by_one", "Off-by-one in the momentum sum",
                  "After t steps the velocity holds t gradients: powers mu**0 ... mu**(t-1)."),
    Misconception("adam_exactly_scale_invariant", "Adam claimed exactly scale-invariant with eps > 0",
                  "With eps > 0 the denominator is |c| sqrt(v_hat) + eps: eps does not scale with c, "
                  "so the step changes with c."),
    Misconception("adam_scales_like_momentum", "Adam claimed to scale like momentum",
                  "m_hat scales by c and sqrt(v_hat) by |c|; their ratio cancels the size of c."),
    Misconception("adam_scale_sign_lost", "Direction flip under negative scaling missed",
                  "c / |c| is -1 when c < 0: the step keeps its size but flips direction."),
    Misconception("momentum_claimed_scale_invariant", "Momentum claimed scale-invariant",
                  "Momentum's velocity is linear in the gradients, so every step scales with c."),
    Misconception("abs_c_for_c", "|c| used where c belongs",
                  "A negative c flips the gradient's sign, and so the step's direction."),
    Misconception("bound_alpha_over_eps", "Bound alpha / eps",
                  "The numerator still holds m_hat: the bound is reached at v_hat = 0."),
    Misconception("bound_sqrt_eps", "Bound with sqrt(eps)",
                  "eps is added outside the square root, so at v_hat = 0 the denominator is eps."),
    Misconception("bound_uses_raw_m", "Bound with m instead of m_hat",
                  "The step uses the bias-corrected moment m_hat."),
    Misconception("bound_without_abs", "Bound without an absolute value",
                  "A bound on |dw| must hold for m_hat of either sign."),
    Misconception("momentum_adapts_per_parameter", "Momentum claimed to adapt per parameter",
                  "Momentum multiplies every coordinate's velocity by the same global alpha."),
    Misconception("adam_large_gradients_bigger_steps", "Adam's large-gradient coordinates claimed to get larger steps",
                  "A large v_hat makes the denominator large, so those coordinates get smaller "
                  "effective steps."),
    Misconception("spike_not_normalised", "Adam's RMS normalisation of spikes missed",
                  "A spike also inflates v_hat, so Adam's step grows far less than the spike."),
    Misconception("sparse_no_boost", "Adam's boost for rare features missed",
                  "A rarely active coordinate keeps a small v_hat, so when its gradient arrives its "
                  "step is relatively large."),
)

CATALOGUE: Mapping[str, Misconception] = MappingProxyType({m.id: m for m in _ENTRIES})


# ---------------------------------------------------------------------------
# The Adam variant engine
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class AdamVariant:
    """Adam with at most a few deliberate changes (all defaults: Kingma & Ba's Adam)."""

    ema_swapped: bool = False
    betas_swapped: bool = False
    v_from_g: bool = False
    correct_m: str = "divide"        # divide | none | multiply | power_t_minus_1 | one_minus_beta_power
    correct_v: str = "divide"
    #: standard | eps_inside | eps_tf (TensorFlow's form with the plain eps) |
    #: eps_hat_kb (TensorFlow's eps_hat in Kingma & Ba's form) | no_eps | abs_dropped | sqrt_split
    denominator: str = "standard"
    ascent: bool = False
    stale_second_step: bool = False


def _correct(value, beta, t, how: str):
    if how == "divide":
        return value / (1 - beta**t)
    if how == "none":
        return value
    if how == "multiply":
        return value * (1 - beta**t)
    if how == "power_t_minus_1":
        return value / (1 - beta ** (t - 1))
    if how == "one_minus_beta_power":
        return value / (1 - beta) ** t
    raise ValueError(how)


def _sqrt(x, how: str):
    if not isinstance(x, sympy.Basic):
        return np.sqrt(x)
    root = sympy.sqrt(x)
    if how == "abs_dropped":
        return root.replace(sympy.Abs, lambda arg: arg)
    if how == "sqrt_split":
        return _split_sqrt(x)
    return root


def _split_sqrt(x):
    """sqrt(x) split over the sum of squared gradients, as students do it.

    ``v_hat2 = (1 - beta2)(beta2 g1**2 + g2**2) / (1 - beta2**2)`` becomes
    ``sqrt(1 - beta2) (sqrt(beta2 g1**2) + sqrt(g2**2)) / sqrt(1 - beta2**2)``: the root
    is split over each factor of the numerator that sums gradient terms, and nothing else
    (splitting ``1 - beta2`` would take roots of negative numbers).
    """
    numerator, denominator = sympy.fraction(sympy.together(x))
    gradients = {s for s in x.free_symbols if s.name in ("g", "g1", "g2")}
    root = sympy.Integer(1)
    for factor in sympy.Mul.make_args(numerator):
        if isinstance(factor, sympy.Add) and factor.free_symbols & gradients:
            root *= sympy.Add(*[sympy.sqrt(term) for term in sympy.Add.make_args(factor)])
        else:
            root *= sympy.sqrt(factor)
    return root / sympy.sqrt(denominator)


def variant_moments(variant: AdamVariant, m_prev, v_prev, g, t, beta1, beta2):
    """One moment update of the variant: ``(m, v, m_hat, v_hat)``."""
    b_m, b_v = (beta2, beta1) if variant.betas_swapped else (beta1, beta2)
    square = g if variant.v_from_g else g**2
    if variant.ema_swapped:
        m = (1 - b_m) * m_prev + b_m * g
        v = (1 - b_v) * v_prev + b_v * square
    else:
        m = b_m * m_prev + (1 - b_m) * g
        v = b_v * v_prev + (1 - b_v) * square
    return m, v, _correct(m, b_m, t, variant.correct_m), _correct(v, b_v, t, variant.correct_v)


def variant_step(variant: AdamVariant, m_hat, v_hat, alpha, eps, t, beta2):
    """The variant's step from bias-corrected moments."""
    how = variant.denominator
    if how == "eps_inside":
        denominator = _sqrt(v_hat + eps, how)
    elif how == "eps_tf":  # alpha_t m / (sqrt(v) + eps) with the plain eps
        denominator = _sqrt(v_hat, how) + eps / _sqrt(1 - beta2**t, how)
    elif how == "eps_hat_kb":  # eps_hat = eps sqrt(1 - beta2**t) put into Kingma & Ba's form
        denominator = _sqrt(v_hat, how) + eps * _sqrt(1 - beta2**t, how)
    elif how == "no_eps":
        denominator = _sqrt(v_hat, how)
    else:
        denominator = _sqrt(v_hat, how) + eps
    step = -alpha * m_hat / denominator
    return -step if variant.ascent else step


def variant_part1(variant: AdamVariant) -> dict:
    """All ten Part 1 quantities of the variant, as sympy expressions of the SPEC symbols."""
    S = make_symbols(["w1", "g1", "g2", "alpha", "beta1", "beta2", "eps"])
    b1, b2, a, e = S["beta1"], S["beta2"], S["alpha"], S["eps"]
    m1, v1, m_hat1, v_hat1 = variant_moments(variant, 0, 0, S["g1"], 1, b1, b2)
    w2 = S["w1"] + variant_step(variant, m_hat1, v_hat1, a, e, 1, b2)
    m2, v2, m_hat2, v_hat2 = variant_moments(variant, m1, v1, S["g2"], 2, b1, b2)
    if variant.stale_second_step:
        w3 = w2 + variant_step(variant, m_hat1, v_hat1, a, e, 1, b2)
    else:
        w3 = w2 + variant_step(variant, m_hat2, v_hat2, a, e, 2, b2)
    return {"m1": m1, "v1": v1, "m_hat1": m_hat1, "v_hat1": v_hat1, "w2": w2,
            "m2": m2, "v2": v2, "m_hat2": m_hat2, "v_hat2": v_hat2, "w3": w3}


def variant_history(variant: AdamVariant, grads: np.ndarray, alpha, beta1, beta2, eps):
    """Steps and the bias-corrected v of the variant over a ``(T, d)`` stream."""
    steps = np.empty_like(grads)
    v_hats = np.empty_like(grads)
    m = np.zeros(grads.shape[1])
    v = np.zeros(grads.shape[1])
    with np.errstate(all="ignore"):
        for index, g in enumerate(grads):
            t = index + 1
            m, v, m_hat, v_hats[index] = variant_moments(variant, m, v, g, t, beta1, beta2)
            step = variant_step(variant, m_hat, v_hats[index], alpha, eps, t, beta2)
            # the reference's convention: no gradient yet (0 / 0 without eps) is no step
            steps[index] = np.where((m_hat == 0) & (v_hats[index] == 0), 0.0, step)
    return steps, v_hats


def variant_effective_rates(variant: AdamVariant, grads, alpha, beta1, beta2, eps):
    """The variant's ``alpha / (denominator)`` per step and coordinate."""
    _, v_hats = variant_history(variant, grads, alpha, beta1, beta2, eps)
    unit = replace(variant, ascent=False)
    with np.errstate(all="ignore"):
        return np.stack([-variant_step(unit, np.ones(grads.shape[1]), v_hat, alpha, eps, index + 1, beta2)
                         for index, v_hat in enumerate(v_hats)])


def damped_momentum_steps(grads: np.ndarray, alpha, mu):
    """Momentum with ``u_t = mu u_{t-1} + (1 - mu) g_t`` (the damped EMA form)."""
    steps = np.empty_like(grads)
    u = np.zeros(grads.shape[1])
    for index, g in enumerate(grads):
        u = mu * u + (1 - mu) * g
        steps[index] = -alpha * u
    return steps


#: The Adam misconceptions that are one change to the algorithm.
ADAM_VARIANTS: Mapping[str, AdamVariant] = MappingProxyType({
    "no_bias_correction": AdamVariant(correct_m="none", correct_v="none"),
    "bias_correction_power_t_minus_1": AdamVariant(correct_m="power_t_minus_1", correct_v="power_t_minus_1"),
    "bias_correction_one_minus_beta_power": AdamVariant(correct_m="one_minus_beta_power",
                                                        correct_v="one_minus_beta_power"),
    "only_m_corrected": AdamVariant(correct_v="none"),
    "only_v_corrected": AdamVariant(correct_m="none"),
    "bias_correction_multiplied": AdamVariant(correct_m="multiply", correct_v="multiply"),
    "eps_inside_sqrt": AdamVariant(denominator="eps_inside"),
    "eps_hat_tensorflow": AdamVariant(denominator="eps_tf"),
    "eps_hat_tensorflow#2": AdamVariant(denominator="eps_hat_kb"),
    "sqrt_of_square_as_identity": AdamVariant(denominator="abs_dropped"),
    "eps_dropped": AdamVariant(denominator="no_eps"),
    "ema_weights_swapped": AdamVariant(ema_swapped=True),
    "betas_swapped": AdamVariant(betas_swapped=True),
    "v_from_g_not_g_squared": AdamVariant(v_from_g=True),
    "sqrt_split_over_sum": AdamVariant(denominator="sqrt_split"),
    "stale_moments_in_w3": AdamVariant(stale_second_step=True),
    "ascent_sign_error": AdamVariant(ascent=True),
})


# ---------------------------------------------------------------------------
# Symbolic templates per (function, key)
# ---------------------------------------------------------------------------

def _explicit_templates() -> dict[str, dict[str, sympy.Expr]]:
    g, t, a, mu, e = (make_symbol(n) for n in ("g", "t", "alpha", "mu", "eps"))
    b1, b2, c, m_hat, v_hat = (make_symbol(n) for n in ("beta1", "beta2", "c", "m_hat", "v_hat"))
    m_raw = sympy.Symbol("m", real=True)
    geometric = (1 - mu**t) / (1 - mu)
    return {
        "momentum_constant_gradient_step": {
            "damped_momentum": -a * g * (1 - mu**t),
            "momentum_steady_state_only": -a * g / (1 - mu),
            "momentum_sum_off_by_one": -a * g * (1 - mu ** (t + 1)) / (1 - mu),
            "ascent_sign_error": a * g * geometric,
        },
        "adam_constant_gradient_step": {
            "no_bias_correction": -a * g * (1 - b1**t) / (sympy.sqrt(1 - b2**t) * sympy.Abs(g) + e),
            "only_m_corrected": -a * g / (sympy.sqrt(1 - b2**t) * sympy.Abs(g) + e),
            "only_v_corrected": -a * g * (1 - b1**t) / (sympy.Abs(g) + e),
            "bias_correction_multiplied": -a * g * (1 - b1**t) ** 2 / ((1 - b2**t) * sympy.Abs(g) + e),
            "bias_correction_power_t_minus_1": -a * g * (1 - b1**t) / (1 - b1 ** (t - 1))
            / (sympy.Abs(g) * sympy.sqrt((1 - b2**t) / (1 - b2 ** (t - 1))) + e),
            "v_from_g_not_g_squared": -a * g / (sympy.sqrt(g) + e),
            "eps_inside_sqrt": -a * g / sympy.sqrt(g**2 + e),
            "eps_hat_tensorflow": -a * g / (sympy.Abs(g) + e / sympy.sqrt(1 - b2**t)),
            "sqrt_of_square_as_identity": -a * g / (g + e),
            "eps_dropped": -a * sympy.sign(g),
            "ascent_sign_error": a * g / (sympy.Abs(g) + e),
        },
        "momentum_scale_factor": {
            "momentum_claimed_scale_invariant": sympy.Integer(1),
            "abs_c_for_c": sympy.Abs(c),
        },
        "adam_scale_factor": {
            "adam_scales_like_momentum": c,
            "adam_scale_sign_lost": sympy.Integer(1),
        },
        "adam_scaled_step": {
            "adam_exactly_scale_invariant": -a * m_hat / (sympy.sqrt(v_hat) + e),
            "adam_scales_like_momentum": -a * c * m_hat / (sympy.sqrt(v_hat) + e),
            "sqrt_of_square_as_identity": -a * c * m_hat / (c * sympy.sqrt(v_hat) + e),
            "eps_inside_sqrt": -a * c * m_hat / sympy.sqrt(c**2 * v_hat + e),
            "eps_dropped": -a * c * m_hat / (sympy.Abs(c) * sympy.sqrt(v_hat)),
            "ascent_sign_error": a * c * m_hat / (sympy.Abs(c) * sympy.sqrt(v_hat) + e),
        },
        "adam_scaled_step#sign": {  # a second template of the same misconception
            "adam_exactly_scale_invariant": -a * sympy.sign(c) * m_hat / (sympy.sqrt(v_hat) + e),
        },
        "adam_step_bound": {
            "bound_alpha_over_eps": a / e,
            "bound_sqrt_eps": a * sympy.Abs(m_hat) / sympy.sqrt(e),
            "bound_uses_raw_m": a * sympy.Abs(m_raw) / e,
            "bound_without_abs": a * m_hat / e,
        },
        "adam_constant_gradient_step#hat": {
            "eps_hat_tensorflow": -a * g / (sympy.Abs(g) + e * sympy.sqrt(1 - b2**t)),
        },
        "adam_step_bound#raw": {
            "bound_uses_raw_m": a * m_raw / e,
        },
    }


def symbolic_templates(function: str, key: str | None = None) -> dict[str, list]:
    """Misconception id -> template tree for one symbolic answer (a dict key where it has one).

    Templates that have no finite value, or that cannot be encoded, are left out; so is a
    variant that gives the reference's own answer for this key (it names nothing).
    """
    return dict(_build_templates().get((function, key), {}))


@functools.cache
def _build_templates() -> dict:
    """Every symbolic template, built once per process on first use (it takes sympy ~0.2 s)."""
    out: dict = {}
    first_keys = ("m1", "v1", "m_hat1", "v_hat1", "w2")
    correct = variant_part1(AdamVariant())
    for ident, variant in ADAM_VARIANTS.items():
        values = variant_part1(variant)
        for key, expr in values.items():
            if sympy.srepr(expr) == sympy.srepr(correct[key]):
                continue
            function = "adam_first_update" if key in first_keys else "adam_second_update"
            _add(out, (function, key), ident, expr)
    for name, templates in _explicit_templates().items():
        function = name.split("#")[0]
        for ident, expr in templates.items():
            _add(out, (function, None), ident, expr, suffix="#" in name)
    return out


def _add(out: dict, where: tuple, ident: str, expr, suffix: bool = False) -> None:
    try:
        tree = encode_sympy(expr)
    except (ExpressionError, RecursionError):
        return
    label = ident + ("#2" if suffix else "")
    out.setdefault(where, {})[label] = tree




def template_id(label: str) -> str:
    """The misconception id of a template label (a second template carries a ``#2``)."""
    return label.split("#")[0]


# ---------------------------------------------------------------------------
# Numeric templates (computed per set of hidden inputs)
# ---------------------------------------------------------------------------

NumericTemplate = Callable[..., np.ndarray]

# Numeric templates are keyed by plain catalogue ids (the student bundle looks them up), so
# each misconception has one numeric form: TensorFlow's placement is the plain-eps one.

_NUMERIC_ADAM = ("no_bias_correction", "bias_correction_one_minus_beta_power", "only_m_corrected",
                 "only_v_corrected", "bias_correction_multiplied", "eps_inside_sqrt",
                 "eps_hat_tensorflow", "eps_dropped", "ema_weights_swapped",
                 "betas_swapped", "v_from_g_not_g_squared", "ascent_sign_error")


def numeric_templates(function: str) -> dict[str, NumericTemplate]:
    """Misconception id -> function of the same arguments, for one numeric function."""
    if function == "adam_updates":
        return {ident: (lambda v: lambda grads, alpha, beta1, beta2, eps:
                        variant_history(v, grads, alpha, beta1, beta2, eps)[0])(ADAM_VARIANTS[ident])
                for ident in _NUMERIC_ADAM}
    if function == "adam_effective_learning_rates":
        return {ident: (lambda v: lambda grads, alpha, beta1, beta2, eps:
                        variant_effective_rates(v, grads, alpha, beta1, beta2, eps))(ADAM_VARIANTS[ident])
                for ident in ("no_bias_correction", "bias_correction_one_minus_beta_power",
                              "only_m_corrected", "bias_correction_multiplied", "eps_inside_sqrt",
                              "eps_hat_tensorflow", "eps_dropped", "betas_swapped",
                              "v_from_g_not_g_squared", "ema_weights_swapped")}
    if function == "momentum_updates":
        from reference.adam_vs_momentum import momentum_updates

        return {"damped_momentum": damped_momentum_steps,
                "ascent_sign_error": lambda grads, alpha, mu: -momentum_updates(grads, alpha, mu)}
    return {}


#: Wrong concept options that are a named misconception: (key, option) -> id.
CONCEPT_MISCONCEPTIONS: Mapping[tuple[str, str], str] = MappingProxyType({
    ("3a_momentum_per_parameter", "yes_through_mu"): "momentum_adapts_per_parameter",
    ("3a_momentum_per_parameter", "yes_through_the_velocity_u"): "momentum_adapts_per_parameter",
    ("3a_smaller_effective_step", "small_or_rare_gradients"): "adam_large_gradients_bigger_steps",
    ("3a_doubling_all_gradients", "both_double"): "adam_scales_like_momentum",
    ("3b_spike_adam", "grows_in_proportion_to_the_spike"): "spike_not_normalised",
    ("3b_sparse_adam", "tiny_because_m_hat_is_small"): "sparse_no_boost",
    ("3b_sparse_adam", "exactly_the_dense_step"): "sparse_no_boost",
})
