"""Grading one submission: run its calls in a sandboxed worker, then judge the answers.

:func:`grade` plans the calls, has :func:`grader.sandbox.client.run_calls` answer them with
the submission's code, and judges the outcomes into a :class:`Report`.
"""

from __future__ import annotations

from typing import Sequence

from grader import __version__
from grader.intake.submissions import Submission
from grader.judging.inputs import draw_inputs, submission_seed
from grader.judging.items import Judging, case_calls, judge_items, plan_calls
from grader.results import ItemResult, Outcome, PartResult, Report, submission_outcome
from grader.rubric import Rubric
from grader.sandbox.client import run_calls
from grader.sandbox.manager import Sandbox



def parts_of(rubric: Rubric, items: Sequence[ItemResult]) -> tuple[PartResult, ...]:
    """Part totals derived from item results."""
    return tuple(
        PartResult(part.id, part.title,
                   round(sum(i.points for i in items if i.part == part.id), 6), part.points)
        for part in rubric.parts)


def grade(judging: Judging, sandbox: Sandbox, slot: int, submission: Submission) -> Report:
    """Grade one submission into its report."""
    inputs = draw_inputs(submission_seed(submission.content))
    index = case_calls(inputs)
    calls = plan_calls(inputs, index)
    run = run_calls(sandbox, slot, submission, calls, judging.rubric.limits)
    items = judge_items(judging, inputs, run.outcomes, index)
    notes = submission.notes + run.notes
    if submission.error:
        notes = (f"This submission could not be run: {submission.error}",) + notes
    return Report(
        student=submission.student, submission=submission.origin, sha256=submission.sha256,
        items=items, parts=parts_of(judging.rubric, items), grader_version=__version__,
        isolation=sandbox.isolation.layers, notes=notes,
        outcome=submission_outcome(items, submission.error))


def ungradable(rubric: Rubric, submission: Submission, reason: str, isolation: tuple[str, ...]) -> Report:
    """The report of a submission the grader itself failed on: every item ungradable, never 0."""
    items = tuple(ItemResult(i.id, i.part, i.title, 0.0, i.points, "ungradable",
                             (f"The grader failed on this submission ({reason}); it will be "
                              "regraded, this is not your grade.",))
                  for i in rubric.items)
    return Report(student=submission.student, submission=submission.origin, sha256=submission.sha256,
                  items=items, parts=parts_of(rubric, items), grader_version=__version__,
                  isolation=isolation, notes=(f"ungradable: {reason}",),
                  outcome=Outcome("ungradable", reason))
