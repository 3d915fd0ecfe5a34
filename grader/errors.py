"""The grader's error hierarchy: student errors and grader errors never mix."""


class GraderError(Exception):
    """Base of every error the grader raises on purpose."""


class RubricError(GraderError):
    """The rubric file is missing, malformed or inconsistent."""


class SubmissionError(GraderError):
    """A submission file cannot be graded as it is (the student's problem, reported per student)."""


class SandboxError(GraderError):
    """The sandbox could not run a worker (the grader's problem: the submission is ungradable)."""


class ProtocolError(GraderError):
    """A worker sent data that breaks the wire protocol (the answer is invalid output)."""


class ReleaseError(GraderError):
    """The student bundle cannot be written where or as asked."""


class BundleLeakError(ReleaseError):
    """The student bundle would hold reference code or hidden values; nothing was written."""


class UngradableSubmission(GraderError):
    """The grader failed on this submission; Gradescope must not record a score for it."""


class CanvasError(GraderError):
    """The Canvas gradebook or the chosen column cannot be used."""


class MoodleError(GraderError):
    """The Moodle options or the roster cannot be used."""
