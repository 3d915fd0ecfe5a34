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

from grader.engine.pointwise import values_at
from grader.engine.arguments import encode_argument
from grader.engine.contract import SYMBOLIC_FUNCTIONS
from grader.engine.publicdata import SCHEMA, VERSION, contract_digest
from grader.judging.inputs import PUBLIC_SEED, adam_step_bounds, draw_inputs
from grader.judging.items import reference_trees
from grader.judging.registry import SPECS
from grader.judging.misconceptions import CATALOGUE, numeric_templates, symbolic_templates, template_id
from grader.rubric import Rubric, load_rubric
from grader.judging.symbolic import draw_points

PUBLIC_POINTS = 6


def _array(value) -> dict:
    array = np.asarray(value, dtype=np.float64)
    return {"shape": list(array.shape), "data": [float(x) for x in array.reshape(-1)]}


def _symbolic_entry(function: str, key: str | None, expected_tree, points: list) -> dict:
    expected = values_at(expected_tree, points)
    if any(v is None for v in expected):
        raise ValueError(f"reference {function}/{key} is not finite at a public point")
    templates = {}
    for label, tree in symbolic_templates(function, key).items():
        values = values_at(tree, points)
        if all(v is not None and type(v) is not bool for v in values):
            templates.setdefault(template_id(label), values)
    return {"expected": expected, "misconceptions": templates}


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
            else:
                entry["expected"] = _array(case.expected)
                templates = {}
                for ident, template in numeric_templates(case.function).items():
                    with np.errstate(all="ignore"):
                        value = np.asarray(template(*case.args), dtype=np.float64)
                    if np.all(np.isfinite(value)):
                        templates[ident] = _array(value)
                entry["misconceptions"] = templates
            cases.append(entry)
        numeric[item_id] = {"function": inputs.cases[item_id][0].function, "cases": cases}
    properties = {}
    for spec in SPECS.values():
        if spec.kind not in ("scaling", "safety"):
            continue
        probes = inputs.probes[spec.id]
        entry = {"probes": [{"name": p.name, "function": p.function, "args": [encode_argument(a) for a in p.args]}
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
        shares = item.share_map or ({key: 1.0 for key in spec.keys} if spec.keys else {})
        if shares:
            entry["shares"] = shares
        if spec.prefix:
            entry["prefix"] = spec.prefix
        items.append(entry)
    tol = rubric.tolerances
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "contract": contract_digest(),
        "note": "Generated by `python -m grader.release.public` from the reference. Values at public points only.",
        "parts": [{"id": p.id, "title": p.title, "points": p.points} for p in rubric.parts],
        "items": items,
        "tolerances": {"symbolic_rtol": tol.symbolic_rtol, "symbolic_atol": tol.symbolic_atol,
                       "numeric_rtol": tol.numeric_rtol, "numeric_atol_scale": tol.numeric_atol_scale},
        "symbolic": symbolic,
        "numeric": numeric,
        "properties": properties,
        "concepts": concepts,
        "misconceptions": {m.id: {"title": m.title, "explanation": m.explanation}
                           for m in CATALOGUE.values()},
    }


def public_json(rubric: Rubric) -> str:
    return json.dumps(build_public_data(rubric), indent=1, sort_keys=True) + "\n"


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
