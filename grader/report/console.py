"""The terminal report of one grading: what to fix first, then the points, then how to re-run one check.

Ordered for a student reading from the bottom of their terminal up: the points table and the total come
last, just above the line that says how to re-run one check. Above them, each shared problem (a module that
failed to import) once with the checks it blocked, every function that is not implemented yet once, then
the other failures grouped by check group with their hints. Hidden checks show their name and result only.
"""

from __future__ import annotations

from grader.results import CheckResult, GradeReport

INDENT = "    "


def _indented(text: str, prefix: str = INDENT) -> list[str]:
    return [f"{prefix}{line}" for line in text.splitlines()]


def _names(checks: list[CheckResult], limit: int = 3) -> str:
    names = [c.name for c in checks]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def problem_lines(report: GradeReport) -> list[str]:
    lines = []
    for key, message in report.problems.items():
        blocked = report.blocked(key)
        lines += [f"  {key}:", *_indented(message), f"{INDENT}not graded because of it: {_names(blocked)}"]
    return lines


def failure_lines(report: GradeReport) -> list[str]:
    lines = []
    for checks in report.groups().values():
        failed = [c for c in checks if c.status == "failed" and not c.problem and not c.not_implemented]
        for check in failed:
            lines.append(f"  {check.name} (0 / {check.max_points:g})")
            if check.tier == "hidden":
                lines.append(f"{INDENT}failed (a hidden check: name and result only)")
                continue
            lines += _indented(check.message)
            if check.hint:
                lines.append(f"{INDENT}hint: {check.hint}")
    return lines


def points_lines(report: GradeReport) -> list[str]:
    lines = []
    for group, checks in report.groups().items():
        got, total = sum(c.points for c in checks), sum(c.max_points for c in checks)
        passed = sum(c.status == "passed" for c in checks)
        lines.append(f"  {group:<12} {got:5.1f} / {total:5.1f}   ({passed} of {len(checks)} checks passed)")
    lines.append(f"  {'total':<12} {report.score:5.1f} / {report.max_score:5.1f}")
    return lines


def render(report: GradeReport, rerun: str = "cnn-grader check") -> str:
    """The whole end-of-grading report as text (no colour codes)."""
    sections: list[tuple[str, list[str]]] = []
    if report.problems:
        sections.append(("Problems (each reported once)", problem_lines(report)))
    missing = report.not_implemented()
    if missing:
        width = max(len(name) for name in missing)
        sections.append(
            ("Not implemented yet", [f"  {name:<{width}}  {_names(checks)}" for name, checks in missing.items()])
        )
    failures = failure_lines(report)
    if failures:
        sections.append(("Failed", failures))
    faults = report.grader_faults
    if faults:
        lines = []
        for message, checks in report.fault_groups().items():
            lines += [f"  {_names(checks)}:", *_indented(message)]
        sections.append(("Grader errors: not your code; the grade is incomplete, tell your instructor", lines))
    if report.notes:
        sections.append(("Notes", [f"  {note}" for note in report.notes]))
    if report.graded_files:
        sections.append(("Graded files", [f"  {module:<10} {path}" for module, path in report.graded_files.items()]))
    sections.append(("Points", points_lines(report)))
    out = []
    for title, lines in sections:
        out += ["", title, *lines]
    failed = [c for c in report.checks if c.status == "failed"]
    # the first check that failed on its own (not a stub's, not one blocked by a problem above), else any
    first = next((c.name for c in failed if not c.problem and not c.not_implemented), None)
    first = first or next((c.name for c in failed), None)  # a grader error is not the student's to re-run
    if first:
        out += ["", f"Re-run one check: {rerun} -k {first}    (every check: cnn-grader check --list)"]
    return "\n".join(out) + "\n"
