"""The misconception templates: named wrong answers, each judged like an answer.

One catalogue serves the grader and the student's public checks: the grader compares a
wrong answer with every template of its item (symbolically or numerically, with the same
engine as the reference); ``grader release`` evaluates the templates at the public sample
points only, so the student bundle holds names and values, never a formula.

Most Adam misconceptions are one change to the algorithm (no bias correction, eps inside
the square root, ...). They are described as an :class:`AdamVariant` and computed by the
small variant engine below, which follows the reference's update rule with that one
change; ``AdamVariant()`` with no change reproduces the reference (a test pins that). Two
such changes together are a *pair* (label ``a+b``): pair templates are built on first use
only, and compared only with answers that no single mistake explains.

The names and words of the mistakes are plain data in :mod:`grader.judging.catalogue`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np
import sympy

from grader.engine.explain import label_ids
from grader.engine.expressions import ExpressionError, encode_sympy
from grader.engine.symbols import make_symbol, make_symbols
from grader.judging.catalogue import CATALOGUE, CONCEPT_MISCONCEPTIONS, Misconception

__all__ = ["CATALOGUE", "CONCEPT_MISCONCEPTIONS", "Misconception", "AdamVariant", "ADAM_VARIANTS", "Memo",
           "NO_MEMO",
           "adam_pairs", "variant_part1", "variant_history", "variant_effective_rates",
           "symbolic_templates", "differing_labels", "numeric_templates", "template_id"]


# ---------------------------------------------------------------------------
# The Adam variant engine
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class AdamVariant:
    """Adam with at most a few deliberate changes (all defaults: Kingma & Ba's Adam)."""

    #: which moments have the EMA weights swapped: "" (none), "m", "v" or "mv"
    ema_swapped: str = ""
    betas_swapped: bool = False
    v_from_g: bool = False
    #: divide | none | multiply | power_t_minus_1 | power_t_plus_1 | stuck_at_1 | one_minus_beta_power
    correct_m: str = "divide"
    correct_v: str = "divide"
    #: standard | eps_inside | eps_tf (TensorFlow's form with the plain eps) |
    #: eps_hat_kb (TensorFlow's eps_hat in Kingma & Ba's form) | no_eps | abs_dropped | sqrt_split | no_sqrt
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
    if how == "power_t_plus_1":
        return value / (1 - beta ** (t + 1))
    if how == "stuck_at_1":
        return value / (1 - beta)
    if how == "one_minus_beta_power":
        return value / (1 - beta) ** t
    raise ValueError(how)


def _sqrt(x, how: str):
    if how == "no_sqrt":
        return x
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


def _betas(variant: AdamVariant, beta1, beta2):
    return (beta2, beta1) if variant.betas_swapped else (beta1, beta2)


def variant_moments(variant: AdamVariant, m_prev, v_prev, g, t, beta1, beta2):
    """One moment update of the variant: ``(m, v, m_hat, v_hat)``."""
    b_m, b_v = _betas(variant, beta1, beta2)
    square = g if variant.v_from_g else g**2
    m = ((1 - b_m) * m_prev + b_m * g) if "m" in variant.ema_swapped else (b_m * m_prev + (1 - b_m) * g)
    v = ((1 - b_v) * v_prev + b_v * square) if "v" in variant.ema_swapped else (b_v * v_prev + (1 - b_v) * square)
    return m, v, _correct(m, b_m, t, variant.correct_m), _correct(v, b_v, t, variant.correct_v)


def variant_step(variant: AdamVariant, m_hat, v_hat, alpha, eps, t, beta2):
    """The variant's step from bias-corrected moments."""
    how = variant.denominator
    step = -alpha * m_hat / _denominator(how, v_hat, eps, lambda: _sqrt(1 - beta2**t, how))
    return -step if variant.ascent else step


def _denominator(how: str, v_hat, eps, root):
    """The variant's denominator for the bias-corrected ``v_hat`` (a value, or one row per
    step); ``root()`` gives sqrt(1 - beta2**t) in the same shape, asked for only by the two
    variants that use it."""
    if how == "eps_inside":
        return _sqrt(v_hat + eps, how)
    if how == "eps_tf":  # alpha_t m / (sqrt(v) + eps) with the plain eps
        return _sqrt(v_hat, how) + eps / root()
    if how == "eps_hat_kb":  # eps_hat = eps sqrt(1 - beta2**t) put into Kingma & Ba's form
        return _sqrt(v_hat, how) + eps * root()
    if how == "no_eps":
        return _sqrt(v_hat, how)
    return _sqrt(v_hat, how) + eps


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


def variant_constant_gradient_step(variant: AdamVariant):
    """The variant's step at step t when every gradient equals g (sympy, SPEC symbols).

    An EMA started at zero that keeps ``keep`` of its old value holds ``x (1 - keep**t)``
    after t steps of a constant x.
    """
    g, t, a, b1, b2, e = (make_symbol(n) for n in ("g", "t", "alpha", "beta1", "beta2", "eps"))
    b_m, b_v = _betas(variant, b1, b2)
    keep_m = 1 - b_m if "m" in variant.ema_swapped else b_m
    keep_v = 1 - b_v if "v" in variant.ema_swapped else b_v
    square = g if variant.v_from_g else g**2
    m_hat = _correct(g * (1 - keep_m**t), b_m, t, variant.correct_m)
    v_hat = _correct(square * (1 - keep_v**t), b_v, t, variant.correct_v)
    return variant_step(variant, m_hat, v_hat, a, e, t, b2)


class Memo:
    """Values of pure computations remembered by content, for one submission's judging.

    Many templates share a computation (the raw moments of the variants that change only the
    corrections or the step; the reference's momentum steps in every ratio template), so each is
    computed once per submission. Each kind holds at most ``bound`` entries (cleared when full).
    ``Memo(enabled=False)`` (:data:`NO_MEMO`) remembers nothing: every value is computed where it
    is asked for, which is what ``cache=False`` asks of the judging. A memo is local to the one
    judging that made it: nothing is shared between submissions or threads.
    """

    __slots__ = ("enabled", "_kinds")

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._kinds: dict = {}

    def get(self, kind: str, key: tuple, bound: int, compute: Callable[[], object]):
        """The value of ``compute()`` for ``key`` (computed on the first request only)."""
        if not self.enabled:
            return compute()
        entries = self._kinds.setdefault(kind, {})
        if key not in entries:
            if len(entries) >= bound:
                entries.clear()
            entries[key] = compute()
        return entries[key]


#: The memo that remembers nothing (the default, and ``cache=False``).
NO_MEMO = Memo(enabled=False)


def variant_history(variant: AdamVariant, grads: np.ndarray, alpha, beta1, beta2, eps, *, memo: Memo = NO_MEMO):
    """Steps and the bias-corrected v of the variant over a ``(T, d)`` stream.

    The moments are a recurrence, computed step by step; the corrections and the steps are
    then computed for all steps at once, with the same operations on the same numbers as
    :func:`variant_moments` and :func:`variant_step` one step at a time (so the very same
    floats: :func:`_variant_history_stepwise` is the step-by-step form, and a test pins
    that both agree bit for bit on every variant and pair).
    """
    if not (isinstance(grads, np.ndarray) and grads.dtype == np.float64 and grads.ndim == 2):
        return _variant_history_stepwise(variant, grads, alpha, beta1, beta2, eps)
    T = grads.shape[0]
    b_m, b_v = _betas(variant, beta1, beta2)
    ms, vs = _moments(grads, b_m, b_v, "m" in variant.ema_swapped, "v" in variant.ema_swapped, variant.v_from_g, memo)
    with np.errstate(all="ignore"):
        m_hats = _correct_rows(ms, b_m, T, variant.correct_m)
        v_hats = _correct_rows(vs, b_v, T, variant.correct_v)
        steps = _step_rows(variant, m_hats, v_hats, alpha, eps, beta2)
        # the reference's convention: no gradient yet (0 / 0 without eps) is no step
        steps = np.where((m_hats == 0) & (v_hats == 0), 0.0, steps)
    return steps, (v_hats if v_hats is not vs else vs.copy())


def _moments(grads: np.ndarray, b_m, b_v, swapped_m: bool, swapped_v: bool, v_from_g: bool, memo: Memo):
    """The raw moments m_t, v_t of every step (read-only arrays). Many variants share them
    (they change the corrections or the step only): ``memo`` remembers the last few."""
    key = (grads.shape, grads.tobytes(), type(b_m), repr(b_m), type(b_v), repr(b_v), swapped_m, swapped_v, v_from_g)
    return memo.get("moments", key, 32, lambda: _raw_moments(grads, b_m, b_v, swapped_m, swapped_v, v_from_g))


def _raw_moments(grads: np.ndarray, b_m, b_v, swapped_m: bool, swapped_v: bool, v_from_g: bool):
    d = grads.shape[1]
    ms, vs = np.empty_like(grads), np.empty_like(grads)
    m, v = np.zeros(d), np.zeros(d)
    with np.errstate(all="ignore"):
        for index, g in enumerate(grads):
            square = g if v_from_g else g**2
            m = ((1 - b_m) * m + b_m * g) if swapped_m else (b_m * m + (1 - b_m) * g)
            v = ((1 - b_v) * v + b_v * square) if swapped_v else (b_v * v + (1 - b_v) * square)
            ms[index], vs[index] = m, v
    ms.flags.writeable = vs.flags.writeable = False
    return ms, vs


def _step_rows(variant: AdamVariant, m_hats: np.ndarray, v_hats: np.ndarray, alpha, eps, beta2) -> np.ndarray:
    """:func:`variant_step` of every row ``t - 1`` (steps t = 1..T) at once."""
    T = m_hats.shape[0]
    how = variant.denominator
    roots = lambda: _column([_sqrt(1 - beta2**t, how) for t in range(1, T + 1)])  # noqa: E731
    step = -alpha * m_hats / _denominator(how, v_hats, eps, roots)
    return -step if variant.ascent else step


def _column(values) -> np.ndarray:
    return np.array(values, dtype=np.float64)[:, None]


def _correct_rows(values: np.ndarray, beta, T: int, how: str) -> np.ndarray:
    """:func:`_correct` of every row ``t - 1`` of ``values`` (steps t = 1..T) at once."""
    if how == "none":
        return values
    if how == "multiply":
        return values * _column([1 - beta**t for t in range(1, T + 1)])
    divisors = {"divide": lambda t: 1 - beta**t, "power_t_minus_1": lambda t: 1 - beta ** (t - 1),
                "power_t_plus_1": lambda t: 1 - beta ** (t + 1), "stuck_at_1": lambda t: 1 - beta,
                "one_minus_beta_power": lambda t: (1 - beta) ** t}
    if how not in divisors:
        raise ValueError(how)
    return values / _column([divisors[how](t) for t in range(1, T + 1)])


def _variant_history_stepwise(variant: AdamVariant, grads: np.ndarray, alpha, beta1, beta2, eps):
    """:func:`variant_history` one step at a time (any array of gradients)."""
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


def variant_effective_rates(variant: AdamVariant, grads, alpha, beta1, beta2, eps, *, memo: Memo = NO_MEMO):
    """The variant's ``alpha / (denominator)`` per step and coordinate."""
    _, v_hats = variant_history(variant, grads, alpha, beta1, beta2, eps, memo=memo)
    unit = replace(variant, ascent=False)
    with np.errstate(all="ignore"):
        if isinstance(v_hats, np.ndarray) and v_hats.dtype == np.float64 and v_hats.ndim == 2 and len(v_hats):
            # all steps at once: the same operations on the same floats as step by step below
            return -_step_rows(unit, np.ones(v_hats.shape), v_hats, alpha, eps, beta2)
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


#: The Adam misconceptions that are one change to the algorithm (label -> variant; a label
#: with ``#`` is a second form of the same mistake: in one moment only, another placement).
ADAM_VARIANTS: Mapping[str, AdamVariant] = MappingProxyType({
    "no_bias_correction": AdamVariant(correct_m="none", correct_v="none"),
    "bias_correction_power_t_minus_1": AdamVariant(correct_m="power_t_minus_1", correct_v="power_t_minus_1"),
    "bias_correction_power_t_plus_1": AdamVariant(correct_m="power_t_plus_1", correct_v="power_t_plus_1"),
    "step_counter_never_incremented": AdamVariant(correct_m="stuck_at_1", correct_v="stuck_at_1"),
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
    "sqrt_dropped": AdamVariant(denominator="no_sqrt"),
    "ema_weights_swapped": AdamVariant(ema_swapped="mv"),
    "ema_weights_swapped#m": AdamVariant(ema_swapped="m"),
    "ema_weights_swapped#v": AdamVariant(ema_swapped="v"),
    "betas_swapped": AdamVariant(betas_swapped=True),
    "v_from_g_not_g_squared": AdamVariant(v_from_g=True),
    "sqrt_split_over_sum": AdamVariant(denominator="sqrt_split"),
    "stale_moments_in_w3": AdamVariant(stale_second_step=True),
    "ascent_sign_error": AdamVariant(ascent=True),
})

_DEFAULT = AdamVariant()


def _changes(variant: AdamVariant) -> dict:
    return {name: getattr(variant, name) for name in variant.__dataclass_fields__
            if getattr(variant, name) != getattr(_DEFAULT, name)}


@functools.cache
def adam_pairs() -> Mapping[str, AdamVariant]:
    """Every two single mistakes that can be made together (label ``a+b``, in catalogue order).

    Two changes combine when they touch different parts of the algorithm; second forms of
    one mistake pair like their first form.
    """
    labels = list(ADAM_VARIANTS)
    out = {}
    for i, first in enumerate(labels):
        for second in labels[i + 1:]:
            if label_ids(first) == label_ids(second):
                continue
            a, b = _changes(ADAM_VARIANTS[first]), _changes(ADAM_VARIANTS[second])
            if set(a) & set(b):
                continue
            out[f"{first}+{second}"] = replace(_DEFAULT, **a, **b)
    return MappingProxyType(out)


# ---------------------------------------------------------------------------
# Symbolic templates per (function, key)
# ---------------------------------------------------------------------------

def _explicit_templates() -> dict[str, dict[str, sympy.Expr]]:
    """Templates that are not a variant of Adam's algorithm (label -> expression)."""
    g, t, a, mu, e = (make_symbol(n) for n in ("g", "t", "alpha", "mu", "eps"))
    c, m_hat, v_hat = (make_symbol(n) for n in ("c", "m_hat", "v_hat"))
    m_raw = sympy.Symbol("m", real=True)
    geometric = (1 - mu**t) / (1 - mu)
    return {
        "momentum_constant_gradient_step": {
            "damped_momentum": -a * g * (1 - mu**t),
            "momentum_steady_state_only": -a * g / (1 - mu),
            "momentum_sum_off_by_one": -a * g * (1 - mu ** (t + 1)) / (1 - mu),
            "momentum_sum_off_by_one#2": -a * g * (1 - mu ** (t - 1)) / (1 - mu),
            "ascent_sign_error": a * g * geometric,
            "damped_momentum+ascent_sign_error": a * g * (1 - mu**t),
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
            "adam_exactly_scale_invariant#sign": -a * sympy.sign(c) * m_hat / (sympy.sqrt(v_hat) + e),
            "adam_scales_like_momentum": -a * c * m_hat / (sympy.sqrt(v_hat) + e),
            "sqrt_of_square_as_identity": -a * c * m_hat / (c * sympy.sqrt(v_hat) + e),
            "eps_inside_sqrt": -a * c * m_hat / sympy.sqrt(c**2 * v_hat + e),
            "eps_dropped": -a * c * m_hat / (sympy.Abs(c) * sympy.sqrt(v_hat)),
            "ascent_sign_error": a * c * m_hat / (sympy.Abs(c) * sympy.sqrt(v_hat) + e),
        },
        "adam_step_bound": {
            "bound_alpha_over_eps": a / e,
            "bound_sqrt_eps": a * sympy.Abs(m_hat) / sympy.sqrt(e),
            "bound_uses_raw_m": a * sympy.Abs(m_raw) / e,
            "bound_uses_raw_m#raw": a * m_raw / e,
            "bound_without_abs": a * m_hat / e,
        },
    }


#: Variants that change nothing in the closed form of a constant-gradient step (they act on
#: how a sum is written, or on the second update only).
_NO_CLOSED_FORM = ("sqrt_split_over_sum", "stale_moments_in_w3")


def symbolic_templates(function: str, key: str | None = None, *, pairs: bool = False) -> dict[str, list]:
    """Label -> template tree for one symbolic answer (a dict key where it has one).

    ``pairs=False``: the single mistakes; ``pairs=True``: two mistakes together (built on
    first use). Templates that cannot be encoded, and those that give the reference's own
    answer for this key (they name nothing), are left out.
    """
    return dict((_build_pair_templates() if pairs else _build_templates())[0].get((function, key), {}))


def differing_labels(function: str, key: str | None = None, *, pairs: bool = False) -> frozenset:
    """Every Adam-variant label whose answer for this key is not the reference's, including
    those whose answer has no template (``1 / (1 - beta**0)`` at the first step)."""
    return frozenset((_build_pair_templates() if pairs else _build_templates())[1].get((function, key), ()))


_FIRST_KEYS = ("m1", "v1", "m_hat1", "v_hat1", "w2")


def _variant_templates(variants: Mapping[str, AdamVariant]) -> tuple[dict, dict]:
    """Part 1 and constant-gradient templates of some variants, by (function, key), and the
    labels that differ from the reference there (with a template or not)."""
    out: dict = {}
    differs: dict = {}
    correct = variant_part1(_DEFAULT)
    constant = variant_constant_gradient_step(_DEFAULT)
    for label, variant in variants.items():
        for key, expr in variant_part1(variant).items():
            if expr == correct[key]:
                continue
            where = ("adam_first_update" if key in _FIRST_KEYS else "adam_second_update", key)
            differs.setdefault(where, set()).add(label)
            _add(out, where, label, expr)
        if not any(ident in _NO_CLOSED_FORM for ident in label_ids(label)):
            expr = variant_constant_gradient_step(variant)
            if expr != constant:
                _add(out, ("adam_constant_gradient_step", None), label, expr)
    return out, differs


@functools.cache
def _build_templates() -> dict:
    """Every single-mistake template, built once per process on first use (sympy: ~0.3 s)."""
    out, differs = _variant_templates(ADAM_VARIANTS)
    for function, templates in _explicit_templates().items():
        for label, expr in templates.items():
            _add(out, (function, None), label, expr)
    return out, differs


@functools.cache
def _build_pair_templates() -> dict:
    """Every two-mistake template, built once per process when first needed."""
    return _variant_templates(adam_pairs())


def _add(out: dict, where: tuple, label: str, expr) -> None:
    try:
        tree = encode_sympy(expr)
    except (ExpressionError, RecursionError, TypeError, ValueError):
        return
    out.setdefault(where, {})[label] = tree


def template_id(label: str) -> str:
    """The (first) misconception id of a template label."""
    return label_ids(label)[0]


# ---------------------------------------------------------------------------
# Numeric templates (computed per set of hidden inputs)
# ---------------------------------------------------------------------------

NumericTemplate = Callable[..., object]

#: Variants that change nothing numerically (they act on how a formula is written, or on
#: the symbolic second update only).
_SYMBOLIC_ONLY = ("sqrt_of_square_as_identity", "sqrt_split_over_sum", "stale_moments_in_w3")


def _numeric(variants: Mapping[str, AdamVariant]) -> dict[str, AdamVariant]:
    return {label: variant for label, variant in variants.items()
            if not any(ident in _SYMBOLIC_ONLY for ident in label_ids(label)) and "#2" not in label}


def _adam_steps(variant, memo: Memo):
    return lambda grads, alpha, beta1, beta2, eps: variant_history(variant, grads, alpha, beta1, beta2, eps,
                                                                   memo=memo)[0]


def _adam_rates(variant, memo: Memo):
    return lambda grads, alpha, beta1, beta2, eps: variant_effective_rates(variant, grads, alpha, beta1, beta2, eps,
                                                                           memo=memo)


def _positions(steps_of):
    """Where w has moved to after each step (``w_{t+1} - w_1``) instead of the steps."""
    return lambda *args: np.cumsum(steps_of(*args), axis=0)


def _positions_before(steps_of):
    """Where w is before each step (``w_t - w_1``, a first row of zeros)."""
    return lambda *args: np.concatenate([np.zeros_like(steps_of(*args)[:1]),
                                         np.cumsum(steps_of(*args), axis=0)[:-1]])


def _spike_at(shift: int):
    from reference.adam_vs_momentum import spike_response

    def template(grads, t_spike, *rest):
        return spike_response(grads, t_spike + shift, *rest)
    return template


def numeric_templates(function: str, *, pairs: bool = False, memo: Memo = NO_MEMO) -> dict[str, NumericTemplate]:
    """Label -> function of the same arguments, for one numeric function.

    ``pairs=True``: two mistakes together. A template may return a value equal to the
    reference's on some inputs (a mistake in m leaves the effective rates unchanged): the
    caller leaves those out. ``spike_response`` templates return its dict. The templates
    share their common computations through ``memo`` (same values with or without it).
    """
    from reference.adam_vs_momentum import momentum_updates

    adam = _numeric(adam_pairs() if pairs else ADAM_VARIANTS)
    if function == "adam_updates":
        out = {label: _adam_steps(variant, memo) for label, variant in adam.items()}
        if not pairs:
            out["positions_instead_of_steps"] = _positions(_adam_steps(_DEFAULT, memo))
            out["positions_instead_of_steps#before"] = _positions_before(_adam_steps(_DEFAULT, memo))
        return out
    if function == "adam_effective_learning_rates":
        return {label: _adam_rates(variant, memo) for label, variant in adam.items()
                if not any(ident in ("ascent_sign_error", "only_v_corrected") for ident in label_ids(label))
                and "#m" not in label}
    if function == "momentum_updates":
        if pairs:
            return {"damped_momentum+ascent_sign_error": lambda grads, alpha, mu: -damped_momentum_steps(grads, alpha, mu),
                    "damped_momentum+positions_instead_of_steps": _positions(damped_momentum_steps)}
        return {"damped_momentum": damped_momentum_steps,
                "ascent_sign_error": lambda grads, alpha, mu: -momentum_updates(grads, alpha, mu),
                "positions_instead_of_steps": _positions(momentum_updates),
                "positions_instead_of_steps#before": _positions_before(momentum_updates)}
    if function in ("spike_response", "sparse_feature_boost"):
        ratio = _spike_ratio if function == "spike_response" else _sparse_ratio
        out = {label: ratio(momentum_updates, _adam_steps(variant, memo), memo) for label, variant in adam.items()}
        if not pairs:
            reference_adam = _adam_steps(_DEFAULT, memo)
            out["damped_momentum"] = ratio(damped_momentum_steps, reference_adam, memo)
            out["positions_instead_of_steps"] = ratio(_positions(momentum_updates), reference_adam, memo)
            out["positions_instead_of_steps#adam"] = ratio(momentum_updates, _positions(reference_adam), memo)
            out["positions_instead_of_steps#both"] = ratio(_positions(momentum_updates), _positions(reference_adam), memo)
            if function == "spike_response":
                out.update({"t_spike_off_by_one": _spike_at(1), "t_spike_off_by_one#2": _spike_at(-1)})
        return out
    return {}


# The ratios of Part 3b, computed with a student's mistaken optimizer in place of the
# reference's (the definitions are the reference's: see its spike_response and
# sparse_feature_boost docstrings).

def _momentum_of(momentum_steps, both: np.ndarray, alpha, mu, memo: Memo) -> np.ndarray:
    """``momentum_steps(both, alpha, mu)``; the reference's steps are remembered in ``memo``
    for the last few streams (every Adam template of a ratio case shares them)."""
    from reference.adam_vs_momentum import momentum_updates

    if momentum_steps is not momentum_updates:
        return momentum_steps(both, alpha, mu)

    def steps():
        out = momentum_steps(both, alpha, mu)
        out.flags.writeable = False
        return out
    key = (both.dtype.str, both.shape, both.tobytes(), type(alpha), repr(alpha), type(mu), repr(mu))
    return memo.get("momentum", key, 4, steps)


def _ratios_at(t: int, columns, momentum_steps, adam_steps, alpha, mu, beta1, beta2, eps, memo: Memo) -> dict:
    both = np.stack(columns, axis=1)
    out = {}
    with np.errstate(all="ignore"):
        for name, steps in (("momentum", _momentum_of(momentum_steps, both, alpha, mu, memo)),
                            ("adam", adam_steps(both, alpha, beta1, beta2, eps))):
            first, second = np.abs(steps[t - 1])
            out[name] = float(first / second)
    return out


def _spike_ratio(momentum_steps, adam_steps, memo: Memo):
    def template(grads, t_spike, spike, alpha, mu, beta1, beta2, eps):
        stream = np.asarray(grads, dtype=np.float64)
        spiked = stream.copy()
        spiked[t_spike - 1] = spike
        return _ratios_at(t_spike, (spiked, stream), momentum_steps, adam_steps, alpha, mu, beta1, beta2, eps, memo)
    return template


def _sparse_ratio(momentum_steps, adam_steps, memo: Memo):
    def template(T, k, g, alpha, mu, beta1, beta2, eps):
        sparse = np.where(np.arange(1, T + 1) % k == 0, g, 0.0)
        return _ratios_at(T, (sparse, np.full(T, g)), momentum_steps, adam_steps, alpha, mu, beta1, beta2, eps, memo)
    return template
