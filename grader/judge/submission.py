"""Turn what a student handed in (a folder of modules, a notebook, or a zip of either) into a private copy.

Only files that really lie inside the submission are copied (:mod:`grader.judge.contained`): a link to a
place outside it is left out and named in the results, at every level, so nothing of the grading machine
can be graded as the student's work. Which of the files are graded is decided by :mod:`grader.judge.locate`;
the copy holds the graded folder, each module under its own name.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from grader.judge import locate
from grader.judge.contained import contained_files, read_contained

MAX_UNZIPPED_BYTES = 200 * 2**20


class BadSubmission(Exception):
    """The submission cannot be read at all (not a folder or zip, unsafe or oversized archive)."""


@dataclass
class Prepared:
    """The private copy of a submission, which files are graded, and notes on both (lines for the results)."""

    folder: Path
    plan: locate.Plan
    notes: list[str] = field(default_factory=list)


def extract(archive: Path, target: Path) -> None:
    """Unpack ``archive`` into ``target`` (created, also for an empty zip); a damaged zip is refused.

    The size check reads the declared sizes; a member that lies about its size cannot expand past it
    (:mod:`zipfile` stops at the declared size and then fails its CRC check), so it is refused too.
    """
    target.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            total = 0
            for info in zf.infolist():
                name = Path(info.filename)
                if name.is_absolute() or ".." in name.parts:
                    raise BadSubmission(f"unsafe path in zip: {info.filename!r}")
                total += info.file_size
                if total > MAX_UNZIPPED_BYTES:
                    raise BadSubmission(f"zip expands to more than {MAX_UNZIPPED_BYTES // 2**20} MiB")
            zf.extractall(target)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        raise BadSubmission(f"the zip file is damaged ({type(exc).__name__}: {exc}); zip the folder again") from None


def prepare(source: Path, target: Path) -> Prepared:
    """Copy the submission's files into ``target`` (created) and say what was left out.

    A submission path that is itself a link is refused; inside it, only regular files whose real location
    lies inside it are copied (see :func:`~grader.judge.contained.contained_files`).
    """
    source = Path(source)
    if source.is_symlink():
        raise BadSubmission(f"{source} is a symbolic link; give the folder, notebook or zip itself")
    if not source.exists():
        raise BadSubmission(f"{source} does not exist")
    target.mkdir(parents=True, exist_ok=True)
    if source.is_file() and zipfile.is_zipfile(source):
        staging = target.parent / "unzipped"
        extract(source, staging)
        source = staging
    elif source.is_file() and source.suffix in (".ipynb", ".py"):  # a notebook, or a jupytext script of one
        staging = target.parent / "single"
        staging.mkdir()
        (staging / source.name).write_bytes(read_contained(source))
        source = staging
    elif not source.is_dir():
        raise BadSubmission(f"{source} is neither a folder, a notebook nor a zip file")
    tree = contained_files(source)
    if tree.total_bytes > MAX_UNZIPPED_BYTES:
        raise BadSubmission(f"the submission holds more than {MAX_UNZIPPED_BYTES // 2**20} MiB")
    plan = locate.plan(tree)
    for relative, original in plan.files_to_copy(tree).items():
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(read_contained(tree.files[original]))
    return Prepared(target, plan, tree.notes() + plan.notes)
