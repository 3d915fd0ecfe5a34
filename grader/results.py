"""Results of grading: one frozen dataclass per level; totals are computed, never stored twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Literal

Status = Literal["passed", "partial", "failed", "not_attempted", "error", "timeout", "ungradable"]
#: What happened to a submission as a whole (SPEC section 5): ``graded`` (its answers were
#: judged), ``not_run`` (it was read but no item got an answer: every call raised at import,
#: crashed or timed out), ``unreadable`` (the file itself could not be used: empty, binary,
#: a malformed notebook, a damaged zip...), ``ungradable`` (the grader failed on it; no grade).
OutcomeKind = Literal["graded", "not_run", "unreadable", "ungradable"]
OUTCOME_KINDS: tuple[OutcomeKind, ...] = ("graded", "not_run", "unreadable", "ungradable")
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
class Adjustment:
    """An instructor's override of one item: the automatic verdict it replaces, and why."""

    #: What the grader gave before the instructor's change.
    automatic_points: float
    automatic_status: Status
    #: The instructor's reason, shown to the student beside the automatic verdict.
    reason: str


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
    #: The instructor's override, when there is one (``points`` and ``status`` are then the
    #: instructor's; the automatic verdict is kept here).
    adjustment: Adjustment | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class Outcome:
    """The submission-level outcome of a report: one kind and why, in words for people."""

    kind: OutcomeKind
    reason: str = ""

    def __post_init__(self):
        if self.kind not in OUTCOME_KINDS:
            raise ValueError(f"unknown submission outcome {self.kind!r}")


def submission_outcome(items: Iterable[ItemResult], error: str | None = None) -> Outcome:
    """The one rule that gives a submission its outcome (applied once, when a report is built).

    Any ungradable item makes the whole submission ungradable (no grade may be exported for
    it); a submission that could not be read is unreadable; one where every item errored or
    timed out was not run; anything else was graded.
    """
    items = tuple(items)
    broken = next((i for i in items if i.status == "ungradable"), None)
    if broken is not None:
        return Outcome("ungradable", broken.feedback[0] if broken.feedback else "the grader failed on it")
    if error:
        return Outcome("unreadable", error)
    if items and all(i.status in ("error", "timeout") for i in items):
        first = next((i.feedback[0] for i in items if i.feedback), "no item could be run")
        return Outcome("not_run", first)
    return Outcome("graded")


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
    #: The submission-level outcome; None (only while constructing) derives it from the items
    #: by :func:`submission_outcome` (never ``unreadable``: that one needs the reason).
    outcome: Outcome | None = None
    #: sha256 of the rubric file the report was graded with ("" when unknown).
    rubric_sha256: str = ""

    def __post_init__(self):
        if self.outcome is None:
            object.__setattr__(self, "outcome", submission_outcome(self.items))

    @property
    def total(self) -> float:
        return round(sum(item.points for item in self.items), 6)

    @property
    def max_total(self) -> float:
        return round(sum(item.max_points for item in self.items), 6)

    @property
    def ungradable(self) -> bool:
        return self.outcome.kind == "ungradable"


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
