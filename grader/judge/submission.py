"""Turn what a student handed in (a folder of modules, a notebook, or a zip of either) into a private copy."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from grader.contract import MODULES

MAX_UNZIPPED_BYTES = 200 * 2**20
MODULE_FILES = {f"{m.name}.py" for m in MODULES}


class BadSubmission(Exception):
    """The submission cannot be read at all (not a folder or zip, unsafe or oversized archive)."""


def _module_folder(root: Path) -> Path:
    """The folder under ``root`` (itself, or one level of nesting) that holds the student modules."""
    candidates = [
        root,
        *sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))),
    ]
    for folder in candidates:
        if any((folder / name).is_file() for name in MODULE_FILES):
            return folder
    return root


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


def prepare(source: Path, target: Path) -> Path:
    """Copy the submission's files into ``target`` (created) and return it.

    Only regular files are copied (symlinks are not followed), so the copy cannot reach back into
    the instructor's file system.
    """
    source = Path(source)
    target.mkdir(parents=True, exist_ok=True)
    if source.is_file() and zipfile.is_zipfile(source):
        staging = target.parent / "unzipped"
        extract(source, staging)
        source = _module_folder(staging)
    elif source.is_file() and source.suffix in (".ipynb", ".py"):
        shutil.copyfile(source, target / source.name)  # a notebook, or a jupytext script of one
        return target
    elif source.is_dir():
        source = _module_folder(source)
    else:
        raise BadSubmission(f"{source} is neither a folder, a notebook nor a zip file")
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if path.is_symlink() or any(part in ("__pycache__", ".git") for part in relative.parts):
            continue
        if path.is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / relative)
    return target
