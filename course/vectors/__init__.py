"""Stored test vectors: the expected values of the public checks, computed once from ``reference/``.

The student bundle has no ``reference/``, so the public checks that compare with it read their expected
values here: ``tables.json`` (counts, layer tables, scalar statistics) and ``arrays.npz`` (arrays, loaded
with ``allow_pickle=False``), both keyed ``group/name``. Hidden checks never store anything here.
``python -m course.vectors`` regenerates both files (instructors only: it needs ``reference/``), and
``tests/test_vectors.py`` fails when they drift from the reference. ``pictures.npz`` holds what the feedback's
Grad-CAM pictures need without data or reference (:mod:`course.vectors.pictures`).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np

VECTORS_DIR = Path(__file__).parent
TABLES_FILE = "tables.json"
ARRAYS_FILE = "arrays.npz"
PICTURES_FILE = "pictures.npz"


@functools.cache
def tables(folder: Path = VECTORS_DIR) -> dict[str, Any]:
    """Every stored table (plain JSON values) by key."""
    return json.loads((folder / TABLES_FILE).read_text())


@functools.cache
def arrays(folder: Path = VECTORS_DIR) -> dict[str, np.ndarray]:
    """Every stored array by key (read-only: checks must not change expected values)."""
    with np.load(folder / ARRAYS_FILE, allow_pickle=False) as archive:
        loaded = {name: archive[name] for name in archive.files}
    for value in loaded.values():
        value.setflags(write=False)
    return loaded


def table(key: str) -> Any:
    """The stored table ``key``, e.g. ``"quadrant/ops"``."""
    return tables()[key]


def array(key: str) -> np.ndarray:
    """The stored array ``key``, e.g. ``"gradcam/agreement_0"``."""
    return arrays()[key]


@functools.cache
def picture_arrays(folder: Path = VECTORS_DIR) -> dict[str, np.ndarray]:
    """The stored Grad-CAM pictures' inputs and expected maps (see :mod:`course.vectors.pictures`); empty when
    the file is not there."""
    if not (folder / PICTURES_FILE).exists():
        return {}
    with np.load(folder / PICTURES_FILE, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}
