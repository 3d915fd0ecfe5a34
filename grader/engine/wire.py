"""The wire format of answers: what a student's function returned, as plain JSON data.

Every value is an object with a type tag ``"t"``:

====================  ==========================================================
``{"t": "none"}``     ``None``
``{"t": "bool"}``     with ``"v"``: true or false
``{"t": "int"}``      with ``"v"``: a JSON integer of at most 18 digits
``{"t": "float"}``    with ``"v"``: a finite JSON number
``{"t": "str"}``      with ``"v"``: a string of at most 1,000 characters (a NumPy
                      string is sent as the str it holds, as are dict keys)
``{"t": "array"}``    with ``"shape"`` and ``"data"`` (row-major finite numbers, where
                      ``"nonfinite"`` lists ``[flat index, "nan" | "inf" | "-inf"]``)
``{"t": "expr"}``     with ``"v"``: an expression tree (see :mod:`.expressions`)
``{"t": "dict"}``     with ``"v"``: string keys to values (one level deep)
``{"t": "other"}``    with ``"type"`` and ``"why"``: a value that has no wire form
====================  ==========================================================

:func:`encode_value` runs next to the student's code and turns whatever it returned into
that form; :func:`decode_value` runs in the trusted process and rebuilds typed values from
JSON, checking exact types, sizes and the expression whitelist.
"""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass
from typing import Union

import numpy as np

from .expressions import ExpressionError, encode_sympy, validate_tree

MAX_ARRAY_ELEMENTS = 100_000
MAX_STRING = 1_000
MAX_DICT_KEYS = 64
MAX_INT_DIGITS = 18


class WireError(ValueError):
    """Data that does not follow the wire format: the answer counts as invalid output."""


# ---------------------------------------------------------------------------
# Typed values on the trusted side
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ArrayValue:
    """A numeric array: float64 data (NaN/inf where the student returned them) and its shape."""

    data: np.ndarray
    nonfinite: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)


@dataclass(frozen=True)
class ExprValue:
    """An expression tree, validated; ``key`` is its canonical text (for caches)."""

    tree: list
    key: str


@dataclass(frozen=True)
class OtherValue:
    """A returned object with no wire form; ``type_name`` and ``why`` explain it."""

    type_name: str
    why: str


Value = Union[None, bool, int, float, str, ArrayValue, ExprValue, OtherValue, dict]


# ---------------------------------------------------------------------------
# Encoding (next to the student's code)
# ---------------------------------------------------------------------------

def encode_value(value, *, depth: int = 0) -> dict:
    """The wire form of a returned value. Never raises: odd values become ``"other"``."""
    try:
        return _encode(value, depth)
    except Exception as exc:  # noqa: BLE001 - student objects may raise anything
        return {"t": "other", "type": _type_name(value), "why": _short(f"{type(exc).__name__}: {exc}")}


def _encode(value, depth: int) -> dict:
    import sympy  # imported here: the student bundle may encode without sympy loaded first

    if value is None:
        return {"t": "none"}
    if type(value) is bool or isinstance(value, np.bool_):
        return {"t": "bool", "v": bool(value)}
    if type(value) is int:
        if len(str(abs(value))) > MAX_INT_DIGITS:
            return {"t": "float", "v": float(value)} if abs(value) < 1e300 else _other(value, "integer too large")
        return {"t": "int", "v": value}
    if type(value) is float or isinstance(value, (np.floating, np.integer)):
        return _encode_array(np.asarray(value, dtype=np.float64), scalar=True)
    text = _text(value)
    if text is not None:
        return {"t": "str", "v": text} if len(text) <= MAX_STRING else _other(value, "string too long")
    if isinstance(value, dict):
        if depth > 0:
            return _other(value, "nested dict")
        if len(value) > MAX_DICT_KEYS:
            return _other(value, f"more than {MAX_DICT_KEYS} keys")
        out = {}
        for key in list(value.keys()):
            text = _text(key)
            if text is None or len(text) > 100:
                return _other(value, "dict keys must be short strings")
            out[text] = encode_value(value[key], depth=depth + 1)
        return {"t": "dict", "v": out}
    if isinstance(value, sympy.Basic):
        if isinstance(value, sympy.MatrixBase):
            return _other(value, "a matrix is not a single expression")
        try:
            return {"t": "expr", "v": encode_sympy(value)}
        except ExpressionError as exc:
            return _other(value, str(exc))
        except RecursionError:
            return _other(value, "expression nested too deeply")
    if isinstance(value, (np.ndarray, list, tuple)):
        array = np.asarray(value, dtype=np.float64)
        return _encode_array(array, scalar=False)
    name = _function_name(value)
    if name is not None:
        return _other(value, _UNCALLED.format(name))
    return _other(value, "not a number, array, expression, string or dict")


#: Why a function returned without being applied to anything (``sympy.cos`` where
#: ``sympy.cos(c)`` was meant) has no wire form; :func:`uncalled_function` reads its name back.
_UNCALLED = "the function {} itself, not applied to an argument"
_UNCALLED_NAME = re.compile(r"the function ([A-Za-z_][A-Za-z0-9_]{0,59}) itself, not applied to an argument")


def _function_name(value) -> str | None:
    """The name of a function object (a sympy function class such as ``sympy.cos`` or an
    undefined ``sympy.Function("f")``, a Python function such as ``sympy.sqrt``, a NumPy
    ufunc), when it is a plain identifier; else None."""
    from sympy.core.function import FunctionClass

    if isinstance(value, FunctionClass):
        name = type.__dict__["__name__"].__get__(value)  # the class's own name, not a metaclass's
    elif inspect.isroutine(value) or isinstance(value, np.ufunc):
        name = getattr(value, "__name__", None)
    else:
        return None
    return name if type(name) is str and _UNCALLED_NAME.fullmatch(_UNCALLED.format(name)) else None


def uncalled_function(value) -> str | None:
    """The name of the function a decoded answer is, when the student returned a function
    itself rather than applied it (``sympy.cos`` for ``sympy.cos(c)``); else None."""
    if isinstance(value, OtherValue):
        match = _UNCALLED_NAME.fullmatch(value.why)
        return match.group(1) if match else None
    return None


def _text(value) -> str | None:
    """The text of a str, or of a NumPy string (``np.random.choice`` of options, an element of
    an array of them), which is judged as the str it holds; None for anything else."""
    if type(value) is str or isinstance(value, np.str_):
        return str.__str__(value)
    return None


def _encode_array(array: np.ndarray, *, scalar: bool) -> dict:
    if array.size > MAX_ARRAY_ELEMENTS:
        return {"t": "other", "type": "ndarray", "why": f"array larger than {MAX_ARRAY_ELEMENTS} elements"}
    flat = [float(x) for x in array.reshape(-1).tolist()]
    bad = [[i, _nonfinite_name(x)] for i, x in enumerate(flat) if not math.isfinite(x)]
    if scalar and not bad:
        return {"t": "float", "v": flat[0]}
    for i, _ in bad:
        flat[i] = 0.0
    encoded = {"t": "array", "shape": list(array.shape), "data": flat}
    if bad:
        encoded["nonfinite"] = bad
    return encoded


def _nonfinite_name(x: float) -> str:
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _other(value, why: str) -> dict:
    return {"t": "other", "type": _type_name(value), "why": _short(why)}


def _type_name(value) -> str:
    try:
        return _short(type(value).__name__, 60)
    except Exception:  # noqa: BLE001
        return "?"


def _short(text: str, limit: int = 300) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------
# Decoding (trusted side)
# ---------------------------------------------------------------------------

def decode_value(data, *, depth: int = 0) -> Value:
    """Rebuild a typed value from wire data; :class:`WireError` when it breaks the format."""
    if type(data) is not dict or type(data.get("t")) is not str:
        raise WireError("value without a type tag")
    tag = data["t"]
    fields = set(data) - {"t"}
    if tag == "none":
        _fields(fields, set())
        return None
    if tag == "bool":
        _fields(fields, {"v"})
        return _exact(data["v"], bool)
    if tag == "int":
        _fields(fields, {"v"})
        value = _exact(data["v"], int)
        if len(str(abs(value))) > MAX_INT_DIGITS:
            raise WireError("integer too large")
        return value
    if tag == "float":
        _fields(fields, {"v"})
        value = data["v"]
        if type(value) is int:
            value = float(value)
        return _finite(_exact(value, float))
    if tag == "str":
        _fields(fields, {"v"})
        value = _exact(data["v"], str)
        if len(value) > MAX_STRING:
            raise WireError("string too long")
        return value
    if tag == "array":
        _fields(fields, {"shape", "data"}, {"nonfinite"})
        return _decode_array(data)
    if tag == "expr":
        _fields(fields, {"v"})
        try:
            validate_tree(data["v"])
        except ExpressionError as exc:
            raise WireError(str(exc)) from None
        return ExprValue(tree=data["v"], key=canonical_key(data["v"]))
    if tag == "dict":
        _fields(fields, {"v"})
        if depth > 0:
            raise WireError("nested dict")
        items = _exact(data["v"], dict)
        if len(items) > MAX_DICT_KEYS:
            raise WireError("dict too large")
        return {_exact(k, str): decode_value(v, depth=1) for k, v in items.items()}
    if tag == "other":
        _fields(fields, {"type", "why"})
        return OtherValue(type_name=_exact(data["type"], str)[:60], why=_exact(data["why"], str)[:300])
    raise WireError(f"unknown value type {tag!r}")


def _decode_array(data: dict) -> ArrayValue:
    shape = _exact(data["shape"], list)
    if len(shape) > 8 or any(type(n) is not int or n < 0 for n in shape):
        raise WireError("malformed array shape")
    flat = _exact(data["data"], list)
    size = math.prod(shape)
    if size > MAX_ARRAY_ELEMENTS or len(flat) != size:
        raise WireError("array data does not match its shape")
    if any(type(x) is not float and type(x) is not int for x in flat):
        raise WireError("array data must be numbers")
    array = np.array(flat, dtype=np.float64).reshape(shape)
    if not np.all(np.isfinite(array)):
        raise WireError("invalid output: NaN or infinity outside the nonfinite list")
    nonfinite = data.get("nonfinite", [])
    if type(nonfinite) is not list or len(nonfinite) > size:
        raise WireError("malformed nonfinite list")
    flat_view = array.reshape(-1)
    for entry in nonfinite:
        if (type(entry) is not list or len(entry) != 2 or type(entry[0]) is not int
                or not 0 <= entry[0] < size or entry[1] not in ("nan", "inf", "-inf")):
            raise WireError("malformed nonfinite entry")
        flat_view[entry[0]] = float(entry[1])
    array.setflags(write=False)
    return ArrayValue(data=array, nonfinite=len(nonfinite))


def _fields(present: set, required: set, optional: set = frozenset()) -> None:
    if not required <= present or present - required - set(optional):
        raise WireError("value with missing or unexpected fields")


def _exact(value, kind: type):
    if type(value) is not kind:
        raise WireError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise WireError("invalid output: NaN or infinity")
    return value


def expression_tree(answer):
    """The tree of an answer that reads as an expression (plain numbers included), or None."""
    if isinstance(answer, ExprValue):
        return answer.tree
    if type(answer) is int:
        return ["Integer", str(answer)]
    if type(answer) is float:
        return ["Float", repr(answer)]
    return None


def canonical_key(tree) -> str:
    """Canonical text of a tree, for caching verdicts per distinct expression."""
    import json

    return json.dumps(tree, separators=(",", ":"))
