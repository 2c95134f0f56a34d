"""A Markdown feedback report a student can read: points per group, what failed, why, and a hint."""

from __future__ import annotations

from pathlib import Path

from grader import atomic
from grader.results import GradeReport


def render(report: GradeReport) -> str:
    lines = [
        "# cnn-grader feedback",
        "",
        f"**Score: {report.score:g} / {report.max_score:g}** (graded in {report.seconds:.1f} s)",
        "",
        "| group | points |",
        "|---|---|",
    ]
    groups = report.groups()
    for group, checks in groups.items():
        lines.append(f"| {group} | {sum(c.points for c in checks):g} / {sum(c.max_points for c in checks):g} |")
    for note in report.notes:
        lines += ["", f"> {note}"]
    for group, checks in groups.items():
        lines += ["", f"## {group}", ""]
        for check in checks:
            mark = "passed" if check.status == "passed" else ("grader error" if check.status == "error" else "failed")
            lines.append(f"- **{check.name}** ({check.points:g}/{check.max_points:g}): {mark}")
            if check.status == "passed":
                continue
            if check.tier == "hidden":
                continue
            lines += ["", "  ```", *(f"  {line}" for line in check.message.splitlines()), "  ```"]
            if check.hint:
                lines.append(f"  Hint: {check.hint}")
            lines.append("")
    return "\n".join(lines) + "\n"


def write(report: GradeReport, path: Path) -> None:
    atomic.write_text(path, render(report))
