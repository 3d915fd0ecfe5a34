"""Feedback that names what students get wrong: the variant engine, the choice of the most
specific explanation, NaN patterns, float32 rounding and the words of the messages."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import sympy

from grader.engine.explain import (UNEXPLAINED, explain, first_departure_step, label_ids, looks_like_float32,
                                   misconception_lines, name_mistakes, same_values,
                                   unknown_symbols_message)
from grader.engine.calls import sympy_hint
from grader.engine.numeric import check_array, distinct_digits
from grader.engine.symbols import make_symbols
from grader.engine.wire import ArrayValue
from grader.judging.catalogue import CATALOGUE
from grader.judging.diagnosis import CATALOGUE_DATA, diagnose_array
from grader.judging.misconceptions import (ADAM_VARIANTS, AdamVariant, adam_pairs, numeric_templates,
                                           symbolic_templates, variant_constant_gradient_step,
                                           variant_effective_rates, variant_history, variant_part1)
from reference import adam_vs_momentum as reference

RNG = np.random.default_rng(7)
GRADS = RNG.normal(size=(9, 3)) * np.array([0.1, 1.0, 3.0])
HYPER = (0.1, 0.8, 0.9, 0.2)


# ---------------------------------------------------------------------------
# The variant engine
# ---------------------------------------------------------------------------

def test_variant_engine_with_no_change_reproduces_the_reference():
    S = make_symbols(["w1", "g1", "g2", "alpha", "beta1", "beta2", "eps"])
    ours = variant_part1(AdamVariant())
    first = reference.adam_first_update(S["w1"], S["g1"], S["alpha"], S["beta1"], S["beta2"], S["eps"])
    second = reference.adam_second_update(*S.values())
    for key, expected in {**first, **second}.items():
        assert sympy.simplify(ours[key] - expected) == 0, key
    assert np.allclose(variant_history(AdamVariant(), GRADS, *HYPER)[0], reference.adam_updates(GRADS, *HYPER))
    assert np.allclose(variant_effective_rates(AdamVariant(), GRADS, *HYPER),
                       reference.adam_effective_learning_rates(GRADS, *HYPER))
    g, t, a, b1, b2, e = make_symbols(["g", "t", "alpha", "beta1", "beta2", "eps"]).values()
    closed = variant_constant_gradient_step(AdamVariant())
    for point in ({g: 1.3, t: 4, a: 0.7, b1: 0.6, b2: 0.3, e: 0.2}, {g: -0.6, t: 1, a: 1.1, b1: 0.3, b2: 0.7, e: 0.5}):
        assert float(closed.subs(point)) == pytest.approx(
            float(reference.adam_constant_gradient_step(*[sympy.Float(point[s]) if s != t else point[t]
                                                          for s in (g, t, a, b1, b2, e)])))


def test_every_template_label_names_catalogue_entries():
    labels = set(ADAM_VARIANTS) | set(adam_pairs())
    for function in ("adam_updates", "momentum_updates", "adam_effective_learning_rates", "spike_response",
                     "sparse_feature_boost"):
        labels |= set(numeric_templates(function)) | set(numeric_templates(function, pairs=True))
    for function, key in (("adam_first_update", "w2"), ("adam_second_update", "w3"),
                          ("adam_constant_gradient_step", None), ("momentum_constant_gradient_step", None)):
        labels |= set(symbolic_templates(function, key))
    assert all(ident in CATALOGUE for label in labels for ident in label_ids(label))


def test_pairs_combine_two_changes_to_different_parts_of_adam():
    pairs = adam_pairs()
    assert pairs["no_bias_correction+eps_inside_sqrt"] == AdamVariant(correct_m="none", correct_v="none",
                                                                      denominator="eps_inside")
    assert not any(label.startswith("no_bias_correction+only_m_corrected") for label in pairs)  # same part
    assert not any(label.count("ema_weights_swapped") > 1 for label in pairs)


def test_counter_mistakes_differ_from_each_other_at_step_two_only_where_they_should():
    steps = {label: variant_history(ADAM_VARIANTS[label], GRADS, *HYPER)[0]
             for label in ("step_counter_never_incremented", "bias_correction_power_t_plus_1")}
    right = reference.adam_updates(GRADS, *HYPER)
    assert np.allclose(steps["step_counter_never_incremented"][0], right[0])  # right at step 1 only
    assert first_departure_step(steps["step_counter_never_incremented"], right, rtol=1e-6, atol_scale=1e-9) == 2
    assert first_departure_step(steps["bias_correction_power_t_plus_1"], right, rtol=1e-6, atol_scale=1e-9) == 1


def test_catalogue_texts_need_no_sympy():
    code = "import sys, grader.judging.catalogue as c; assert c.CATALOGUE; assert 'sympy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------
# Choosing the most specific explanation
# ---------------------------------------------------------------------------

def test_both_moments_uncorrected_names_only_no_bias_correction():
    matched = {"m_hat1": ["no_bias_correction", "only_v_corrected"], "v_hat1": ["no_bias_correction", "only_m_corrected"]}
    predicted = {"m_hat1": {"no_bias_correction", "only_v_corrected"}, "v_hat1": {"no_bias_correction", "only_m_corrected"}}
    assert explain(["m_hat1", "v_hat1"], matched, predicted, []) == ["no_bias_correction"]


def test_mistake_in_one_moment_is_named_on_the_key_it_affects():
    matched = {"m1": ["ema_weights_swapped", "ema_weights_swapped#m"]}
    predicted = {"m1": {"ema_weights_swapped", "ema_weights_swapped#m"}, "v1": {"ema_weights_swapped"}}
    assert explain(["m1", "v1"], matched, predicted, ["v1"]) == ["ema_weights_swapped#m"]


def test_pairs_are_tried_only_when_no_single_mistake_fits():
    calls = []

    def match(key, pairs):
        calls.append(pairs)
        return ["a+b"] if pairs else []

    assert name_mistakes(["w2"], [], match, lambda key, pairs: ["a+b"] if pairs else ["a", "b"]) == ["a+b"]
    assert calls == [False, True]
    calls.clear()
    assert name_mistakes(["w2"], [], lambda key, pairs: calls.append(pairs) or ["a"], lambda k, p: ["a"]) == ["a"]
    assert calls == [False]


def test_a_pair_is_named_with_both_titles_and_nothing_is_said_as_such():
    line, = misconception_lines(["no_bias_correction+eps_inside_sqrt"], CATALOGUE_DATA)
    assert line.startswith("Likely two mistakes together: No bias correction and eps inside the square root.")


def test_unexplained_steps_say_where_they_first_depart():
    got = reference.adam_updates(GRADS, *HYPER).copy()
    got[4:] *= 1.5
    found = diagnose_array("adam_updates", ArrayValue(got, 0), reference.adam_updates(GRADS, *HYPER),
                           (GRADS, *HYPER), rtol=1e-6, atol_scale=1e-9)
    assert not found.ids
    assert found.lines[0].startswith(UNEXPLAINED) and "step 5" in found.lines[0]


def test_a_wrong_shape_gets_no_naming_line_on_either_side():
    """A transposed or flattened array is a format mistake: the shape message is the whole
    story, not "No single named mistake explains this" as if the values had been compared."""
    expected = reference.adam_updates(GRADS, *HYPER)
    for got in (expected.T.copy(), expected.ravel().copy()):
        found = diagnose_array("adam_updates", ArrayValue(got, 0), expected, (GRADS, *HYPER),
                               rtol=1e-6, atol_scale=1e-9)
        assert found.labels == () and found.lines == (), got.shape


# ---------------------------------------------------------------------------
# NaN patterns and float32
# ---------------------------------------------------------------------------

def test_v_from_g_is_named_from_its_nan_pattern():
    grads = GRADS.copy()
    student = variant_history(ADAM_VARIANTS["v_from_g_not_g_squared"], grads, *HYPER)[0]
    assert np.isnan(student).any() and not np.isnan(student).all()
    found = diagnose_array("adam_updates", ArrayValue(student, int(np.isnan(student).sum())),
                           reference.adam_updates(grads, *HYPER), (grads, *HYPER), rtol=1e-6, atol_scale=1e-9)
    assert found.ids == ("v_from_g_not_g_squared",)


def test_nan_patterns_must_agree_exactly():
    a = np.array([[1.0, np.nan], [2.0, 3.0]])
    assert same_values(a, a.copy(), rtol=1e-6, atol_scale=1e-9)
    assert not same_values(a, np.array([[1.0, 5.0], [2.0, 3.0]]), rtol=1e-6, atol_scale=1e-9)
    assert not same_values(np.full(2, np.nan), np.full(2, np.nan), rtol=1e-6, atol_scale=1e-9)  # nothing finite


def test_float32_rounding_is_recognised_and_shown_with_enough_digits():
    expected = reference.adam_updates(GRADS, *HYPER)
    got = expected.astype(np.float32).astype(np.float64) * (1 + 3e-7)
    got = got.astype(np.float32).astype(np.float64)
    assert looks_like_float32(got, expected)
    assert not looks_like_float32(expected * (1 + 3e-7), expected)  # not float32 values
    assert not looks_like_float32((got * 1.01).astype(np.float32).astype(np.float64), expected)
    verdict = check_array(ArrayValue(got, 0), expected, rtol=1e-9)
    shown = verdict.message.split("expected ")[1]
    a, b = shown.rstrip(")").split(", got ")
    assert a != b
    assert distinct_digits(0.175798, 0.1757981) == ("0.175798", "0.1757981")


# ---------------------------------------------------------------------------
# Words a student can act on
# ---------------------------------------------------------------------------

def test_numbers_only_functions_on_symbols_get_a_sympy_hint():
    assert "sympy.sqrt" in sympy_hint("adam_first_update raised TypeError: Cannot convert expression to float")
    assert "sympy.sign" in sympy_hint("raised TypeError: loop of ufunc does not support argument 0 of type "
                                      "Symbol which has no callable sign method")
    assert sympy_hint("raised ZeroDivisionError: division by zero") is None


def test_unknown_symbol_message_is_grammatical():
    assert unknown_symbols_message("w3", ["lr"], ["w1", "alpha"]) == (
        "w3 uses the symbol lr, which is not a parameter of this function (its parameters: w1, alpha)")
    assert "the symbols lr, m, which are not parameters" in unknown_symbols_message("w3", ["lr", "m"], ["w1"])
