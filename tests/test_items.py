"""The item registry is the one home of the items: judges, public checks, inputs and ids agree."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import sympy

from reference import adam_vs_momentum as reference

from grader.engine import publicdata, selfcheck
from grader.engine.contract import FUNCTION_NAMES, FUNCTIONS, SYMBOLIC_FUNCTIONS
from grader.engine.publicdata import load_public_data
from grader.judging import items, registry
from grader.judging.inputs import GENERATORS, draw_inputs
from grader.judging.misconceptions import (AdamVariant, variant_effective_rates, variant_history,
                                           variant_part1)
from grader.rubric import load_rubric
from grader.engine.symbols import make_symbols

ROOT = Path(__file__).resolve().parents[1]


def test_every_kind_has_one_judge_and_one_public_check():
    assert set(items.JUDGES) == set(registry.KINDS) == set(selfcheck._CHECKS) == set(publicdata.KINDS)


def test_every_spec_names_a_contract_function_its_keys_and_a_generator():
    labels = []
    for spec in registry.ITEMS:
        assert spec.kind in registry.KINDS, spec.id
        assert spec.part in registry.PARTS, spec.id
        assert spec.function in FUNCTIONS, spec.id
        assert set(spec.keys) <= set(FUNCTIONS[spec.function].keys), spec.id
        if spec.kind in ("symbolic", "symbolic_keys"):
            assert spec.function in SYMBOLIC_FUNCTIONS
            assert bool(spec.keys) == (spec.kind == "symbolic_keys"), spec.id
        if spec.kind in ("array", "ratios", "scaling", "safety"):
            assert spec.draw is not None and spec.draw.generator in GENERATORS, spec.id
            labels.append(spec.draw.label)
        else:
            assert spec.draw is None, spec.id
        for _, function, key in spec.follow_through:
            assert key in FUNCTIONS[function].keys
    assert len(labels) == len(set(labels))  # each item draws from its own random stream


def test_hidden_inputs_come_from_the_registry():
    inputs = draw_inputs("some seed")
    drawn = {spec.id for spec in registry.ITEMS if spec.draw}
    assert set(inputs.cases) | set(inputs.probes) == drawn
    for item_id, cases in inputs.cases.items():
        assert {case.function for case in cases} == {registry.SPECS[item_id].function}


def test_hidden_inputs_use_no_numpy_function_that_rounds_differently_per_cpu(monkeypatch):
    """numpy's exp and log pick the CPU's fastest vector instructions, and their last bit
    differs between machines (AVX-512 against AVX2): hidden inputs drawn with them made the
    public data file, and every expected value, depend on the host. They are drawn with
    correctly rounded software arithmetic instead, the same floats on every machine."""
    before = draw_inputs("host")

    def refused(*args, **kwargs):
        raise AssertionError("a CPU-dependent numpy function drew a hidden input")

    for name in ("exp", "log", "expm1", "log1p", "power", "exp2", "log2", "log10"):
        monkeypatch.setattr(np, name, refused)
    after = draw_inputs("host")
    for item_id, cases in before.cases.items():
        for first, second in zip(cases, after.cases[item_id]):
            for a, b in zip(first.args, second.args):
                assert np.array_equal(np.asarray(a), np.asarray(b))


def test_the_plan_calls_only_contract_functions_and_each_one_the_registry_needs():
    calls = items.plan_calls(draw_inputs("seed"))
    assert {call.function for call in calls} <= set(FUNCTION_NAMES)
    assert {spec.function for spec in registry.ITEMS} <= {call.function for call in calls}
    assert len({call.key for call in calls}) == len(calls)


def test_public_data_items_follow_the_registry_and_the_rubric():
    data = load_public_data(ROOT / "assignment" / "public_checks.json")
    rubric = load_rubric()
    assert [item.id for item in data.items] == [item.id for item in rubric.items]
    for item in data.items:
        spec = registry.SPECS[item.id]
        assert (item.kind, item.function, item.keys, item.prefix) == (spec.kind, spec.function, spec.keys, spec.prefix)
        assert dict(item.shares) == (rubric.item(item.id).share_map or {k: 1.0 for k in spec.keys})


def test_item_ids_appear_only_in_the_registry_and_the_rubric_file():
    ids = [spec.id for spec in registry.ITEMS]
    pattern = re.compile("|".join(r"(?<![\w.])" + re.escape(i) + r"(?![\w])" for i in ids if "." in i)
                         + "|" + "|".join(rf"[\"']{i}[\"']" for i in ids if "." not in i))
    offenders = []
    for path in sorted((ROOT / "grader").rglob("*.py")):
        if path.name == "registry.py" or path.relative_to(ROOT).as_posix() == "grader/cli.py":  # help examples
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_function_list_has_one_home():
    assert list(FUNCTION_NAMES) == [name for name in reference.__all__ if name in FUNCTIONS]
    for name, function in FUNCTIONS.items():
        import inspect
        assert tuple(inspect.signature(getattr(reference, name)).parameters) == function.parameters, name


# ---------------------------------------------------------------------------
# The misconception variant engine with no change is the reference
# ---------------------------------------------------------------------------

def test_adam_variant_with_no_change_reproduces_the_reference_part1():
    names = FUNCTIONS["adam_second_update"].parameters
    S = make_symbols(names)
    first = reference.adam_first_update(*(S[n] for n in FUNCTIONS["adam_first_update"].parameters))
    second = reference.adam_second_update(*(S[n] for n in names))
    variant = variant_part1(AdamVariant())
    for key, expr in {**first, **second}.items():
        assert sympy.simplify(variant[key] - expr) == 0, key


@pytest.mark.parametrize("seed", range(3))
def test_adam_variant_with_no_change_reproduces_the_reference_streams(seed):
    rng = np.random.default_rng(seed)
    grads = rng.normal(size=(7, 3))
    grads[2, 1] = 0.0
    args = (grads, 0.1, 0.8, 0.95, 0.05)
    steps, _ = variant_history(AdamVariant(), *args)
    np.testing.assert_allclose(steps, reference.adam_updates(*args), rtol=1e-12, atol=0)
    np.testing.assert_allclose(variant_effective_rates(AdamVariant(), *args),
                               reference.adam_effective_learning_rates(*args), rtol=1e-12, atol=0)
