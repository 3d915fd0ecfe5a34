"""Results of grading: one frozen dataclass per level; totals are computed, never stored twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["passed", "partial", "failed", "not_attempted", "error", "timeout", "ungradable"]
CallKind = Literal["value", "raised", "not_implemented", "missing", "timeout", "crashed",
                   "invalid", "not_loaded", "ungradable"]


@dataclass(frozen=True)
class CallOutcome:
    """What one call of a student function gave."""

    kind: CallKind
    #: The decoded answer (only when ``kind == "value"``).
    value: object = None
    #: Why the call gave no answer, in words for the student.
    detail: str = ""


@dataclass(frozen=True)
class ItemResult:
    """The grade of one rubric item."""

    id: str
    part: str
    title: str
    points: float
    max_points: float
    status: Status
    #: One sentence per finding, for the student.
    feedback: tuple[str, ...] = ()
    #: Ids of the misconceptions recognised in this item's answers.
    misconceptions: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class PartResult:
    """Points of one part (derived from its items)."""

    id: str
    title: str
    points: float
    max_points: float


@dataclass(frozen=True)
class Report:
    """The grade of one submission."""

    student: str
    submission: str
    sha256: str
    items: tuple[ItemResult, ...]
    parts: tuple[PartResult, ...]
    grader_version: str
    #: Isolation layers that were in force while this submission ran.
    isolation: tuple[str, ...] = ()
    #: Notes about the submission itself (dropped notebook magics, import problems, ...).
    notes: tuple[str, ...] = field(default=())

    @property
    def total(self) -> float:
        return round(sum(item.points for item in self.items), 6)

    @property
    def max_total(self) -> float:
        return round(sum(item.max_points for item in self.items), 6)

    @property
    def ungradable(self) -> bool:
        return any(item.status == "ungradable" for item in self.items)


def item_status(points: float, max_points: float, call_kinds: set[str]) -> Status:
    """The status of an item from its points and the kinds of its calls' outcomes."""
    if points >= max_points - 1e-9:
        return "passed"
    if points > 1e-9:
        return "partial"
    if "ungradable" in call_kinds:
        return "ungradable"
    if "timeout" in call_kinds:
        return "timeout"
    if call_kinds & {"raised", "crashed", "invalid", "not_loaded"}:
        return "error"
    if call_kinds and call_kinds <= {"not_implemented", "missing"}:
        return "not_attempted"
    return "failed"
