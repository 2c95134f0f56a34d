"""Why a check failed, as exceptions the plugin turns into short, specific messages.

``CheckFailure`` is a verdict (the submission's answer is wrong). ``SubmissionFault`` and its subclasses
mean the submission's code could not give an answer (it raised, hung, crashed or is missing).
Anything else escaping a check is a grader bug and is reported as such.
"""

from __future__ import annotations

REFUSAL = "cannot grade"  # the submission cannot be read (exit 2)


class CheckFailure(AssertionError):
    """The submission answered, and the answer is wrong."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class SubmissionFault(Exception):
    """The submission could not answer; ``message`` says why in the student's terms.

    ``problem`` names a cause shared by several checks (``"training.py"`` when the module failed to import):
    the report shows its message once and lists the checks it blocked.
    """

    def __init__(self, message: str, problem: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problem = problem


class StudentError(SubmissionFault):
    """Student code raised an exception."""

    def __init__(self, what: str, error: dict) -> None:
        kind, text = error.get("type", "Exception"), error.get("message", "")
        if kind == "NotImplementedError":
            message = f"{what} is not implemented yet (it raises NotImplementedError)."
        elif kind == "SystemExit":
            message = f"{what} called sys.exit({text}); return a value instead."
        else:
            message = f"{what} raised {kind}: {text}"
        tb = error.get("traceback", "").strip()
        if tb and kind != "NotImplementedError":
            message += f"\n{tb}"
        super().__init__(message)
        self.kind = kind
        # the student function that raised NotImplementedError (the report lists each once)
        self.not_implemented = (error.get("raised_in") or what) if kind == "NotImplementedError" else None


class MissingName(SubmissionFault):
    """A module file or a contract name is missing."""


class ModuleUnavailable(SubmissionFault):
    """A student module failed to import (syntax error, exception, hang or exit at import)."""


class WorkerFault(SubmissionFault):
    """The worker process timed out, died or broke the protocol while running student code."""


class WorkerTimeout(WorkerFault):
    """The worker gave no answer within the request's deadline (and was stopped)."""


class GraderFault(Exception):
    """The grader itself could not run a check (missing data, a broken sandbox, a bug): never the student's fault.

    Reported as an *error*, without hints; ``cnn-grader grade`` then exits with :data:`GRADER_FAULT_EXIT`.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WorkerStartFailed(GraderFault):
    """The worker did not start (before any student code ran): the sandbox or the installation is broken."""


GRADER_FAULT_EXIT = 3
