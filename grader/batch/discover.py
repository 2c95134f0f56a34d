"""Find the students in a class's submissions: a folder (or a zip of one) in one of five layouts.

``plain``
    one entry per student, named after the student: a folder of modules, a notebook (``.ipynb`` or a
    jupytext ``.py``), or a zip of either.
``gradescope``
    Gradescope's "Export Submissions" zip: ``submission_metadata.yml`` beside ``submission_<id>/``
    folders; students are named by the submitter's e-mail (else name) from the metadata.
``canvas``
    Canvas's "Download Submissions" zip: flat files ``<name>[_LATE]_<userid>_<submissionid>_<file>``;
    a student's files are grouped, and Canvas's resubmission suffix (``shapes-1.py``) is removed.
``moodle``
    Moodle's assignment "Download all submissions" zip: ``<Full Name>_<participant>_assignsubmission_file_``
    folders (with "Download submissions in folders") or flat files ``<Full Name>_<participant>_assignsubmission_
    file_<file>``; the participant number is the id Moodle's grading worksheet imports grades by.
``classroom``
    ``gh classroom clone student-repos``: one repository per student, ``<assignment>-<login>``; the
    modules are found at the repository's top or one level down (``exercises/``).

The layout is the one that most entries fit (:func:`survey`): the specific layouts (Gradescope, Classroom,
Canvas) before the plain one, and only when more than half of the entries fit it; entries that do not fit
are listed, never graded as students. Input that fits no layout is refused with a message.

Each student becomes a :class:`Entry`: one file to grade (a folder is zipped, in memory), so the same
entry can be graded on this machine or shipped to a Dask worker. Entries keep what the LMS said of them:
the late marker and the LMS's stable ids (user id, submission id, e-mail, login).
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path, PurePosixPath

import yaml

from grader.judge.contained import SKIPPED_PARTS, contained_files, read_contained
from grader.judge.submission import BadSubmission, extract

MAX_SUBMISSION_BYTES = 50 * 2**20
CANVAS_FILE = re.compile(r"^(?P<student>[a-z0-9]+)(?P<late>_LATE)?_(?P<user>\d+)_(?P<sub>\d+)_(?P<file>.+)$")
GRADESCOPE_FOLDER = re.compile(r"^submission_(?P<id>\d+)$")
MOODLE_ENTRY = re.compile(r"^(?P<name>.+?)_(?P<participant>\d+)_assignsubmission_file_(?P<file>.*)$")
LAYOUTS = ("gradescope", "classroom", "canvas", "moodle", "plain")  # the more specific first
CANVAS_RESUBMISSION = re.compile(r"-\d+(?=\.[^.]+$)")
GRADEABLE_SUFFIXES = (".zip", ".ipynb", ".py")


@dataclass(frozen=True)
class Entry:
    """One student's submission, ready to grade: ``filename`` (a .zip, .ipynb or .py) holding ``data``.

    ``label`` is what the student handed in as the export names it (``alice/`` for a folder, the file names
    for Canvas files); ``late`` is the LMS's late marker (None where the export does not say);
    ``ids`` the LMS's stable ids (``user_id``, ``submission_id``, ``email``, ``login``), which tell two
    students of the same name apart; ``submitted_at`` the LMS's submission time (ISO 8601), where given.
    """

    student: str
    filename: str
    data: bytes
    layout: str
    problem: str | None = None  # set when the entry cannot be graded at all (then ``data`` is empty)
    label: str = ""
    late: bool | None = None
    ids: dict[str, str] = field(default_factory=dict, compare=False)
    submitted_at: str | None = None


@dataclass
class Survey:
    """What a class folder holds: its layout, the students, and the entries that fit no student."""

    layout: str
    entries: list[Entry]
    left_out: list[str] = field(default_factory=list)
    fitting: int = 0
    total: int = 0

    def describe(self) -> str:
        line = f"layout: {self.layout} ({self.fitting} of {self.total} entries fit it)"
        if self.left_out:
            line += f"; not students, left out: {', '.join(self.left_out)}"
        return line


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
            _add(zf, relative, read_contained(path))
    return buffer.getvalue()


def _zip_files(files: dict[str, Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, path in sorted(files.items()):
            _add(zf, name, read_contained(path))
    return buffer.getvalue()


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    """A member with a fixed date: the same files always zip to the same bytes (the batch's resume digest)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def _entry(student: str, path: Path, layout: str, **lms) -> Entry:
    """An entry for a folder or a single file; too large or unreadable entries carry a ``problem``."""
    return replace(
        _read_entry(slug(student), path, layout), label=f"{path.name}/" if path.is_dir() else path.name, **lms
    )


def _read_entry(student: str, path: Path, layout: str) -> Entry:
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
    try:
        metadata = yaml.safe_load((root / "submission_metadata.yml").read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise BadSubmission(f"the Gradescope export's submission_metadata.yml cannot be read: {exc}") from None
    entries = []
    for folder in (p for p in _visible(root) if p.is_dir() and GRADESCOPE_FOLDER.match(p.name)):
        record = metadata.get(folder.name) or {}
        submitters = record.get(":submitters") or [{}]
        first = submitters[0] or {}
        email = str(first.get(":email") or "")
        name = email.split("@")[0] if email else str(first.get(":name") or folder.name)
        ids = {"submission_id": GRADESCOPE_FOLDER.match(folder.name)["id"], "email": email}
        ids |= {"user_id": str(first[":sid"])} if first.get(":sid") else {}
        created = record.get(":created_at")
        submitted_at = created.isoformat() if isinstance(created, datetime) else (str(created) if created else None)
        entries.append(_entry(name, folder, "gradescope", ids=ids, submitted_at=submitted_at))
    return entries


def _canvas(root: Path) -> list[Entry]:
    """A student's files grouped by their Canvas user id: two students whose names give the same file-name part
    (two John Smiths) stay two students (named apart by :func:`_unique`)."""
    groups: dict[str, dict[str, Path]] = {}
    markers: dict[str, re.Match] = {}
    for path in _visible(root):
        match = CANVAS_FILE.match(path.name)
        if match and path.is_file():
            original = CANVAS_RESUBMISSION.sub("", match["file"])
            groups.setdefault(match["user"], {})[original] = path
            markers.setdefault(match["user"], match)
    entries = []
    for user, files in sorted(groups.items(), key=lambda item: (markers[item[0]]["student"], item[0])):
        match = markers[user]
        student = match["student"]
        lms = {
            "late": any(CANVAS_FILE.match(p.name)["late"] for p in files.values()),
            "ids": {"user_id": match["user"], "submission_id": match["sub"]},
        }
        label = ", ".join(sorted(p.name for p in files.values()))
        if len(files) == 1:
            ((name, path),) = files.items()
            entry = _entry(student, path, "canvas", **lms)
            entries.append(replace(entry, filename=name, label=label))
        else:
            entries.append(Entry(slug(student), "submission.zip", _zip_files(files), "canvas", label=label, **lms))
    return entries


def _moodle(fitting: list[Path]) -> list[Entry]:
    """Each participant's files, from their folder and their flat files alike: one gradeable file (the
    ``submission.zip`` that ``cnn-grader export`` writes, a notebook) is graded as it is; several are zipped.
    Moodle's online-text entries are not submissions of this course and are left out."""
    groups: dict[str, dict[str, Path]] = {}
    names: dict[str, str] = {}
    labels: dict[str, list[str]] = {}
    for path in fitting:
        match = MOODLE_ENTRY.match(path.name)
        participant = match["participant"]
        names.setdefault(participant, match["name"])
        labels.setdefault(participant, []).append(path.name + ("/" if path.is_dir() else ""))
        files = groups.setdefault(participant, {})
        if path.is_dir():
            files.update(contained_files(path).files)
        else:
            files[match["file"]] = path
    entries = []
    for participant, files in sorted(groups.items(), key=lambda item: (names[item[0]], item[0])):
        lms = {"ids": {"participant": participant}, "label": ", ".join(sorted(labels[participant]))}
        student = slug(names[participant])
        if len(files) == 1 and next(iter(files)).lower().endswith(GRADEABLE_SUFFIXES):
            ((original, path),) = files.items()
            entries.append(replace(_entry(student, path, "moodle"), filename=PurePosixPath(original).name, **lms))
        elif not files:
            entries.append(Entry(student, "", b"", "moodle", "the submission holds no files", **lms))
        else:
            entries.append(Entry(student, "submission.zip", _zip_files(files), "moodle", **lms))
    return entries


def _classroom(root: Path, repos: list[Path]) -> list[Entry]:
    prefix = os.path.commonprefix([p.name for p in repos])
    prefix = prefix[: prefix.rfind("-") + 1]  # "assignment-" of "assignment-alice", "assignment-bob"
    entries = []
    for repo in repos:
        login = repo.name[len(prefix) :] or repo.name
        entries.append(_entry(login, repo, "classroom", ids={"login": login, "repository": repo.name}))
    return entries


def _fits(root: Path, children: list[Path]) -> dict[str, list[Path]]:
    """For each layout, the entries of ``root`` that look like it."""
    metadata = root / "submission_metadata.yml"
    has_metadata = metadata.is_file() and not metadata.is_symlink()
    return {
        "gradescope": [p for p in children if (p.is_dir() and GRADESCOPE_FOLDER.match(p.name)) or p == metadata]
        if has_metadata
        else [],
        "classroom": [p for p in children if p.is_dir() and (p / ".git").exists()],
        "canvas": [p for p in children if p.is_file() and CANVAS_FILE.match(p.name)],
        "moodle": [p for p in children if (m := MOODLE_ENTRY.match(p.name)) and p.is_dir() != bool(m["file"])],
        "plain": [p for p in children if p.is_dir() or p.suffix.lower() in GRADEABLE_SUFFIXES],
    }


def detect(root: Path) -> str:
    """Which layout ``root`` (an unpacked folder) is in (see :func:`survey`)."""
    return _choose(root, _visible(root))[0]


def _choose(root: Path, children: list[Path]) -> tuple[str, list[Path]]:
    fits = _fits(root, children)
    for layout in LAYOUTS:  # the first layout that more than half of the entries fit
        if children and 2 * len(fits[layout]) > len(children):
            if layout == "classroom" and len(fits[layout]) < 2:
                continue
            return layout, fits[layout]
    return "none", []


def _unwrap(root: Path) -> Path:
    """An export zip usually holds one top folder (``assignment_123_export/``): look inside it."""
    children = _visible(root)
    if len(children) == 1 and children[0].is_dir() and detect(children[0]) not in ("plain", "none"):
        return children[0]
    return root


def survey(submissions: Path) -> Survey:
    """The layout, students and left-out entries of ``submissions`` (a folder, or a zip of an export).

    Raises :class:`~grader.judge.submission.BadSubmission` for input that fits no layout.
    """
    if submissions.is_file():
        with tempfile.TemporaryDirectory(prefix="cnn-grader-class-") as tmp:
            try:
                extract(submissions, Path(tmp))
            except (BadSubmission, zipfile.BadZipFile) as exc:
                raise BadSubmission(f"cannot open {submissions}: {exc}") from None
            return survey(Path(tmp))
    root = _unwrap(submissions)
    children = _visible(root)
    if not children and not _links(root):
        raise BadSubmission(f"{submissions.name} holds no submissions")
    layout, fitting = _choose(root, children)
    if layout == "none":
        fits = _fits(root, children)
        counts = ", ".join(f"{len(fits[name])} look like {name}" for name in LAYOUTS)
        raise BadSubmission(
            f"{submissions.name} fits no known layout (of {len(children)} entries, {counts}); arrange it as one "
            "entry per student, or pass the LMS export as it was downloaded (docs/batch.md)"
        )
    if layout == "gradescope":
        entries = _gradescope(root)
    elif layout == "canvas":
        entries = _canvas(root)
    elif layout == "classroom":
        entries = _classroom(root, fitting)
    elif layout == "moodle":
        entries = _moodle(fitting)
    else:
        entries = [_entry(p.stem if p.is_file() else p.name, p, "plain") for p in fitting]
    entries += [_entry(p.stem if p.suffix else p.name, p, layout) for p in _links(root)]  # each says why not read
    metadata = root / "submission_metadata.yml"
    left_out = [p.name + ("/" if p.is_dir() else "") for p in children if p not in fitting and p != metadata]
    return Survey(layout, _unique(entries), left_out, len(fitting), len(children))


def discover(submissions: Path) -> list[Entry]:
    """Every student in ``submissions``, sorted by name, names unique (see :func:`survey`)."""
    return survey(submissions).entries


def _unique(entries: list[Entry]) -> list[Entry]:
    """Two entries with one slug (``Ann Lee`` and ``ann_lee``) get ``-2``, ``-3`` suffixes."""
    seen: dict[str, int] = {}
    unique = []
    for entry in sorted(entries, key=lambda e: e.student):
        count = seen.get(entry.student, 0) + 1
        seen[entry.student] = count
        unique.append(replace(entry, student=entry.student if count == 1 else f"{entry.student}-{count}"))
    return unique
