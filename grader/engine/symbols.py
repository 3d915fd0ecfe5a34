"""The sympy symbols that symbolic functions receive, with their assumptions (SPEC section 2)."""

from __future__ import annotations

from types import MappingProxyType

import sympy

#: Assumptions per parameter name. A symbolic answer may use only its function's parameters.
SYMBOL_ASSUMPTIONS = MappingProxyType({
    "g": {"real": True},
    "g1": {"real": True},
    "g2": {"real": True},
    "w1": {"real": True},
    "m_hat": {"real": True},
    "c": {"real": True},
    "alpha": {"positive": True},
    "eps": {"positive": True},
    "beta1": {"positive": True},
    "beta2": {"positive": True},
    "mu": {"positive": True},
    "v_hat": {"nonnegative": True},
    "t": {"integer": True, "positive": True},
})


def make_symbol(name: str) -> sympy.Symbol:
    """The sympy Symbol for parameter ``name`` with its SPEC assumptions."""
    return sympy.Symbol(name, **SYMBOL_ASSUMPTIONS[name])


def make_symbols(names) -> dict[str, sympy.Symbol]:
    """A name -> Symbol mapping for several parameters."""
    return {name: make_symbol(name) for name in names}
