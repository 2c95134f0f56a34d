"""The quadrant digits as the judge holds them, and the label-free copy the worker trains from."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.data import DigitSplit, load_split
from grader.judge.session import GradingSession


@dataclass(frozen=True)
class PreparedDigits:
    split: DigitSplit
    worker_file: Path


@functools.lru_cache(maxsize=4)
def _split(data_root: str | None) -> DigitSplit:
    return load_split(data_root)


def prepare_digits(grading: GradingSession) -> PreparedDigits:
    """Load the split once per process and write what the worker may see (no test labels)."""
    split = _split(grading.options.data_root)
    path = grading.inputs / "quadrant_digits.npz"
    if not path.exists():
        np.savez(
            path,
            train_digits=split.train_digits,
            train_labels=split.train_labels,
            test_digits=split.test_digits,
        )
    return PreparedDigits(split, path)
