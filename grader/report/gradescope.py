"""Gradescope's ``results.json`` from a :class:`~grader.results.GradeReport`.

Fields follow Gradescope's autograder specification: top-level ``score``, ``max_score``,
``execution_time``, ``output`` (with ``output_format``), ``visibility``, ``extra_data``, ``tests[]`` with
``name``, ``number``, ``score``, ``max_score``, ``status``, ``output``, ``output_format``, ``tags`` and
``visibility``. Outputs are Markdown (``output_format: md``), which Gradescope renders; figures cannot be
shown there (docs/packaging.md says how students get feedback.html). Hidden-tier checks report their name
and result only (no message, no hint, no timing) with visibility ``after_published`` by default, so
students see them once the instructor publishes the grades. ``execution_time`` is rounded to 10 s: to the
second, a submission's time would tell how long hidden inputs took.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader import atomic
from grader.report.markdown import escape, fenced
from grader.results import CheckResult, GradeReport

HIDDEN_VISIBILITY = "after_published"
TIME_STEP = 10.0


def _test_output(check: CheckResult) -> str:
    if check.status == "passed":
        return ""
    if check.tier == "hidden":
        return "failed"
    if check.problem:
        return f"Not graded: {escape(check.problem)} (see the problem at the top)."
    if check.not_implemented:
        return f"`{check.not_implemented}` is not implemented yet."
    lines = fenced(check.message)
    if check.hint and check.status == "failed":
        lines += ["", f"Hint: {escape(check.hint)}"]
    return "\n".join(lines)


def _top_output(report: GradeReport) -> str:
    if not report.checks:  # nothing was graded: the notes say why, in plain words
        return "\n\n".join(report.notes)
    lines = []
    if report.graded_files:
        lines.append("Graded files: " + ", ".join(f"{m} from {escape(p)}" for m, p in report.graded_files.items()))
    for key, message in report.problems.items():
        lines += [
            "",
            f"**Problem with {escape(key)}** (checks not graded because of it: "
            f"{', '.join(c.name for c in report.blocked(key))})",
            "",
            *fenced(message),
        ]
    for message, checks in report.fault_groups().items():
        lines += [
            "",
            f"**Grader error, not your code** (the grade is incomplete; checks not graded because of it: "
            f"{', '.join(c.name for c in checks)})",
            "",
            *fenced(message),
        ]
    missing = report.not_implemented()
    if missing:
        lines += ["", "Not implemented yet: " + ", ".join(f"`{name}`" for name in missing)]
    lines += ["", *(f"> {escape(note)}" for note in report.notes)] if report.notes else []
    return "\n".join(lines).strip()


def to_results(report: GradeReport, hidden_visibility: str = HIDDEN_VISIBILITY) -> dict:
    tests = []
    for number, check in enumerate(report.checks, start=1):
        hidden = check.tier == "hidden"
        tests.append(
            {
                "name": check.name,
                "number": str(number),
                "score": check.points,
                "max_score": check.max_points,
                "status": "passed" if check.status == "passed" else "failed",
                "output": _test_output(check),
                "output_format": "md",
                "tags": [check.group, check.tier],
                "visibility": check.visibility or (hidden_visibility if hidden else "visible"),
                "extra_data": {} if hidden else {"seconds": check.seconds},
            }
        )
    return {
        "score": report.score,
        "max_score": report.max_score,
        "execution_time": max(TIME_STEP, round(report.seconds / TIME_STEP) * TIME_STEP),
        "output": _top_output(report),
        "output_format": "md",
        "visibility": "visible",
        "extra_data": {"graded_files": report.graded_files},
        "tests": tests,
    }


def write(report: GradeReport, path: Path, hidden_visibility: str = HIDDEN_VISIBILITY) -> None:
    """Write atomically (a reader never sees half a file)."""
    atomic.write_text(path, json.dumps(to_results(report, hidden_visibility), indent=2))
