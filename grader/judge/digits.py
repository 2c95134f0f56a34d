"""The quadrant digits as the judge holds them: the split (the Grad-CAM checks' quadrant model) and the
robustness experiment's pools. Nothing of the pools is sent to the worker (networks are trained and tested in
the judge, course/robustness/check_robustness.py)."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from grader.data import DataSet, DigitPools, DigitSplit, load_pools, load_split
from grader.judge.session import GradingSession


@dataclass(frozen=True)
class PreparedDigits:
    split: DigitSplit
    digest: str


def _digest(*arrays: np.ndarray, salt: bytes = b"") -> str:
    """A short hash of arrays' bytes (a cache key's part for the data they came from)."""
    hasher = hashlib.sha256(salt)
    for array in arrays:
        hasher.update(np.ascontiguousarray(array).tobytes())
    return hasher.hexdigest()[:16]


@functools.lru_cache(maxsize=4)
def _split(data_root: str | None, dataset: DataSet | None = None) -> tuple[DigitSplit, str]:
    """The split for a data root, loaded once per process, and a digest of its arrays."""
    split = load_split(data_root, dataset=dataset)
    return split, _digest(split.train_digits, split.train_labels, split.test_digits, split.test_labels)


def load_digits(data_root: str | None, dataset: DataSet | None = None) -> DigitSplit:
    """The split for ``data_root`` (loaded once per process); raises :class:`~grader.data.DataUnavailable`."""
    return _split(data_root, dataset)[0]


def prepare_digits(grading: GradingSession) -> PreparedDigits:
    """The split of the grading's data root, loaded once per process, and a digest of it (for cache keys)."""
    split, digest = _split(grading.options.data_root, grading.options.dataset)
    return PreparedDigits(split, digest)


@dataclass(frozen=True)
class PreparedPools:
    pools: DigitPools
    digest: str


@functools.lru_cache(maxsize=4)
def _pools(data_root: str | None, dataset: DataSet | None = None) -> tuple[DigitPools, str]:
    """The robustness experiment's digits for a data root, loaded once per process, and a digest of them."""
    pools = load_pools(data_root, dataset=dataset)
    arrays = (pools.train_digits, pools.train_labels, pools.pool_digits, pools.pool_labels)
    return pools, _digest(*arrays, salt=str(pools.full).encode())


def load_experiment(data_root: str | None, dataset: DataSet | None = None) -> DigitPools:
    """The robustness experiment's digits for ``data_root`` (loaded once per process); raises
    :class:`~grader.data.DataUnavailable`."""
    return _pools(data_root, dataset)[0]


def prepare_pools(grading: GradingSession) -> PreparedPools:
    """The robustness experiment's digits of the grading's data root, and a digest of them (for cache keys)."""
    pools, digest = _pools(grading.options.data_root, grading.options.dataset)
    return PreparedPools(pools, digest)
