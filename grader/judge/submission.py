"""Turn what a student handed in (a folder of modules, a notebook, or a zip of either) into a private copy.

Only files that really lie inside the submission are copied (:mod:`grader.judge.contained`): a link to a
place outside it is left out and named in the results, at every level, so nothing of the grading machine
can be graded as the student's work.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.contract import MODULES
from grader.judge.contained import ContainedFiles, contained_files, read_contained

MAX_UNZIPPED_BYTES = 200 * 2**20
MODULE_FILES = {f"{m.name}.py" for m in MODULES}


class BadSubmission(Exception):
    """The submission cannot be read at all (not a folder or zip, unsafe or oversized archive)."""


@dataclass
class Prepared:
    """The private copy of a submission and what was left out of it (lines for the results)."""

    folder: Path
    notes: list[str] = field(default_factory=list)


def _module_folder(tree: ContainedFiles) -> str:
    """The folder of ``tree`` (``""`` for its top, or one level down) that holds the student modules."""
    tops = sorted(
        {rel.split("/", 1)[0] for rel in tree.files if "/" in rel and not rel.startswith((".", "__"))},
    )
    for folder in ("", *tops):
        prefix = f"{folder}/" if folder else ""
        if any(f"{prefix}{name}" in tree.files for name in MODULE_FILES):
            return folder
    return ""


def extract(archive: Path, target: Path) -> None:
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


def prepare(source: Path, target: Path) -> Prepared:
    """Copy the submission's files into ``target`` (created) and say what was left out.

    A submission path that is itself a link is refused; inside it, only regular files whose real location
    lies inside it are copied (see :func:`~grader.judge.contained.contained_files`).
    """
    source = Path(source)
    target.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        raise BadSubmission(f"{source} is a symbolic link; give the folder, notebook or zip itself")
    if source.is_file() and zipfile.is_zipfile(source):
        staging = target.parent / "unzipped"
        extract(source, staging)
        source = staging
    elif source.is_file() and source.suffix in (".ipynb", ".py"):
        (target / source.name).write_bytes(read_contained(source))  # a notebook, or a jupytext script of one
        return Prepared(target)
    elif not source.is_dir():
        raise BadSubmission(f"{source} is neither a folder, a notebook nor a zip file")
    tree = contained_files(source)
    if tree.total_bytes > MAX_UNZIPPED_BYTES:
        raise BadSubmission(f"the submission holds more than {MAX_UNZIPPED_BYTES // 2**20} MiB")
    folder = _module_folder(tree)
    prefix = f"{folder}/" if folder else ""
    for relative, path in tree.files.items():
        if not relative.startswith(prefix):
            continue
        destination = target / relative.removeprefix(prefix)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(read_contained(path))
    return Prepared(target, tree.notes())
