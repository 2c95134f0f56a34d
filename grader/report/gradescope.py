"""Gradescope's ``results.json`` from a :class:`~grader.results.GradeReport`.

Fields follow Gradescope's autograder specification: top-level ``score``, ``max_score``,
``execution_time``, ``output``, ``visibility``, ``tests[]`` with ``name``, ``number``, ``score``,
``max_score``, ``status``, ``output``, ``tags`` and ``visibility``. Hidden-tier checks report their name
and result only: no message, no hint, no timing.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader import atomic
from grader.results import GradeReport


def to_results(report: GradeReport) -> dict:
    tests = []
    for number, check in enumerate(report.checks, start=1):
        hidden = check.tier == "hidden"
        output = "" if check.status == "passed" else check.message
        if check.hint and check.status != "passed" and not hidden:
            output += f"\nHint: {check.hint}"
        tests.append(
            {
                "name": check.name,
                "number": str(number),
                "score": check.points,
                "max_score": check.max_points,
                "status": "passed" if check.status == "passed" else "failed",
                "output": "failed" if hidden and check.status != "passed" else output.strip(),
                "tags": [check.group, check.tier],
                "visibility": "visible",
                "extra_data": {} if hidden else {"seconds": check.seconds},
            }
        )
    return {
        "score": report.score,
        "max_score": report.max_score,
        "execution_time": report.seconds,
        "output": "\n".join(report.notes),
        "output_format": "text",
        "visibility": "visible",
        "tests": tests,
    }


def write(report: GradeReport, path: Path) -> None:
    """Write atomically (a reader never sees half a file)."""
    atomic.write_text(path, json.dumps(to_results(report), indent=2))
