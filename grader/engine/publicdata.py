"""The schema of ``public_checks.json``: typed, versioned, checked when it is read.

``python -m grader.release.public`` writes the file from the reference (values at public
points, never formulas); the students' public checks read it only through
:func:`load_public_data`, which refuses a file of another version or one written for another
contract with a message that says what to do.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from .contract import FUNCTIONS

SCHEMA = "adam-vs-momentum-public-checks"
VERSION = 3
#: How each kind of item is checked (see :mod:`.selfcheck`).
KINDS = ("symbolic_keys", "symbolic", "array", "ratios", "scaling", "safety", "concepts")


class PublicDataError(ValueError):
    """The public data file is missing, of another version, stale or malformed."""


def contract_digest() -> str:
    """A digest of the contract's function list: the data was written for this contract."""
    text = json.dumps([[f.name, list(f.parameters), f.kind, list(f.keys)] for f in FUNCTIONS.values()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PublicItem:
    """One rubric item as its public check sees it."""

    id: str
    part: str
    title: str
    points: float
    kind: str
    function: str
    #: The dict keys an answer must have (symbolic_keys items), else empty.
    keys: tuple[str, ...]
    #: Partial credit: the share of the item each key / optimizer / probe earns (may be empty).
    shares: Mapping[str, float]
    #: Concept items: the prefix of their keys.
    prefix: str = ""
    #: The share a wrong w2 / w3 earns when it applies the update rule to the student's own moments.
    follow_through: float = 0.0


@dataclass(frozen=True)
class PublicTolerances:
    symbolic_rtol: float
    symbolic_atol: float
    numeric_rtol: float
    numeric_atol_scale: float


@dataclass(frozen=True)
class PublicData:
    """Everything the public checks need, read from ``public_checks.json``."""

    version: int
    parts: tuple[Mapping, ...]
    items: tuple[PublicItem, ...]
    tolerances: PublicTolerances
    #: function -> {"symbols", "points", "answers": {key or "": {"expected", "misconceptions"}}}
    symbolic: Mapping[str, Mapping]
    #: item id -> {"function", "cases": [{"args", "expected", "misconceptions"?}]}
    numeric: Mapping[str, Mapping]
    #: item id -> the probes of a property item and what judging them needs
    properties: Mapping[str, Mapping]
    #: concept key -> {"question", "options"}
    concepts: Mapping[str, Mapping]
    #: misconception id -> {"title", "explanation"}
    misconceptions: Mapping[str, Mapping]
    #: The grader's wall-clock limits in seconds: import_seconds, call_seconds, submission_seconds.
    limits: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def item(self, item_id: str) -> PublicItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    @classmethod
    def from_json(cls, data, *, where: str = "public_checks.json") -> "PublicData":
        """Check and type the decoded JSON; :class:`PublicDataError` says what is wrong."""
        if type(data) is not dict:
            raise PublicDataError(f"{where} is not a JSON object")
        if data.get("schema") != SCHEMA or data.get("version") != VERSION:
            raise PublicDataError(
                f"{where} has schema {data.get('schema')!r} version {data.get('version')!r}; these checks "
                f"read {SCHEMA!r} version {VERSION}: get the current student bundle (instructors: run "
                "`python -m grader.release.public`)")
        if data.get("contract") != contract_digest():
            raise PublicDataError(f"{where} is stale: it was written for another list of functions; get the "
                                  "current student bundle (instructors: run `python -m grader.release.public`)")
        try:
            return cls._build(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise PublicDataError(f"{where} is malformed: {type(exc).__name__}: {exc}") from None

    @classmethod
    def _build(cls, data: dict) -> "PublicData":
        data = _with_template_values(data)
        items = []
        for raw in data["items"]:
            item = PublicItem(
                id=str(raw["id"]), part=str(raw["part"]), title=str(raw["title"]), points=float(raw["points"]),
                kind=str(raw["kind"]), function=str(raw["function"]), keys=tuple(raw.get("keys", ())),
                shares=MappingProxyType({str(k): float(v) for k, v in raw.get("shares", {}).items()}),
                prefix=str(raw.get("prefix", "")), follow_through=float(raw.get("follow_through", 0.0)))
            if item.kind not in KINDS:
                raise ValueError(f"item {item.id}: unknown kind {item.kind!r}")
            if item.function not in FUNCTIONS:
                raise ValueError(f"item {item.id}: unknown function {item.function!r}")
            if item.kind in ("symbolic_keys", "symbolic") and item.function not in data["symbolic"]:
                raise ValueError(f"item {item.id}: no symbolic data for {item.function}")
            if item.kind in ("array", "ratios") and item.id not in data["numeric"]:
                raise ValueError(f"item {item.id}: no numeric cases")
            if item.kind in ("scaling", "safety") and item.id not in data["properties"]:
                raise ValueError(f"item {item.id}: no probes")
            if item.shares and abs(sum(item.shares.values()) - 1) > 1e-9:
                raise ValueError(f"item {item.id}: shares do not add up to 1")
            items.append(item)
        tol = data["tolerances"]
        return cls(
            version=data["version"], parts=tuple(data["parts"]), items=tuple(items),
            tolerances=PublicTolerances(float(tol["symbolic_rtol"]), float(tol["symbolic_atol"]),
                                        float(tol["numeric_rtol"]), float(tol["numeric_atol_scale"])),
            symbolic=MappingProxyType(dict(data["symbolic"])), numeric=MappingProxyType(dict(data["numeric"])),
            properties=MappingProxyType(dict(data["properties"])),
            concepts=MappingProxyType(dict(data["concepts"])),
            misconceptions=MappingProxyType(dict(data["misconceptions"])),
            limits=MappingProxyType({str(k): float(v) for k, v in data["limits"].items()}))


def _expanded(entry: dict) -> dict:
    """An entry whose ``misconceptions`` map labels to indexes into its ``template_values``
    (each distinct value written once), with the labels mapped to the values themselves."""
    if "template_values" not in entry:
        return entry
    values = entry["template_values"]
    out = {k: v for k, v in entry.items() if k != "template_values"}
    out["misconceptions"] = {label: values[int(index)] for label, index in entry["misconceptions"].items()}
    return out


def _with_template_values(data: dict) -> dict:
    """The decoded file with every template's values in place (the file writes each once)."""
    data = dict(data)
    data["symbolic"] = {function: {**spec, "answers": {key: _expanded(entry) for key, entry in spec["answers"].items()}}
                        for function, spec in data["symbolic"].items()}
    data["numeric"] = {item: {**spec, "cases": [_expanded(case) for case in spec["cases"]]}
                       for item, spec in data["numeric"].items()}
    data["properties"] = {item: {**spec, "probes": [_expanded(probe) for probe in spec["probes"]]}
                          for item, spec in data["properties"].items()}
    return data


def load_public_data(path: Path) -> PublicData:
    """Read ``public_checks.json``; :class:`PublicDataError` when it cannot be used."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PublicDataError(f"cannot read {path.name}: {exc}") from None
    return PublicData.from_json(data, where=path.name)
