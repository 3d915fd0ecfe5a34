"""Inputs for the numeric items, and the expected values that the trusted side computes.

Hidden inputs are drawn for each submission from a seed derived from its content (the same
file always meets the same inputs, so its report is reproducible; a file that hard-codes
the public answers meets other inputs). The student bundle's public checks use the same
generator with the fixed seed ``"public"``.

Gradient scales and eps are chosen so that a misplaced eps changes the answer visibly,
plus one case at realistic scales (eps = 1e-8, betas 0.9 / 0.999).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

import numpy as np

from reference import adam_vs_momentum as reference

from grader.judging.registry import ITEMS, ItemSpec

PUBLIC_SEED = "public"


@dataclass(frozen=True)
class Case:
    """One call of a numeric function: its arguments and the reference's answer."""

    function: str
    args: tuple
    expected: object


@dataclass(frozen=True)
class Probe:
    """A call whose answer is judged by a property, not against an expected value."""

    name: str
    function: str
    args: tuple


@dataclass(frozen=True)
class Drawn:
    """What a generator draws for one item: cases, probes and (scaling) the factors."""

    cases: tuple[Case, ...] = ()
    probes: tuple[Probe, ...] = ()
    factors: tuple[float, ...] = ()


@dataclass(frozen=True)
class HiddenInputs:
    """Every numeric case and property probe of one submission, by rubric item."""

    seed: str
    cases: Mapping[str, tuple[Case, ...]]
    probes: Mapping[str, tuple[Probe, ...]]
    #: Scale factors of the items whose probes multiply the gradients, by item.
    factors: Mapping[str, tuple[float, ...]]


def submission_seed(content: bytes) -> str:
    """The seed of a submission's hidden inputs: a digest of its bytes."""
    return hashlib.sha256(b"adam-vs-momentum hidden inputs\0" + content).hexdigest()


def _rng(seed: str, label: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}|{label}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def _exact_log(x: float) -> float:
    """``log(x)``, the same on every machine. numpy's ``exp`` and ``log`` take the fastest
    vector instructions of the CPU and differ in the last bit between machines, which made
    the hidden inputs (and the public data file) depend on the host; :mod:`decimal` rounds
    its ``exp`` and ``ln`` correctly in software, so its floats are the same everywhere."""
    return float(Decimal(x).ln())


def _stream(rng: np.random.Generator, *, steps: tuple[int, int], dims: tuple[int, int],
            scale: tuple[float, float], zeros: bool = True) -> np.ndarray:
    """A (T, d) gradient stream with a different scale per coordinate and a few zeros."""
    T = int(rng.integers(*steps, endpoint=True))
    d = int(rng.integers(*dims, endpoint=True))
    logs = rng.uniform(_exact_log(scale[0]), _exact_log(scale[1]), size=d)
    scales = np.array([float(Decimal(float(x)).exp()) for x in logs])
    grads = rng.normal(size=(T, d)) * scales + 0.3 * scales * rng.choice((-1, 1), size=d)
    if zeros:
        grads[rng.random(size=(T, d)) < 0.1] = 0.0
    return grads


def _adam_hyper(rng: np.random.Generator) -> dict:
    return {"alpha": float(rng.uniform(0.05, 0.5)), "beta1": float(rng.uniform(0.5, 0.95)),
            "beta2": float(rng.uniform(0.6, 0.99)), "eps": float(rng.uniform(0.05, 0.5))}


def _adam_cases(function: str, fn, rng: np.random.Generator) -> tuple[Case, ...]:
    cases = []
    for scale in ((0.1, 2.0), (0.3, 1.0)):
        grads = _stream(rng, steps=(6, 12), dims=(2, 5), scale=scale)
        h = _adam_hyper(rng)
        args = (grads, h["alpha"], h["beta1"], h["beta2"], h["eps"])
        cases.append(Case(function, args, fn(*args)))
    grads = _stream(rng, steps=(10, 20), dims=(2, 4), scale=(1e-4, 1e-2))
    args = (grads, 1e-3, 0.9, 0.999, 1e-8)
    cases.append(Case(function, args, fn(*args)))
    return tuple(cases)


def _momentum_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    cases = []
    for scale in ((0.01, 100.0), (0.5, 2.0)):
        grads = _stream(rng, steps=(6, 12), dims=(2, 5), scale=scale)
        args = (grads, float(rng.uniform(0.01, 0.5)), float(rng.uniform(0.5, 0.95)))
        cases.append(Case("momentum_updates", args, reference.momentum_updates(*args)))
    return tuple(cases)


def _spike_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    cases = []
    for _ in range(2):
        T = int(rng.integers(6, 12, endpoint=True))
        grads = rng.uniform(0.3, 1.0, size=T) * rng.choice((-1, 1))
        t_spike = int(rng.integers(3, T, endpoint=True))
        spike = float(rng.uniform(20, 60) * rng.choice((-1, 1)))
        args = (grads, t_spike, spike, float(rng.uniform(0.01, 0.3)), float(rng.uniform(0.5, 0.95)),
                float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.9, 0.999)), float(rng.uniform(1e-4, 1e-2)))
        cases.append(Case("spike_response", args, reference.spike_response(*args)))
    return tuple(cases)


def _sparse_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    cases = []
    for _ in range(2):
        k = int(rng.integers(3, 6, endpoint=True))
        T = k * int(rng.integers(2, 4, endpoint=True))
        g = float(rng.uniform(0.5, 2.0) * rng.choice((-1, 1)))
        args = (T, k, g, float(rng.uniform(0.01, 0.3)), float(rng.uniform(0.5, 0.95)),
                float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.9, 0.999)), float(rng.uniform(1e-4, 1e-2)))
        cases.append(Case("sparse_feature_boost", args, reference.sparse_feature_boost(*args)))
    return tuple(cases)


def _scaling_probes(rng: np.random.Generator) -> tuple[tuple[Probe, ...], tuple[float, ...]]:
    grads = _stream(rng, steps=(6, 10), dims=(2, 4), scale=(0.2, 2.0), zeros=False)
    alpha, mu = float(rng.uniform(0.05, 0.5)), float(rng.uniform(0.5, 0.95))
    beta1, beta2 = float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.6, 0.99))
    factors = (-float(rng.uniform(1.5, 4.0)), float(rng.uniform(0.25, 0.75)))
    probes = [Probe("momentum", "momentum_updates", (grads, alpha, mu)),
              Probe("adam", "adam_updates", (grads, alpha, beta1, beta2, 0.0))]
    for index, c in enumerate(factors):
        probes.append(Probe(f"momentum*{index}", "momentum_updates", (c * grads, alpha, mu)))
        probes.append(Probe(f"adam*{index}", "adam_updates", (c * grads, alpha, beta1, beta2, 0.0)))
    changed = _first_gradient_changed(grads)
    probes.append(Probe("momentum~", "momentum_updates", (changed, alpha, mu)))
    probes.append(Probe("adam~", "adam_updates", (changed, alpha, beta1, beta2, 0.0)))
    return tuple(probes), factors


def _first_gradient_changed(grads: np.ndarray) -> np.ndarray:
    """The stream with its first gradient changed: a genuine optimizer's later steps change
    too (they remember it), a memoryless one's do not."""
    changed = grads.copy()
    changed[0] = -3.0 * grads[0]
    return changed


def _safety_probes(rng: np.random.Generator) -> tuple[Probe, ...]:
    T, d = int(rng.integers(4, 8, endpoint=True)), int(rng.integers(2, 4, endpoint=True))
    tiny = rng.normal(size=(T, d)) * 1e-12
    tiny[0, 0] = 0.0
    hyper = (1e-3, 0.9, 0.999, 1e-8)
    return (Probe("zeros", "adam_updates", (np.zeros((T, d)), *hyper)),
            Probe("tiny", "adam_updates", (tiny, *hyper)),
            Probe("tiny~", "adam_updates", (_first_gradient_changed(tiny), *hyper)))


#: The generators the registry's specs name (``Draw.generator``).
GENERATORS: Mapping[str, Callable[[np.random.Generator], Drawn]] = MappingProxyType({
    "momentum_cases": lambda rng: Drawn(cases=_momentum_cases(rng)),
    "adam_updates_cases": lambda rng: Drawn(cases=_adam_cases("adam_updates", reference.adam_updates, rng)),
    "effective_rate_cases": lambda rng: Drawn(cases=_adam_cases(
        "adam_effective_learning_rates", reference.adam_effective_learning_rates, rng)),
    "spike_cases": lambda rng: Drawn(cases=_spike_cases(rng)),
    "sparse_cases": lambda rng: Drawn(cases=_sparse_cases(rng)),
    "scaling_probes": lambda rng: Drawn(*(((),) + _scaling_probes(rng))),
    "safety_probes": lambda rng: Drawn(probes=_safety_probes(rng)),
})


def draw_inputs(seed: str, specs: Sequence[ItemSpec] = ITEMS) -> HiddenInputs:
    """All numeric cases and probes for one seed, with the reference's answers."""
    cases, probes, factors = {}, {}, {}
    for spec in specs:
        if spec.draw is None:
            continue
        drawn = GENERATORS[spec.draw.generator](_rng(seed, spec.draw.label))
        if drawn.cases:
            cases[spec.id] = drawn.cases
        if drawn.probes:
            probes[spec.id] = drawn.probes
        if drawn.factors:
            factors[spec.id] = drawn.factors
    return HiddenInputs(seed=seed, cases=MappingProxyType(cases), probes=MappingProxyType(probes),
                        factors=MappingProxyType(factors))


def adam_step_bounds(grads: np.ndarray, alpha: float, beta1: float, beta2: float, eps: float) -> np.ndarray:
    """The reference bound ``alpha |m_hat_t| / eps`` for every step of a stream."""
    m_hats, _ = reference.adam_moment_history(grads, beta1, beta2)
    return reference.adam_step_bound(m_hats, alpha, eps)
