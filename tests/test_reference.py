"""Pins the reference solution against independent, plain re-derivations.

Nothing here calls the reference's private helpers to build an expected value: the Adam
and momentum recurrences are re-iterated in sympy (Part 1) or in plain per-element Python
loops over floats with ``math.sqrt`` (Parts 2 and 3), and the reference must agree with them.

Symbolic answers are decided the way SPEC section 3 decides a student's: numerically, at
seeded random points of the sampling domain, with a relative tolerance and an absolute floor;
exact checks are added only where they are reliable (sympy ``simplify`` on the rational
moment keys, exact rational points where every square root is rational for ``w2``/``w3``).
"""

from __future__ import annotations

import copy
import math
import re

import numpy as np
import pytest
import sympy

from reference import adam_vs_momentum as ref

# ---------------------------------------------------------------------------
# Tolerances and the sampling domain (SPEC section 3)
# ---------------------------------------------------------------------------

SYMBOLIC_RTOL = 1e-10
SYMBOLIC_ATOL = 1e-12
NUMERIC_RTOL = 1e-12
N_POINTS = 25

# Symbols named exactly like the parameters, with SPEC's assumptions.
g, g1, g2, w1, m_hat, c = sympy.symbols("g g1 g2 w1 m_hat c", real=True)
alpha, eps, beta1, beta2, mu = sympy.symbols("alpha eps beta1 beta2 mu", positive=True)
v_hat = sympy.Symbol("v_hat", nonnegative=True)
t = sympy.Symbol("t", integer=True, positive=True)


def _signed(rng, low, high):
    return float(rng.uniform(low, high) * rng.choice([-1.0, 1.0]))


def _part1_points(seed, n=N_POINTS):
    """Random points: |g| in [0.5, 2] of both signs with |g1| != |g2|, alpha in [0.5, 2],
    betas in [0.2, 0.8], eps in [0.1, 1], w1 in [-2, 2]."""
    rng = np.random.default_rng(seed)
    points = []
    while len(points) < n:
        a, b = _signed(rng, 0.5, 2.0), _signed(rng, 0.5, 2.0)
        if abs(abs(a) - abs(b)) < 1e-3:
            continue
        points.append({
            g1: a, g2: b, w1: float(rng.uniform(-2.0, 2.0)),
            alpha: float(rng.uniform(0.5, 2.0)),
            beta1: float(rng.uniform(0.2, 0.8)), beta2: float(rng.uniform(0.2, 0.8)),
            eps: float(rng.uniform(0.1, 1.0)),
        })
    # Make sure both sign patterns of the gradients are exercised.
    signs = {(math.copysign(1, p[g1]), math.copysign(1, p[g2])) for p in points}
    assert len(signs) == 4
    return points


def _evaluate(expr, point) -> float:
    value = sympy.sympify(expr).evalf(30, subs=point)
    assert value.is_number, f"{expr} did not evaluate to a number at {point}"
    value = complex(value)
    assert abs(value.imag) <= SYMBOLIC_ATOL, f"{expr} is not real at {point}: {value}"
    return value.real


def _assert_close(got: float, expected: float, what: str) -> None:
    assert math.isfinite(got), f"{what}: got non-finite {got}"
    tolerance = SYMBOLIC_RTOL * max(abs(got), abs(expected)) + SYMBOLIC_ATOL
    assert abs(got - expected) <= tolerance, f"{what}: got {got!r}, expected {expected!r}"


def _name_pattern(name: str) -> str:
    """The argument name as a whole word (``t`` must not match inside ``can't`` or ``at``)."""
    return rf"(?<![\w']){re.escape(name)}(?!\w)"


# ---------------------------------------------------------------------------
# Independent derivations
# ---------------------------------------------------------------------------

def _iterate_adam_symbolically(gradients, w_start, a, b1, b2, e):
    """Iterate the Adam recurrences from m0 = v0 = 0 in sympy; one dict per step."""
    m, v, w = sympy.Integer(0), sympy.Integer(0), w_start
    history = []
    for step, gradient in enumerate(gradients, start=1):
        m = b1 * m + (1 - b1) * gradient
        v = b2 * v + (1 - b2) * gradient**2
        mh = m / (1 - b1**step)
        vh = v / (1 - b2**step)
        w = w - a * mh / (sympy.sqrt(vh) + e)
        history.append({"m": m, "v": v, "m_hat": mh, "v_hat": vh, "w_next": w})
    return history


def _expected_part1():
    first, second = _iterate_adam_symbolically([g1, g2], w1, alpha, beta1, beta2, eps)
    return {
        "m1": first["m"], "v1": first["v"], "m_hat1": first["m_hat"],
        "v_hat1": first["v_hat"], "w2": first["w_next"],
        "m2": second["m"], "v2": second["v"], "m_hat2": second["m_hat"],
        "v_hat2": second["v_hat"], "w3": second["w_next"],
    }


def _as_rows(grads):
    return [[float(x) for x in row] for row in np.asarray(grads, dtype=np.float64)]


def loop_momentum(grads, a, momentum):
    """Momentum steps, PyTorch form: u = mu u + g; dw = -alpha u (per element)."""
    rows = _as_rows(grads)
    T, d = len(rows), len(rows[0])
    out = [[0.0] * d for _ in range(T)]
    for j in range(d):
        u = 0.0
        for i in range(T):
            u = momentum * u + rows[i][j]
            out[i][j] = -a * u
    return np.array(out)


def loop_momentum_sutskever(grads, a, momentum):
    """Sutskever form: v = mu v - alpha g; w += v. The step is v."""
    rows = _as_rows(grads)
    T, d = len(rows), len(rows[0])
    out = [[0.0] * d for _ in range(T)]
    for j in range(d):
        w, vel = 0.0, 0.0
        for i in range(T):
            vel = momentum * vel - a * rows[i][j]
            w_new = w + vel
            out[i][j] = vel
            w = w_new
    return np.array(out)


def loop_momentum_tensorflow(grads, a, momentum):
    """TensorFlow MomentumOptimizer form: accum = mu accum + g; w -= alpha accum."""
    rows = _as_rows(grads)
    T, d = len(rows), len(rows[0])
    out = [[0.0] * d for _ in range(T)]
    for j in range(d):
        accumulation = 0.0
        for i in range(T):
            accumulation = accumulation * momentum + rows[i][j]
            out[i][j] = -a * accumulation
    return np.array(out)


def loop_adam_moments(grads, b1, b2):
    """Bias-corrected (m_hat, v_hat), each a (T, d) array, from a plain loop."""
    rows = _as_rows(grads)
    T, d = len(rows), len(rows[0])
    mh = [[0.0] * d for _ in range(T)]
    vh = [[0.0] * d for _ in range(T)]
    for j in range(d):
        m = v = 0.0
        for i in range(T):
            step = i + 1
            m = b1 * m + (1 - b1) * rows[i][j]
            v = b2 * v + (1 - b2) * rows[i][j] ** 2
            mh[i][j] = m / (1 - b1**step)
            vh[i][j] = v / (1 - b2**step)
    return np.array(mh), np.array(vh)


def loop_adam(grads, a, b1, b2, e):
    """Adam steps dw = -alpha m_hat / (sqrt(v_hat) + eps); 0/0 (eps = 0, all-zero history) is 0."""
    mh, vh = loop_adam_moments(grads, b1, b2)
    T, d = mh.shape
    out = [[0.0] * d for _ in range(T)]
    for i in range(T):
        for j in range(d):
            denominator = math.sqrt(float(vh[i, j])) + e
            if denominator == 0.0:
                assert mh[i, j] == 0.0
                out[i][j] = 0.0
            else:
                out[i][j] = -a * float(mh[i, j]) / denominator
    return np.array(out)


def loop_effective_learning_rates(grads, a, b1, b2, e):
    _, vh = loop_adam_moments(grads, b1, b2)
    T, d = vh.shape
    return np.array([[a / (math.sqrt(float(vh[i, j])) + e) for j in range(d)] for i in range(T)])


# ---------------------------------------------------------------------------
# Part 1: the first two Adam updates in closed form
# ---------------------------------------------------------------------------

PART1_KEYS = {
    "adam_first_update": ("m1", "v1", "m_hat1", "v_hat1", "w2"),
    "adam_second_update": ("m2", "v2", "m_hat2", "v_hat2", "w3"),
}


def _call_first():
    return ref.adam_first_update(w1=w1, g1=g1, alpha=alpha, beta1=beta1, beta2=beta2, eps=eps)


def _call_second():
    return ref.adam_second_update(w1=w1, g1=g1, g2=g2, alpha=alpha, beta1=beta1,
                                  beta2=beta2, eps=eps)


@pytest.fixture(scope="module")
def part1_answers():
    answers = {}
    answers.update(_call_first())
    answers.update(_call_second())
    return answers


@pytest.fixture(scope="module")
def part1_expected():
    return _expected_part1()


def test_part1_functions_return_exactly_the_contract_keys():
    assert set(_call_first()) == set(PART1_KEYS["adam_first_update"])
    assert set(_call_second()) == set(PART1_KEYS["adam_second_update"])


@pytest.mark.parametrize("key", PART1_KEYS["adam_first_update"] + PART1_KEYS["adam_second_update"])
def test_part1_key_uses_only_its_parameters(key, part1_answers):
    allowed = {w1, g1, alpha, beta1, beta2, eps}
    if key.endswith("2") or key == "w3":
        allowed |= {g2}
    expr = sympy.sympify(part1_answers[key])
    assert expr.free_symbols <= allowed, f"{key} has unexpected symbols {expr.free_symbols - allowed}"


@pytest.mark.parametrize("key", PART1_KEYS["adam_first_update"] + PART1_KEYS["adam_second_update"])
def test_part1_key_matches_iterated_recurrence_at_random_points(key, part1_answers, part1_expected):
    for index, point in enumerate(_part1_points(seed=20240 + len(key))):
        _assert_close(_evaluate(part1_answers[key], point), _evaluate(part1_expected[key], point),
                      f"{key} at point {index} {point}")


def test_w3_matches_iterated_recurrence(part1_answers, part1_expected):
    """The headline check on its own: 40 points of a different seed, both gradient signs."""
    for index, point in enumerate(_part1_points(seed=777, n=40)):
        _assert_close(_evaluate(part1_answers["w3"], point), _evaluate(part1_expected["w3"], point),
                      f"w3 at point {index}")


@pytest.mark.parametrize("key", ["m1", "v1", "m_hat1", "v_hat1", "m2", "v2", "m_hat2", "v_hat2"])
def test_moment_keys_equal_recurrence_exactly(key, part1_answers, part1_expected):
    """Rational in the betas and polynomial in g: simplify is a reliable exact decision here."""
    assert sympy.simplify(part1_answers[key] - part1_expected[key]) == 0


def test_first_step_bias_correction_recovers_the_gradient_exactly(part1_answers):
    assert sympy.simplify(part1_answers["m_hat1"] - g1) == 0
    assert sympy.simplify(part1_answers["v_hat1"] - g1**2) == 0
    assert sympy.simplify(part1_answers["w2"] - (w1 - alpha * g1 / (sympy.Abs(g1) + eps))) == 0


# At beta2 = 1/2, v_hat2 = (g1**2 + 2 g2**2) / 3; these (g1, g2) make it (and g1**2) a perfect
# square, so every square root is rational and the exact value is a Rational.
EXACT_POINTS = [
    {g1: sympy.Rational(5, 2), g2: sympy.Rational(-1, 2), w1: sympy.Rational(1, 3),
     alpha: sympy.Rational(3, 2), beta1: sympy.Rational(2, 5), beta2: sympy.Rational(1, 2),
     eps: sympy.Rational(1, 4)},
    {g1: sympy.Rational(-1, 2), g2: sympy.Rational(11, 2), w1: sympy.Rational(-7, 4),
     alpha: sympy.Rational(1, 2), beta1: sympy.Rational(3, 4), beta2: sympy.Rational(1, 2),
     eps: sympy.Rational(7, 10)},
    {g1: sympy.Integer(-5), g2: sympy.Integer(1), w1: sympy.Integer(0),
     alpha: sympy.Integer(2), beta1: sympy.Rational(1, 5), beta2: sympy.Rational(1, 2),
     eps: sympy.Rational(1, 10)},
]


@pytest.mark.parametrize("point", EXACT_POINTS, ids=["p1", "p2", "p3"])
@pytest.mark.parametrize("key", ["w2", "w3"])
def test_updates_equal_recurrence_exactly_at_rational_points(key, point, part1_answers,
                                                             part1_expected):
    got = sympy.sympify(part1_answers[key]).subs(point)
    expected = part1_expected[key].subs(point)
    assert expected.is_Rational, f"test point should make {key} rational, got {expected}"
    assert sympy.simplify(got - expected) == 0, f"{key}: got {got}, expected {expected}"


def test_part1_accepts_plain_numbers():
    first = ref.adam_first_update(0.5, -1.5, 1.0, 0.9, 0.999, 0.1)
    assert math.isclose(float(first["w2"]), 0.5 + 1.5 / (1.5 + 0.1), rel_tol=1e-12)
    second = ref.adam_second_update(0.5, -1.5, 0.75, 1.0, 0.9, 0.999, 0.1)
    expected = loop_adam([[-1.5], [0.75]], 1.0, 0.9, 0.999, 0.1)
    assert math.isclose(float(second["w3"]), 0.5 + expected[0, 0] + expected[1, 0], rel_tol=1e-12)


# ---------------------------------------------------------------------------
# Part 2.1: numeric steps
# ---------------------------------------------------------------------------

SHAPES = [(1, 1), (3, 2), (17, 5), (200, 50)]
SCALES = [1e-8, 1.0, 1e8]


def _stream(shape, scale, seed):
    return np.random.default_rng(seed).standard_normal(shape) * scale


@pytest.mark.parametrize("scale", SCALES, ids=["1e-8", "1", "1e8"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_momentum_updates_match_plain_loop(shape, scale):
    grads = _stream(shape, scale, seed=11 + shape[0] * 7 + shape[1])
    steps = ref.momentum_updates(grads, alpha=0.3, mu=0.9)
    assert isinstance(steps, np.ndarray)
    assert steps.shape == shape and steps.dtype == np.float64
    np.testing.assert_allclose(steps, loop_momentum(grads, 0.3, 0.9), rtol=NUMERIC_RTOL, atol=0)


@pytest.mark.parametrize("eps_value", [1e-8, 0.5])
@pytest.mark.parametrize("scale", SCALES, ids=["1e-8", "1", "1e8"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_adam_updates_match_plain_loop(shape, scale, eps_value):
    grads = _stream(shape, scale, seed=23 + shape[0] * 5 + shape[1])
    steps = ref.adam_updates(grads, alpha=0.01, beta1=0.9, beta2=0.999, eps=eps_value)
    assert isinstance(steps, np.ndarray)
    assert steps.shape == shape and steps.dtype == np.float64
    np.testing.assert_allclose(steps, loop_adam(grads, 0.01, 0.9, 0.999, eps_value),
                               rtol=NUMERIC_RTOL, atol=0)


@pytest.mark.parametrize("hyper", [(1.0, 0.0), (0.5, 0.5), (2.0, 0.2)])
def test_momentum_updates_match_plain_loop_for_other_hyperparameters(hyper):
    grads = _stream((9, 3), 1.0, seed=5)
    np.testing.assert_allclose(ref.momentum_updates(grads, *hyper), loop_momentum(grads, *hyper),
                               rtol=NUMERIC_RTOL, atol=0)


@pytest.mark.parametrize("hyper", [(1.0, 0.0, 0.0, 0.1), (0.5, 0.5, 0.3, 1.0), (2.0, 0.2, 0.8, 0.0)])
def test_adam_updates_match_plain_loop_for_other_hyperparameters(hyper):
    grads = _stream((9, 3), 1.0, seed=6)
    np.testing.assert_allclose(ref.adam_updates(grads, *hyper), loop_adam(grads, *hyper),
                               rtol=NUMERIC_RTOL, atol=0)


@pytest.mark.parametrize("shape", [(1, 1), (6, 4)])
def test_all_zero_gradients_give_finite_zero_steps(shape):
    zeros = np.zeros(shape)
    momentum = ref.momentum_updates(zeros, alpha=0.1, mu=0.9)
    assert momentum.shape == shape and np.all(np.isfinite(momentum)) and np.all(momentum == 0)
    for eps_value in (1e-8, 0.0):
        adam = ref.adam_updates(zeros, alpha=0.1, beta1=0.9, beta2=0.999, eps=eps_value)
        assert adam.shape == shape, f"eps={eps_value}"
        assert np.all(np.isfinite(adam)) and np.all(adam == 0), f"eps={eps_value}: {adam}"


def test_adam_with_eps_zero_zero_prefix_then_gradient_matches_loop():
    """A coordinate that is silent first and then active: zero steps, then regular steps."""
    grads = np.array([[0.0, 1.0], [0.0, -2.0], [3.0, 0.0], [0.0, 0.5]])
    steps = ref.adam_updates(grads, alpha=0.1, beta1=0.9, beta2=0.999, eps=0.0)
    assert np.all(np.isfinite(steps))
    np.testing.assert_allclose(steps, loop_adam(grads, 0.1, 0.9, 0.999, 0.0), rtol=NUMERIC_RTOL,
                               atol=0)


def test_tiny_gradients_give_finite_adam_steps_within_the_bound():
    grads = _stream((20, 4), 1e-30, seed=9)
    a, e = 0.1, 1e-8
    steps = ref.adam_updates(grads, alpha=a, beta1=0.9, beta2=0.999, eps=e)
    mh, _ = loop_adam_moments(grads, 0.9, 0.999)
    assert np.all(np.isfinite(steps))
    assert np.all(np.abs(steps) <= a * np.abs(mh) / e * (1 + 1e-12))


@pytest.mark.parametrize("function, kwargs", [
    (ref.momentum_updates, {"alpha": 0.1, "mu": 0.9}),
    (ref.adam_updates, {"alpha": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    (ref.adam_effective_learning_rates, {"alpha": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
], ids=["momentum", "adam", "effective_lr"])
def test_numeric_functions_do_not_mutate_inputs_and_accept_lists(function, kwargs):
    grads = _stream((5, 3), 1.0, seed=3)
    before = grads.copy()
    from_array = function(grads, **kwargs)
    np.testing.assert_array_equal(grads, before)

    as_list = grads.tolist()
    list_before = copy.deepcopy(as_list)
    from_list = function(as_list, **kwargs)
    assert as_list == list_before
    assert isinstance(from_list, np.ndarray) and from_list.dtype == np.float64
    np.testing.assert_array_equal(from_list, from_array)

    # Integer lists and float32 arrays are numbers too; the result is float64 of shape (T, d).
    from_ints = function([[1, -2], [0, 3]], **kwargs)
    assert from_ints.shape == (2, 2) and from_ints.dtype == np.float64
    from_f32 = function(grads.astype(np.float32), **kwargs)
    assert from_f32.shape == (5, 3) and from_f32.dtype == np.float64


@pytest.mark.parametrize("scale", SCALES, ids=["1e-8", "1", "1e8"])
@pytest.mark.parametrize("hyper", [(0.1, 0.9), (1.5, 0.3), (0.01, 0.0)])
def test_sutskever_and_tensorflow_momentum_forms_take_the_same_steps(hyper, scale):
    grads = _stream((40, 6), scale, seed=101)
    steps = ref.momentum_updates(grads, *hyper)
    atol = 1e-13 * scale * hyper[0]
    np.testing.assert_allclose(steps, loop_momentum_sutskever(grads, *hyper), rtol=1e-12, atol=atol)
    np.testing.assert_allclose(steps, loop_momentum_tensorflow(grads, *hyper), rtol=1e-12, atol=atol)


@pytest.mark.parametrize("eps_value", [1e-8, 0.3])
@pytest.mark.parametrize("shape", [(1, 1), (17, 5), (60, 8)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_adam_effective_learning_rates_match_plain_loop(shape, eps_value):
    grads = _stream(shape, 1.0, seed=31 + shape[0])
    grads[:, 0] *= 100.0  # one loud coordinate
    rates = ref.adam_effective_learning_rates(grads, alpha=0.05, beta1=0.9, beta2=0.99, eps=eps_value)
    assert isinstance(rates, np.ndarray)
    assert rates.shape == shape and rates.dtype == np.float64
    np.testing.assert_allclose(rates, loop_effective_learning_rates(grads, 0.05, 0.9, 0.99, eps_value),
                               rtol=NUMERIC_RTOL, atol=0)


def test_loud_coordinate_gets_the_smaller_effective_learning_rate():
    grads = _stream((30, 2), 1.0, seed=44)
    grads[:, 0] *= 50.0
    rates = ref.adam_effective_learning_rates(grads, alpha=0.05, beta1=0.9, beta2=0.99, eps=1e-8)
    assert np.all(rates[:, 0] < rates[:, 1])


# ---------------------------------------------------------------------------
# Part 2.1: constant gradient, closed form
# ---------------------------------------------------------------------------

CONSTANT_POINTS = [
    {"g": 1.3, "alpha": 0.7, "mu": 0.5, "beta1": 0.3, "beta2": 0.6, "eps": 0.2},
    {"g": -0.6, "alpha": 1.9, "mu": 0.8, "beta1": 0.8, "beta2": 0.2, "eps": 0.9},
    {"g": 2.0, "alpha": 0.5, "mu": 0.2, "beta1": 0.5, "beta2": 0.75, "eps": 0.1},
    {"g": -1.7, "alpha": 1.1, "mu": 0.35, "beta1": 0.65, "beta2": 0.45, "eps": 0.55},
]
SYMBOL_OF = {"g": g, "alpha": alpha, "mu": mu, "beta1": beta1, "beta2": beta2, "eps": eps}
T_MAX = 8


@pytest.mark.parametrize("values", CONSTANT_POINTS, ids=lambda v: f"g={v['g']}")
def test_momentum_constant_gradient_step_matches_simulation(values):
    expr = ref.momentum_constant_gradient_step(g=g, t=t, alpha=alpha, mu=mu)
    assert sympy.sympify(expr).free_symbols <= {g, t, alpha, mu}
    stream = np.full((T_MAX, 1), values["g"])
    simulated = ref.momentum_updates(stream, alpha=values["alpha"], mu=values["mu"])[:, 0]
    own = loop_momentum(stream, values["alpha"], values["mu"])[:, 0]
    np.testing.assert_allclose(simulated, own, rtol=NUMERIC_RTOL)
    point = {SYMBOL_OF[k]: values[k] for k in ("g", "alpha", "mu")}
    for step in range(1, T_MAX + 1):
        got = _evaluate(sympy.sympify(expr).subs(t, step), point)
        _assert_close(got, float(own[step - 1]), f"momentum step at t={step}")


@pytest.mark.parametrize("values", CONSTANT_POINTS, ids=lambda v: f"g={v['g']}")
def test_adam_constant_gradient_step_matches_simulation(values):
    expr = ref.adam_constant_gradient_step(g=g, t=t, alpha=alpha, beta1=beta1, beta2=beta2, eps=eps)
    assert sympy.sympify(expr).free_symbols <= {g, t, alpha, beta1, beta2, eps}
    hyper = (values["alpha"], values["beta1"], values["beta2"], values["eps"])
    stream = np.full((T_MAX, 1), values["g"])
    simulated = ref.adam_updates(stream, *hyper)[:, 0]
    own = loop_adam(stream, *hyper)[:, 0]
    np.testing.assert_allclose(simulated, own, rtol=NUMERIC_RTOL)
    point = {SYMBOL_OF[k]: values[k] for k in ("g", "alpha", "beta1", "beta2", "eps")}
    for step in range(1, T_MAX + 1):
        got = _evaluate(sympy.sympify(expr).subs(t, step), point)
        _assert_close(got, float(own[step - 1]), f"adam step at t={step}")


@pytest.mark.parametrize("step", [1, 2, 5])
def test_constant_gradient_steps_with_plain_numbers_are_finite_floats(step):
    momentum = ref.momentum_constant_gradient_step(0.8, step, 0.5, 0.9)
    adam = ref.adam_constant_gradient_step(-0.8, step, 0.5, 0.9, 0.999, 1e-8)
    for value in (momentum, adam):
        assert isinstance(value, float) and math.isfinite(value)
    assert math.isclose(momentum, float(loop_momentum(np.full((step, 1), 0.8), 0.5, 0.9)[-1, 0]),
                        rel_tol=1e-12)
    assert math.isclose(adam, float(loop_adam(np.full((step, 1), -0.8), 0.5, 0.9, 0.999, 1e-8)[-1, 0]),
                        rel_tol=1e-12)


# ---------------------------------------------------------------------------
# Part 2.2: scaling
# ---------------------------------------------------------------------------

SCALE_CS = [-3.0, -0.5, 0.25, 2.0]


@pytest.mark.parametrize("c_value", SCALE_CS)
def test_momentum_scale_factor_matches_ratio_of_steps(c_value):
    factor = _evaluate(ref.momentum_scale_factor(c), {c: c_value})
    grads = _stream((12, 4), 1.0, seed=57)
    ratio = loop_momentum(c_value * grads, 0.2, 0.7) / loop_momentum(grads, 0.2, 0.7)
    np.testing.assert_allclose(ratio, factor, rtol=1e-10)
    ref_ratio = ref.momentum_updates(c_value * grads, 0.2, 0.7) / ref.momentum_updates(grads, 0.2, 0.7)
    np.testing.assert_allclose(ref_ratio, factor, rtol=1e-10)


@pytest.mark.parametrize("c_value", SCALE_CS)
def test_adam_scale_factor_matches_ratio_of_steps_with_eps_zero(c_value):
    factor = _evaluate(ref.adam_scale_factor(c), {c: c_value})
    grads = _stream((12, 4), 1.0, seed=58)
    ratio = loop_adam(c_value * grads, 0.2, 0.7, 0.9, 0.0) / loop_adam(grads, 0.2, 0.7, 0.9, 0.0)
    np.testing.assert_allclose(ratio, factor, rtol=1e-10)
    ref_ratio = (ref.adam_updates(c_value * grads, 0.2, 0.7, 0.9, 0.0)
                 / ref.adam_updates(grads, 0.2, 0.7, 0.9, 0.0))
    np.testing.assert_allclose(ref_ratio, factor, rtol=1e-10)


def test_scale_factors_use_only_c():
    assert sympy.sympify(ref.momentum_scale_factor(c)).free_symbols <= {c}
    assert sympy.sympify(ref.adam_scale_factor(c)).free_symbols <= {c}


def _scaled_step_points(seed, n=N_POINTS):
    rng = np.random.default_rng(seed)
    return [{c: _signed(rng, 0.25, 4.0), m_hat: _signed(rng, 0.5, 2.0),
             v_hat: float(rng.uniform(0.25, 4.0)), alpha: float(rng.uniform(0.5, 2.0)),
             eps: float(rng.uniform(0.1, 1.0))} for _ in range(n)]


def test_adam_scaled_step_matches_formula_at_random_points():
    expr = ref.adam_scaled_step(c=c, m_hat=m_hat, v_hat=v_hat, alpha=alpha, eps=eps)
    assert sympy.sympify(expr).free_symbols <= {c, m_hat, v_hat, alpha, eps}
    for index, p in enumerate(_scaled_step_points(seed=2024)):
        expected = -p[alpha] * (p[c] * p[m_hat]) / (math.sqrt(p[c] ** 2 * p[v_hat]) + p[eps])
        _assert_close(_evaluate(expr, p), expected, f"adam_scaled_step at point {index}")


@pytest.mark.parametrize("c_value", SCALE_CS)
def test_adam_scaled_step_matches_adam_run_on_scaled_gradients(c_value):
    expr = ref.adam_scaled_step(c=c, m_hat=m_hat, v_hat=v_hat, alpha=alpha, eps=eps)
    a, b1, b2, e = 0.8, 0.6, 0.7, 0.4
    grads = _stream((6, 3), 1.0, seed=61)
    mh, vh = loop_adam_moments(grads, b1, b2)
    scaled_steps = loop_adam(c_value * grads, a, b1, b2, e)
    evaluate = sympy.lambdify((c, m_hat, v_hat, alpha, eps), expr, modules="math")
    for i in range(grads.shape[0]):
        for j in range(grads.shape[1]):
            got = evaluate(c_value, float(mh[i, j]), float(vh[i, j]), a, e)
            _assert_close(got, float(scaled_steps[i, j]), f"step {i + 1}, coordinate {j}")


def test_adam_with_eps_is_not_exactly_scale_invariant():
    grads = _stream((5, 2), 1.0, seed=62)
    base = ref.adam_updates(grads, 0.5, 0.5, 0.5, 0.5)
    doubled = ref.adam_updates(2.0 * grads, 0.5, 0.5, 0.5, 0.5)
    assert not np.allclose(base, doubled)


# ---------------------------------------------------------------------------
# Part 2.3: the bound
# ---------------------------------------------------------------------------

def test_adam_step_bound_holds_for_every_v_hat_and_is_attained_at_zero():
    expr = ref.adam_step_bound(m_hat=m_hat, alpha=alpha, eps=eps)
    assert sympy.sympify(expr).free_symbols <= {m_hat, alpha, eps}
    rng = np.random.default_rng(99)
    v_hats = [0.0, 1e-12, 1e-4, 0.25, 1.0, 4.0, 100.0]
    signs = set()
    for index in range(N_POINTS):
        p = {m_hat: _signed(rng, 0.5, 2.0), alpha: float(rng.uniform(0.5, 2.0)),
             eps: float(rng.uniform(0.1, 1.0))}
        signs.add(p[m_hat] > 0)
        bound = _evaluate(expr, p)
        for vh in v_hats:
            step = abs(-p[alpha] * p[m_hat] / (math.sqrt(vh) + p[eps]))
            assert bound >= step * (1 - 1e-12), f"point {index}, v_hat={vh}: {bound} < {step}"
        at_zero = p[alpha] * abs(p[m_hat]) / p[eps]
        _assert_close(bound, at_zero, f"bound attained at v_hat=0, point {index}")
    assert signs == {True, False}


def test_adam_step_bound_with_plain_numbers():
    assert math.isclose(float(ref.adam_step_bound(-1.5, 2.0, 0.5)), 6.0, rel_tol=1e-12)


# ---------------------------------------------------------------------------
# Part 3: spikes and sparse features
# ---------------------------------------------------------------------------

def loop_spike_response(stream, t_spike, spike, a, momentum, b1, b2, e):
    spiked = list(map(float, stream))
    spiked[t_spike - 1] = float(spike)
    plain_column = [[float(x)] for x in stream]
    spiked_column = [[x] for x in spiked]
    row = t_spike - 1
    return {
        "momentum": abs(loop_momentum(spiked_column, a, momentum)[row, 0])
        / abs(loop_momentum(plain_column, a, momentum)[row, 0]),
        "adam": abs(loop_adam(spiked_column, a, b1, b2, e)[row, 0])
        / abs(loop_adam(plain_column, a, b1, b2, e)[row, 0]),
    }


def loop_sparse_feature_boost(T, k, gradient, a, momentum, b1, b2, e):
    sparse = [[gradient if step % k == 0 else 0.0] for step in range(1, T + 1)]
    dense = [[gradient] for _ in range(T)]
    return {
        "momentum": abs(loop_momentum(sparse, a, momentum)[-1, 0])
        / abs(loop_momentum(dense, a, momentum)[-1, 0]),
        "adam": abs(loop_adam(sparse, a, b1, b2, e)[-1, 0]) / abs(loop_adam(dense, a, b1, b2, e)[-1, 0]),
    }


SPIKE_CASES = [
    # (stream seed, T, t_spike, spike, alpha, mu, beta1, beta2, eps)
    (1, 20, 12, 50.0, 0.1, 0.9, 0.9, 0.999, 1e-8),
    (2, 10, 1, -30.0, 0.5, 0.5, 0.5, 0.9, 0.1),
    (3, 15, 15, 100.0, 1.0, 0.3, 0.7, 0.99, 1e-3),
    (4, 8, 4, 0.2, 0.2, 0.8, 0.2, 0.8, 0.5),
]


@pytest.mark.parametrize("case", SPIKE_CASES, ids=lambda case: f"seed{case[0]}")
def test_spike_response_matches_plain_loop(case):
    seed, T, t_spike, spike, *hyper = case
    stream = 1.0 + 0.3 * np.random.default_rng(seed).standard_normal(T)
    before = stream.copy()
    result = ref.spike_response(stream, t_spike, spike, *hyper)
    np.testing.assert_array_equal(stream, before)
    assert set(result) == {"momentum", "adam"}
    assert all(type(value) is float for value in result.values())
    expected = loop_spike_response(stream, t_spike, spike, *hyper)
    for name in ("momentum", "adam"):
        assert math.isclose(result[name], expected[name], rel_tol=1e-12), name
    # Lists are accepted too.
    assert ref.spike_response(stream.tolist(), t_spike, spike, *hyper) == result


@pytest.mark.parametrize("case", SPIKE_CASES[:3], ids=lambda case: f"seed{case[0]}")
def test_large_spike_inflates_momentum_more_than_adam(case):
    seed, T, t_spike, spike, *hyper = case
    stream = 1.0 + 0.3 * np.random.default_rng(seed).standard_normal(T)
    result = ref.spike_response(stream, t_spike, spike, *hyper)
    assert result["momentum"] > result["adam"]


SPARSE_CASES = [
    # (T, k, g, alpha, mu, beta1, beta2, eps)
    (20, 5, 1.0, 0.1, 0.9, 0.9, 0.999, 1e-8),
    (12, 3, -2.0, 0.5, 0.5, 0.5, 0.9, 0.1),
    (30, 10, 0.7, 1.0, 0.3, 0.7, 0.99, 1e-3),
    (6, 6, 1.5, 0.2, 0.8, 0.2, 0.8, 0.5),
]


@pytest.mark.parametrize("case", SPARSE_CASES, ids=lambda case: f"T{case[0]}k{case[1]}")
def test_sparse_feature_boost_matches_plain_loop(case):
    result = ref.sparse_feature_boost(*case)
    assert set(result) == {"momentum", "adam"}
    assert all(type(value) is float for value in result.values())
    expected = loop_sparse_feature_boost(*case)
    for name in ("momentum", "adam"):
        assert math.isclose(result[name], expected[name], rel_tol=1e-12), name


@pytest.mark.parametrize("case", SPARSE_CASES, ids=lambda case: f"T{case[0]}k{case[1]}")
def test_sparse_feature_gets_a_larger_relative_step_under_adam(case):
    result = ref.sparse_feature_boost(*case)
    assert result["adam"] > result["momentum"]


# ---------------------------------------------------------------------------
# Concept questions
# ---------------------------------------------------------------------------

def test_concept_answers_pick_an_option_of_every_question():
    answers = ref.concept_answers()
    assert isinstance(answers, dict)
    assert set(answers) == set(ref.CONCEPT_QUESTIONS)
    for key, answer in answers.items():
        options = ref.CONCEPT_QUESTIONS[key]["options"]
        assert len(options) >= 3, key
        assert len(set(options)) == len(options), key
        assert isinstance(answer, str) and answer in options, key
    assert sum(key.startswith("3a_") for key in answers) >= 3
    assert sum(key.startswith("3b_") for key in answers) >= 3
    assert all(key.startswith(("3a_", "3b_")) for key in answers)


def test_concept_answers_is_a_fresh_copy():
    answers = ref.concept_answers()
    answers.clear()
    assert ref.concept_answers()


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

GOOD_GRADS = [[0.5, -1.0], [1.5, 2.0], [-0.3, 0.1]]
MOMENTUM_KW = {"grads": GOOD_GRADS, "alpha": 0.1, "mu": 0.9}
ADAM_KW = {"grads": GOOD_GRADS, "alpha": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
SPIKE_KW = {"grads": [1.0, 0.8, 1.2, 0.9], "t_spike": 2, "spike": 20.0, "alpha": 0.1, "mu": 0.9,
            "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
SPARSE_KW = {"T": 12, "k": 3, "g": 1.0, "alpha": 0.1, "mu": 0.9, "beta1": 0.9, "beta2": 0.999,
             "eps": 1e-8}
NAN, INF = float("nan"), float("inf")


def _with(base, **changes):
    merged = dict(base)
    merged.update(changes)
    return merged


def _grads_with(value):
    grads = copy.deepcopy(GOOD_GRADS)
    grads[1][0] = value
    return grads


BAD_GRADS = [
    ("1-D", [0.1, 0.2, 0.3]),
    ("3-D", np.zeros((2, 2, 2))),
    ("0-D", 1.0),
    ("NaN", _grads_with(NAN)),
    ("+inf", _grads_with(INF)),
    ("-inf", _grads_with(-INF)),
    ("not numbers", [["a", "b"]]),
]

BAD_CALLS = []
for _label, _grads in BAD_GRADS:
    BAD_CALLS.append((f"momentum_updates grads {_label}", ref.momentum_updates,
                      _with(MOMENTUM_KW, grads=_grads), "grads"))
    BAD_CALLS.append((f"adam_updates grads {_label}", ref.adam_updates,
                      _with(ADAM_KW, grads=_grads), "grads"))
    BAD_CALLS.append((f"adam_effective_learning_rates grads {_label}",
                      ref.adam_effective_learning_rates, _with(ADAM_KW, grads=_grads), "grads"))

for _name, _value in [("alpha", NAN), ("alpha", -0.1), ("alpha", INF), ("mu", NAN), ("mu", 1.0),
                      ("mu", 1.5), ("mu", -0.1)]:
    BAD_CALLS.append((f"momentum_updates {_name}={_value}", ref.momentum_updates,
                      _with(MOMENTUM_KW, **{_name: _value}), _name))

for _name, _value in [("alpha", NAN), ("alpha", -0.1), ("beta1", NAN), ("beta2", NAN),
                      ("beta1", 1.0), ("beta2", 1.0), ("beta1", 1.2), ("beta2", -0.5),
                      ("eps", NAN), ("eps", INF), ("eps", -1e-8)]:
    BAD_CALLS.append((f"adam_updates {_name}={_value}", ref.adam_updates,
                      _with(ADAM_KW, **{_name: _value}), _name))
    BAD_CALLS.append((f"adam_effective_learning_rates {_name}={_value}",
                      ref.adam_effective_learning_rates, _with(ADAM_KW, **{_name: _value}), _name))

for _value in (0, -1):
    BAD_CALLS.append((f"momentum_constant_gradient_step t={_value}",
                      ref.momentum_constant_gradient_step,
                      {"g": 1.0, "t": _value, "alpha": 0.1, "mu": 0.9}, "t"))
    BAD_CALLS.append((f"adam_constant_gradient_step t={_value}", ref.adam_constant_gradient_step,
                      {"g": 1.0, "t": _value, "alpha": 0.1, "beta1": 0.9, "beta2": 0.999,
                       "eps": 1e-8}, "t"))
BAD_CALLS.append(("momentum_constant_gradient_step t=1.5", ref.momentum_constant_gradient_step,
                  {"g": 1.0, "t": 1.5, "alpha": 0.1, "mu": 0.9}, "t"))

BAD_CALLS += [
    ("spike_response t_spike=0", ref.spike_response, _with(SPIKE_KW, t_spike=0), "t_spike"),
    ("spike_response t_spike=T+1", ref.spike_response, _with(SPIKE_KW, t_spike=5), "t_spike"),
    ("spike_response grads 2-D", ref.spike_response, _with(SPIKE_KW, grads=GOOD_GRADS), "grads"),
    ("spike_response grads NaN", ref.spike_response, _with(SPIKE_KW, grads=[1.0, NAN, 1.0]), "grads"),
    ("spike_response spike NaN", ref.spike_response, _with(SPIKE_KW, spike=NAN), "spike"),
    ("spike_response alpha negative", ref.spike_response, _with(SPIKE_KW, alpha=-1.0), "alpha"),
    ("spike_response beta2=1", ref.spike_response, _with(SPIKE_KW, beta2=1.0), "beta2"),
    ("sparse_feature_boost T=0", ref.sparse_feature_boost, _with(SPARSE_KW, T=0), "T"),
    ("sparse_feature_boost k=0", ref.sparse_feature_boost, _with(SPARSE_KW, k=0), "k"),
    ("sparse_feature_boost eps NaN", ref.sparse_feature_boost, _with(SPARSE_KW, eps=NAN), "eps"),
    ("sparse_feature_boost mu NaN", ref.sparse_feature_boost, _with(SPARSE_KW, mu=NAN), "mu"),
    ("sparse_feature_boost beta1=1", ref.sparse_feature_boost, _with(SPARSE_KW, beta1=1.0), "beta1"),
]


@pytest.mark.parametrize("function, kwargs, argument", [case[1:] for case in BAD_CALLS],
                         ids=[case[0] for case in BAD_CALLS])
def test_bad_input_raises_value_error_naming_the_argument(function, kwargs, argument):
    with pytest.raises(ValueError, match=_name_pattern(argument)):
        function(**kwargs)


@pytest.mark.parametrize("T_value, k_value", [(10, 3), (7, 2), (12, 5)])
def test_sparse_feature_boost_rejects_T_not_a_multiple_of_k(T_value, k_value):
    with pytest.raises(ValueError) as info:
        ref.sparse_feature_boost(**_with(SPARSE_KW, T=T_value, k=k_value))
    message = str(info.value)
    assert re.search(_name_pattern("T"), message) and re.search(_name_pattern("k"), message), message
