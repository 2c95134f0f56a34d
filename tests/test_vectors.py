"""The stored test vectors (course/vectors) are what reference/ computes today, and nothing else.

Public checks compare with these files instead of importing reference/ (the student bundle has none). If
the reference, a check's inputs or a test model changes, this fails: run ``python -m course.vectors``.
"""

from __future__ import annotations

import json

import numpy as np

from course import vectors
from course.vectors.generate import build, encode


def _same(stored: object, fresh: object) -> bool:
    """Equal JSON values, floats within 1e-6 relative (another CPU may round float32 sums differently)."""
    if isinstance(fresh, float):
        return isinstance(stored, float) and bool(np.isclose(stored, fresh, rtol=1e-6, atol=1e-9))
    if isinstance(fresh, dict):
        return (
            isinstance(stored, dict)
            and stored.keys() == fresh.keys()
            and all(_same(stored[k], fresh[k]) for k in fresh)
        )
    if isinstance(fresh, list):
        return isinstance(stored, list) and len(stored) == len(fresh) and all(map(_same, stored, fresh))
    return type(stored) is type(fresh) and stored == fresh


def test_stored_vectors_match_the_reference() -> None:
    tables, arrays = build()
    fresh_tables = json.loads(encode(tables, arrays)[vectors.TABLES_FILE])  # as JSON holds them (lists, not tuples)
    stale = {
        key
        for key in fresh_tables.keys() | vectors.tables().keys()
        if not _same(vectors.tables().get(key), fresh_tables.get(key))
    }
    assert not stale, f"stale tables {sorted(stale)}: run python -m course.vectors"
    assert vectors.arrays().keys() == arrays.keys(), "run python -m course.vectors"
    for key, fresh in arrays.items():
        stored = vectors.array(key)
        assert stored.dtype == fresh.dtype and stored.shape == fresh.shape, key
        # the checks' own tolerance: training with batch norm varies by a few 1e-6 between processes
        assert np.allclose(stored, fresh, rtol=1e-5, atol=1e-5), f"{key} drifted: run python -m course.vectors"


def test_every_stored_array_is_plain_numeric_data() -> None:
    for key, value in vectors.arrays().items():
        assert value.dtype.kind in "fiub", key  # np.load(allow_pickle=False) would refuse anything else anyway
        assert not value.flags.writeable, f"{key}: a check could change an expected value"


def test_stored_pictures_are_the_references_maps_of_their_digits() -> None:
    """The feedback's Grad-CAM pictures (course/vectors/pictures.py): the reference on the stored network and
    digits gives the stored maps, each peaking in its digit's corner."""
    from course.vectors import pictures

    stored = vectors.picture_arrays()
    assert stored, "run python -m course.vectors.pictures"
    assert np.allclose(pictures.reference_maps(stored), stored["expected"], rtol=1e-5, atol=1e-5)
    peaks = [np.unravel_index(m.argmax(), m.shape) for m in stored["expected"]]
    corners = [(row >= 28) * 2 + (col >= 28) for row, col in peaks]
    assert corners == [i % 4 for i in range(len(peaks))], "each digit sits in corner i % 4 (top-left first)"
