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
