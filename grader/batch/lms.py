"""Grades back into the LMS the export came from: files its own grade import reads as they are.

``canvas_import.csv`` (a Canvas export)
    Canvas's Gradebook import: ``Student, ID, SIS User ID, SIS Login ID, Section`` and one column per
    assignment, with a ``Points Possible`` row under the header. Canvas matches students by ``ID`` (the
    Canvas user id in every file name of its "Download Submissions" zip). The assignment column is the
    ``--lms-assignment`` name: ``Name (123)`` updates assignment 123; a plain name makes a new column.
``moodle_grading_worksheet.csv`` (a Moodle export)
    The assignment's offline grading worksheet (Assignment > "Upload grading worksheet"): ``Identifier``
    (``Participant N``, the number in every folder of Moodle's "Download all submissions" zip), ``Full name``,
    ``Status``, ``Grade``, ``Maximum Grade``, ``Grade can be changed``, ``Feedback comments``.

Gradescope takes a programming assignment's scores from its autograder's ``results.json``, not from a file
(regrade there); GitHub Classroom keeps no grades. Each file holds the ``final`` column of ``gradebook.csv``
(after the late policy); a student who was not graded (unreadable, timed out) gets no grade, so the import
leaves their LMS grade as it is and ``gradebook.csv`` says why.
"""

from __future__ import annotations

from collections.abc import Callable
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


def moodle(rows: list[Row], final: Callable[[Row], float], maximum: float) -> str:
    """Moodle's offline grading worksheet (see the module docstring); rows without a participant are left out."""
    header = [
        "Identifier",
        "Full name",
        "Status",
        "Grade",
        "Maximum Grade",
        "Grade can be changed",
        "Feedback comments",
    ]
    lines: list[list[object]] = []
    for row in rows:
        participant = str((row.meta.get("ids") or {}).get("participant", ""))
        if participant:
            comment = f"cnn-grader: {row.report.score:g} of {maximum:g} points" if row.graded else ""
            status = "Submitted for grading" if row.graded else str(row.meta.get("status", ""))
            lines.append(
                [f"Participant {participant}", row.student, status, _grade(row, final), maximum, "Yes", comment]
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
