"""Typed grading results, independent of any output format (see ``grader/report/`` for those)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from grader import atomic

Status = Literal["passed", "failed", "error"]


@dataclass
class CheckResult:
    """The outcome of one check.

    ``failed`` means the submission lost the points (wrong answer, exception, timeout); ``error`` means
    the grader itself could not run the check (a bug or missing data) and the points are withheld too.
    """

    name: str
    points: float
    max_points: float
    status: Status
    message: str = ""
    hint: str | None = None
    tier: str = "public"
    seconds: float = 0.0

    @property
    def group(self) -> str:
        return self.name.split("/", 1)[0]


@dataclass
class GradeReport:
    """All check results of one submission plus notes on how it was graded."""

    submission: str
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.checks)

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
        return cls(data["submission"], checks, float(data.get("seconds", 0.0)), list(data.get("notes", [])))


def write_json(data: dict, path: Path) -> None:
    """Write JSON atomically: a reader never sees half a file."""
    atomic.write_text(path, json.dumps(data, indent=2))
