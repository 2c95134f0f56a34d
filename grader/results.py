"""Typed grading results, independent of any output format (see ``grader/report/`` for those)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from grader import atomic

Status = Literal["passed", "failed", "error"]
TAMPERING = "tampering"  # the problem key of checks withheld because the submission reaches into the grader


@dataclass
class CheckResult:
    """The outcome of one check.

    ``failed`` means the submission lost the points (wrong answer, exception, timeout); ``error`` means
    the grader itself could not run the check (a bug, a broken sandbox) and the points are withheld too:
    it is shown without a hint, and ``cnn-grader grade`` exits non-zero. ``problem`` names a cause shared
    with other checks (a module that failed to import: :attr:`GradeReport.problems` has its message);
    ``not_implemented`` the student function that still raises ``NotImplementedError``.
    """

    name: str
    points: float
    max_points: float
    status: Status
    message: str = ""
    hint: str | None = None
    tier: str = "public"
    seconds: float = 0.0
    problem: str | None = None
    not_implemented: str | None = None
    visibility: str | None = None  # Gradescope's, where the course configuration sets one

    @property
    def group(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def rank(self) -> int:
        """How informative a failure is: a wrong answer (0) before an untouched stub (1) before a blocked check (2)."""
        return 2 if self.problem else 1 if self.not_implemented else 0


@dataclass
class GradeReport:
    """All check results of one submission plus notes on how it was graded.

    ``graded_files`` maps each exercise module to the file it was graded from; ``problems`` maps a shared
    cause (see :attr:`CheckResult.problem`) to its message, reported once. ``flags`` are the judge's findings
    of code that reaches into the grader or the interpreter (``file:line: what``, :mod:`grader.judge.tamper`):
    evidence for the instructor to review; while there are any, the checks are withheld.
    """

    submission: str
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    graded_files: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.checks)

    @property
    def grader_faults(self) -> list[CheckResult]:
        """Checks the grader could not run for its own reasons (status ``error``)."""
        return [c for c in self.checks if c.status == "error"]

    def fault_groups(self) -> dict[str, list[CheckResult]]:
        """Each grader error's message once, with the checks it stopped (missing data stops several)."""
        grouped: dict[str, list[CheckResult]] = {}
        for check in self.grader_faults:
            grouped.setdefault(check.message, []).append(check)
        return grouped

    def withhold(self, problem: str, message: str, only: set[str] | None = None) -> None:
        """Take the points of every check the grader ran (or of those named in ``only``) and give ``problem``
        (``message``, once) as the reason.

        Grader errors stay errors: the run still failed for the grader's own reasons.
        """
        self.problems[problem] = message
        for check in self.checks:
            if check.status != "error" and (only is None or check.name in only):
                check.points, check.status, check.problem, check.hint = 0.0, "failed", problem, None
                check.message = f"not graded: {problem} (see the problem reported once above)"
                check.not_implemented = None

    def blocked(self, problem: str) -> list[CheckResult]:
        return [c for c in self.checks if c.problem == problem]

    def not_implemented(self) -> dict[str, list[CheckResult]]:
        """Student function -> the failed checks whose only finding is that it is not implemented yet."""
        found: dict[str, list[CheckResult]] = {}
        for check in self.checks:
            if check.status != "passed" and check.not_implemented and not check.problem:
                found.setdefault(check.not_implemented, []).append(check)
        return found

    def groups(self) -> dict[str, list[CheckResult]]:
        grouped: dict[str, list[CheckResult]] = {}
        for check in self.checks:
            grouped.setdefault(check.group, []).append(check)
        return grouped

    def to_json(self) -> dict:
        return {**asdict(self), "score": self.score, "max_score": self.max_score}

    @classmethod
    def from_json(cls, data: dict) -> GradeReport:
        """The report :meth:`to_json` described (derived fields are recomputed, not trusted)."""
        checks = [CheckResult(**c) for c in data.get("checks", [])]
        return cls(
            data["submission"],
            checks,
            float(data.get("seconds", 0.0)),
            list(data.get("notes", [])),
            dict(data.get("graded_files", {})),
            dict(data.get("problems", {})),
            [str(flag) for flag in data.get("flags", [])],
        )


def write_json(data: dict, path: Path) -> None:
    """Write JSON atomically: a reader never sees half a file."""
    atomic.write_text(path, json.dumps(data, indent=2))
