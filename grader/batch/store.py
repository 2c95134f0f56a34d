"""A batch's output folder: one folder per student, each written whole or not at all.

``DIR/<student>/`` holds ``results.json`` (Gradescope's schema), ``report.json`` (every message, for the
instructor), ``feedback.md``, ``feedback.html`` and ``batch.json`` (status, reason, time, and the digest
of what was graded). A student's files are written into ``DIR/.staging/`` and moved into place with one
rename, so an interrupted batch leaves either the old folder or the new one, never half of one.
A student is finished when ``batch.json`` records the digest of the same submission and settings, and the
grading did not crash.
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
from grader.checks.registry import all_specs
from grader.results import GradeReport

META = "batch.json"
STAGING = ".staging"


def digest(entry: Entry, settings: GradeSettings) -> str:
    """The identity of a grading: the submission's bytes and the settings that matter."""
    return hashlib.sha256(entry.data + settings.fingerprint().encode()).hexdigest()[:24]


def read_meta(out: Path, student: str) -> dict | None:
    try:
        return json.loads((out / student / META).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def is_done(out: Path, entry: Entry, settings: GradeSettings) -> bool:
    """Graded before, from the same bytes with the same settings (a crash may be transient: not done)."""
    meta = read_meta(out, entry.student)
    return meta is not None and meta.get("digest") == digest(entry, settings) and meta.get("status") != "crashed"


def _failure_files(outcome: Outcome, entry: Entry) -> dict[str, bytes]:
    """results/report/feedback for a student whose grading produced none: zero points, and why."""
    from grader.report import gradescope, html, markdown

    report = GradeReport(entry.filename, seconds=outcome.seconds, notes=[f"not graded: {outcome.reason}"])
    results = gradescope.to_results(report)
    results["max_score"] = sum(spec.points for spec in all_specs())
    return {
        "results.json": json.dumps(results, indent=2).encode(),
        "report.json": json.dumps(report.to_json(), indent=2).encode(),
        "feedback.md": markdown.render(report).encode(),
        "feedback.html": html.render(report).encode(),
    }


def publish(out: Path, entry: Entry, settings: GradeSettings, outcome: Outcome) -> None:
    """Put the student's folder in place atomically (replacing an earlier grading)."""
    files = dict(outcome.files) if outcome.status == "graded" else _failure_files(outcome, entry)
    meta = {
        "student": entry.student,
        "file": entry.filename,
        "layout": entry.layout,
        "status": outcome.status,
        "reason": outcome.reason,
        "seconds": outcome.seconds,
        "host": outcome.host,
        "digest": digest(entry, settings),
        "graded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    files[META] = json.dumps(meta, indent=2).encode()
    staging = out / STAGING / f"{entry.student}.{os.getpid()}.{time.monotonic_ns()}"
    staging.mkdir(parents=True)
    for name, data in files.items():
        (staging / Path(name).name).write_bytes(data)
    final = out / entry.student
    old = staging.with_name(staging.name + ".old")
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def clean_staging(out: Path) -> None:
    """Remove what an interrupted batch left half-written (never a published folder)."""
    shutil.rmtree(out / STAGING, ignore_errors=True)
