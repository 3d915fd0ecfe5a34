"""The public checks' data: values of the reference at fixed public inputs, never formulas.

``python -m grader.release.public`` writes ``assignment/public_checks.json``; ``--check`` exits 1
when the committed file is stale (a test runs it). The file holds, per rubric item, the
public inputs, the reference's values there, and the values of every misconception
template there (so the student's checks can name misconceptions without holding any
formula), plus the concept keys and options, and nothing about the hidden inputs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

from grader.engine.explain import same_values
from grader.engine.expressions import free_symbols
from grader.engine.pointwise import values_at
from grader.engine.arguments import encode_argument
from grader.engine.contract import SYMBOLIC_FUNCTIONS
from grader.engine.publicdata import SCHEMA, VERSION, contract_digest
from grader.judging.inputs import PUBLIC_SEED, adam_step_bounds, draw_inputs
from grader.judging.items import reference_trees
from grader.judging.registry import SPECS
from grader.judging.misconceptions import (CATALOGUE, AdamVariant, Memo, differing_labels, numeric_templates,
                                           symbolic_templates, variant_history)
from grader.rubric import Rubric, load_rubric
from grader.judging.symbolic import draw_points

PUBLIC_POINTS = 6
#: A symbolic template is compared at the public points where it has a finite value (see
#: :func:`grader.engine.selfcheck.template_agreement`), as the grader compares it at points
#: drawn where it is finite: one such point is enough (a wrong answer agrees with a template
#: at a random point only when it is that template there), none leaves it out.
MIN_TEMPLATE_POINTS = 1


def _array(value) -> dict:
    """An array as JSON data; a template's NaN and infinities are written as strings."""
    array = np.asarray(value, dtype=np.float64)
    return {"shape": list(array.shape),
            "data": [float(x) if np.isfinite(x) else str(float(x)) for x in array.reshape(-1)]}


def _template_arrays(function: str, args: tuple, expected, tol) -> dict:
    """Label -> values of every numeric template (single mistakes and pairs) that differs
    from the reference here, as the grader's diagnosis decides it (NaN included, where some
    value is finite)."""
    templates, memo = {}, Memo()
    for pairs in (False, True):
        for label, template in numeric_templates(function, pairs=pairs, memo=memo).items():
            try:
                with np.errstate(all="ignore"):
                    value = np.asarray(template(*args), dtype=np.float64)
            except (ArithmeticError, ValueError, IndexError):
                continue
            if value.shape == np.shape(expected) and np.any(np.isfinite(value)) and not same_values(
                    value, expected, rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale):
                templates[label] = _array(value)
    return templates


def _ratio_templates(function: str, args: tuple, expected: dict) -> dict:
    templates, memo = {}, Memo()
    for pairs in (False, True):
        for label, template in numeric_templates(function, pairs=pairs, memo=memo).items():
            try:
                with np.errstate(all="ignore"):
                    value = template(*args)
            except (ArithmeticError, ValueError, IndexError):
                continue
            if all(np.isfinite(value[k]) for k in expected) and value != expected:
                templates[label] = {k: float(value[k]) for k in expected}
    return templates


def _probe_templates(probe, tol) -> dict:
    """The Adam mistakes (single, and two together) whose steps on a property probe differ
    from the reference's, as the grader's diagnosis of a probe decides it."""
    memo = Memo()
    right = variant_history(AdamVariant(), *probe.args, memo=memo)[0]
    out = {}
    for pairs in (False, True):
        for label, template in numeric_templates(probe.function, pairs=pairs, memo=memo).items():
            try:
                with np.errstate(all="ignore"):
                    value = np.asarray(template(*probe.args), dtype=np.float64)
            except (ArithmeticError, ValueError, IndexError):
                continue
            if value.shape == np.shape(right) and np.any(np.isfinite(value)) and not same_values(
                    value, right, rtol=tol.numeric_rtol, atol_scale=tol.numeric_atol_scale):
                out[label] = _array(value)
    return out


def _symbolic_entry(function: str, key: str | None, expected_tree, points: list) -> dict:
    expected = values_at(expected_tree, points)
    if any(v is None for v in expected):
        raise ValueError(f"reference {function}/{key} is not finite at a public point")
    templates, every, others = {}, set(), {}
    allowed = set(SYMBOLIC_FUNCTIONS[function])
    for pairs in (False, True):
        for label, tree in symbolic_templates(function, key, pairs=pairs).items():
            every.add(label)
            other = sorted(free_symbols(tree) - allowed)
            if other:  # a mistake written with a symbol that is not a parameter (m for m_hat)
                seed = f"{PUBLIC_SEED}|{function}|{key}|{','.join(other)}"
                drawn = draw_points(other, len(points), 0, seed=seed).floats
                others[label] = {name: [point[name] for point in drawn] for name in other}
                values = values_at(tree, [{**point, **extra} for point, extra in zip(points, drawn)])
            else:
                values = values_at(tree, points)
            # a template with no finite real value at some points (sqrt of a negative v, a
            # division by 1 - beta**0) is compared where it has one, as the grader compares it
            # at points drawn where it is finite
            if any(type(v) is bool for v in values) or sum(v is not None for v in values) < MIN_TEMPLATE_POINTS:
                continue
            templates[label] = values
    entry = {"expected": expected, "misconceptions": templates}
    others = {label: extra for label, extra in others.items() if label in templates}
    if others:  # the values of those symbols at each public point (the templates' values are there)
        entry["other_symbols"] = others
    # every template predicts this answer wrong, also one without values here (as the grader's)
    differs = differing_labels(function, key) | differing_labels(function, key, pairs=True) | (every - set(templates))
    if differs:  # the mistakes that would make this answer wrong (for the other keys' checks)
        entry["differs"] = sorted(differs)
    return entry


def build_public_data(rubric: Rubric) -> dict:
    """Everything the student's public checks need, as plain JSON data."""
    refs = reference_trees()
    symbolic = {}
    for function, names in SYMBOLIC_FUNCTIONS.items():
        points = list(draw_points(names, PUBLIC_POINTS, 0, seed=f"{PUBLIC_SEED}|{function}").floats)
        keys = [key for (f, key) in refs if f == function]
        symbolic[function] = {
            "symbols": list(names),
            "points": points,
            "answers": {("" if key is None else key): _symbolic_entry(function, key, refs[(function, key)], points)
                        for key in keys},
        }
    inputs = draw_inputs(PUBLIC_SEED)
    numeric = {}
    for item_id in (spec.id for spec in SPECS.values() if spec.kind in ("array", "ratios")):
        cases = []
        for case in inputs.cases[item_id][:2]:
            entry = {"args": [encode_argument(a) for a in case.args]}
            if isinstance(case.expected, dict):
                entry["expected"] = {k: float(v) for k, v in case.expected.items()}
                entry["misconceptions"] = _ratio_templates(case.function, case.args, entry["expected"])
            else:
                entry["expected"] = _array(case.expected)
                entry["misconceptions"] = _template_arrays(case.function, case.args, case.expected,
                                                           rubric.tolerances)
            cases.append(entry)
        numeric[item_id] = {"function": inputs.cases[item_id][0].function, "cases": cases}
    properties = {}
    for spec in SPECS.values():
        if spec.kind not in ("scaling", "safety"):
            continue
        probes = inputs.probes[spec.id]
        # the probes whose answers the grader diagnoses: every safety probe, the scaling's Adam one
        entry = {"probes": [{"name": p.name, "function": p.function, "args": [encode_argument(a) for a in p.args]}
                            | ({"misconceptions": _probe_templates(p, rubric.tolerances)}
                               if spec.kind == "safety" or p.name == "adam" else {})
                            for p in probes]}
        if spec.kind == "scaling":
            entry["factors"] = list(inputs.factors[spec.id])
        else:
            entry["tiny_bound"] = _array(adam_step_bounds(*next(p for p in probes if p.name == "tiny").args))
        properties[spec.id] = entry
    from reference.adam_vs_momentum import CONCEPT_QUESTIONS

    concepts = {key: {"question": q["question"], "options": list(q["options"])}
                for key, q in CONCEPT_QUESTIONS.items()}
    items = []
    for item in rubric.items:
        spec = SPECS[item.id]
        entry = {"id": item.id, "part": item.part, "title": item.title, "points": item.points,
                 "kind": spec.kind, "function": spec.function}
        if spec.keys:
            entry["keys"] = list(spec.keys)
        if item.follow_through > 0:
            entry["follow_through"] = item.follow_through
        shares = item.share_map or ({key: 1.0 for key in spec.keys} if spec.keys else {})
        if shares:
            entry["shares"] = shares
        if spec.prefix:
            entry["prefix"] = spec.prefix
        items.append(entry)
    tol = rubric.tolerances
    for entry in _template_holders(symbolic, numeric, properties):
        _compact(entry)
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "contract": contract_digest(),
        "note": "Generated by `python -m grader.release.public` from the reference. Values at public points only.",
        "parts": [{"id": p.id, "title": p.title, "points": p.points} for p in rubric.parts],
        "items": items,
        # The grader's limits: the public run applies the same ones (wall-clock seconds, and one
        # process's CPU seconds and address space where the student's system can set them).
        "limits": {"import_seconds": rubric.limits.import_seconds, "call_seconds": rubric.limits.call_seconds,
                   "submission_seconds": rubric.limits.submission_seconds,
                   "worker_cpu_seconds": rubric.limits.worker_cpu_seconds,
                   "worker_memory_mib": rubric.limits.worker_memory_mib},
        "tolerances": {"symbolic_rtol": tol.symbolic_rtol, "symbolic_atol": tol.symbolic_atol,
                       "numeric_rtol": tol.numeric_rtol, "numeric_atol_scale": tol.numeric_atol_scale},
        "symbolic": symbolic,
        "numeric": numeric,
        "properties": properties,
        "concepts": concepts,
        "misconceptions": {m.id: {"title": m.title, "explanation": m.explanation}
                           for m in CATALOGUE.values()},
    }


#: Significant digits kept of the reference's and the templates' values: the tightest
#: tolerance is 1e-9 relative (symbolic answers), a rounding error of 5e-13 relative is far
#: below it (the inputs and points themselves are written exactly: answers are computed there).
DIGITS = 12


def _round(value):
    """A value (a float, a list of values, an array's JSON form) to :data:`DIGITS` digits."""
    if type(value) is float:
        return float(f"{value:.{DIGITS}g}")
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, dict):
        return {k: (v if k == "shape" else _round(v)) for k, v in value.items()}
    return value


def _template_holders(symbolic: dict, numeric: dict, properties: dict):
    """Every entry of the public data with an ``expected`` value or templates."""
    for spec in symbolic.values():
        yield from spec["answers"].values()
    for spec in numeric.values():
        yield from spec["cases"]
    for spec in properties.values():
        yield from (probe for probe in spec["probes"] if "misconceptions" in probe)


def _compact(entry: dict) -> None:
    """Round an entry's values and write each distinct template value once.

    ``misconceptions`` maps each label to an index into ``template_values`` (many mistakes
    give the same values at a public input: on a stream without a zero, "eps dropped" and
    "eps inside the square root" differ only in the last digits, and a pair often gives the
    values of one of its mistakes); ``differs`` lists only labels without values here.
    :func:`grader.engine.publicdata.PublicData.from_json` turns them back into values.
    """
    if "expected" in entry:
        entry["expected"] = _round(entry["expected"])
    if "misconceptions" not in entry:
        return
    values, index, labels = [], {}, {}
    for label, value in sorted(entry["misconceptions"].items()):
        value = _round(value)
        key = json.dumps(value, sort_keys=True)
        if key not in index:
            index[key] = len(values)
            values.append(value)
        labels[label] = index[key]
    entry["misconceptions"], entry["template_values"] = labels, values
    if "differs" in entry:
        entry["differs"] = sorted(set(entry["differs"]) - set(labels))
        if not entry["differs"]:
            del entry["differs"]


def _dumps(value, level: int = 0) -> str:
    """JSON with one key per line, but each list of numbers (or labels) on one line."""
    pad = " " * (level + 1)
    if isinstance(value, dict) and value:
        body = ",\n".join(f"{pad}{json.dumps(key)}: {_dumps(value[key], level + 1)}" for key in sorted(value))
        return "{\n" + body + "\n" + " " * level + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(pad + _dumps(v, level + 1) for v in value) + "\n" + " " * level + "]"
    return json.dumps(value, separators=(",", ":"))


def public_json(rubric: Rubric) -> str:
    return _dumps(build_public_data(rubric)) + "\n"


def default_path() -> Path:
    spec = importlib.util.find_spec("assignment")
    return Path(list(spec.submodule_search_locations)[0]) / "public_checks.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.release.public", description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    path = args.path or default_path()
    text = public_json(load_rubric())
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is stale: run `python -m grader.release.public`", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
