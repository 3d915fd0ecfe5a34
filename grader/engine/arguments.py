"""Arguments of a call as plain JSON data: ``{"sym": name}``, ``{"array": {shape, data}}``,
``{"float": x}`` or ``{"int": n}``.

The grader encodes the arguments it sends to a worker (and the public checks' data) with
:func:`encode_argument`; the worker and the student's public checks decode them with
:func:`decode_argument`, which builds fresh objects every time, so a function that mutates
its inputs changes nothing for the next call.
"""

from __future__ import annotations

import numpy as np

from .symbols import SYMBOL_ASSUMPTIONS, make_symbol


def encode_argument(value) -> dict:
    """The plain form of a call argument: a parameter name (str), an array or a number."""
    if isinstance(value, str):
        return {"sym": value}
    if isinstance(value, np.ndarray):
        return {"array": {"shape": list(value.shape), "data": value.reshape(-1).tolist()}}
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("booleans are not call arguments")
    if isinstance(value, (int, np.integer)):
        return {"int": int(value)}
    return {"float": float(value)}


def decode_argument(plain):
    """A call argument from its plain form: a fresh Symbol (with SPEC assumptions), float64
    array, float or int. Anything else is a ``ValueError``."""
    if type(plain) is not dict or len(plain) != 1:
        raise ValueError("malformed argument")
    (kind, value), = plain.items()
    if kind == "sym" and value in SYMBOL_ASSUMPTIONS:
        return make_symbol(value)
    if kind == "array":
        return np.array(value["data"], dtype=np.float64).reshape(value["shape"])
    if kind == "float":
        return float(value)
    if kind == "int":
        return int(value)
    raise ValueError(f"unknown argument kind {kind!r}")
