"""A batch's output folder: class files at the top, students' folders apart from the instructor's records.

```
DIR/gradebook.csv, summary.html, similarity.csv       the class (instructor only)
DIR/students/<student>/results.json, feedback.md, feedback.html   what may be handed to the student
DIR/instructor/<student>/report.json, batch.json                  every message (hidden checks too), the record
```

Handing a student their ``students/<student>/`` folder hands over nothing instructor-only, and no student
name (``gradebook.csv``, ``summary.html``) can collide with a class file. A student's folders are written
into ``DIR/.staging/`` and moved into place by rename, the record last: an interrupted batch leaves the old
grading or the new one, and a student is finished only when ``batch.json`` records the digest of the same
submission and settings and the grading did not crash or fail for the grader's own reasons.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from grader.batch.discover import Entry
from grader.batch.task import GradeSettings, Outcome
from grader.course import specs as course_specs
from grader.results import GradeReport

META = "batch.json"
STAGING = ".staging"
STUDENTS = "students"
INSTRUCTOR = "instructor"
STUDENT_FILES = ("results.json", "feedback.md", "feedback.html")
RETRIED = ("crashed", "grader error")  # may be transient: graded again by the next run


def student_dir(out: Path, student: str) -> Path:
    return out / STUDENTS / student


def record_dir(out: Path, student: str) -> Path:
    return out / INSTRUCTOR / student


def digest(entry: Entry, settings: GradeSettings) -> str:
    """The identity of a grading: the submission's bytes and the settings that matter."""
    return hashlib.sha256(entry.data + settings.fingerprint().encode()).hexdigest()[:24]


def read_meta(out: Path, student: str) -> dict | None:
    try:
        return json.loads((record_dir(out, student) / META).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def is_done(out: Path, entry: Entry, settings: GradeSettings) -> bool:
    """Graded before, from the same bytes with the same settings (a crash may be transient: not done)."""
    meta = read_meta(out, entry.student)
    return meta is not None and meta.get("digest") == digest(entry, settings) and meta.get("status") not in RETRIED


def _failure_files(outcome: Outcome, entry: Entry, settings: GradeSettings) -> dict[str, bytes]:
    """results/report/feedback for a student whose grading produced none: zero points, and why."""
    from grader.report import gradescope, html, markdown

    report = GradeReport(
        entry.label or entry.filename, seconds=outcome.seconds, notes=[f"not graded: {outcome.reason}"]
    )
    results = gradescope.to_results(report)
    results["max_score"] = sum(spec.points for spec in course_specs(settings.course()))
    return {
        "results.json": json.dumps(results, indent=2).encode(),
        "report.json": json.dumps(report.to_json(), indent=2).encode(),
        "feedback.md": markdown.render(report).encode(),
        "feedback.html": html.render(report).encode(),
    }


def _meta(entry: Entry, settings: GradeSettings, outcome: Outcome) -> dict:
    return {
        "student": entry.student,
        "file": entry.label or entry.filename,
        "layout": entry.layout,
        "ids": entry.ids,
        "late": entry.late,
        "submitted_at": entry.submitted_at,
        "status": outcome.status,
        "reason": outcome.reason,
        "seconds": outcome.seconds,
        "host": outcome.host,
        "digest": digest(entry, settings),
        "graded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _swap(staged: Path, final: Path) -> None:
    """Put ``staged`` at ``final`` with one rename (the old folder, if any, is moved aside first)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old = staged.with_name(staged.name + ".old")
    if final.exists():
        final.rename(old)
    staged.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def publish(out: Path, entry: Entry, settings: GradeSettings, outcome: Outcome) -> None:
    """Put the student's folder and the instructor's record in place (replacing an earlier grading)."""
    files = dict(outcome.files) if outcome.status == "graded" else _failure_files(outcome, entry, settings)
    files[META] = json.dumps(_meta(entry, settings, outcome), indent=2).encode()
    staging = out / STAGING / f"{entry.student}.{os.getpid()}.{time.monotonic_ns()}"
    for part, names in ((STUDENTS, STUDENT_FILES), (INSTRUCTOR, tuple(n for n in files if n not in STUDENT_FILES))):
        folder = staging / part
        folder.mkdir(parents=True)
        for name in names:
            if name in files:
                (folder / Path(name).name).write_bytes(files[name])
    _swap(staging / STUDENTS, student_dir(out, entry.student))
    _swap(staging / INSTRUCTOR, record_dir(out, entry.student))  # last: the record marks the grading done
    shutil.rmtree(staging, ignore_errors=True)


def clean_staging(out: Path) -> None:
    """Remove what an interrupted batch left half-written (never a published folder)."""
    shutil.rmtree(out / STAGING, ignore_errors=True)
