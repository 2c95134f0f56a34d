"""Quadrant images: a digit pasted into one corner of a black canvas twice its size.

``paste`` is the vectorised batch version the grader trains with; ``RandomQuadrantPad`` is the course's
per-sample transform, provided to students (it is not an exercise).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

CORNERS: tuple[str, ...] = ("top_left", "top_right", "bottom_left", "bottom_right")


def corner_slices(corner: str, height: int, width: int) -> tuple[slice, slice]:
    """Rows and columns the image occupies on a ``2*height x 2*width`` canvas."""
    if corner not in CORNERS:
        raise ValueError(f"unknown corner {corner!r}; choose from {CORNERS}")
    rows = slice(0, height) if corner.startswith("top") else slice(height, 2 * height)
    cols = slice(0, width) if corner.endswith("left") else slice(width, 2 * width)
    return rows, cols


def paste(images: torch.Tensor, corner: str) -> torch.Tensor:
    """Paste a batch ``N x C x H x W`` into ``corner`` of zero canvases ``N x C x 2H x 2W`` (same dtype)."""
    if images.dim() != 4:
        raise ValueError(f"expected a batch N x C x H x W, got shape {tuple(images.shape)}")
    n, c, h, w = images.shape
    canvas = images.new_zeros((n, c, 2 * h, 2 * w))
    rows, cols = corner_slices(corner, h, w)
    canvas[:, :, rows, cols] = images
    return canvas


def digits_to_canvas(digits: np.ndarray | torch.Tensor, corner: str) -> torch.Tensor:
    """uint8 digits ``N x 28 x 28`` (numpy or torch) to float canvases ``N x 1 x 56 x 56`` in [0, 1]."""
    digits = digits if isinstance(digits, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(digits))
    n, h, w = digits.shape
    canvas = torch.zeros((n, 1, 2 * h, 2 * w))
    rows, cols = corner_slices(corner, h, w)
    canvas[:, 0, rows, cols] = digits.float().div_(255.0)
    return canvas


class RandomQuadrantPad:
    """Paste a ``C x H x W`` image into a random corner of a zero ``C x 2H x 2W`` canvas.

    PIL images are converted like ``ToTensor`` (float in [0, 1]); tensors keep their dtype; no
    normalisation. ``choices`` restricts the corners (validated); ``generator`` makes the draw
    reproducible (the course's original used Python's ``random`` and ignored ``torch.manual_seed``).
    """

    def __init__(self, choices: Sequence[str] | None = None, generator: torch.Generator | None = None) -> None:
        self.choices = tuple(choices) if choices is not None else CORNERS
        if not self.choices:
            raise ValueError("choices must name at least one corner")
        for corner in self.choices:
            corner_slices(corner, 1, 1)
        self.generator = generator

    def __call__(self, image) -> torch.Tensor:
        if not isinstance(image, torch.Tensor):
            from torchvision.transforms.functional import to_tensor

            image = to_tensor(image)
        if image.dim() != 3:
            raise ValueError(f"expected one image C x H x W, got shape {tuple(image.shape)}")
        index = int(torch.randint(len(self.choices), (1,), generator=self.generator))
        return paste(image.unsqueeze(0), self.choices[index])[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(choices={list(self.choices)})"
