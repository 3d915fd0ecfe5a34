"""The item registry: every rubric item id and how it is judged, in one place.

Each rubric item id maps to one :class:`ItemSpec`: its kind, the function it judges, the
keys it reads, how its hidden inputs are drawn, the names of its partial-credit shares (the
fractions themselves are the rubric's, in ``rubric.toml``) and whether it earns
follow-through credit. The kind decides both the grader's judge
(:data:`grader.judging.items.JUDGES`) and the students' public check
(``grader.engine.selfcheck``). The rubric file must name exactly these items
(:func:`grader.rubric.load_rubric` checks it on load); item ids appear here and in the
rubric file, and nowhere else in the grader. Plain data: importing it costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, Mapping

Kind = Literal["symbolic_keys", "symbolic", "array", "ratios", "scaling", "safety", "concepts"]
KINDS: tuple[str, ...] = ("symbolic_keys", "symbolic", "array", "ratios", "scaling", "safety", "concepts")

#: The parts and their points (SPEC section 2: 6 / 5 / 4 = 15), in report order.
PARTS: Mapping[str, float] = MappingProxyType({"1": 6.0, "2": 5.0, "3": 4.0})
TOTAL_POINTS = 15.0


@dataclass(frozen=True)
class Draw:
    """How an item's hidden inputs are drawn: a generator of :mod:`grader.judging.inputs`
    (by name) and the label its random stream is derived from (with the submission's seed)."""

    generator: str
    label: str


@dataclass(frozen=True)
class ItemSpec:
    """How one rubric item is judged."""

    id: str
    part: str
    kind: Kind
    #: The student function it judges.
    function: str
    #: The dict keys it judges (symbolic_keys items).
    keys: tuple[str, ...] = ()
    #: The names of its partial-credit shares; ``rubric.toml`` gives each its fraction.
    shares: tuple[str, ...] = ()
    draw: Draw | None = None
    #: Follow-through: a wrong answer that is the update rule (the reference's template for
    #: this item's key) applied to the student's own earlier answers earns the rubric's
    #: follow-through fraction. Each entry is (placeholder of the template, function, key of
    #: the student's answer that fills it); empty when the item has no follow-through.
    follow_through: tuple[tuple[str, str, str], ...] = ()
    #: Concept items: the prefix of their keys in ``concept_answers()``.
    prefix: str = ""


RATIO_KEYS = ("momentum", "adam")

ITEMS: tuple[ItemSpec, ...] = (
    ItemSpec("1a", "1", "symbolic_keys", "adam_first_update", ("m1", "v1"), ("m1", "v1")),
    ItemSpec("1b", "1", "symbolic_keys", "adam_first_update", ("m_hat1", "v_hat1"), ("m_hat1", "v_hat1")),
    ItemSpec("1c", "1", "symbolic_keys", "adam_first_update", ("w2",),
             follow_through=(("M_", "adam_first_update", "m_hat1"), ("V_", "adam_first_update", "v_hat1"))),
    ItemSpec("1d", "1", "symbolic_keys", "adam_second_update", ("m2", "v2"), ("m2", "v2")),
    ItemSpec("1e", "1", "symbolic_keys", "adam_second_update", ("m_hat2", "v_hat2"), ("m_hat2", "v_hat2")),
    ItemSpec("1f", "1", "symbolic_keys", "adam_second_update", ("w3",),
             follow_through=(("W_", "adam_first_update", "w2"), ("M_", "adam_second_update", "m_hat2"),
                             ("V_", "adam_second_update", "v_hat2"))),
    ItemSpec("2.1.momentum_updates", "2", "array", "momentum_updates",
             draw=Draw("momentum_cases", "momentum")),
    ItemSpec("2.1.adam_updates", "2", "array", "adam_updates", draw=Draw("adam_updates_cases", "adam")),
    ItemSpec("2.1.momentum_constant_gradient_step", "2", "symbolic", "momentum_constant_gradient_step"),
    ItemSpec("2.1.adam_constant_gradient_step", "2", "symbolic", "adam_constant_gradient_step"),
    ItemSpec("2.2.momentum_scale_factor", "2", "symbolic", "momentum_scale_factor"),
    ItemSpec("2.2.adam_scale_factor", "2", "symbolic", "adam_scale_factor"),
    ItemSpec("2.2.adam_scaled_step", "2", "symbolic", "adam_scaled_step"),
    ItemSpec("2.2.scaling_property", "2", "scaling", "adam_updates", shares=("momentum", "adam"),
             draw=Draw("scaling_probes", "scaling")),
    ItemSpec("2.3.adam_step_bound", "2", "symbolic", "adam_step_bound"),
    ItemSpec("2.3.numerical_safety", "2", "safety", "adam_updates", shares=("zeros", "tiny"),
             draw=Draw("safety_probes", "safety")),
    ItemSpec("3a.adam_effective_learning_rates", "3", "array", "adam_effective_learning_rates",
             draw=Draw("effective_rate_cases", "rates")),
    ItemSpec("3a.concepts", "3", "concepts", "concept_answers", prefix="3a_"),
    ItemSpec("3b.spike_response", "3", "ratios", "spike_response", shares=RATIO_KEYS,
             draw=Draw("spike_cases", "spike")),
    ItemSpec("3b.sparse_feature_boost", "3", "ratios", "sparse_feature_boost", shares=RATIO_KEYS,
             draw=Draw("sparse_cases", "sparse")),
    ItemSpec("3b.concepts", "3", "concepts", "concept_answers", prefix="3b_"),
)

#: Every spec by item id, in report order.
SPECS: Mapping[str, ItemSpec] = MappingProxyType({spec.id: spec for spec in ITEMS})
