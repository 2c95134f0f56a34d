"""The class view of a batch: ``gradebook.csv`` and ``summary.html``, rebuilt from the students' folders.

Both are derived only from what :mod:`grader.batch.store` published, so they can be rebuilt at any time
(``cnn-grader batch`` does it at the end of every run, interrupted ones included).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from html import escape
from pathlib import Path

from grader import atomic
from grader.batch import store
from grader.course import CourseConfig
from grader.course import specs as course_specs
from grader.late import LatePolicy, lateness
from grader.report import figures, spreadsheet
from grader.report.html import image, page
from grader.results import TAMPERING, CheckResult, GradeReport

ID_COLUMNS = ("user_id", "submission_id", "email", "login")


@dataclass
class Row:
    """One student as the class view sees them."""

    student: str
    meta: dict
    report: GradeReport

    @property
    def graded(self) -> bool:
        return self.meta.get("status") == "graded"

    @property
    def late(self) -> bool | None:
        return self.meta.get("late")

    def lateness(self, due: str | None = None) -> tuple[bool, float | None]:
        """(late, days late): from the submission time and ``due`` where both are known, else the export's own
        late marker (Canvas, Classroom); a submission nothing says is late is on time."""
        late, days = self.late, None
        if due and self.meta.get("submitted_at"):
            late, days = lateness(self.meta.get("submitted_at"), due)
        return bool(late), days

    def deduction(self, policy: LatePolicy, due: str | None = None) -> float:
        """Points the late policy takes off this student's score."""
        late, days = self.lateness(due)
        return round(policy.fraction(late, days) * self.report.score, 4)

    def import_problems(self) -> list[tuple[str, str]]:
        """(what, first line of why) for every module that failed to import or run."""
        return [
            (key, message.splitlines()[0] if message else "")
            for key, message in self.report.problems.items()
            if key != TAMPERING
        ]


def load_rows(out: Path, students: list[str]) -> list[Row]:
    rows = []
    for student in students:
        meta = store.read_meta(out, student)
        if meta is None:
            continue
        try:
            report_file = store.record_dir(out, student) / "report.json"
            report = GradeReport.from_json(json.loads(report_file.read_text()))
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            report = GradeReport(student, notes=["report.json is missing or unreadable"])
        rows.append(Row(student, meta, report))
    return rows


def group_maxima(course: CourseConfig | None = None) -> dict[str, float]:
    maxima: dict[str, float] = {}
    for spec in course_specs(course):
        group = spec.name.split("/", 1)[0]
        maxima[group] = maxima.get(group, 0.0) + spec.points
    return maxima


def gradebook(
    rows: list[Row], policy: LatePolicy | None = None, due: str | None = None, course: CourseConfig | None = None
) -> str:
    """CSV: one row per student; points per check group, the total, lateness, the LMS's ids, status and reason.

    ``final`` is the total after the late policy (equal to it when the policy is off). Every cell a
    submission can influence is made safe against spreadsheet formulas (:mod:`grader.report.spreadsheet`).
    """
    policy = policy or LatePolicy()
    maxima = group_maxima(course)
    groups = list(maxima)
    header = ["student", "status", "total", *groups, "max_score", "late", "late_deduction", "final"]
    header += [*ID_COLUMNS, "tampering_flagged", "seconds", "reason"]
    maximum = sum(maxima.values())
    lines = []
    for row in rows:
        points = {g: sum(c.points for c in checks) for g, checks in row.report.groups().items()}
        deduction = row.deduction(policy, due)
        late, _ = row.lateness(due)
        ids = row.meta.get("ids") or {}
        lines.append(
            [
                row.student,
                row.meta.get("status"),
                float(row.report.score),
                *(float(points.get(g, 0.0)) for g in groups),
                float(maximum),
                late,
                float(deduction),
                float(row.report.score - deduction),
                *(str(ids.get(column, "")) for column in ID_COLUMNS),
                bool(row.report.flags),
                row.meta.get("seconds"),
                row.meta.get("reason", ""),
            ]
        )
    return spreadsheet.render(header, lines)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _link(row: Row) -> str:
    href = f"{store.STUDENTS}/{row.student}/feedback.html"
    return f"<a href='{escape(href, quote=True)}'>{escape(row.student)}</a>"


FAILURE_KINDS = ("wrong answer", "not implemented", "blocked by a problem")  # CheckResult.rank


def _common_failures(graded: list[Row], checks: dict[str, CheckResult]) -> list[tuple]:
    """Per failing check: counts by kind and an example, wrong answers first (an import error or an untouched
    stub says nothing about the check itself)."""
    failures = []
    for name, spec in checks.items():
        failed = [(r, c) for r in graded for c in r.report.checks if c.name == name and c.status != "passed"]
        if not failed:
            continue
        counts = [sum(c.rank == kind for _, c in failed) for kind in range(len(FAILURE_KINDS))]
        row, example = min(failed, key=lambda rc: rc[1].rank)
        failures.append((counts, spec, row, example))
    failures.sort(key=lambda f: (-f[0][0], -f[0][1], -f[0][2], f[1].name))
    return failures


def _example(row: Row, check: CheckResult) -> str:
    if check.tier == "hidden":
        return f"{_link(row)} (hidden check)"
    text = check.message if check.rank == 0 else (check.not_implemented or check.problem or "")
    return f"{_link(row)}: <pre>{escape(text[:400])}</pre>"


def render(
    rows: list[Row], extra: str = "", left_out: list[str] | None = None, course: CourseConfig | None = None
) -> str:
    """The class summary page (self-contained HTML with embedded PNG figures); ``extra`` HTML ends it."""
    graded = [r for r in rows if r.graded]
    checks: dict[str, CheckResult] = {}  # every check any report has, in report order
    for row in graded:
        for result in row.report.checks:
            checks.setdefault(result.name, result)
    maximum = max((r.report.max_score for r in graded), default=0.0) or sum(s.points for s in course_specs(course))
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
    rates = {}
    for name in checks:
        results = [c for r in graded for c in r.report.checks if c.name == name]
        rates[name] = sum(c.status == "passed" for c in results) / len(results)
    parts.append("<h2>Pass rate per check</h2>")
    if rates:
        parts.append(image(figures.pass_rates(rates), "fraction of students who passed each check"))
    parts.append("<h2>Most common failures</h2>")
    failures = _common_failures(graded, checks)
    parts.append(
        _table(
            ["check", *FAILURE_KINDS, "example"],
            [
                [
                    f"{escape(spec.name)}" + (" <i>(hidden)</i>" if spec.tier == "hidden" else ""),
                    *(f"{n} of {len(graded)}" if n else "" for n in counts),
                    _example(row, example),
                ]
                for counts, spec, row, example in failures[:12]
            ],
        )
        if failures
        else "<p>None: every graded submission passed every check.</p>"
    )
    ungraded = [r for r in rows if not r.graded]
    parts.append("<h2>Submissions that could not be graded</h2>")
    parts.append(
        _table(
            ["student", "handed in", "status", "why"],
            [
                [
                    _link(r),
                    escape(str(r.meta.get("file"))),
                    escape(str(r.meta.get("status"))),
                    escape(r.meta.get("reason") or ""),
                ]
                for r in ungraded
            ],
        )
        if ungraded
        else "<p>None.</p>"
    )
    flagged = [r for r in graded if r.report.flags]
    parts.append("<h2>Submissions flagged for review</h2>")
    parts.append(
        "<p>Code that reaches into the grader or the interpreter; their checks were withheld (0 points) until "
        "you review them (docs/security.md).</p>"
        + _table(
            ["student", "where and what"],
            [[_link(r), "<br>".join(escape(flag) for flag in r.report.flags)] for r in flagged],
        )
        if flagged
        else "<p>None.</p>"
    )
    broken = [(r, what, why) for r in graded for what, why in r.import_problems()]
    parts.append("<h2>Modules that failed to import</h2>")
    parts.append(
        _table(
            ["student", "score", "module", "why"],
            [[_link(r), f"{r.report.score:g}", escape(what), escape(why)] for r, what, why in broken],
        )
        if broken
        else "<p>None.</p>"
    )
    if left_out:
        parts.append("<h2>Entries that are not submissions</h2>")
        parts.append(f"<p>Left out (they fit no student of the layout): {escape(', '.join(left_out))}</p>")
    parts.append("<h2>Grading time per submission</h2>")
    times = {r.student: float(r.meta.get("seconds") or 0.0) for r in rows}
    if times:
        total = sum(times.values())
        parts.append(f"<p>{total:.0f} s of grading in all, {total / len(times):.1f} s per submission on average.</p>")
        parts.append(image(figures.grading_times(times), "grading time per submission"))
    return page("cnn-grader class summary", "\n".join([*parts, extra]))


def write(
    out: Path,
    students: list[str],
    extra: str = "",
    *,
    left_out: list[str] | None = None,
    policy: LatePolicy | None = None,
    due: str | None = None,
    course: CourseConfig | None = None,
) -> list[Row]:
    """Rebuild ``gradebook.csv`` and ``summary.html`` (``extra`` HTML at its end) in ``out``; return the rows."""
    rows = load_rows(out, students)
    atomic.write_text(out / "gradebook.csv", gradebook(rows, policy, due, course))
    atomic.write_text(out / "summary.html", render(rows, extra, left_out, course))
    return rows
