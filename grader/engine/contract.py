"""The student file's contract (SPEC section 2): the functions, their parameters, what they return.

The one home of the function list: the worker calls only these, the grader plans its calls
from them, the public checks and the release read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, Mapping


@dataclass(frozen=True)
class Function:
    """One function of the student file.

    ``symbolic`` functions receive sympy Symbols named like their ``parameters`` and return an
    expression (or a dict of expressions under ``keys``); ``numeric`` ones receive numbers and
    arrays; ``keys`` lists the keys of a returned dict (empty when the answer is not a dict).
    """

    name: str
    parameters: tuple[str, ...]
    kind: Literal["symbolic", "numeric", "concepts"]
    keys: tuple[str, ...] = ()


_FUNCTIONS = (
    Function("adam_first_update", ("w1", "g1", "alpha", "beta1", "beta2", "eps"), "symbolic",
             ("m1", "v1", "m_hat1", "v_hat1", "w2")),
    Function("adam_second_update", ("w1", "g1", "g2", "alpha", "beta1", "beta2", "eps"), "symbolic",
             ("m2", "v2", "m_hat2", "v_hat2", "w3")),
    Function("momentum_updates", ("grads", "alpha", "mu"), "numeric"),
    Function("adam_updates", ("grads", "alpha", "beta1", "beta2", "eps"), "numeric"),
    Function("momentum_constant_gradient_step", ("g", "t", "alpha", "mu"), "symbolic"),
    Function("adam_constant_gradient_step", ("g", "t", "alpha", "beta1", "beta2", "eps"), "symbolic"),
    Function("momentum_scale_factor", ("c",), "symbolic"),
    Function("adam_scale_factor", ("c",), "symbolic"),
    Function("adam_scaled_step", ("c", "m_hat", "v_hat", "alpha", "eps"), "symbolic"),
    Function("adam_step_bound", ("m_hat", "alpha", "eps"), "symbolic"),
    Function("adam_effective_learning_rates", ("grads", "alpha", "beta1", "beta2", "eps"), "numeric"),
    Function("spike_response", ("grads", "t_spike", "spike", "alpha", "mu", "beta1", "beta2", "eps"),
             "numeric", ("momentum", "adam")),
    Function("sparse_feature_boost", ("T", "k", "g", "alpha", "mu", "beta1", "beta2", "eps"),
             "numeric", ("momentum", "adam")),
    Function("concept_answers", (), "concepts"),
)

#: Every function of the contract, by name, in SPEC order.
FUNCTIONS: Mapping[str, Function] = MappingProxyType({f.name: f for f in _FUNCTIONS})
#: The names only, in SPEC order (the worker calls nothing else).
FUNCTION_NAMES: tuple[str, ...] = tuple(FUNCTIONS)
#: Symbolic functions and the symbols they receive, in parameter order.
SYMBOLIC_FUNCTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {f.name: f.parameters for f in _FUNCTIONS if f.kind == "symbolic"})
#: Symbols that stand for gradients (a genuine moment estimate depends on them).
GRADIENT_SYMBOLS = frozenset({"g", "g1", "g2"})
