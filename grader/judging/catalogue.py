"""The misconception catalogue as plain data: each named mistake's id, title and explanation.

No sympy and no formula here: the grader's templates (``misconceptions.py``), the public
checks' data and the class summary all read their names and words from this one table.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping


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
                  "The step counter is one behind: at the first step t is 1, so a counter that "
                  "starts at 0 must be incremented before it is used."),
    Misconception("bias_correction_power_t_plus_1", "Step counter incremented before use (beta**(t+1))",
                  "The step counter is one ahead: a counter that already starts at 1 is used "
                  "before it is incremented, so the first correction uses t = 1."),
    Misconception("step_counter_never_incremented", "Step counter never incremented",
                  "The bias correction uses the number of the current step; a counter that stays "
                  "at its first value is right at the first step only."),
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
    Misconception("sqrt_dropped", "Square root of v_hat missing",
                  "v_hat averages squared gradients, so it has the units of g**2; the step divides "
                  "by its square root (plus eps) to come back to the units of g."),
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
                  "Count the gradients the velocity holds after t steps: one per step so far."),
    Misconception("positions_instead_of_steps", "Positions returned instead of steps",
                  "Your rows look like running sums of the steps, i.e. where w has moved to. A step "
                  "is the change of one update, w_{t+1} - w_t."),
    Misconception("t_spike_off_by_one", "t_spike read as a 0-based index",
                  "Your ratio is the one of a neighbouring step: t_spike counts steps from 1, while "
                  "Python indexes rows from 0."),
    Misconception("float32_rounding", "float32 rounding",
                  "The values agree to about 7 significant digits, the precision of float32: keep "
                  "the arrays in float64 (for example np.asarray(grads, dtype=np.float64), and no "
                  "dtype=np.float32)."),
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
