"""The HTML feedback page of one submission: points, what failed and why, hints, and pictures.

Self-contained (figures are PNG data URIs, no scripts, no external files), escaped throughout: messages
quote student output. Hidden checks show their name and result only, and the pictures of a check are
shown only when that check is public (see :mod:`grader.judge.evidence`).
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

import numpy as np

from grader import atomic
from grader.judge.evidence import Evidence
from grader.report.overlay import overlay_png
from grader.results import CheckResult, GradeReport

FEEDBACK = "feedback.py"  # a course group's panels on the feedback page
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 980px; margin: 1.5em auto; padding: 0 1em; color: #222;
       overflow-wrap: anywhere; }
h1, h2 { font-weight: 600; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; margin: .6em 0; }
th, td { border: 1px solid #ddd; padding: .3em .5em; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #f4f4f4; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f7f7f7; padding: .5em; margin: .3em 0; }
img { max-width: 100%; height: auto; display: block; margin: .6em 0; }
.passed { color: #1a7f37; } .failed, .error { color: #c62828; } .hint { color: #555; }
.note { background: #fff8e1; padding: .4em .6em; border-left: 3px solid #f0b400; margin: .3em 0; }
.score { font-size: 1.3em; }
.matrices { display: flex; flex-wrap: wrap; gap: 1em; }
table.confusion { width: auto; table-layout: auto; font-size: .75em; margin: 0; }
table.confusion th, table.confusion td { padding: .15em .35em; text-align: right; min-width: 1.6em; }
table.confusion caption { text-align: left; padding-bottom: .3em; }
table.cams { width: auto; max-width: 100%; }
table.cams th { font-weight: normal; font-size: .85em; text-align: center; }
table.cams td { padding: 2px; }
table.cams img { width: 112px; max-width: 100%; margin: 0; image-rendering: pixelated; }
table.accuracy { width: auto; }
table.accuracy td.bar { min-width: 9em; }
"""


def page(title: str, body: str) -> str:
    """A complete, self-contained HTML document."""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f"<img src='data:image/png;base64,{data}' alt='{escape(alt, quote=True)}'>"


def confusion_table(caption: str, matrix: np.ndarray, item: str = "digit") -> str:
    """A confusion matrix as a table (rows: the true class of an ``item``, columns: predicted), cells shaded by
    their count.

    A table, not a picture: the counts can be read, copied and reached by a screen reader, and it costs
    nothing to draw (matplotlib took about 0.45 s for two annotated heat maps).
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    top = max(int(matrix.max()), 1)
    head = "".join(f"<th scope='col'>{col}</th>" for col in range(matrix.shape[1]))
    rows = []
    for row, counts in enumerate(matrix):
        cells = []
        for count in counts.tolist():
            shade = count / top
            ink = "#fff" if shade > 0.55 else "#222"
            cells.append(f"<td style='background: rgba(33, 102, 172, {shade:.2f}); color: {ink}'>{count}</td>")
        rows.append(f"<tr><th scope='row'>{row}</th>{''.join(cells)}</tr>")
    return (
        f"<table class='confusion'><caption>{escape(caption)}</caption>"
        f"<tr><th scope='col'>true {escape(item)}</th>{head}</tr>{''.join(rows)}</table>"
    )


def gradcam_table(
    images: np.ndarray, student: np.ndarray, reference: np.ndarray, labels: list[int], item: str = "digit"
) -> str:
    """The student's heat maps (Grad-CAM) over the images (first row) above the reference's (second row), one
    column per image, as a table of small pictures whose headers name the image's class and the row."""
    head = "".join(f"<th scope='col'>{escape(item)} {int(label)}</th>" for label in labels)
    rows = []
    for title, maps in (("yours", student), ("reference", reference)):
        cells = "".join(
            f"<td>{image(overlay_png(images[i], maps[i]), f'{title}: Grad-CAM of {item} {int(labels[i])}')}</td>"
            for i in range(len(labels))
        )
        rows.append(f"<tr><th scope='row'>{title}</th>{cells}</tr>")
    return f"<table class='cams'><tr><td></td>{head}</tr>{''.join(rows)}</table>"


def accuracy_table(accuracies: dict[str, tuple[float, float]]) -> str:
    """Top-left (trained) and bottom-right (unseen) test accuracy per network, each cell shaded to its value.

    Numbers only: whether a network passed is its checks' verdict, listed above the table (a first measurement
    near a threshold is decided by the median of three).
    """

    def cell(value: float, colour: str) -> str:
        width = 100 * min(max(value, 0.0), 1.0) if np.isfinite(value) else 0.0
        return (
            f"<td class='bar' style='background: linear-gradient(to right, {colour} {width:.1f}%, "
            f"transparent {width:.1f}%)'>{value:.3f}</td>"
        )

    rows = "".join(
        f"<tr><th scope='row'>{escape(name)}</th>{cell(top, '#c6d6ee')}{cell(bottom, '#f6d2b8')}</tr>"
        for name, (top, bottom) in accuracies.items()
    )
    return (
        "<table class='accuracy'><tr><th scope='col'>network</th><th scope='col'>top-left (trained)</th>"
        f"<th scope='col'>bottom-right (unseen)</th></tr>{rows}</table>"
    )


def _status(check: CheckResult) -> str:
    label = {"passed": "passed", "failed": "failed", "error": "grader error"}[check.status]
    return f"<span class='{check.status}'>{label}</span>"


def _check_block(check: CheckResult) -> str:
    head = f"<li><b>{escape(check.name)}</b> ({check.points:g} / {check.max_points:g}): {_status(check)}"
    if check.tier == "hidden":
        return head + " <i>(hidden check)</i></li>"
    if check.status == "passed":
        return head + "</li>"
    if check.problem:
        return head + f" <i>(not graded: see the problem with {escape(check.problem)} above)</i></li>"
    if check.not_implemented:
        return head + f" <i>({escape(check.not_implemented)} is not implemented yet)</i></li>"
    body = f"<pre>{escape(check.message)}</pre>"
    if check.hint:
        body += f"<div class='hint'>Hint: {escape(check.hint)}</div>"
    return f"{head}{body}</li>"


def _public(report: GradeReport, check: str) -> bool:
    return any(c.name == check and c.tier == "public" for c in report.checks)


def pictures(report: GradeReport, evidence: Evidence) -> dict[str, list[str]]:
    """The figures (HTML, some of small pictures) per check group, from the evidence of public checks only.

    Each course group draws its own: ``<group>/feedback.py``'s ``panels(shown)`` takes the records of public
    checks (:class:`grader.judge.evidence.Evidence`) and returns HTML blocks built with this module's widgets.
    """
    from grader import coursepkg

    shown = {name: r for name, r in evidence.records.items() if _public(report, r.check)}
    out: dict[str, list[str]] = {}
    if not shown:
        return out
    for group in coursepkg.current().groups:
        if (group.folder / FEEDBACK).is_file():
            blocks = coursepkg.import_course_file(group.folder / FEEDBACK).panels(shown)
            if blocks:
                out[group.name] = list(blocks)
    return out


def _names(checks: list[CheckResult]) -> str:
    return ", ".join(escape(c.name) for c in checks)


def _summaries(report: GradeReport) -> list[str]:
    """Grader errors, shared problems (once each) and not-implemented functions (once each)."""
    parts = []
    if report.grader_faults:
        from grader.report.markdown import GRADER_ERRORS

        items = "".join(
            f"<li><b>{_names(checks)}</b><pre>{escape(message)}</pre></li>"
            for message, checks in report.fault_groups().items()
        )
        parts.append(f"<h2>Grader errors</h2><p class='error'>{escape(GRADER_ERRORS)}</p><ul>{items}</ul>")
    if report.problems:
        items = "".join(
            f"<li><b>{escape(key)}</b>: not graded because of it: {_names(report.blocked(key))}"
            f"<pre>{escape(message)}</pre></li>"
            for key, message in report.problems.items()
        )
        parts.append(f"<h2>Problems</h2><ul>{items}</ul>")
    missing = report.not_implemented()
    if missing:
        items = "".join(f"<li><code>{escape(n)}</code>: {_names(c)}</li>" for n, c in missing.items())
        parts.append(f"<h2>Not implemented yet</h2><ul>{items}</ul>")
    return parts


def render(report: GradeReport, evidence: Evidence | None = None, title: str | None = None) -> str:
    """The feedback page of ``report``, with pictures from ``evidence`` where its checks are public."""
    groups = report.groups()
    figs = pictures(report, evidence or Evidence())
    parts = [
        f"<h1>{escape(title or 'cnn-grader feedback')}</h1>",
        f"<p class='score'><b>Score: {report.score:g} / {report.max_score:g}</b> "
        f"(graded in {report.seconds:.1f} s)</p>",
        "<table><tr><th>group</th><th>points</th><th>checks passed</th></tr>",
    ]
    for group, checks in groups.items():
        got, total = sum(c.points for c in checks), sum(c.max_points for c in checks)
        passed = sum(c.status == "passed" for c in checks)
        parts.append(
            f"<tr><td><a href='#{escape(group)}'>{escape(group)}</a></td><td>{got:g} / {total:g}</td>"
            f"<td>{passed} / {len(checks)}</td></tr>"
        )
    parts.append("</table>")
    if report.graded_files:
        files = ", ".join(f"{escape(m)} from <code>{escape(p)}</code>" for m, p in report.graded_files.items())
        parts.append(f"<p>Graded files: {files}</p>")
    parts += [f"<div class='note'>{escape(note)}</div>" for note in report.notes]
    parts += _summaries(report)
    for group, checks in groups.items():
        parts.append(f"<h2 id='{escape(group)}'>{escape(group)}</h2><ul>")
        parts += [_check_block(c) for c in checks]
        parts.append("</ul>")
        parts += figs.get(group, [])
    return page(title or "cnn-grader feedback", "\n".join(parts))


def write(report: GradeReport, evidence: Evidence | None, path: Path, title: str | None = None) -> None:
    """Write atomically (a reader never sees half a file)."""
    atomic.write_text(path, render(report, evidence, title))
