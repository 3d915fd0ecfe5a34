"""The rubric: items, points, partial credit, tolerances and limits, loaded from one TOML file.

The file is data an instructor can edit (``grader/rubric.toml``); :func:`load_rubric` checks
it against the items the grader knows how to judge and against the 6 / 5 / 4 = 15 totals.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.errors import RubricError

DEFAULT_RUBRIC = Path(__file__).with_name("rubric.toml")

#: Item ids per part, in report order. Binding: they name report fields and CSV columns.
ITEM_IDS = {
    "1": ("1a", "1b", "1c", "1d", "1e", "1f"),
    "2": ("2.1.momentum_updates", "2.1.adam_updates", "2.1.momentum_constant_gradient_step",
          "2.1.adam_constant_gradient_step", "2.2.momentum_scale_factor", "2.2.adam_scale_factor",
          "2.2.adam_scaled_step", "2.2.scaling_property", "2.3.adam_step_bound",
          "2.3.numerical_safety"),
    "3": ("3a.adam_effective_learning_rates", "3a.concepts", "3b.spike_response",
          "3b.sparse_feature_boost", "3b.concepts"),
}
PART_POINTS = {"1": 6.0, "2": 5.0, "3": 4.0}


@dataclass(frozen=True)
class Part:
    """A part of the homework."""

    id: str
    title: str
    points: float


@dataclass(frozen=True)
class Item:
    """One rubric item: its points and, where it has one, its follow-through fraction."""

    id: str
    part: str
    title: str
    points: float
    follow_through: float = 0.0


@dataclass(frozen=True)
class Tolerances:
    """How closely answers must agree (see the rubric file for the meaning of each)."""

    symbolic_points: int
    exact_points: int
    symbolic_rtol: float
    symbolic_atol: float
    numeric_rtol: float
    numeric_atol_scale: float


@dataclass(frozen=True)
class Limits:
    """Time and resource limits for running one submission."""

    import_seconds: float
    call_seconds: float
    submission_seconds: float
    worker_cpu_seconds: int
    worker_memory_mib: int


@dataclass(frozen=True)
class Rubric:
    """The whole rubric, validated."""

    title: str
    parts: tuple[Part, ...]
    items: tuple[Item, ...]
    tolerances: Tolerances
    limits: Limits

    @property
    def total_points(self) -> float:
        return sum(part.points for part in self.parts)

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def items_of(self, part_id: str) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.part == part_id)


def load_rubric(path: Path = DEFAULT_RUBRIC) -> Rubric:
    """Read and check a rubric file; :class:`RubricError` says what is wrong."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RubricError(f"cannot read rubric {path}: {exc}") from None
    try:
        return _build(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise RubricError(f"rubric {path}: {exc}") from None


def _build(data: dict) -> Rubric:
    parts = tuple(Part(str(p["id"]), str(p["title"]), _points(p["points"], f"part {p['id']}"))
                  for p in data["parts"])
    if [p.id for p in parts] != list(ITEM_IDS):
        raise ValueError(f"parts must be {list(ITEM_IDS)}, got {[p.id for p in parts]}")
    items = []
    for raw in data["items"]:
        unknown = set(raw) - {"id", "part", "title", "points", "follow_through"}
        if unknown:
            raise ValueError(f"item {raw.get('id')}: unknown fields {sorted(unknown)}")
        follow = float(raw.get("follow_through", 0.0))
        if not 0 <= follow <= 1:
            raise ValueError(f"item {raw['id']}: follow_through must lie in [0, 1]")
        items.append(Item(str(raw["id"]), str(raw["part"]), str(raw["title"]),
                          _points(raw["points"], f"item {raw['id']}"), follow))
    expected_ids = [item_id for ids in ITEM_IDS.values() for item_id in ids]
    got_ids = [item.id for item in items]
    if sorted(got_ids) != sorted(expected_ids) or len(set(got_ids)) != len(got_ids):
        missing = sorted(set(expected_ids) - set(got_ids))
        extra = sorted(set(got_ids) - set(expected_ids))
        raise ValueError(f"items must be exactly the SPEC ids once each (missing {missing}, unknown {extra})")
    for part in parts:
        wrong = [i.id for i in items if i.id in ITEM_IDS[part.id] and i.part != part.id]
        if wrong:
            raise ValueError(f"items {wrong} belong to part {part.id}")
        total = sum(i.points for i in items if i.part == part.id)
        if abs(total - part.points) > 1e-9:
            raise ValueError(f"part {part.id}: items add up to {total}, part has {part.points}")
        if abs(part.points - PART_POINTS[part.id]) > 1e-9:
            raise ValueError(f"part {part.id} must be worth {PART_POINTS[part.id]} points")
    declared = float(data.get("total_points", 15))
    if abs(sum(p.points for p in parts) - declared) > 1e-9 or declared != 15:
        raise ValueError("total points must be 15")
    order = {item_id: n for n, item_id in enumerate(expected_ids)}
    tol = data["tolerances"]
    lim = data["limits"]
    tolerances = Tolerances(
        symbolic_points=int(tol["symbolic_points"]), exact_points=int(tol["exact_points"]),
        symbolic_rtol=float(tol["symbolic_rtol"]), symbolic_atol=float(tol["symbolic_atol"]),
        numeric_rtol=float(tol["numeric_rtol"]), numeric_atol_scale=float(tol["numeric_atol_scale"]))
    if tolerances.symbolic_points < 20 or not 2 <= tolerances.exact_points <= 10:
        raise ValueError("symbolic_points must be >= 20 and exact_points between 2 and 10")
    limits = Limits(
        import_seconds=float(lim["import_seconds"]), call_seconds=float(lim["call_seconds"]),
        submission_seconds=float(lim["submission_seconds"]),
        worker_cpu_seconds=int(lim["worker_cpu_seconds"]), worker_memory_mib=int(lim["worker_memory_mib"]))
    if min(limits.import_seconds, limits.call_seconds, limits.submission_seconds) <= 0:
        raise ValueError("time limits must be positive")
    if limits.worker_memory_mib < 256:
        raise ValueError("worker_memory_mib must be at least 256")
    return Rubric(title=str(data.get("title", "")), parts=parts,
                  items=tuple(sorted(items, key=lambda i: order[i.id])),
                  tolerances=tolerances, limits=limits)


def _points(value, where: str) -> float:
    points = float(value)
    if points <= 0 or abs(points * 4 - round(points * 4)) > 1e-9:
        raise ValueError(f"{where}: points must be a positive multiple of 0.25, got {value}")
    return points
