"""The feedback's Grad-CAM pictures, stored: six quadrant digits, a small CNN trained on them, the reference maps.

Every feedback page (``cnn-grader grade``, ``grader.check`` in a notebook, the student bundle, which has neither
``reference/`` nor necessarily MNIST) shows the student's ``grad_cam`` on these digits beside the reference's:
the judge asks the student's function for its maps on the stored network and digits, and draws them above the
stored expected maps. ``python -m course.vectors.pictures`` writes ``pictures.npz`` (instructors only: it trains
the network on MNIST and needs ``reference/``); ``tests/test_vectors.py`` checks the stored maps are the
reference's on the stored network and digits.

Keys: ``x`` (N x 1 x 56 x 56 canvases), ``labels`` (N), ``expected`` (N x 56 x 56: the reference's maps with the
true digit as target), and ``weight/<name>`` for each tensor of :class:`~course.testmodels.QuadrantCamNet`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from course import testmodels

COUNT = 6
LAYER = "conv2"


def network(stored: dict[str, np.ndarray]) -> torch.nn.Module:
    """The stored QuadrantCamNet in eval mode."""
    model = testmodels.build({"name": "quadrant_cam"})
    weights = {key.removeprefix("weight/"): value for key, value in stored.items() if key.startswith("weight/")}
    testmodels.load_arrays(model, weights)
    return model.eval()


def reference_maps(stored: dict[str, np.ndarray]) -> np.ndarray:
    """The reference's Grad-CAM of the stored digits on the stored network (instructors only)."""
    from reference.gradcam import grad_cam

    model = network(stored)
    x = torch.from_numpy(np.asarray(stored["x"], dtype=np.float32))
    return grad_cam(model, x, model.get_submodule(LAYER), torch.from_numpy(stored["labels"])).numpy()


def build(data_root: str | None = None) -> dict[str, np.ndarray]:
    """Train the network on MNIST's training digits (as ``gradcam/peak_on_object`` does) and pick the digits."""
    from course.gradcam.trained import quadrant_cam_weights
    from grader.data import load_split
    from grader.quadrants import CORNERS, digits_to_canvas

    split = load_split(data_root)
    weights = quadrant_cam_weights(split)
    digits = split.test_digits[:COUNT]
    canvases = [digits_to_canvas(digits[i : i + 1], CORNERS[i % len(CORNERS)]) for i in range(COUNT)]  # each corner
    stored = {"x": torch.cat(canvases).numpy().astype(np.float32), "labels": split.test_labels[:COUNT].astype(np.int64)}
    stored |= {f"weight/{name}": value for name, value in weights.items()}
    stored["expected"] = reference_maps(stored).astype(np.float32)
    return stored


def encode(stored: dict[str, np.ndarray]) -> bytes:
    """The npz bytes, the same for the same values (the stored vectors' own encoding; instructors only)."""
    from course.vectors import ARRAYS_FILE
    from course.vectors.generate import encode as encode_vectors

    return encode_vectors({}, stored)[ARRAYS_FILE]


def main(argv: list[str] | None = None) -> None:
    from course.vectors import PICTURES_FILE, VECTORS_DIR

    parser = argparse.ArgumentParser(prog="python -m course.vectors.pictures", description=__doc__)
    parser.add_argument("--data-root", help="folder holding MNIST/raw (default $CNN_GRADER_DATA)")
    parser.add_argument("folder", type=Path, nargs="?", default=VECTORS_DIR)
    args = parser.parse_args(argv)
    (args.folder / PICTURES_FILE).write_bytes(encode(build(args.data_root)))
    print(f"wrote {args.folder / PICTURES_FILE}")


if __name__ == "__main__":
    main()
