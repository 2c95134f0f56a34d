"""Trusted models the judge trains once and caches on disk (the Grad-CAM peak check's quadrant model)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from course import testmodels
from grader.data import DataSet, DigitSplit, cache_dir, load_split
from grader.quadrants import CORNERS, digits_to_canvas
from grader.trainer import Budget, train_classifier

QUADRANT_CAM_VERSION = 1


def prepare_shared(data_root: str | None = None, dataset: DataSet | None = None) -> DigitSplit:
    """Load the split (decompressing it into the cache) and train the Grad-CAM model: once, cached on disk.

    Run before many gradings (a batch, an autograder's set-up) so that none of them pays for it.
    """
    split = load_split(data_root, dataset=dataset)
    quadrant_cam_weights(split)
    return split


def quadrant_canvases(digits: np.ndarray, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """Each digit pasted into a seeded random corner; returns canvases and the corner index of each."""
    corners = np.random.default_rng(seed).integers(len(CORNERS), size=len(digits))
    canvases = torch.empty(len(digits), 1, 56, 56)
    for index, corner in enumerate(CORNERS):
        chosen = corners == index
        if chosen.any():
            canvases[torch.from_numpy(chosen)] = digits_to_canvas(digits[chosen], corner)
    return canvases, corners


def quadrant_cam_weights(split: DigitSplit) -> dict[str, np.ndarray]:
    """Weights of :class:`~course.testmodels.QuadrantCamNet` trained on all corners, cached on disk."""
    # keyed by the images themselves: each data set (and split) trains its own model
    data = hashlib.sha256(np.ascontiguousarray(split.train_digits).tobytes())
    data.update(np.ascontiguousarray(split.train_labels).tobytes())
    name = f"quadrant_cam_v{QUADRANT_CAM_VERSION}_{len(split.train_digits)}_{data.hexdigest()[:16]}.npz"
    path = Path(cache_dir()) / name
    if path.exists():
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    model = testmodels.build({"name": "quadrant_cam", "seed": 0})
    images, _ = quadrant_canvases(split.train_digits, seed=0)
    train_classifier(model, images, torch.from_numpy(split.train_labels), Budget(epochs=1), "cpu")
    weights = testmodels.state_arrays(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez(tmp, **weights)
    tmp.replace(path)
    return weights
