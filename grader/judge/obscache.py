"""A content-addressed cache of expensive observations (trained-network accuracies) across gradings.

An entry is keyed by the judge's own hashes of *every* file of the submission: only a byte-identical
submission, graded with the same request, reuses it. Or, where the observation is a function of something
the judge holds itself (a network's exported graph, which the judge trains), by the hash of that thing
(``content=``): every submission handing over the same graph then shares the entry. (Keying on the
files the worker said it loaded let one submission poison the entry of the untouched stubs for a whole
class: the worker's word is not evidence.) Entries are JSON written by the judge from its own verdict inputs.
``--no-cache`` (or ``CNN_GRADER_NO_CACHE=1``) turns it off.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

import grader
from grader import atomic
from grader.data import cache_dir

VERSION = 1


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.cache
def sources_digest(*files: Path) -> str:
    """A hash of source files' bytes (once per process): what a stored value follows from besides its inputs."""
    return _digest(b"".join(Path(f).read_bytes() for f in files))


def content_digest(value: Any) -> str:
    """A hash of plain data as the judge holds it: JSON-like values and numpy arrays (dtype, shape, bytes)."""
    hasher = hashlib.sha256()

    def feed(item: Any) -> None:
        if isinstance(item, np.ndarray):
            hasher.update(f"array:{item.dtype.str}:{item.shape}:".encode())
            hasher.update(np.ascontiguousarray(item).tobytes())
        elif isinstance(item, dict):
            hasher.update(b"{")
            for key in sorted(item, key=str):
                hasher.update(f"{key!s}:".encode())
                feed(item[key])
            hasher.update(b"}")
        elif isinstance(item, list | tuple):
            hasher.update(b"[")
            for element in item:
                feed(element)
            hasher.update(b"]")
        else:
            hasher.update(f"{type(item).__name__}:{item!r};".encode())

    feed(value)
    return hasher.hexdigest()


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

    def _entry(self, request: dict[str, Any], content: str | None = None) -> Path:
        identity = {
            "request": request,
            "files": self._files if content is None else {"content": content},
            "torch": torch.__version__,
            "v": VERSION,
            "grader": getattr(grader, "__version__", "0"),
        }
        return self.root / f"{_digest(json.dumps(identity, sort_keys=True, default=str).encode())[:40]}.json"

    def get(self, request: dict[str, Any], content: str | None = None) -> Any | None:
        """The value stored for this exact submission (or ``content`` digest) and request, else None."""
        if not self.enabled:
            return None
        try:
            return json.loads(self._entry(request, content).read_text())["value"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            return None

    def put(self, request: dict[str, Any], value: Any, content: str | None = None) -> None:
        """Store ``value`` (computed by the judge) for this exact submission (or ``content``) and request."""
        if not self.enabled:
            return
        entry = self._entry(request, content)
        atomic.write_text(entry, json.dumps({"value": value}))

    def holds(self, request: dict[str, Any]) -> bool:
        """Whether a value is stored for this exact submission and request (a hint: it may still prove torn)."""
        try:
            return self.enabled and self._entry(request).exists()
        except OSError:  # an unreadable cache folder: as if nothing were stored
            return False

    def get_with_arrays(self, request: dict[str, Any]) -> Any | None:
        """Like :meth:`get`, for a value holding numpy arrays stored by :meth:`put_with_arrays`."""
        return read_with_arrays(self._entry(request)) if self.enabled else None

    def put_with_arrays(self, request: dict[str, Any], value: Any) -> None:
        """Store a value holding numpy arrays (a network's export): JSON beside an ``.npz`` (no pickles)."""
        if self.enabled:
            write_with_arrays(self._entry(request), value)


def read_with_arrays(entry: Path) -> Any | None:
    """The value :func:`write_with_arrays` stored at ``entry`` (arrays read with ``allow_pickle=False``), else
    None: missing, torn or foreign entries are computed afresh."""
    try:
        value = json.loads(entry.read_text())["value"]
        with np.load(entry.with_suffix(".npz"), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        return _with_arrays(value, arrays)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_with_arrays(entry: Path, value: Any) -> None:
    """Store plain data holding numpy arrays and tuples at ``entry``: JSON beside an ``.npz``. A value that
    holds the markers themselves is not stored."""
    arrays: dict[str, np.ndarray] = {}
    try:
        plain = _without_arrays(value, arrays)
    except ValueError:
        return
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic.write_bytes(entry.with_suffix(".npz"), buffer.getvalue())  # before the JSON that points at it
    atomic.write_text(entry, json.dumps({"value": plain}))


ARRAY = "$cached-array"  # marks an array in a stored value
TUPLE = "$cached-tuple"  # marks a tuple (JSON has lists only)


def _without_arrays(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """``value`` with each array replaced by ``{ARRAY: name}`` and each tuple by ``{TUPLE: [...]}``; ValueError
    when it holds one of those keys already."""
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {ARRAY: name}
    if isinstance(value, dict):
        if ARRAY in value or TUPLE in value:
            raise ValueError(ARRAY)
        return {key: _without_arrays(item, arrays) for key, item in value.items()}
    if isinstance(value, tuple):
        return {TUPLE: [_without_arrays(item, arrays) for item in value]}
    if isinstance(value, list):
        return [_without_arrays(item, arrays) for item in value]
    return value


def _with_arrays(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {ARRAY}:
            return arrays[value[ARRAY]]
        if set(value) == {TUPLE}:
            return tuple(_with_arrays(item, arrays) for item in value[TUPLE])
        return {key: _with_arrays(item, arrays) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_arrays(item, arrays) for item in value]
    return value
