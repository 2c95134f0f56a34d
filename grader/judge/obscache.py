"""A content-addressed cache of expensive observations (trained-network accuracies) across gradings.

An entry is valid for a submission when every student file that was loaded while it was computed has
the same content, and the submission has the same set of Python file names (a newly added module could
change what gets imported). Entries are JSON written by the judge from its own verdict inputs; nothing
the worker wrote is stored or trusted. ``--no-cache`` (or ``CNN_GRADER_NO_CACHE=1``) turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

import grader
from grader.data import cache_dir

VERSION = 1


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ObservationCache:
    """Lookups and stores for one submission (its private copy at ``submission``)."""

    def __init__(self, submission: Path, enabled: bool = True, root: Path | None = None) -> None:
        self.enabled = enabled and os.environ.get("CNN_GRADER_NO_CACHE") != "1"
        self.root = root or cache_dir() / "observations"
        self.submission = submission
        self._files = {
            str(p.relative_to(submission)): _digest(p.read_bytes())
            for p in sorted(submission.rglob("*"))
            if p.is_file()
        }

    def _folder(self, request: dict[str, Any]) -> Path:
        names = sorted(name for name in self._files if name.endswith(".py"))
        identity = {
            "request": request,
            "py_files": names,
            "torch": torch.__version__,
            "v": VERSION,
            "grader": getattr(grader, "__version__", "0"),
        }
        return self.root / _digest(json.dumps(identity, sort_keys=True, default=str).encode())[:32]

    def get(self, request: dict[str, Any]) -> Any | None:
        """A stored value whose recorded files all match this submission, else None."""
        if not self.enabled:
            return None
        folder = self._folder(request)
        for entry in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                record = json.loads(entry.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if record.get("files") and all(self._files.get(f) == h for f, h in record["files"].items()):
                return record["value"]
        return None

    def put(self, request: dict[str, Any], loaded: list[str], value: Any, always: tuple[str, ...] = ()) -> None:
        """Store ``value`` under the hashes of the student files it depended on.

        Those are the ``loaded`` files the worker reported, the ``always`` files the judge knows were
        used (the module under test: the worker's report is not trusted to include it), and every
        non-Python file. Nothing is stored when the report names files the submission does not have.
        """
        names = set(loaded) | set(always) | {name for name in self._files if not name.endswith(".py")}
        if not self.enabled or not loaded or any(name not in self._files for name in names):
            return
        files = {name: self._files[name] for name in sorted(names)}
        folder = self._folder(request)
        folder.mkdir(parents=True, exist_ok=True)
        entry = folder / f"{_digest(json.dumps(files, sort_keys=True).encode())[:16]}.json"
        tmp = entry.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"files": files, "value": value}))
        tmp.replace(entry)
