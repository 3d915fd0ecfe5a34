"""The score preview at the end of the public run: what the public points can show, no more.

:func:`preview` sums the public checks' results by item and part (follow-through and partial
credit included, concept answers only as "format checked"), lists the items this run did
not check (``pytest -k 1c`` runs one), and carries what the run noticed about the
submission (lines a notebook drops, files of the public checks it opened).
:func:`preview_lines` writes it for the terminal. It is not a grade, and says so.

Standard library only (this module ships to students; Python 3.9 and later).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Collection, Mapping, Sequence

#: Width of the item column.
LABEL_WIDTH = 58
#: What the preview cannot know, in one line.
CANNOT_KNOW = ("Not a grade: the grader checks your functions on hidden inputs and more sample "
               "points, which this run cannot know; hard-coded answers lose their points there.")
LABELS = {"passed": "passed", "failed": "FAILED", "not_implemented": "not implemented yet",
          "error": "ERROR", "format_ok": "format checked; graded on submission", "partial": "partly",
          "not_checked": "NOT CHECKED: the check itself failed (see above)"}


@dataclass(frozen=True)
class ItemPreview:
    item: str
    title: str
    part: str
    max_points: float
    #: None when the item was not run, or when only its format is checked (concepts).
    points: float | None
    status: str
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Preview:
    items: tuple[ItemPreview, ...]
    dropped: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()

    @property
    def not_run(self) -> tuple[str, ...]:
        return tuple(i.item for i in self.items if i.status == "not_run")

    def as_json(self) -> dict:
        return {"not_a_grade": CANNOT_KNOW,
                "items": [{"item": i.item, "status": i.status, "preview": i.points or 0.0,
                           "max_points": i.max_points, "messages": list(i.messages)} for i in self.items
                          if i.status not in ("not_run", "not_checked")],
                "not_run": list(self.not_run),
                "not_checked": [i.item for i in self.items if i.status == "not_checked"], "dropped_lines": list(self.dropped), "flags": list(self.flags)}


def preview(results: Sequence, items: Sequence[Mapping], *, dropped: Sequence[str] = (),
            flags: Sequence[str] = (), deselected: Collection[str] = ()) -> Preview:
    """The preview of ``results`` (one :class:`~grader.engine.selfcheck.CheckResult` per item
    run) over every rubric item of the public data, in rubric order. An item without a result
    was ``deselected`` (``pytest -k``) or its check itself broke (``"not_checked"``)."""
    by_item = {r.item: r for r in results}
    out = []
    for item in items:
        r = by_item.get(item["id"])
        if r is None:
            status = "not_run" if item["id"] in deselected else "not_checked"
            out.append(ItemPreview(item["id"], item["title"], item["part"], item["points"], None, status))
            continue
        status = r.status
        if status == "failed" and r.preview > 1e-9:
            status = "partial"
        points = None if r.status == "format_ok" else r.preview
        out.append(ItemPreview(r.item, r.title, r.part, r.max_points, points, status, tuple(r.messages)))
    return Preview(tuple(out), tuple(dropped), tuple(flags))


def _points(x: float) -> str:
    return f"{x:g}"


def _label(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, cut between words, never inside one."""
    return textwrap.shorten(text, width=width, placeholder=" ...")


def preview_lines(summary: Preview, width: int = LABEL_WIDTH) -> list[str]:
    """The preview as terminal lines."""
    lines = []
    for i in summary.items:
        if i.status in ("not_run", "not_checked"):
            shown = "-"
            label = "not run (deselected)" if i.status == "not_run" else LABELS[i.status]
        else:
            shown = "?" if i.points is None else _points(i.points)
            label = LABELS.get(i.status, i.status)
        lines.append(f"{_label(f'{i.item} {i.title}', width):<{width}} {shown:>5} / {_points(i.max_points):<4} {label}")
    lines.append("")
    parts: dict = {}
    for i in summary.items:
        parts.setdefault(i.part, []).append(i)
    shown_total = checked_max = 0.0
    for part, its in parts.items():
        run = [i for i in its if i.points is not None]
        earned = sum(i.points for i in run)
        shown_total += earned
        checked_max += sum(i.max_points for i in run)
        extra = []
        unknown = [i for i in its if i.status == "format_ok"]
        if unknown:
            extra.append(f"+ up to {_points(sum(i.max_points for i in unknown))} for concept answers")
        skipped = [i for i in its if i.status == "not_run"]
        if skipped:
            extra.append(f"{len(skipped)} of {len(its)} items not run")
        lines.append(f"{'Part ' + part:<{width}} {_points(earned):>5} / {_points(sum(i.max_points for i in its)):<4} "
                     + "; ".join(extra))
    total_max = sum(i.max_points for i in summary.items)
    lines.append(f"{'Public checks (preview)':<{width}} {_points(shown_total):>5} / {_points(total_max):<4} "
                 f"({_points(checked_max)} of these points checked here)")
    if summary.not_run:
        lines.append(_wrap(f"Not run in this session (deselected): {', '.join(summary.not_run)}; "
                           "their points are not in the preview."))
    if any(i.status == "format_ok" for i in summary.items):
        lines.append("Concept answers: only their format is checked here; they are graded on submission.")
    for flag in summary.flags:
        lines.append(_wrap(f"WARNING: {flag}."))
    if summary.dropped:
        lines.append("Lines of your notebook that are not run (the grader drops them too):")
        lines.extend(f"  {note}" for note in summary.dropped)
    lines.append(CANNOT_KNOW)
    return lines


def _wrap(text: str) -> str:
    return "\n".join(textwrap.wrap(text, width=100, subsequent_indent="  ")) or text
