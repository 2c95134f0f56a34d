"""A Markdown feedback report a student can read: points per group, what failed, why, and a hint.

Everything a submission can influence (messages quote its output, notes name its files) is fenced with a
backtick run longer than any inside it, or escaped, so it cannot close a fence and inject headings or HTML.
Shared problems (a module that failed to import) are shown once, functions that are not implemented yet
once each; hidden checks show their name and result only.
"""

from __future__ import annotations

import re
from pathlib import Path

from grader import atomic
from grader.results import CheckResult, GradeReport

GRADER_ERRORS = (
    "The grader could not run these checks; this is not your code. Tell your instructor: the grade is incomplete."
)
_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")  # what can open emphasis, code, links, HTML, headings, tables


def escape(text: str) -> str:
    """Inline text with Markdown (and HTML) special characters escaped, on one line."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def fenced(text: str, indent: str = "") -> list[str]:
    """``text`` as a fenced code block whose fence no run of backticks inside it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{indent}{fence}text", *(f"{indent}{line}" for line in text.splitlines()), f"{indent}{fence}"]


def _names(checks: list[CheckResult]) -> str:
    return ", ".join(f"`{c.name}`" for c in checks)


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
    if report.graded_files:
        lines += ["", "Graded files: " + ", ".join(f"{m} from {escape(p)}" for m, p in report.graded_files.items())]
    for note in report.notes:
        lines += ["", f"> {escape(note)}"]
    if report.grader_faults:
        lines += ["", "## Grader errors", "", GRADER_ERRORS, ""]
        for message, checks in report.fault_groups().items():
            lines += [f"- **{_names(checks)}**", "", *fenced(message, "  "), ""]
    if report.problems:
        lines += ["", "## Problems", ""]
        for key, message in report.problems.items():
            lines += [f"- **{escape(key)}** (not graded because of it: {_names(report.blocked(key))})", ""]
            lines += [*fenced(message, "  "), ""]
    missing = report.not_implemented()
    if missing:
        lines += ["", "## Not implemented yet", ""]
        lines += [f"- `{name}`: {_names(checks)}" for name, checks in missing.items()]
    for group, checks in groups.items():
        lines += ["", f"## {group}", ""]
        for check in checks:
            mark = {"passed": "passed", "error": "grader error"}.get(check.status, "failed")
            lines.append(f"- **{check.name}** ({check.points:g}/{check.max_points:g}): {mark}")
            if check.status != "failed" or check.tier == "hidden":
                continue
            if check.problem or check.not_implemented:
                reason = f"see Problems: {escape(check.problem)}" if check.problem else "not implemented yet"
                lines[-1] += f" ({reason})"
                continue
            lines += ["", *fenced(check.message, "  ")]
            if check.hint:
                lines.append(f"  Hint: {escape(check.hint)}")
            lines.append("")
    return "\n".join(lines) + "\n"


def write(report: GradeReport, path: Path) -> None:
    atomic.write_text(path, render(report))
