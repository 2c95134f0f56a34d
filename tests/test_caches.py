"""The judge's caches: what they store, that a stored value is what a fresh computation gives, and that a
damaged entry is computed afresh (never a wrong verdict, never a crash)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from hypothesis import strategies as st

from course.quadrant import check_quadrant, networks
from course.vectors import generate
from grader.checks.properties import drawn_cases
from grader.judge.obscache import ARRAY, ObservationCache
from grader.judge.session import GradeOptions, GradingSession


@pytest.fixture
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("CNN_GRADER_CACHE", str(root))
    monkeypatch.delenv("CNN_GRADER_NO_CACHE", raising=False)
    return root


def test_a_value_with_arrays_reads_back_as_stored_and_a_torn_entry_as_nothing(tmp_path: Path) -> None:
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "quadrant.py").write_text("x = 1\n")
    cache = ObservationCache(submission, root=tmp_path / "observations")
    value = {"network": {"parameters": {"t0": np.arange(6, dtype=np.float32).reshape(2, 3)}, "nodes": [1, "a"]}}
    cache.put_with_arrays({"op": "export"}, value)
    back = cache.get_with_arrays({"op": "export"})
    assert back["network"]["nodes"] == [1, "a"]
    np.testing.assert_array_equal(back["network"]["parameters"]["t0"], value["network"]["parameters"]["t0"])
    assert back["network"]["parameters"]["t0"].dtype == np.float32
    for npz in (tmp_path / "observations").glob("*.npz"):
        npz.write_bytes(b"not an archive")
    assert cache.get_with_arrays({"op": "export"}) is None
    cache.put_with_arrays({"op": "marker"}, {ARRAY: "a0"})  # a value that holds the marker is not stored
    assert cache.get_with_arrays({"op": "marker"}) is None


def test_drawn_cases_from_the_cache_are_the_drawn_ones(cache_root: Path) -> None:
    strategy = st.fixed_dictionaries({"size": st.integers(1, 40), "kernel_size": st.tuples(st.integers(1, 3))})
    fresh = drawn_cases(strategy, seed=3)
    stored = list((cache_root / "cases").glob("*.txt"))
    assert len(stored) == 1
    assert drawn_cases(strategy, seed=3) == fresh
    assert isinstance(drawn_cases(strategy, seed=3)[0]["kernel_size"], tuple)  # tuples stay tuples
    stored[0].write_text("[{'size': ")  # torn
    assert drawn_cases(strategy, seed=3) == fresh


def test_the_stored_reference_table_is_the_computed_one(cache_root: Path) -> None:
    computed = generate.reference_rows(3)
    assert len(list((cache_root / "reference").glob("*.json"))) == 1
    assert generate.reference_rows(3) == computed
    assert [(k, tuple(shape), p) for k, shape, p in generate.reference_rows(8)] == check_quadrant.stored_rows(8)


def test_a_byte_identical_submission_reuses_its_networks_export(cache_root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "submission"
    shutil.copytree(ROOT / "solutions", folder, ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"))
    options = GradeOptions(sandbox="none", tamper_scan=False)
    digests = []
    for attempt in range(2):
        session = GradingSession(folder, options)
        try:
            session.start()
            if attempt == 1:  # the second grading must not need the worker for it

                def refuse(*args: object, **kwargs: object) -> dict:
                    raise AssertionError("asked the worker to export again")

                session.ask = refuse  # type: ignore[method-assign]
            digests.append(networks.network(session, "quadrant.QuadrantNet", {"num_channel": 8}).digest)
        finally:
            session.close()
    assert digests[0] == digests[1]
