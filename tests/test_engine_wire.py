"""The wire format (grader/engine/wire.py): encoding next to student code, strict decoding."""

import numpy as np
import pytest
import sympy as sp

from grader.engine.wire import (ArrayValue, ExprValue, OtherValue, WireError, decode_value, encode_value,
                                expression_tree)


def roundtrip(value):
    return decode_value(encode_value(value))


def test_plain_values_roundtrip_with_exact_types():
    assert roundtrip(None) is None
    assert roundtrip(True) is True
    assert roundtrip(3) == 3 and type(roundtrip(3)) is int
    assert roundtrip(np.float32(0.5)) == 0.5 and type(roundtrip(np.float32(0.5))) is float
    assert roundtrip("abc") == "abc"
    assert roundtrip({"a": 1, "b": "x"}) == {"a": 1, "b": "x"}


def test_arrays_keep_shape_and_their_nonfinite_entries():
    value = roundtrip(np.array([[1.0, np.nan], [np.inf, -2.0]]))
    assert isinstance(value, ArrayValue) and value.shape == (2, 2) and value.nonfinite == 2
    assert np.isnan(value.data[0, 1]) and value.data[1, 0] == np.inf
    with pytest.raises(ValueError):
        value.data[0, 0] = 5  # read-only


def test_expressions_cross_as_validated_trees():
    g = sp.Symbol("g", real=True)
    value = roundtrip(sp.UnevaluatedExpr(g) * 2)
    assert isinstance(value, ExprValue) and expression_tree(value) == value.tree
    assert expression_tree(2) == ["Integer", "2"] and expression_tree("x") is None


def test_odd_values_become_other_never_an_exception():
    class Hostile:
        def __repr__(self):
            raise RuntimeError("no")
    assert isinstance(roundtrip(Hostile()), OtherValue)
    assert isinstance(roundtrip({"a": {"b": 1}})["a"], OtherValue)  # nested dicts have no wire form
    assert isinstance(roundtrip(sp.sin(sp.Symbol("x"))), OtherValue)
    assert isinstance(roundtrip("x" * 2000), OtherValue)


@pytest.mark.parametrize("data, message", [
    ({"v": 1}, "type tag"),
    ({"t": "float", "v": float("nan")}, "NaN"),
    ({"t": "int", "v": True}, "expected int"),
    ({"t": "int", "v": 10**20}, "too large"),
    ({"t": "array", "shape": [2], "data": [1.0]}, "does not match"),
    ({"t": "array", "shape": [1], "data": ["1"]}, "must be numbers"),
    ({"t": "array", "shape": [1], "data": [1.0], "nonfinite": [[5, "nan"]]}, "nonfinite entry"),
    ({"t": "expr", "v": ["Lambda"]}, "unsupported"),
    ({"t": "dict", "v": {"a": {"t": "dict", "v": {}}}}, "nested dict"),
    ({"t": "none", "extra": 1}, "unexpected fields"),
    ({"t": "bogus"}, "unknown value type"),
])
def test_decoding_is_strict(data, message):
    with pytest.raises(WireError, match=message):
        decode_value(data)
