"""The grader's error hierarchy, by whose fault an error is.

Every error the grader raises on purpose is a :class:`GraderError`, and exactly one of:

- :class:`StudentFault`: a submission is at fault (it cannot be read, its worker broke the
  protocol). It costs that student a precise message in their report and never stops the
  batch.
- :class:`InstructorFault`: what the instructor asked for cannot be done (a malformed rubric,
  a gradebook or roster that cannot be used, a path that does not exist, an output folder
  that is a file). The command stops before grading with one line saying what to change.
- :class:`GraderFault`: the grader or its machine failed (no sandbox worker, the disk is
  full, a bundle that would leak the reference). Nobody's grade may be recorded from it; a
  rerun after the problem is fixed resumes.

Callers catch by fault (``except StudentFault``) or by kind (``except CanvasError``).
"""


class GraderError(Exception):
    """Base of every error the grader raises on purpose."""


class StudentFault(GraderError):
    """A submission is at fault: reported in that student's report, the batch goes on."""


class InstructorFault(GraderError):
    """The instructor's files or options cannot be used as given: a one-line error, exit 2."""


class GraderFault(GraderError):
    """The grader or its host failed: no grade is recorded from it; rerun once fixed."""


class RubricError(InstructorFault):
    """The rubric file is missing, malformed or inconsistent."""


class InputError(InstructorFault):
    """A path given to grade does not exist or cannot be used, or the output folder is not a folder."""


class SubmissionError(StudentFault):
    """A submission file cannot be graded as it is (the student's problem, reported per student)."""


class ProtocolError(StudentFault):
    """A worker sent data that breaks the wire protocol (the answer is invalid output)."""


class SandboxError(GraderFault):
    """The sandbox could not run a worker (the grader's problem: the submission is ungradable)."""


class UnreachableInstall(InstructorFault, SandboxError):
    """Workers would run as users of their own without a private root, and the grader's Python
    packages sit in a folder those users cannot enter: grading would fail imports, so it refuses."""


class OutputError(GraderFault):
    """An output file cannot be written (disk full, read-only folder); rerun to resume."""


class ReleaseError(InstructorFault):
    """The student bundle cannot be written where or as asked."""


class BundleLeakError(ReleaseError, GraderFault):
    """The student bundle would hold reference code or hidden values; nothing was written."""


class UngradableSubmission(GraderFault):
    """The grader failed on this submission; Gradescope must not record a score for it."""


class CanvasError(InstructorFault):
    """The Canvas gradebook or the chosen column cannot be used."""


class MoodleError(InstructorFault):
    """The Moodle options or the roster cannot be used."""


class OverrideError(InstructorFault):
    """An instructor override names an unknown item, points outside the item's range, or no reason."""
