"""The class view of a batch: ``gradebook.csv`` and ``summary.html``, rebuilt from the students' folders.

Both are derived only from what :mod:`grader.batch.store` published, so they can be rebuilt at any time
(``cnn-grader batch`` does it at the end of every run, interrupted ones included).
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import dataclass
from html import escape
from pathlib import Path

from grader import atomic
from grader.batch import store
from grader.checks.registry import all_specs
from grader.report import figures
from grader.report.html import image, page
from grader.results import CheckResult, GradeReport

LOAD_FAILURES = ("could not be imported", "could not be run", "could not be read")


@dataclass
class Row:
    """One student as the class view sees them."""

    student: str
    meta: dict
    report: GradeReport

    @property
    def graded(self) -> bool:
        return self.meta.get("status") == "graded"

    def load_problem(self) -> str | None:
        """Why the submission (or one of its modules) could not be loaded, if it could not."""
        if not self.graded:
            return self.meta.get("reason") or self.meta.get("status")
        for check in self.report.checks:
            if check.status != "passed" and any(marker in check.message for marker in LOAD_FAILURES):
                return check.message.splitlines()[0]
        return None


def load_rows(out: Path, students: list[str]) -> list[Row]:
    rows = []
    for student in students:
        meta = store.read_meta(out, student)
        if meta is None:
            continue
        try:
            report = GradeReport.from_json(json.loads((out / student / "report.json").read_text()))
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            report = GradeReport(student, notes=["report.json is missing or unreadable"])
        rows.append(Row(student, meta, report))
    return rows


def group_maxima() -> dict[str, float]:
    maxima: dict[str, float] = {}
    for spec in all_specs():
        group = spec.name.split("/", 1)[0]
        maxima[group] = maxima.get(group, 0.0) + spec.points
    return maxima


def gradebook(rows: list[Row]) -> str:
    """CSV: one row per student; points per check group, the total, status, time and reason."""
    maxima = group_maxima()
    groups = list(maxima)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "status", "total", *groups, "max_score", "seconds", "reason"])
    maximum = sum(maxima.values())
    for row in rows:
        points = {g: sum(c.points for c in checks) for g, checks in row.report.groups().items()}
        writer.writerow(
            [
                row.student,
                row.meta.get("status"),
                f"{row.report.score:g}",
                *(f"{points.get(g, 0.0):g}" for g in groups),
                f"{maximum:g}",
                row.meta.get("seconds"),
                row.meta.get("reason", ""),
            ]
        )
    return buffer.getvalue()


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _link(row: Row) -> str:
    return f"<a href='{escape(row.student, quote=True)}/feedback.html'>{escape(row.student)}</a>"


def render(rows: list[Row]) -> str:
    """The class summary page (self-contained HTML with embedded PNG figures)."""
    graded = [r for r in rows if r.graded]
    checks: dict[str, CheckResult] = {}  # every check any report has, in report order
    for row in graded:
        for result in row.report.checks:
            checks.setdefault(result.name, result)
    maximum = max((r.report.max_score for r in graded), default=0.0) or sum(s.points for s in all_specs())
    scores = [r.report.score for r in rows]
    parts = [
        "<h1>cnn-grader: class summary</h1>",
        f"<p>{len(rows)} submissions, {len(graded)} graded; "
        + (
            f"mean score {statistics.mean(scores):.1f}, median {statistics.median(scores):g} of {maximum:g}.</p>"
            if scores
            else "no scores yet.</p>"
        ),
        "<h2>Scores</h2>",
        image(figures.score_histogram(scores, maximum), "histogram of scores") if rows else "",
        _table(
            ["student", "score", "status", "time (s)"],
            [
                [_link(r), f"{r.report.score:g}", escape(str(r.meta.get("status"))), f"{r.meta.get('seconds')}"]
                for r in rows
            ],
        ),
    ]
    rates, failures = {}, []
    for name, spec in checks.items():
        results = [(r, c) for r in graded for c in r.report.checks if c.name == name]
        failed = [(r, c) for r, c in results if c.status != "passed"]
        rates[name] = 1 - len(failed) / len(results)
        if failed:  # the example: a wrong answer rather than an untouched stub, where there is one
            row, example = min(failed, key=lambda rc: "not implemented yet" in rc[1].message)
            failures.append((len(failed), spec, row, example))
    parts.append("<h2>Pass rate per check</h2>")
    if rates:
        parts.append(image(figures.pass_rates(rates), "fraction of students who passed each check"))
    parts.append("<h2>Most common failures</h2>")
    failures.sort(key=lambda f: (-f[0], f[1].name))
    parts.append(
        _table(
            ["check", "failed", "example"],
            [
                [
                    f"{escape(spec.name)}" + (" <i>(hidden)</i>" if spec.tier == "hidden" else ""),
                    f"{count} of {len(graded)}",
                    f"{_link(row)}: <pre>{escape(example.message[:400])}</pre>",
                ]
                for count, spec, row, example in failures[:12]
            ],
        )
        if failures
        else "<p>None: every graded submission passed every check.</p>"
    )
    problems = [(r, r.load_problem()) for r in rows]
    problems = [(r, why) for r, why in problems if why]
    parts.append("<h2>Submissions that failed to load</h2>")
    parts.append(
        _table(
            ["student", "file", "why"],
            [[_link(r), escape(str(r.meta.get("file"))), escape(why)] for r, why in problems],
        )
        if problems
        else "<p>None.</p>"
    )
    parts.append("<h2>Grading time per submission</h2>")
    times = {r.student: float(r.meta.get("seconds") or 0.0) for r in rows}
    if times:
        total = sum(times.values())
        parts.append(f"<p>{total:.0f} s of grading in all, {total / len(times):.1f} s per submission on average.</p>")
        parts.append(image(figures.grading_times(times), "grading time per submission"))
    return page("cnn-grader class summary", "\n".join(parts))


def write(out: Path, students: list[str]) -> list[Row]:
    """Rebuild ``gradebook.csv`` and ``summary.html`` in ``out`` for ``students``; return their rows."""
    rows = load_rows(out, students)
    atomic.write_text(out / "gradebook.csv", gradebook(rows))
    atomic.write_text(out / "summary.html", render(rows))
    return rows
