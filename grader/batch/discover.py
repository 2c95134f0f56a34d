"""Find the students in a class's submissions: a folder (or a zip of one) in one of four layouts.

``plain``
    one entry per student, named after the student: a folder of modules, a notebook (``.ipynb`` or a
    jupytext ``.py``), or a zip of either.
``gradescope``
    Gradescope's "Export Submissions" zip: ``submission_metadata.yml`` beside ``submission_<id>/``
    folders; students are named by the submitter's e-mail (else name) from the metadata.
``canvas``
    Canvas's "Download Submissions" zip: flat files ``<name>[_LATE]_<userid>_<submissionid>_<file>``;
    a student's files are grouped, and Canvas's resubmission suffix (``shapes-1.py``) is removed.
``classroom``
    ``gh classroom clone student-repos``: one repository per student, ``<assignment>-<login>``; the
    modules are found at the repository's top or one level down (``exercises/``).

Each student becomes a :class:`Entry`: one file to grade (a folder is zipped, in memory), so the same
entry can be graded on this machine or shipped to a Dask worker.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from grader.judge.contained import SKIPPED_PARTS, contained_files, read_contained
from grader.judge.submission import BadSubmission, extract

MAX_SUBMISSION_BYTES = 50 * 2**20
CANVAS_FILE = re.compile(r"^(?P<student>[a-z0-9]+)(?:_LATE)?_(?P<user>\d+)_(?P<sub>\d+)_(?P<file>.+)$")
CANVAS_RESUBMISSION = re.compile(r"-\d+(?=\.[^.]+$)")
GRADEABLE_SUFFIXES = (".zip", ".ipynb", ".py")


@dataclass(frozen=True)
class Entry:
    """One student's submission, ready to grade: ``filename`` (a .zip, .ipynb or .py) holding ``data``."""

    student: str
    filename: str
    data: bytes
    layout: str
    problem: str | None = None  # set when the entry cannot be graded at all (then ``data`` is empty)


def slug(name: str) -> str:
    """A safe folder name for a student (letters, digits, ``.``, ``_``, ``-``)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip()).strip("._")
    return cleaned[:80] or "student"


def _zip_folder(folder: Path) -> bytes | None:
    """The folder's contained files (never what a link inside it points at outside it), zipped in memory;
    None when they hold more than the size limit."""
    tree = contained_files(folder)
    if tree.total_bytes > MAX_SUBMISSION_BYTES:
        return None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for relative, path in sorted(tree.files.items()):
            zf.writestr(relative, read_contained(path))
    return buffer.getvalue()


def _zip_files(files: dict[str, Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, path in sorted(files.items()):
            zf.writestr(name, read_contained(path))
    return buffer.getvalue()


def _entry(student: str, path: Path, layout: str) -> Entry:
    """An entry for a folder or a single file; too large or unreadable entries carry a ``problem``."""
    student = slug(student)
    if path.is_symlink():
        return Entry(student, path.name, b"", layout, f"{path.name} is a symbolic link; links are not followed")
    try:
        if path.is_dir():
            zipped, filename = _zip_folder(path), "submission.zip"
            if zipped is None:
                return Entry(student, path.name, b"", layout, "the submission is larger than 50 MiB")
            data = zipped
        elif path.suffix.lower() in GRADEABLE_SUFFIXES and path.is_file():
            if path.stat().st_size > MAX_SUBMISSION_BYTES:
                return Entry(student, path.name, b"", layout, f"{path.name} is larger than 50 MiB")
            data, filename = read_contained(path), path.name
        else:
            return Entry(student, path.name, b"", layout, f"{path.name} is not a folder, notebook or zip file")
    except OSError as exc:
        return Entry(student, path.name, b"", layout, f"cannot read {path.name}: {exc}")
    if len(data) > MAX_SUBMISSION_BYTES:
        return Entry(student, filename, b"", layout, "the submission is larger than 50 MiB")
    return Entry(student, filename, data, layout)


def _visible(folder: Path) -> list[Path]:
    """The entries of ``folder`` a layout may read: no hidden names, and no links (they could point anywhere)."""
    return sorted(
        p for p in folder.iterdir() if not p.name.startswith(".") and p.name not in SKIPPED_PARTS and not p.is_symlink()
    )


def _links(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_symlink() and not p.name.startswith("."))


def _gradescope(root: Path) -> list[Entry]:
    metadata = yaml.safe_load((root / "submission_metadata.yml").read_text()) or {}
    entries = []
    for folder in (p for p in _visible(root) if p.is_dir() and p.name.startswith("submission_")):
        submitters = (metadata.get(folder.name) or {}).get(":submitters") or [{}]
        first = submitters[0] or {}
        email = str(first.get(":email") or "")
        name = email.split("@")[0] if email else str(first.get(":name") or folder.name)
        entries.append(_entry(name, folder, "gradescope"))
    return entries


def _canvas(root: Path) -> list[Entry]:
    groups: dict[str, dict[str, Path]] = {}
    for path in _visible(root):
        match = CANVAS_FILE.match(path.name)
        if match and path.is_file():
            original = CANVAS_RESUBMISSION.sub("", match["file"])
            groups.setdefault(match["student"], {})[original] = path
    entries = []
    for student, files in sorted(groups.items()):
        if len(files) == 1:
            ((name, path),) = files.items()
            entry = _entry(student, path, "canvas")
            entries.append(Entry(entry.student, name, entry.data, "canvas", entry.problem))
        else:
            entries.append(Entry(slug(student), "submission.zip", _zip_files(files), "canvas"))
    return entries


def _classroom(root: Path, repos: list[Path]) -> list[Entry]:
    prefix = os.path.commonprefix([p.name for p in repos])
    prefix = prefix[: prefix.rfind("-") + 1]  # "assignment-" of "assignment-alice", "assignment-bob"
    return [_entry(repo.name[len(prefix) :] or repo.name, repo, "classroom") for repo in repos]


def detect(root: Path) -> str:
    """Which layout ``root`` (an unpacked folder) is in."""
    children = _visible(root)
    metadata = root / "submission_metadata.yml"
    if metadata.is_file() and not metadata.is_symlink():
        return "gradescope"
    files = [p for p in children if p.is_file()]
    if files and sum(bool(CANVAS_FILE.match(p.name)) for p in files) == len(files):
        return "canvas"
    dirs = [p for p in children if p.is_dir()]
    if len(dirs) >= 2 and len(dirs) == len(children) and all((p / ".git").exists() for p in dirs):
        return "classroom"
    return "plain"


def _unwrap(root: Path) -> Path:
    """An export zip usually holds one top folder (``assignment_123_export/``): look inside it."""
    children = _visible(root)
    if len(children) == 1 and children[0].is_dir() and detect(children[0]) != "plain":
        return children[0]
    return root


def discover(submissions: Path) -> list[Entry]:
    """Every student in ``submissions`` (a folder, or a zip of an export), sorted by name, names unique."""
    if submissions.is_file():
        with tempfile.TemporaryDirectory(prefix="cnn-grader-class-") as tmp:
            try:
                extract(submissions, Path(tmp))
            except (BadSubmission, zipfile.BadZipFile) as exc:
                raise BadSubmission(f"cannot open {submissions}: {exc}") from None
            return discover(Path(tmp))
    root = _unwrap(submissions)
    layout = detect(root)
    if layout == "gradescope":
        entries = _gradescope(root)
    elif layout == "canvas":
        entries = _canvas(root)
    elif layout == "classroom":
        entries = _classroom(root, [p for p in _visible(root) if p.is_dir()])
    else:
        entries = [_entry(p.stem if p.is_file() else p.name, p, "plain") for p in _visible(root)]
    entries += [_entry(p.stem if p.suffix else p.name, p, layout) for p in _links(root)]  # each says why not read
    return _unique(entries)


def _unique(entries: list[Entry]) -> list[Entry]:
    """Two entries with one slug (``Ann Lee`` and ``ann_lee``) get ``-2``, ``-3`` suffixes."""
    seen: dict[str, int] = {}
    unique = []
    for entry in sorted(entries, key=lambda e: e.student):
        count = seen.get(entry.student, 0) + 1
        seen[entry.student] = count
        name = entry.student if count == 1 else f"{entry.student}-{count}"
        unique.append(Entry(name, entry.filename, entry.data, entry.layout, entry.problem))
    return unique
