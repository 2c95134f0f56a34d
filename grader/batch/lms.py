"""Grades back into the LMS the export came from: files its own grade import reads as they are.

``canvas_import.csv`` (a Canvas export)
    Canvas's Gradebook import: ``Student, ID, SIS User ID, SIS Login ID, Section`` and one column per
    assignment, with a ``Points Possible`` row under the header. Canvas matches students by ``ID`` (the
    Canvas user id in every file name of its "Download Submissions" zip). The assignment column is the
    ``--lms-assignment`` name: ``Name (123)`` updates assignment 123; a plain name makes a new column.
``moodle_grading_worksheet.csv`` (a Moodle export)
    The assignment's offline grading worksheet (Assignment > "Upload grading worksheet"): ``Identifier``
    (``Participant N``, the number in every folder of Moodle's "Download all submissions" zip), ``Full name``,
    ``Status``, ``Grade``, ``Maximum Grade``, ``Grade can be changed``, ``Last modified (grade)`` (the grading's
    time) and ``Feedback comments``; graded students only (an upload replaces a stored comment).

Gradescope takes a programming assignment's scores from its autograder's ``results.json``, not from a file
(regrade there); GitHub Classroom keeps no grades. Each file holds the ``final`` column of ``gradebook.csv``
(after the late policy); a student who was not graded (unreadable, timed out) gets no grade (an empty Canvas
cell, no Moodle row), so the import leaves their LMS grade as it is and ``gradebook.csv`` says why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from grader import atomic
from grader.batch.summary import Row
from grader.report import spreadsheet

CANVAS_FILE = "canvas_import.csv"
MOODLE_FILE = "moodle_grading_worksheet.csv"
DEFAULT_ASSIGNMENT = "cnn-grader"


def _grade(row: Row, final: Callable[[Row], float]) -> float | str:
    return round(final(row), 2) if row.graded else ""


def canvas(rows: list[Row], final: Callable[[Row], float], maximum: float, assignment: str) -> str:
    """Canvas's Gradebook import (see the module docstring); rows without a Canvas user id are left out."""
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment]
    lines: list[list[object]] = [["Points Possible", "", "", "", "", float(maximum)]]
    for row in rows:
        user = str((row.meta.get("ids") or {}).get("user_id", ""))
        if user:
            lines.append([row.student, user, "", "", "", _grade(row, final)])
    return spreadsheet.render(header, lines)


def moodle(rows: list[Row], final: Callable[[Row], float], maximum: float, when: datetime | None = None) -> str:
    """Moodle's offline grading worksheet (see the module docstring): one row per graded student with a
    participant number. Moodle refuses a worksheet without ``Identifier``, ``Grade`` and ``Last modified (grade)``
    (the grading's time, so the upload overwrites only grades older than it), and it replaces a stored feedback
    comment with the worksheet's: students who were not graded are left out, their grade and comment untouched."""
    header = [
        "Identifier",
        "Full name",
        "Status",
        "Grade",
        "Maximum Grade",
        "Grade can be changed",
        "Last modified (grade)",
        "Feedback comments",
    ]
    # local time, as Moodle reads the cell in the teacher's time zone; a form PHP's strtotime reads
    stamp = (when or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")  # noqa: DTZ005
    lines: list[list[object]] = []
    for row in rows:
        participant = str((row.meta.get("ids") or {}).get("participant", ""))
        if participant and row.graded:
            grade = _grade(row, final)
            comment = f"cnn-grader: {grade:g} of {maximum:g} points"
            if grade != round(row.report.score, 2):
                comment += f" ({row.report.score:g} before the late policy)"
            comment += "; the feedback page has every check"
            lines.append(
                [
                    f"Participant {participant}",
                    row.student,
                    "Submitted for grading",
                    grade,
                    maximum,
                    "Yes",
                    stamp,
                    comment,
                ]
            )
    return spreadsheet.render(header, lines)


def write(
    out: Path, rows: list[Row], final: Callable[[Row], float], maximum: float, assignment: str = DEFAULT_ASSIGNMENT
) -> list[Path]:
    """Write the import files the rows' LMS takes (by the layout the export was in); return their paths."""
    layouts = {str(row.meta.get("layout", "")) for row in rows}
    written = []
    if "canvas" in layouts:
        atomic.write_text(out / CANVAS_FILE, canvas(rows, final, maximum, assignment))
        written.append(out / CANVAS_FILE)
    if "moodle" in layouts:
        atomic.write_text(out / MOODLE_FILE, moodle(rows, final, maximum))
        written.append(out / MOODLE_FILE)
    return written
