"""The class summary: statistics on hand-made reports, deterministic charts, a self-contained page."""

from __future__ import annotations

import base64
import re
import statistics
import struct

import pytest

from grader.outputs.base import Notice
from grader.judging.grading import parts_of
from grader.judging.misconceptions import CATALOGUE
from grader.results import ItemResult, Outcome, Report
from grader.rubric import load_rubric
from grader.outputs.summary import (ITEM_STATUSES, blocks_html, blocks_markdown, chart_pngs, histogram_bins,
                                    summarize, summary_blocks, write_summary)
from grader.overrides import Override, apply_overrides

RUBRIC = load_rubric()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHARTS = ("score_histogram", "part_scores", "item_pass_rates", "misconceptions")


def make_report(student: str, *, default: str = "passed", statuses: dict | None = None,
                misconceptions: dict | None = None, notes: tuple[str, ...] = (),
                outcome: Outcome | None = None) -> Report:
    statuses = statuses or {}
    misconceptions = misconceptions or {}
    items = []
    for item in RUBRIC.items:
        status = statuses.get(item.id, default)
        points = {"passed": item.points, "partial": item.points / 2}.get(status, 0.0)
        items.append(ItemResult(item.id, item.part, item.title, points, item.points, status,
                                (f"{item.id}: {status}",), tuple(misconceptions.get(item.id, ()))))
    items = tuple(items)
    return Report(student, f"{student}.py", "0" * 64, items, parts_of(RUBRIC, items), "1.0.0", (), notes,
                  outcome)


@pytest.fixture
def reports() -> list[Report]:
    return [
        make_report("ada"),                                                       # 15
        make_report("alan", statuses={"1c": "partial", "1f": "failed"},           # 13.5
                    misconceptions={"1f": ("stale_moments_in_w3",), "1c": ("eps_inside_sqrt",)}),
        make_report("emmy", default="failed", statuses={"1a": "passed", "1b": "timeout"},  # 1
                    misconceptions={"1c": ("eps_inside_sqrt",), "1f": ("eps_inside_sqrt",)}),
        make_report("grace", default="error"),                                   # 0, could not run
        make_report("kurt", default="not_attempted",                              # 0, unreadable
                    notes=("This submission could not be run: the file is empty",),
                    outcome=Outcome("unreadable", "the file is empty")),
        make_report("zed", default="ungradable", notes=("ungradable: SandboxError: fork failed",),
                    outcome=Outcome("ungradable", "SandboxError: fork failed")),
    ]


def test_score_statistics_leave_out_ungradable_submissions(reports):
    summary = summarize(reports, RUBRIC)
    totals = [15.0, 13.5, 1.0, 0.0, 0.0]
    assert summary.submissions == 6
    assert summary.totals == tuple(sorted(totals))
    s = summary.scores
    assert s.n == 5
    assert s.mean == pytest.approx(29.5 / 5)
    assert s.median == 1.0 and s.minimum == 0.0 and s.maximum == 15.0
    assert s.std == pytest.approx(statistics.pstdev(totals))
    assert dict(zip(("graded", "not run", "unreadable", "ungradable"), summary.outcomes)) == {
        "graded": 3, "not run": 1, "unreadable": 1, "ungradable": 1}


def test_item_counts_pass_rates_and_mean_points(reports):
    items = {i.id: i for i in summarize(reports, RUBRIC).items}
    one_a = items["1a"]
    assert dict(zip(ITEM_STATUSES, one_a.counts)) == {"passed": 3, "partial": 0, "failed": 0,
                                                      "not_attempted": 1, "error": 1, "timeout": 0}
    assert one_a.pass_rate == pytest.approx(3 / 5) and one_a.mean_points == pytest.approx(3 / 5)
    one_b = items["1b"]
    assert one_b.count("timeout") == 1 and one_b.count("passed") == 2
    one_c = items["1c"]
    assert (one_c.count("passed"), one_c.count("partial"), one_c.count("failed")) == (1, 1, 1)
    assert one_c.mean_points == pytest.approx(1.5 / 5)
    assert all(item.n == 5 for item in items.values())


def test_misconceptions_counted_per_submission_most_common_first(reports):
    found = summarize(reports, RUBRIC).misconceptions
    assert [(m.id, m.submissions) for m in found] == [("eps_inside_sqrt", 2), ("stale_moments_in_w3", 1)]
    assert found[0].title == CATALOGUE["eps_inside_sqrt"].title
    assert found[0].items == ("1c", "1f")


def test_part_means(reports):
    parts = {p.id: p for p in summarize(reports, RUBRIC).parts}
    assert parts["1"].mean == pytest.approx((6 + 4.5 + 1) / 5)
    assert parts["2"].mean == pytest.approx((5 + 5) / 5)
    assert parts["3"].max_points == 4


def test_problem_submissions_are_listed_with_reasons(reports):
    problems = {p.student: p for p in summarize(reports, RUBRIC).problems}
    assert set(problems) == {"grace", "kurt", "zed"}
    assert problems["grace"].outcome == "not run" and problems["grace"].reason == "1a: error"
    assert problems["kurt"].outcome == "unreadable" and "the file is empty" in problems["kurt"].reason
    assert problems["zed"].outcome == "ungradable" and "fork failed" in problems["zed"].reason


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    assert data.endswith(b"IEND\xaeB`\x82")
    return struct.unpack(">II", data[16:24])


def test_charts_are_valid_pngs(tmp_path, reports):
    from PIL import Image

    write_summary(tmp_path, reports, RUBRIC)
    for name in CHARTS:
        path = tmp_path / "charts" / f"{name}.png"
        width, height = _png_size(path.read_bytes())
        assert width >= 400 and height >= 200
        with Image.open(path) as image:
            image.verify()
        assert f"charts/{name}.png" in (tmp_path / "summary.md").read_text(encoding="utf-8")


def test_html_is_self_contained_with_embedded_images(tmp_path, reports):
    notices = (Notice("canvas", "Canvas gradebook import", ("Students without a graded submission: Noether, Emmy",)),)
    write_summary(tmp_path, reports, RUBRIC, notices)
    page = (tmp_path / "summary.html").read_text(encoding="utf-8")
    assert not re.search(r"https?://", page)
    assert not re.search(r"<(script|link|iframe)\b", page)
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == len(CHARTS) and all(s.startswith("data:image/png;base64,") for s in sources)
    embedded = {base64.b64decode(s.split(",", 1)[1]) for s in sources}
    assert embedded == {(tmp_path / "charts" / f"{n}.png").read_bytes() for n in CHARTS}
    markdown = (tmp_path / "summary.md").read_text(encoding="utf-8")
    for text in ("Noether, Emmy", CATALOGUE["eps_inside_sqrt"].title, "fork failed", "std (population)"):
        assert text in markdown and text in page


def test_two_runs_give_identical_bytes(tmp_path, reports):
    first, second = tmp_path / "first", tmp_path / "second"
    write_summary(first, reports, RUBRIC)
    write_summary(second, list(reversed(reports)), RUBRIC)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert [str(f) for f in files] == ["charts/item_pass_rates.png", "charts/misconceptions.png",
                                       "charts/part_scores.png", "charts/score_histogram.png",
                                       "summary.html", "summary.md"]
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative


def test_rerun_leaves_unchanged_files_alone(tmp_path, reports):
    write_summary(tmp_path, reports, RUBRIC)
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    write_summary(tmp_path, reports, RUBRIC)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == stamps


def test_an_empty_class_still_gets_a_summary(tmp_path):
    write_summary(tmp_path, [], RUBRIC)
    assert "| 0 | – |" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    _png_size((tmp_path / "charts" / "score_histogram.png").read_bytes())



# ---------------------------------------------------------------------------
# What the summary shows (issue 15)
# ---------------------------------------------------------------------------

def test_histogram_keeps_fourteen_seventy_five_apart_from_full_marks():
    labels, counts = histogram_bins([15.0, 14.75, 14.0, 13.99, 0.0, 0.25, 15.0], 15.0)
    assert labels == tuple(str(k) for k in range(16))
    assert counts[15] == 2 and counts[14] == 2 and counts[13] == 1 and counts[0] == 2
    assert sum(counts) == 7


def test_statistics_are_rounded_and_shown_with_percentages(reports):
    markdown = blocks_markdown(summary_blocks(summarize(reports, RUBRIC)))
    assert "| 5 | 5.9 | 39% | 1 | 0 | 15 | 6.84 |" in markdown  # mean 5.9 of 15 = 39%, pstdev 6.8440...
    assert "| 1 | The first two Adam updates in closed form | 2.3 | 6 | 38% |" in markdown


def test_items_table_and_chart_name_titles_and_parts_with_counts_of_real_outcomes_only(reports):
    summary = summarize(reports, RUBRIC)
    markdown = blocks_markdown(summary_blocks(summary))
    first = RUBRIC.items[0]
    assert f"| 1a | 1 | {first.title} | 0.6 / 1 | 60% | 3 passed, 1 not attempted, 1 error |" in markdown
    assert "0 partial" not in markdown  # an outcome nobody had is not listed


def test_item_chart_has_no_legend_entry_for_an_outcome_nobody_had(monkeypatch, reports):
    from matplotlib.figure import Figure

    seen = {}
    original = Figure.legend

    def spy(self, *args, **kwargs):
        legend = original(self, *args, **kwargs)
        seen["labels"] = [text.get_text() for text in legend.get_texts()]
        return legend

    monkeypatch.setattr(Figure, "legend", spy)
    chart_pngs(summarize(reports, RUBRIC), parallel=False)  # in this process, where the spy is
    assert seen["labels"] == ["passed", "partial", "failed", "not attempted", "error", "timeout"]
    seen.clear()
    chart_pngs(summarize(reports[:2], RUBRIC), parallel=False)  # ada and alan: passed, partial and failed only
    assert seen["labels"] == ["passed", "partial", "failed"]


def test_per_student_table_names_misconceptions_status_parts_and_lms_names(reports):
    summary = summarize(reports, RUBRIC, names={"alan": "Turing, Alan"})
    rows = {row.student: row for row in summary.students}
    assert rows["alan"].name == "Turing, Alan" and rows["alan"].total == 13.5
    assert rows["alan"].parts == (4.5, 5.0, 4.0)
    assert rows["alan"].misconceptions == tuple(sorted(
        {CATALOGUE["stale_moments_in_w3"].title, CATALOGUE["eps_inside_sqrt"].title}))
    assert rows["grace"].outcome == "not run" and rows["zed"].outcome == "ungradable"
    markdown = blocks_markdown(summary_blocks(summary))
    assert "| student | name | total | % | part 1 | part 2 | part 3 | status | misconceptions | adjusted |" in markdown
    assert "| alan | Turing, Alan | 13.5 | 90% | 4.5 | 5 | 4 | graded |" in markdown
    assert "| name |" not in blocks_markdown(summary_blocks(summarize(reports, RUBRIC)))


def test_instructor_adjustments_are_listed_with_the_automatic_points(reports):
    adjusted = [apply_overrides(r, [Override("emmy", "1f", 1, "derivation accepted by hand")]) for r in reports]
    summary = summarize(adjusted, RUBRIC)
    assert [(a.student, a.item, a.automatic_points, a.points) for a in summary.adjustments] == [("emmy", "1f", 0.0, 1.0)]
    markdown = blocks_markdown(summary_blocks(summary))
    assert "## Instructor adjustments" in markdown
    assert "| emmy | 1f | 0 / 1 | 1 / 1 | derivation accepted by hand |" in markdown
    assert next(r for r in summary.students if r.student == "emmy").adjusted == ("1f",)
    assert "## Instructor adjustments" not in blocks_markdown(summary_blocks(summarize(reports, RUBRIC)))


def test_html_tables_align_numbers_and_let_long_item_ids_break_at_dots(reports):
    page = blocks_html(summary_blocks(summarize(reports, RUBRIC)), chart_pngs(summarize(reports, RUBRIC)))
    assert '<td class="id">2.<wbr>1.<wbr>momentum_<wbr>constant_<wbr>gradient_<wbr>step</td>' in page
    assert '<td class="num">60%</td>' in page
    assert '<td class="nowrap">not run</td>' in page  # short words that must not break
    assert '<div class="table"><table>' in page  # scrolls sideways on a narrow screen instead of overflowing
    assert "max-width: 64rem" in page


def test_notices_without_content_add_no_empty_section(reports):
    quiet = (Notice("gradescope", "", (), "Gradescope previews: ..."),)
    assert "LMS exports" not in blocks_markdown(summary_blocks(summarize(reports, RUBRIC), quiet))


def test_charts_drawn_with_a_helper_process_are_the_same_bytes_and_survive_its_failure(monkeypatch, reports):
    """The costliest chart is drawn in a forked helper while this process draws the others;
    the bytes are the same as drawn in one process, and a helper that dies (or sends nothing)
    costs only the time: this process draws the chart itself."""
    import os

    from grader.outputs import summary as module

    summary = summarize(reports, RUBRIC)
    serial = chart_pngs(summary, parallel=False)
    if not module._forkable():
        pytest.skip("one CPU: the charts are drawn in one process")
    assert chart_pngs(summary) == serial
    _dies_when_forked(monkeypatch, module, "item_pass_rates")
    assert chart_pngs(summary) == serial


def _dies_when_forked(monkeypatch, module, chart: str) -> None:
    """Make drawing ``chart`` end any process but this one (a helper, a painter) at once."""
    import os

    parent, real = os.getpid(), module._DRAWERS[chart]

    def dies_outside_this_process(data):
        if os.getpid() != parent:
            os._exit(3)
        return real(data)

    monkeypatch.setitem(module._DRAWERS, chart, dies_outside_this_process)


def test_charts_drawn_by_the_painter_forked_before_grading_are_the_same_bytes(monkeypatch, reports):
    """The batch forks a painter as its sandbox boots (matplotlib is imported there meanwhile,
    off the grader's CPU); its charts are the bytes drawn in one process, a painter that dies
    costs only time, and one never used leaves when closed, reaped."""
    import os

    from grader.outputs import summary as module

    if not module._forkable():
        pytest.skip("one CPU: no painter is forked")
    summary = summarize(reports, RUBRIC)
    serial = chart_pngs(summary, parallel=False)
    painter = module.start_painter()
    assert painter is not None
    assert chart_pngs(summary, painter=painter) == serial
    with pytest.raises(ChildProcessError):
        os.waitpid(painter._pid, os.WNOHANG)  # reaped by paint()
    assert painter.paint(summary) == {}  # one summary per painter

    _dies_when_forked(monkeypatch, module, "part_scores")
    painter = module.start_painter()
    assert painter.paint(summary) == {}  # it died: nothing from it
    assert chart_pngs(summary, painter=module.start_painter()) == serial  # drawn here instead

    unused = module.start_painter()
    unused.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(unused._pid, os.WNOHANG)


def test_the_painter_keeps_no_copy_of_the_graders_other_descriptors(reports):
    """A copy of the grader's end of a pipe in the painter would keep its peer from seeing the
    grader leave (a zygote, a trusted process): the painter closes every descriptor but its own."""
    import os

    from grader.outputs import summary as module

    if not module._forkable():
        pytest.skip("one CPU: no painter is forked")
    read_fd, write_fd = os.pipe()
    try:
        painter = module.start_painter()
        os.close(write_fd)
        write_fd = -1
        # the painter's copy of write_fd is closed: the read end sees the end of the pipe
        # while the painter still runs (it waits for a summary)
        import select

        assert select.select([read_fd], [], [], 30)[0] and os.read(read_fd, 1) == b""
        painter.close()
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


def test_a_painter_that_stops_answering_costs_seconds_then_the_charts_are_drawn_here(monkeypatch, reports):
    import os
    import signal
    import time

    from grader.outputs import summary as module

    if not module._forkable():
        pytest.skip("one CPU: no painter is forked")
    summary = summarize(reports, RUBRIC)
    serial = chart_pngs(summary, parallel=False)
    monkeypatch.setattr(module, "HELPER_SECONDS", 1.0)
    painter = module.start_painter()
    os.kill(painter._pid, signal.SIGSTOP)  # stuck: it reads nothing and draws nothing
    started = time.monotonic()
    assert chart_pngs(summary, painter=painter) == serial
    assert time.monotonic() - started < 20  # its limit, then this process's own drawing
    with pytest.raises(ChildProcessError):
        os.waitpid(painter._pid, os.WNOHANG)  # killed and reaped
    stuck = module.start_painter()
    os.kill(stuck._pid, signal.SIGSTOP)
    stuck.close()  # an unused one that is stuck does not hold the grader either
    with pytest.raises(ChildProcessError):
        os.waitpid(stuck._pid, os.WNOHANG)
