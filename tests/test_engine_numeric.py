"""Numeric checks (grader/engine/numeric.py) in PrairieLearn's order, and their messages."""

import numpy as np
import pytest

from grader.engine.numeric import as_float_array, check_array
from grader.engine.wire import ArrayValue, ExprValue, OtherValue


def arr(x):
    return ArrayValue(np.asarray(x, dtype=float), int(np.sum(~np.isfinite(x))))


def test_close_values_pass_within_relative_and_scaled_absolute_tolerance():
    assert check_array(arr([1.0, 2.0]), [1.0 + 1e-8, 2.0]).ok
    assert check_array(arr([1e-20, 1.0]), [0.0, 1.0]).ok  # absolute floor scaled by max |expected|
    assert not check_array(arr([1.0, 2.0]), [1.0, 2.1]).ok


def test_the_order_of_checks_decides_the_message():
    assert check_array(None, [1.0], present=False).outcome == "missing"
    assert check_array(OtherValue("tuple", "x"), [1.0]).outcome == "not_convertible"
    assert check_array(arr([1.0, 2.0]), [[1.0, 2.0]]).outcome == "wrong_shape"
    verdict = check_array(arr([np.nan, 1.0]), [1.0, 1.0])
    assert verdict.outcome == "not_finite" and "1 of 2 elements" in verdict.message
    assert check_array(None, [1.0]).message == "the result is None (did the function forget to return?)"


def test_a_mismatch_counts_elements_and_gives_the_largest_errors():
    verdict = check_array(arr([[1.0, 2.0], [3.0, 5.0]]), [[1.0, 2.0], [3.0, 4.0]], what="x")
    assert verdict.outcome == "mismatch" and verdict.mismatches == 1
    assert verdict.max_abs_error == pytest.approx(1.0) and verdict.max_rel_error == pytest.approx(0.25)
    assert "1 of 4 elements differ" in verdict.message and "index [1, 1]" in verdict.message


def test_scalars_and_constant_expressions_convert():
    assert check_array(0.5, 0.5).ok and check_array(arr([0.5]), 0.5).ok
    assert as_float_array(ExprValue(["Rational", "1", "2"], ""))[0] == 0.5
    assert as_float_array(ExprValue(["Symbol", "x"], ""))[0] is None


def test_moves_with_is_the_one_rule_for_depending_on_the_gradients():
    import sympy as sp

    from grader.engine.expressions import encode_sympy
    from grader.engine.pointwise import moves_with

    g1, w1 = sp.symbols("g1 w1", real=True)
    points = [{"g1": 0.5, "w1": 1.0}, {"g1": -0.7, "w1": 2.0}, {"g1": 1.3, "w1": -1.0}]

    def tree(expr):
        return encode_sympy(sp.sympify(expr))

    assert moves_with(tree(2 * g1 + w1), points, ["g1"])
    assert not moves_with(tree(sp.Integer(0)), points, ["g1"]), "a constant placeholder is no attempt"
    assert not moves_with(tree(w1 + g1 - g1), points, ["g1"]), "cancelled gradients do not count"
    assert not moves_with(tree(3 * w1), points, ["g1"])
    # defined only for g1 > 0: its value appears and vanishes with the gradient, which is dependence
    signs = [{"g1": 0.5, "w1": 1.0}, {"g1": -0.7, "w1": 2.0}]
    assert moves_with(tree(w1 - sp.sqrt(g1)), signs, ["g1"])
    assert not moves_with(tree(2 * g1), points[:1], ["g1"]), "one point shows nothing"
    assert not moves_with(tree(2 * g1), points, ["g2"]), "a symbol the points do not hold"
