"""The files that really lie inside a submission: nothing a link points at outside it is ever read.

A submission is a tree the student controls, and a git checkout, an unzipped upload or an LMS export
keeps symbolic links. A link to the grader's own ``reference/`` folder, copied as if it were the
student's folder, would grade the reference as the student's work. :func:`contained_files` walks a root
without following links to folders and keeps a file only when its resolved location lies inside the
resolved root and it is a regular file; everything else it leaves out is named, so the results can say so.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

SKIPPED_PARTS = frozenset({".git", "__pycache__", ".ipynb_checkpoints", "__MACOSX"})


@dataclass
class ContainedFiles:
    """Regular files under a root by relative POSIX path (value: where to read them), and what was left out."""

    root: Path
    files: dict[str, Path] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)  # relative path -> why

    @property
    def total_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.files.values())

    def notes(self) -> list[str]:
        """One line per left-out path, in the submission's own terms (never a host path)."""
        return [f"{name} was not read: {why}" for name, why in sorted(self.left_out.items())]


def is_inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def contained_files(root: Path) -> ContainedFiles:
    """Every regular file under ``root`` whose real location is inside ``root`` (links to folders not followed).

    A link to a file inside the root is kept (read through its target); a link that leaves the root, a
    dangling link, a link to a folder and anything that is not a regular file (a FIFO, a device) are left
    out and named in :attr:`ContainedFiles.left_out`. Parts in :data:`SKIPPED_PARTS` are skipped silently.
    """
    real_root = Path(root).resolve(strict=True)
    found = ContainedFiles(real_root)

    def unreadable(error: OSError) -> None:
        where = Path(error.filename or "").resolve()
        name = where.relative_to(real_root).as_posix() if is_inside(where, real_root) else "a folder"
        found.left_out[name] = f"cannot be read ({error.strerror})"

    for folder, dirs, names in os.walk(real_root, followlinks=False, onerror=unreadable):
        here = Path(folder)
        for name in list(dirs):
            if name in SKIPPED_PARTS:
                dirs.remove(name)
            elif (here / name).is_symlink():  # os.walk does not descend it; say why it is missing
                found.left_out[(here / name).relative_to(real_root).as_posix()] = "it is a link to a folder"
        for name in names:
            path = here / name
            relative = path.relative_to(real_root).as_posix()
            why = _why_left_out(path, real_root)
            if why is None:
                found.files[relative] = path.resolve()
            else:
                found.left_out[relative] = why
    return found


def _why_left_out(path: Path, real_root: Path) -> str | None:
    """None when ``path`` is a regular file inside ``real_root`` (through links inside it), else why not."""
    if path.is_symlink():
        target = path.resolve()
        if not is_inside(target, real_root):
            return "it is a link to a place outside the submission"
        if not target.exists():
            return "it is a link to nothing"
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if not stat.S_ISREG(mode):
        return "it is not a regular file"
    return None


def read_contained(path: Path) -> bytes:
    """The bytes of a file :func:`contained_files` kept, opened without following a link swapped in since."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as file:
        return file.read()
