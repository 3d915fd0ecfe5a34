"""The rubric: items, points, partial credit, tolerances and limits, loaded from one TOML file.

The file is data an instructor can edit (``grader/rubric.toml``); :func:`load_rubric` checks
it against the item registry (:mod:`grader.judging.registry`: exactly its items, each once,
in its part, with the partial-credit shares its spec names) and against the 6 / 5 / 4 = 15
totals.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.errors import RubricError
from grader.judging.registry import PARTS, SPECS, TOTAL_POINTS

DEFAULT_RUBRIC = Path(__file__).with_name("rubric.toml")

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
    #: Partial credit: (name, fraction of the item) for each share its spec names, in order.
    shares: tuple[tuple[str, float], ...] = ()

    def share(self, name: str) -> float:
        """The fraction of the item that share ``name`` earns."""
        return dict(self.shares)[name]

    @property
    def share_map(self) -> dict[str, float]:
        return dict(self.shares)


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
    #: Work units the trusted side may spend judging one symbolic answer (templates and
    #: follow-through included) and one whole submission (see grader.engine.expressions.Work).
    judge_work_per_answer: int
    judge_work_per_submission: int
    #: Work units for naming the mistakes of one whole submission (every item's misconception
    #: diagnosis together), a budget apart from grading's: spent, it drops names, never points.
    judge_work_naming_per_submission: int


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
    if [p.id for p in parts] != list(PARTS):
        raise ValueError(f"parts must be {list(PARTS)}, got {[p.id for p in parts]}")
    items = [_item(raw) for raw in data["items"]]
    got_ids = [item.id for item in items]
    if sorted(got_ids) != sorted(SPECS) or len(set(got_ids)) != len(got_ids):
        missing = sorted(set(SPECS) - set(got_ids))
        extra = sorted(set(got_ids) - set(SPECS))
        twice = sorted({i for i in got_ids if got_ids.count(i) > 1})
        raise ValueError(f"items must be exactly the registry's ids once each (missing {missing}, "
                         f"unknown {extra}, repeated {twice})")
    for part in parts:
        total = sum(i.points for i in items if i.part == part.id)
        if abs(total - part.points) > 1e-9:
            raise ValueError(f"part {part.id}: items add up to {total}, part has {part.points}")
        if abs(part.points - PARTS[part.id]) > 1e-9:
            raise ValueError(f"part {part.id} must be worth {PARTS[part.id]:g} points")
    declared = float(data.get("total_points", TOTAL_POINTS))
    if abs(sum(p.points for p in parts) - declared) > 1e-9 or declared != TOTAL_POINTS:
        raise ValueError(f"total points must be {TOTAL_POINTS:g}")
    order = {item_id: n for n, item_id in enumerate(SPECS)}
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
        worker_cpu_seconds=int(lim["worker_cpu_seconds"]), worker_memory_mib=int(lim["worker_memory_mib"]),
        judge_work_per_answer=int(lim["judge_work_per_answer"]),
        judge_work_per_submission=int(lim["judge_work_per_submission"]),
        judge_work_naming_per_submission=int(lim["judge_work_naming_per_submission"]))
    if min(limits.import_seconds, limits.call_seconds, limits.submission_seconds) <= 0:
        raise ValueError("time limits must be positive")
    if not 100_000 <= limits.judge_work_per_answer <= limits.judge_work_per_submission:
        raise ValueError("judge_work_per_answer must be at least 100000 and at most judge_work_per_submission")
    if limits.judge_work_naming_per_submission < limits.judge_work_per_answer:
        raise ValueError("judge_work_naming_per_submission must be at least judge_work_per_answer")
    if limits.worker_memory_mib < 256:
        raise ValueError("worker_memory_mib must be at least 256")
    return Rubric(title=str(data.get("title", "")), parts=parts,
                  items=tuple(sorted(items, key=lambda i: order[i.id])),
                  tolerances=tolerances, limits=limits)


ITEM_FIELDS = {"id", "part", "title", "points", "follow_through", "shares"}


def _item(raw: dict) -> Item:
    """One item, checked against its spec in the registry."""
    item_id = str(raw["id"])
    spec = SPECS.get(item_id)
    if spec is None:
        raise ValueError(f"unknown item id {item_id!r} (the registry has {', '.join(SPECS)})")
    unknown = set(raw) - ITEM_FIELDS
    if unknown:
        raise ValueError(f"item {item_id}: unknown fields {sorted(unknown)}")
    if str(raw["part"]) != spec.part:
        raise ValueError(f"item {item_id} belongs to part {spec.part}, not {raw['part']}")
    follow = _fraction(raw.get("follow_through", 0.0), f"item {item_id}: follow_through", zero=True)
    if follow and not spec.follow_through:
        raise ValueError(f"item {item_id}: it has no follow-through credit (remove follow_through)")
    shares = raw.get("shares", {})
    if type(shares) is not dict:
        raise ValueError(f"item {item_id}: shares must be a table of fractions")
    if list(shares) != list(spec.shares):
        if not spec.shares:
            raise ValueError(f"item {item_id}: it has no partial-credit shares (remove shares)")
        raise ValueError(f"item {item_id}: shares must give {', '.join(spec.shares)} in this order, "
                         f"got {', '.join(shares) or 'none'}")
    fractions = tuple((name, _fraction(value, f"item {item_id}: share {name}")) for name, value in shares.items())
    if fractions and abs(sum(f for _, f in fractions) - 1) > 1e-9:
        raise ValueError(f"item {item_id}: shares add up to {sum(f for _, f in fractions):g}, not 1")
    return Item(item_id, spec.part, str(raw["title"]), _points(raw["points"], f"item {item_id}"), follow,
                fractions)


def _fraction(value, where: str, zero: bool = False) -> float:
    if type(value) not in (int, float):
        raise ValueError(f"{where} must be a number, got {value!r}")
    fraction = float(value)
    if not (0 <= fraction <= 1) or (fraction == 0 and not zero):
        raise ValueError(f"{where} must lie in {'[0' if zero else '(0'}, 1], got {value!r}")
    return fraction


def _points(value, where: str) -> float:
    points = float(value)
    if points <= 0 or abs(points * 4 - round(points * 4)) > 1e-9:
        raise ValueError(f"{where}: points must be a positive multiple of 0.25, got {value}")
    return points
