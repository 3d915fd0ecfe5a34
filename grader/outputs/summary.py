"""The class summary: statistics, pass rates, misconceptions and charts, as Markdown and HTML.

:func:`summarize` turns the reports into a :class:`ClassSummary` (pure numbers, no text);
:func:`summary_blocks` lays it out once as a list of blocks (headings, paragraphs, tables,
images, lists), which :func:`blocks_markdown` and :func:`blocks_html` render, so both files
always say the same thing. :func:`chart_pngs` draws the charts with matplotlib's
object-oriented API on the Agg canvas (no pyplot, no global backend switch), with a fixed size
and resolution and without the "Software" PNG metadata, so a rerun gives identical bytes; on
a machine of several CPUs the costliest chart is drawn by a forked copy of this process
meanwhile (the same bytes; this process draws it itself if the copy fails).

Ungradable submissions (the grader failed on them) are left out of every statistic and
listed instead; submissions that could not be read or run count with the points they got.
"""

from __future__ import annotations

import base64
import html
import io
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from grader.judging.misconceptions import CATALOGUE
from grader.outputs.reports import md_escape, overall_status
from grader.results import Report
from grader.rubric import Rubric

if TYPE_CHECKING:
    from grader.outputs.base import Notice

#: Item statuses counted per item, in table and chart order.
ITEM_STATUSES = ("passed", "partial", "failed", "not_attempted", "error", "timeout")
#: What happened to a submission as a whole, in table order.
OUTCOMES = ("graded", "not run", "unreadable", "ungradable")
CHARTS = {"score_histogram": "Score histogram", "part_scores": "Mean score per part",
          "item_pass_rates": "Item outcomes", "misconceptions": "Most common misconceptions"}
CHART_DIR = "charts"
MAX_MISCONCEPTION_BARS = 12
_COLOURS = {"passed": "#2e7d32", "partial": "#f9a825", "failed": "#c62828",
            "not_attempted": "#9e9e9e", "error": "#6a1b9a", "timeout": "#1565c0"}
_DPI = 100


# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ScoreStats:
    """Statistics of the totals (population standard deviation); None when there are none."""

    n: int
    mean: float | None
    median: float | None
    minimum: float | None
    maximum: float | None
    std: float | None


@dataclass(frozen=True)
class ItemStats:
    """How one rubric item went across the class."""

    id: str
    part: str
    title: str
    max_points: float
    #: Count per status, in :data:`ITEM_STATUSES` order.
    counts: tuple[int, ...]
    mean_points: float | None

    @property
    def n(self) -> int:
        return sum(self.counts)

    def count(self, status: str) -> int:
        return self.counts[ITEM_STATUSES.index(status)]

    @property
    def pass_rate(self) -> float | None:
        return self.count("passed") / self.n if self.n else None


@dataclass(frozen=True)
class PartStats:
    """Mean points of one part."""

    id: str
    title: str
    max_points: float
    mean: float | None


@dataclass(frozen=True)
class MisconceptionCount:
    """How many submissions showed one misconception, and in which items."""

    id: str
    title: str
    submissions: int
    items: tuple[str, ...]


@dataclass(frozen=True)
class Problem:
    """A submission that could not be graded normally."""

    student: str
    outcome: str
    reason: str


@dataclass(frozen=True)
class StudentRow:
    """One submission in the per-student table."""

    student: str
    #: The student's name from the LMS roster ("" when none was given).
    name: str
    total: float
    #: Points per part, in rubric order.
    parts: tuple[float, ...]
    outcome: str
    #: Titles of the misconceptions recognised, in catalogue-title order.
    misconceptions: tuple[str, ...]
    #: Items with an instructor adjustment.
    adjusted: tuple[str, ...]


@dataclass(frozen=True)
class AdjustmentRow:
    """One instructor override, as applied."""

    student: str
    item: str
    automatic_points: float
    points: float
    max_points: float
    reason: str


@dataclass(frozen=True)
class ClassSummary:
    """Everything the summary shows, as numbers."""

    title: str
    max_total: float
    submissions: int
    #: Count per outcome, in :data:`OUTCOMES` order.
    outcomes: tuple[int, ...]
    scores: ScoreStats
    #: Totals of the counted (not ungradable) submissions, ascending.
    totals: tuple[float, ...]
    parts: tuple[PartStats, ...]
    items: tuple[ItemStats, ...]
    #: Most common first.
    misconceptions: tuple[MisconceptionCount, ...]
    problems: tuple[Problem, ...]
    grader_versions: tuple[str, ...]
    #: Every submission, by student id.
    students: tuple[StudentRow, ...] = ()
    #: Every instructor adjustment, by student then rubric order.
    adjustments: tuple[AdjustmentRow, ...] = ()


def outcome_of(report: Report) -> str:
    """graded, not run (every item failed to run), unreadable or ungradable."""
    return overall_status(report).replace("_", " ")


def _reason(report: Report, outcome: str) -> str:
    return report.outcome.reason


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def summarize(reports: Iterable[Report], rubric: Rubric, names: Mapping[str, str] | None = None) -> ClassSummary:
    """The class summary of a batch (pure: no files, no text); ``names`` maps student ids to
    the names an LMS gradebook gives them."""
    reports = sorted(reports, key=lambda r: r.student)
    outcomes = {r.student: outcome_of(r) for r in reports}
    counted = [r for r in reports if outcomes[r.student] != "ungradable"]
    totals = sorted(float(r.total) for r in counted)
    scores = ScoreStats(len(totals), _mean(totals),
                        float(statistics.median(totals)) if totals else None,
                        min(totals) if totals else None, max(totals) if totals else None,
                        float(np.std(totals)) if totals else None)
    parts = tuple(
        PartStats(part.id, part.title, part.points,
                  _mean([p.points for r in counted for p in r.parts if p.id == part.id]))
        for part in rubric.parts)
    items = []
    for rubric_item in rubric.items:
        results = [i for r in counted for i in r.items if i.id == rubric_item.id]
        counts = tuple(sum(1 for i in results if i.status == status) for status in ITEM_STATUSES)
        items.append(ItemStats(rubric_item.id, rubric_item.part, rubric_item.title, rubric_item.points,
                               counts, _mean([i.points for i in results])))
    seen: dict[str, set[str]] = {}
    where: dict[str, set[str]] = {}
    for report in counted:
        for item in report.items:
            for mid in item.misconceptions:
                seen.setdefault(mid, set()).add(report.student)
                where.setdefault(mid, set()).add(item.id)
    order = {item.id: n for n, item in enumerate(rubric.items)}
    misconceptions = tuple(sorted(
        (MisconceptionCount(mid, CATALOGUE[mid].title if mid in CATALOGUE else mid, len(students),
                            tuple(sorted(where[mid], key=lambda i: (order.get(i, len(order)), i))))
         for mid, students in seen.items()),
        key=lambda m: (-m.submissions, m.title, m.id)))
    problems = tuple(Problem(r.student, outcomes[r.student], _reason(r, outcomes[r.student]))
                     for r in reports if outcomes[r.student] != "graded")
    names = names or {}
    students = tuple(
        StudentRow(r.student, names.get(r.student, ""), float(r.total),
                   tuple(next((p.points for p in r.parts if p.id == part.id), 0.0) for part in rubric.parts),
                   outcomes[r.student],
                   tuple(sorted({CATALOGUE[m].title if m in CATALOGUE else m for i in r.items for m in i.misconceptions})),
                   tuple(i.id for i in r.items if i.adjustment is not None))
        for r in reports)
    adjustments = tuple(AdjustmentRow(r.student, i.id, i.adjustment.automatic_points, i.points, i.max_points,
                                      i.adjustment.reason)
                        for r in reports for i in r.items if i.adjustment is not None)
    return ClassSummary(
        title=rubric.title or "Adam vs. SGD with momentum", max_total=rubric.total_points,
        submissions=len(reports), outcomes=tuple(sum(1 for o in outcomes.values() if o == name) for name in OUTCOMES),
        scores=scores, totals=tuple(totals), parts=parts, items=tuple(items),
        misconceptions=misconceptions, problems=problems,
        grader_versions=tuple(sorted({r.grader_version for r in reports})),
        students=students, adjustments=adjustments)


# ---------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------

def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


def histogram_bins(totals: Sequence[float], max_total: float) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Bin labels and counts of the score histogram: one bin per whole point, a total counted
    under its whole part (14.75 under "14"), and full marks in a bin of their own ("15"), so
    that 14.75 and 15 are never one bar."""
    top = int(np.floor(max_total + 1e-9))
    full = abs(max_total - top) < 1e-9
    labels = [str(k) for k in range(top)] + ([f"{max_total:g}"] if full else [f"{top}"])
    counts = [0] * len(labels)
    for total in totals:
        if full and total >= max_total - 1e-9:
            counts[-1] += 1
        else:
            counts[min(int(np.floor(total + 1e-9)), len(labels) - 1 - (1 if full else 0))] += 1
    return tuple(labels), tuple(counts)


def _histogram(summary: ClassSummary) -> bytes:
    from matplotlib.ticker import MaxNLocator

    figure = _figure(8, 4.2)
    axes = figure.add_subplot()
    labels, counts = histogram_bins(summary.totals, summary.max_total)
    positions = np.arange(len(labels))
    colours = ["#1565c0"] * (len(labels) - 1) + ["#2e7d32"]
    axes.bar(positions, counts, width=0.9, color=colours)
    for x, count in zip(positions, counts):
        if count:
            axes.annotate(str(count), (x, count), ha="center", va="bottom", fontsize="small",
                          xytext=(0, 2), textcoords="offset points")
    axes.set_xticks(positions, labels)
    axes.set_xlim(-0.6, len(labels) - 0.4)
    axes.set_ylim(0, max(max(counts, default=0), 1) * 1.15)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel(f"Total points, whole points (14.75 counts under 14; the green bar is full marks, "
                    f"{summary.max_total:g})")
    axes.set_ylabel("Submissions")
    axes.spines[["top", "right"]].set_visible(False)
    stats = summary.scores
    detail = f"n = {stats.n}" + (f", mean {_num(stats.mean)}, median {_num(stats.median)}" if stats.n else "")
    axes.set_title(f"Score histogram ({detail})")
    return _png(figure)


def _part_bars(summary: ClassSummary) -> bytes:
    figure = _figure(8, 0.6 * len(summary.parts) + 1.5)
    axes = figure.add_subplot()
    positions = np.arange(len(summary.parts))
    shares = [100 * (p.mean or 0.0) / p.max_points if p.max_points else 0.0 for p in summary.parts]
    axes.barh(positions, shares, color="#1565c0", height=0.6)
    for y, part, share in zip(positions, summary.parts, shares):
        text = "no submissions" if part.mean is None else \
            f"{_num(part.mean)} / {_num(part.max_points)} ({share:.0f}%)"
        axes.annotate(text, (share, y), va="center", fontsize="small", xytext=(4, 0), textcoords="offset points")
    axes.set_yticks(positions, [f"Part {p.id}: {_shorten(p.title, 48)}" for p in summary.parts])
    axes.invert_yaxis()
    axes.set_xlim(0, 115)
    axes.set_xticks(range(0, 101, 20), [f"{x}%" for x in range(0, 101, 20)])
    axes.set_xlabel("Mean points, as a percentage of the part's maximum")
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(f"Mean score per part (n = {summary.scores.n})")
    return _png(figure)


def _item_rates(summary: ClassSummary) -> bytes:
    figure = _figure(10, 0.36 * len(summary.items) + 2.0)
    axes = figure.add_subplot()
    labels = [f"{_shorten(item.title, 56)}  [{item.id}]" for item in summary.items]
    positions = np.arange(len(labels))
    left = np.zeros(len(labels))
    for status in ITEM_STATUSES:
        share = np.array([100 * item.count(status) / item.n if item.n else 0.0 for item in summary.items])
        if not share.any():
            continue  # no legend entry for an outcome no submission had
        axes.barh(positions, share, left=left, color=_COLOURS[status], label=status.replace("_", " "))
        left += share
    axes.set_yticks(positions, labels, fontsize="small")
    axes.invert_yaxis()
    axes.set_ylim(len(labels) - 0.5, -0.5)
    parts = [item.part for item in summary.items]
    for n in range(1, len(parts)):
        if parts[n] != parts[n - 1]:
            axes.axhline(n - 0.5, color="black", linewidth=0.8)
    for part in dict.fromkeys(parts):
        rows = [n for n, p in enumerate(parts) if p == part]
        axes.annotate(f"Part {part}", (1.01, (rows[0] + rows[-1]) / 2), xycoords=("axes fraction", "data"),
                      va="center", ha="left", rotation=90, fontsize="small")
    axes.set_xlim(0, 100)
    axes.set_xticks(range(0, 101, 20), [f"{x}%" for x in range(0, 101, 20)])
    axes.set_xlabel("Share of submissions")
    axes.set_title(f"Outcome of each item (n = {summary.scores.n})")
    if axes.get_legend_handles_labels()[0]:
        figure.legend(loc="outside lower center", ncols=len(ITEM_STATUSES), frameon=False, fontsize="small")
    return _png(figure)


def _misconception_bars(summary: ClassSummary) -> bytes:
    from matplotlib.ticker import MaxNLocator

    shown = summary.misconceptions[:MAX_MISCONCEPTION_BARS]
    figure = _figure(9, 0.4 * max(len(shown), 3) + 1.4)
    axes = figure.add_subplot()
    if shown:
        positions = np.arange(len(shown))
        axes.barh(positions, [m.submissions for m in shown], color="#c62828")
        axes.set_yticks(positions, [_shorten(m.title, 60) for m in shown])
        for y, m in zip(positions, shown):
            axes.annotate(str(m.submissions), (m.submissions, y), va="center", fontsize="small",
                          xytext=(3, 0), textcoords="offset points")
        axes.spines[["top", "right"]].set_visible(False)
        axes.invert_yaxis()
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("Submissions")
    else:
        axes.text(0.5, 0.5, "No misconceptions recognised", ha="center", va="center",
                  transform=axes.transAxes)
        axes.set_axis_off()
    axes.set_title("Most common misconceptions")
    return _png(figure)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


#: How each chart is drawn, by name (:data:`CHARTS`).
_DRAWERS = {"score_histogram": _histogram, "part_scores": _part_bars, "item_pass_rates": _item_rates,
            "misconceptions": _misconception_bars}
#: Charts drawn in a forked helper process while this one draws the others (where there is
#: a second CPU): the costliest, about half of the 0.75 s the four take.
_IN_HELPER = ("item_pass_rates",)
#: Seconds the helper may take before this process draws its charts itself.
HELPER_SECONDS = 30.0


def chart_pngs(summary: ClassSummary, *, parallel: bool = True,
               painter: "ChartPainter | None" = None) -> dict[str, bytes]:
    """The charts as PNG bytes, by name (see :data:`CHARTS`); with ``parallel``, on a machine
    of several CPUs, the costliest is drawn in a forked helper process meanwhile (the same
    bytes: the helper is this process's copy; any failure of it and this process draws it).

    With a ``painter`` (:func:`start_painter`, forked earlier), the painter draws them all;
    when it fails to send every one of them, they are all drawn as without it."""
    if painter is not None:
        charts = painter.paint(summary)
        if set(charts) == set(_DRAWERS):
            return {name: charts[name] for name in _DRAWERS}
    parallel = parallel and _forkable()
    if parallel:
        # Every module the drawing needs, fully imported here first: a fork while another
        # thread (the batch's head-start import) is inside one of them would leave the
        # helper waiting on that module's lock.
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.figure  # noqa: F401
        import matplotlib.ticker  # noqa: F401
    helper = _draw_in_helper(summary, _IN_HELPER) if parallel else None
    charts = {name: draw(summary) for name, draw in _DRAWERS.items() if helper is None or name not in _IN_HELPER}
    done = helper() if helper is not None else {}
    for name in _DRAWERS:
        if name not in charts:
            charts[name] = done[name] if name in done else _DRAWERS[name](summary)
    return {name: charts[name] for name in _DRAWERS}


def _forkable() -> bool:
    """Whether a helper process can draw beside this one: fork exists and so does a second CPU."""
    import os

    if not hasattr(os, "fork"):
        return False
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cpus > 1


def _send_charts(fd: int, charts: Mapping[str, bytes]) -> None:
    """Write ``charts`` on ``fd``: per chart, its name and its bytes, each after its length."""
    import os
    import struct

    for name, data in charts.items():
        message = struct.pack(">I", len(name.encode())) + name.encode() + struct.pack(">Q", len(data)) + data
        view = memoryview(message)
        while view:
            view = view[os.write(fd, view):]


def _ready(fd: int, event: int, deadline: float) -> bool:
    """Whether ``fd`` is ready for ``event`` (``select.POLLIN``, ``POLLOUT``) before the
    monotonic ``deadline``; a closed peer counts as ready (the next read or write says so).
    ``poll``, not ``select``: a batch's descriptors may number past 1023."""
    import select
    import time

    poller = select.poll()
    poller.register(fd, event)
    return bool(poller.poll(max(0.0, deadline - time.monotonic()) * 1000))


def _collect_charts(read_fd: int, pid: int, names: Sequence[str]) -> dict[str, bytes]:
    """Read what :func:`_send_charts` wrote on ``read_fd`` (closed after) and reap ``pid``;
    {} when the process failed, sent nothing usable or took more than :data:`HELPER_SECONDS`
    (it is killed then: this process draws the charts instead)."""
    import os
    import select
    import signal
    import struct
    import time

    received, deadline = bytearray(), time.monotonic() + HELPER_SECONDS
    try:
        while time.monotonic() < deadline:
            if not _ready(read_fd, select.POLLIN, deadline):
                break
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            received += chunk
    finally:
        os.close(read_fd)
        try:
            if time.monotonic() >= deadline:
                os.kill(pid, signal.SIGKILL)
            _, code = os.waitpid(pid, 0)
        except OSError:
            code = 1
    if code != 0:
        return {}
    charts, at = {}, 0
    try:
        while at < len(received):
            (size,) = struct.unpack_from(">I", received, at)
            name = bytes(received[at + 4: at + 4 + size]).decode()
            at += 4 + size
            (length,) = struct.unpack_from(">Q", received, at)
            charts[name] = bytes(received[at + 8: at + 8 + length])
            at += 8 + length
    except (struct.error, UnicodeDecodeError):
        return {}
    return {name: data for name, data in charts.items() if name in names and data.startswith(b"\x89PNG")}


def _draw_in_helper(summary: ClassSummary, names: Sequence[str]):
    """Fork a process that draws ``names`` and sends their PNG bytes back on a pipe; returns
    the function that collects them ({} when the helper failed in any way), or None when no
    process could be forked."""
    import os

    try:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the helper: draw, send, leave without running anything of the parent's
        status = 1
        try:
            os.close(read_fd)
            _send_charts(write_fd, {name: _DRAWERS[name](summary) for name in names})
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    return lambda: _collect_charts(read_fd, pid, names)


class ChartPainter:
    """A forked copy of the grader that imports the chart machinery (matplotlib: half a
    second) while the batch is graded, off the grader's own CPU and interpreter lock, then
    draws the charts of the one summary it is sent (:meth:`paint`). The same code on the same
    data: the same bytes as drawn here. Made by :func:`start_painter`."""

    def __init__(self, pid: int, to_painter: int, from_painter: int):
        self._pid, self._to, self._from = pid, to_painter, from_painter
        self._used = False

    def paint(self, summary: ClassSummary) -> dict[str, bytes]:
        """The charts of ``summary`` by name; {} (or some missing) if the painter failed."""
        import os
        import pickle

        import select
        import time

        if self._used:
            return {}
        self._used = True
        deadline = time.monotonic() + HELPER_SECONDS
        try:  # never blocked for ever by a painter that does not read (stuck, or gone)
            os.set_blocking(self._to, False)
            view = memoryview(pickle.dumps(summary))
            while view:
                if not _ready(self._to, select.POLLOUT, deadline):
                    raise TimeoutError
                view = view[os.write(self._to, view):]
        except (OSError, TimeoutError):  # it is gone or stuck: the charts are drawn here
            self._kill()
        finally:
            os.close(self._to)
        return _collect_charts(self._from, self._pid, tuple(_DRAWERS))

    def _kill(self) -> None:
        import os
        import signal

        try:
            os.kill(self._pid, signal.SIGKILL)
        except OSError:
            pass

    def close(self) -> None:
        """Stop an unused painter (it writes nothing anywhere) and reap it, without waiting."""
        import os

        if self._used:
            return
        self._used = True
        self._kill()
        os.close(self._to)
        os.close(self._from)
        try:
            os.waitpid(self._pid, 0)
        except OSError:
            pass


def start_painter() -> ChartPainter | None:
    """Fork a :class:`ChartPainter` now, where there is a second CPU; None otherwise. Call it
    where a fork is safe: no other thread inside an import (the grader calls it before its
    progress bar and grading threads start)."""
    import os

    if not _forkable():
        return None
    try:
        to_read, to_write = os.pipe()
        from_read, from_write = os.pipe()
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the painter: leave without running anything of the grader's
        status = 1
        try:
            import pickle
            import signal

            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grader's to answer
            # Only its two pipe ends stay open: a copy of the grader's end of a sandbox or
            # trusted-process pipe would keep it from seeing its peer leave.
            try:
                inherited = [int(name) for name in os.listdir("/proc/self/fd")]
            except OSError:
                inherited = list(range(3, 1024))
            for fd in inherited:
                if fd > 2 and fd not in (to_read, from_write):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            import matplotlib.backends.backend_agg  # noqa: F401
            import matplotlib.figure  # noqa: F401
            import matplotlib.ticker  # noqa: F401

            received = bytearray()
            while chunk := os.read(to_read, 1 << 20):
                received += chunk
            if received:
                _send_charts(from_write, chart_pngs(pickle.loads(bytes(received))))
            status = 0
        finally:
            os._exit(status)
    os.close(to_read)
    os.close(from_write)
    return ChartPainter(pid, to_write, from_read)


# ---------------------------------------------------------------------------
# Layout, then Markdown and HTML
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    """One piece of the summary: ``kind`` is heading, text, table, image or list."""

    kind: str
    text: str = ""
    level: int = 2
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    entries: tuple[str, ...] = ()


def _num(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    value = round(float(value), digits)
    return f"{value:g}" if value.is_integer() else f"{value:.{digits}f}".rstrip("0")


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _outcome_counts(item: ItemStats) -> str:
    return ", ".join(f"{count} {status.replace('_', ' ')}" for status, count in zip(ITEM_STATUSES, item.counts)
                     if count) or "–"


def summary_blocks(summary: ClassSummary, notices: Sequence["Notice"] = ()) -> list[Block]:
    """The summary, laid out once for both renderings."""
    s = summary.scores
    top = summary.max_total
    blocks = [
        Block("heading", f"Class summary: {summary.title}", level=1),
        Block("text", f"{summary.submissions} submission(s); statistics count "
                      f"{s.n} of them (ungradable ones are left out and listed below). "
                      f"Grader version {', '.join(summary.grader_versions) or '–'}."),
        Block("heading", "Scores"),
        Block("table", header=("n", "mean", "mean %", "median", "min", "max", "std (population)"),
              rows=((str(s.n), _num(s.mean), _percent(None if s.mean is None else s.mean / top),
                     _num(s.median), _num(s.minimum), _num(s.maximum), _num(s.std)),)),
        Block("table", header=("outcome", "submissions"),
              rows=tuple((name, str(count)) for name, count in zip(OUTCOMES, summary.outcomes))),
        Block("image", text=CHARTS["score_histogram"], entries=("score_histogram",)),
        Block("heading", "Parts"),
        Block("table", header=("part", "title", "mean", "max", "mean %"),
              rows=tuple((p.id, p.title, _num(p.mean), _num(p.max_points),
                          _percent(None if p.mean is None else p.mean / p.max_points)) for p in summary.parts)),
        Block("image", text=CHARTS["part_scores"], entries=("part_scores",)),
        Block("heading", "Items"),
        Block("table", header=("item", "part", "title", "mean / max", "pass rate", "outcomes"),
              rows=tuple((i.id, i.part, i.title, f"{_num(i.mean_points)} / {_num(i.max_points)}",
                          _percent(i.pass_rate), _outcome_counts(i)) for i in summary.items)),
        Block("image", text=CHARTS["item_pass_rates"], entries=("item_pass_rates",)),
        Block("heading", "Misconceptions"),
    ]
    if summary.misconceptions:
        blocks.append(Block("table", header=("misconception", "id", "submissions", "items"),
                            rows=tuple((m.title, m.id, str(m.submissions), ", ".join(m.items))
                                       for m in summary.misconceptions)))
    else:
        blocks.append(Block("text", "No misconception was recognised."))
    blocks.append(Block("image", text=CHARTS["misconceptions"], entries=("misconceptions",)))
    if summary.adjustments:
        blocks += [Block("heading", "Instructor adjustments"),
                   Block("text", f"{len(summary.adjustments)} override(s) applied from the overrides file; "
                                 "every total, report and export above includes them."),
                   Block("table", header=("student", "item", "automatic", "now", "reason"),
                         rows=tuple((a.student, a.item, f"{_num(a.automatic_points)} / {_num(a.max_points)}",
                                     f"{_num(a.points)} / {_num(a.max_points)}", a.reason)
                                    for a in summary.adjustments))]
    with_names = any(row.name for row in summary.students)
    blocks += [Block("heading", "Students"),
               Block("table", header=("student",) + (("name",) if with_names else ()) + ("total", "%")
                     + tuple(f"part {p.id}" for p in summary.parts) + ("status", "misconceptions", "adjusted"),
                     rows=tuple((row.student,) + ((row.name,) if with_names else ())
                                + (_num(row.total), _percent(row.total / top if top else None))
                                + tuple(_num(points) for points in row.parts)
                                + (row.outcome, "; ".join(row.misconceptions) or "–", ", ".join(row.adjusted) or "–")
                                for row in summary.students)),
               Block("heading", "Submissions that could not be run or were ungradable")]
    if summary.problems:
        blocks.append(Block("table", header=("student", "outcome", "reason"),
                            rows=tuple((p.student, p.outcome, p.reason) for p in summary.problems)))
    else:
        blocks.append(Block("text", "None: every submission ran and was graded."))
    shown = [notice for notice in notices if notice.title or notice.lines]
    if shown:
        blocks.append(Block("heading", "LMS exports and notices"))
        for notice in shown:
            blocks += [Block("heading", notice.title or notice.source, level=3),
                       Block("list", entries=tuple(notice.lines))]
    return blocks


def _md_cell(text: str) -> str:
    """One table cell or list entry: one line, shown literally (reasons quote student output)."""
    return md_escape(" ".join(str(text).split()))


def blocks_markdown(blocks: Sequence[Block], chart_dir: str = CHART_DIR) -> str:
    """The blocks as Markdown; images point at ``chart_dir/<name>.png``."""
    out: list[str] = []
    for block in blocks:
        if block.kind == "heading":
            out += ["#" * block.level + " " + block.text, ""]
        elif block.kind == "text":
            out += [block.text, ""]
        elif block.kind == "table":
            out.append("| " + " | ".join(_md_cell(h) for h in block.header) + " |")
            out.append("|" + "---|" * len(block.header))
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            out.append("")
        elif block.kind == "image":
            out += [f"![{block.text}]({chart_dir}/{block.entries[0]}.png)", ""]
        elif block.kind == "list":
            out += [f"- {_md_cell(entry)}" for entry in block.entries] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem; color: #222;
       line-height: 1.4; }
.table { overflow-x: auto; margin: 0.5rem 0 1.2rem; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; white-space: nowrap; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.id { font-family: ui-monospace, monospace; font-size: 0.85rem; }
td.nowrap { white-space: nowrap; }
img { max-width: 100%; height: auto; margin: 0.5rem 0 1.5rem; }
"""

#: A cell that holds a number, a percentage or "points / max" is right-aligned.
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?%?( / -?\d+(\.\d+)?)?$")
#: Columns whose cells are identifiers (broken only after a dot or an underscore).
_ID_COLUMNS = {"item", "student", "id"}
#: Columns whose short words must not wrap (a name, "not run").
_NOWRAP_COLUMNS = {"name", "status", "outcome"}


def _td(text: str, column: str) -> str:
    """One cell: numbers right-aligned; identifiers may break after a dot or an underscore only."""
    if _NUMERIC.match(text):
        return f'<td class="num">{html.escape(text)}</td>'
    if column in _ID_COLUMNS:
        return '<td class="id">' + re.sub(r"([._])", r"\1<wbr>", html.escape(text)) + "</td>"
    if column in _NOWRAP_COLUMNS:
        return f'<td class="nowrap">{html.escape(text)}</td>'
    return f"<td>{html.escape(text)}</td>"


def blocks_html(blocks: Sequence[Block], images: Mapping[str, bytes]) -> str:
    """The blocks as one self-contained HTML page: inline style, images as data URIs."""
    title = next((b.text for b in blocks if b.kind == "heading"), "Class summary")
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{html.escape(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>"]
    for block in blocks:
        if block.kind == "heading":
            out.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif block.kind == "text":
            out.append(f"<p>{html.escape(block.text)}</p>")
        elif block.kind == "table":
            out.append('<div class="table"><table>')
            out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in block.header) + "</tr>")
            out += ["<tr>" + "".join(_td(str(c), h) for c, h in zip(row, block.header)) + "</tr>"
                    for row in block.rows]
            out.append("</table></div>")
        elif block.kind == "image":
            data = base64.b64encode(images[block.entries[0]]).decode("ascii")
            out.append(f'<img alt="{html.escape(block.text)}" src="data:image/png;base64,{data}">')
        elif block.kind == "list":
            out.append("<ul>" + "".join(f"<li>{html.escape(e)}</li>" for e in block.entries) + "</ul>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def summary_files(reports: Iterable[Report], rubric: Rubric, notices: Sequence["Notice"] = (),
                  names: Mapping[str, str] | None = None, painter: ChartPainter | None = None) -> dict[str, bytes]:
    """Every summary file, by path relative to the output folder."""
    summary = summarize(reports, rubric, names)
    charts = chart_pngs(summary, painter=painter)
    blocks = summary_blocks(summary, notices)
    files = {f"{CHART_DIR}/{name}.png": data for name, data in charts.items()}
    files["summary.md"] = blocks_markdown(blocks).encode("utf-8")
    files["summary.html"] = blocks_html(blocks, charts).encode("utf-8")
    return files


def write_summary(out: Path, reports: Iterable[Report], rubric: Rubric,
                  notices: Sequence["Notice"] = (), names: Mapping[str, str] | None = None,
                  painter: ChartPainter | None = None) -> None:
    """``summary.md``, ``summary.html`` and ``charts/*.png`` in ``out`` (atomic writes); the
    charts drawn by ``painter`` when there is one (:func:`start_painter`)."""
    from grader.outputs.base import write_file

    for relative, data in summary_files(reports, rubric, notices, names, painter).items():
        write_file(Path(out), relative, data)
