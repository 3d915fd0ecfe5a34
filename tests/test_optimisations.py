"""The speed-ups change nothing: same reports with and without the verdict cache, with one or
two parallel workers, and with the trusted work in the grader's own process or in one
trusted process per worker."""

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from queue import Queue

import pytest

from grader.judging.grading import grade
from grader.judging.items import Judging
from grader.outputs.reports import report_json
from grader.rubric import DEFAULT_RUBRIC, load_rubric
from grader.sandbox.manager import Sandbox
from grader.intake.submissions import discover

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"
# Correct forms, misconceptions with follow-through, unknown symbols, wrong types.
SAMPLE = ("c01_expanded_vectorised", "c04_sum_piecewise", "c10_unevaluated_nodes", "m01_no_bias_correction",
          "m07_eps_inside_sqrt", "m10_sqrt_of_square_as_g", "m25_slip_in_m_hat2_follow_through",
          "e05_missing_and_misspelt_keys", "e07_unknown_symbols")


@pytest.fixture(scope="module")
def patient_rubric(tmp_path_factory) -> Path:
    """The rubric with generous time limits: on a loaded machine a slow call may not time out
    in one run and not in the other (the comparison is of the optimisations, not of the load)."""
    text = DEFAULT_RUBRIC.read_text(encoding="utf-8")
    for name, seconds in (("import_seconds", 120), ("call_seconds", 120), ("submission_seconds", 900),
                          ("worker_cpu_seconds", 600)):
        text = re.sub(rf"^{name} = .*$", f"{name} = {seconds}", text, count=1, flags=re.M)
    path = tmp_path_factory.mktemp("rubric") / "rubric.toml"
    path.write_text(text, encoding="utf-8")
    assert load_rubric(path).limits.call_seconds == 120
    return path


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample")
    for name in SAMPLE:
        source = CORPUS / f"{name}.py"
        (folder / source.name).write_bytes(source.read_bytes())
    # Each twice under another name, so that the second copy is judged from the cache.
    for name in SAMPLE:
        (folder / f"{name}_again.py").write_bytes((CORPUS / f"{name}.py").read_bytes())
    return folder


def test_same_reports_with_and_without_the_verdict_cache(sample, patient_rubric):
    rubric = load_rubric(patient_rubric)
    cached = Judging.create(rubric)
    uncached = Judging.create(rubric, cache=False)
    submissions = discover([sample])
    with Sandbox(rubric.limits) as sandbox:
        # each run on two worker slots at once (the judging is shared between threads, as in a batch)
        slots: Queue = Queue()
        for slot in (0, 1):
            slots.put(slot)

        def one(judging, submission):
            slot = slots.get()  # a slot is used by one thread at a time
            try:
                return report_json(grade(judging, sandbox, slot, submission))
            finally:
                slots.put(slot)

        with ThreadPoolExecutor(max_workers=2) as pool:
            with_cache = list(pool.map(lambda s: one(cached, s), submissions))
            without = list(pool.map(lambda s: one(uncached, s), submissions))
    assert with_cache == without
    assert all(cached.judge.cache_sizes().values()) and not any(uncached.judge.cache_sizes().values())


def tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _grade(sample: Path, rubric: Path, out: Path, *options: str) -> dict:
    subprocess.run([sys.executable, "-m", "grader", "grade", str(sample), "--out", str(out), "--quiet",
                    "--rubric", str(rubric), *options], check=True, capture_output=True, timeout=1800)
    return tree(out)


@pytest.fixture(scope="module")
def one_worker(sample, patient_rubric, tmp_path_factory):
    """The whole output folder with one worker (so one process: the reference for the others)."""
    return _grade(sample, patient_rubric, tmp_path_factory.mktemp("w1") / "out", "--workers", "1")


def test_same_output_with_one_and_with_two_workers(sample, patient_rubric, one_worker, tmp_path):
    two = _grade(sample, patient_rubric, tmp_path / "w2", "--workers", "2", "--processes", "1")
    assert sorted(one_worker) == sorted(two) and len(one_worker) > 2 * len(SAMPLE)
    assert [name for name in one_worker if one_worker[name] != two[name]] == []


def test_same_output_with_one_trusted_process_per_worker(sample, patient_rubric, one_worker, tmp_path):
    """Two trusted processes (forked, each with its own caches, both on one zygote): the same
    bytes in every file, reports and class files alike."""
    split = _grade(sample, patient_rubric, tmp_path / "p2", "--workers", "2", "--processes", "2")
    assert sorted(one_worker) == sorted(split) and len(split) > 2 * len(SAMPLE)
    assert [name for name in one_worker if one_worker[name] != split[name]] == []


def test_reports_are_written_whole_without_an_fsync_each(tmp_path, monkeypatch):
    """Per-student files skip the fsync (about 3 ms of waiting each) but are still written
    atomically, with the permissions open() would give."""
    from grader.outputs import reports

    synced = []
    monkeypatch.setattr(reports.os, "fsync", lambda fd: synced.append(fd))
    reports.write_atomic(tmp_path / "fast.json", "{}\n", durable=False)
    reports.write_atomic(tmp_path / "safe.json", "{}\n")
    assert len(synced) == 1
    assert (tmp_path / "fast.json").read_text() == (tmp_path / "safe.json").read_text() == "{}\n"
    assert (tmp_path / "fast.json").stat().st_mode == (tmp_path / "safe.json").stat().st_mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fast.json", "safe.json"]  # no temporary left


def test_variant_history_all_steps_at_once_is_the_step_by_step_form_bit_for_bit():
    """The Adam variants' histories and effective rates (every numeric misconception template
    of Adam) compute the corrections and steps of all steps at once, from moments shared
    between variants; the floats are those of the step-by-step form, NaN and infinities
    included, for every single mistake and every pair."""
    import numpy as np

    from grader.judging.inputs import draw_inputs
    from dataclasses import replace

    from grader.judging.misconceptions import (ADAM_VARIANTS, AdamVariant, _variant_history_stepwise, adam_pairs,
                                               variant_effective_rates, variant_history, variant_step)

    variants = {"reference": AdamVariant(), **ADAM_VARIANTS, **adam_pairs()}
    argsets = [(np.array([[0.0, 1e300], [-1e-300, 0.0], [np.nan, np.inf]]), 0.5, 0.0, 1.0, 0.0),
               (np.zeros((3, 2)), 1e-3, 0.9, 0.999, 1e-8)]
    for seed in range(3):
        inputs = draw_inputs(f"bit-for-bit {seed}")
        argsets += [case.args for cases in inputs.cases.values() for case in cases
                    if case.function in ("adam_updates", "adam_effective_learning_rates")]
        argsets += [probe.args for probes in inputs.probes.values() for probe in probes
                    if probe.function == "adam_updates"]
    for args in argsets:
        for label, variant in variants.items():
            slow_steps, slow_v_hats = _variant_history_stepwise(variant, *args)
            unit = replace(variant, ascent=False)
            with np.errstate(all="ignore"):
                slow_rates = np.stack([-variant_step(unit, np.ones(args[0].shape[1]), v_hat, args[1], args[4],
                                                     index + 1, args[3]) for index, v_hat in enumerate(slow_v_hats)])
            fast = (*variant_history(variant, *args), variant_effective_rates(variant, *args))
            for fast, slow in zip(fast, (slow_steps, slow_v_hats, slow_rates)):
                assert fast.dtype == slow.dtype and fast.shape == slow.shape, label
                assert np.array_equal(fast.view(np.uint64), slow.view(np.uint64)), (label, args[1:])


def test_same_values_shortcuts_answer_as_the_general_comparison():
    """same_values compares two floats and two finite float arrays with shortcuts; their
    answers are the general (NaN- and infinity-aware) comparison's on every pair tried (NaN,
    infinities, zeros of both signs, tiny and huge numbers, near misses either side of the
    tolerances)."""
    import random

    import numpy as np

    from grader.engine.explain import _same_with_non_finite, same_values

    def general(got, expected, rtol, atol):
        got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
        return got.shape == expected.shape and _same_with_non_finite(got, expected, rtol=rtol, atol_scale=atol)

    rng, pick = np.random.default_rng(0), random.Random(0)
    special = [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1e-301, np.nan, np.inf, -np.inf, 1.0, -1.0, 1e308,
               1 + 1e-9, 1 - 1e-9, 1.0000001]
    with np.errstate(all="ignore"):
        for rtol, atol in ((1e-6, 1e-9), (0.0, 0.0), (1e-3, 1e-3)):
            values = special + [float(x) for x in rng.normal(size=60)]
            for a in values:
                for b in values[:30] + [a, a * (1 + 1e-7), a * (1 + 1e-6), a + 1e-9, a * (1 - 1e-6)]:
                    a, b = float(a), float(b)
                    want = general(a, b, rtol, atol)
                    assert same_values(a, b, rtol=rtol, atol_scale=atol) == want, (a, b, rtol, atol)
                    assert same_values(np.asarray(a), np.asarray(b), rtol=rtol, atol_scale=atol) == want
            for _ in range(1500):
                shape = pick.choice([(3,), (4, 2), (1,), (0,), (5, 3), ()])
                expected = rng.normal(size=shape) * 10.0 ** pick.randint(-12, 3)
                got = expected * (1 + rng.normal(size=shape) * 10.0 ** pick.randint(-12, -2))
                if pick.random() < 0.2 and got.size:
                    got.flat[0] = pick.choice([np.nan, np.inf, 0.0])
                if pick.random() < 0.1 and expected.size:
                    expected.flat[-1] = pick.choice([np.nan, np.inf, 0.0])
                assert same_values(got, expected, rtol=rtol, atol_scale=atol) == general(got, expected, rtol, atol), \
                    (got, expected)
