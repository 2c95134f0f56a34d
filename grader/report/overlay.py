"""A heat map over a grey image as a small PNG: the Grad-CAM pictures of the feedback page.

numpy and Pillow only. matplotlib drew them before and cost a grading about 0.7 s to import and 0.3 s to draw
(docs/performance.md); each tile is now one array operation and a PNG encoding, and the page lays the tiles
out in a table whose headers carry the labels.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

# matplotlib's "jet" (matplotlib._cm._jet_data): per channel, (position, value) on [0, 1], linear in between
JET = {
    "red": ((0.0, 0.0), (0.35, 0.0), (0.66, 1.0), (0.89, 1.0), (1.0, 0.5)),
    "green": ((0.0, 0.0), (0.125, 0.0), (0.375, 1.0), (0.64, 1.0), (0.91, 0.0), (1.0, 0.0)),
    "blue": ((0.0, 0.5), (0.11, 1.0), (0.34, 1.0), (0.65, 0.0), (1.0, 0.0)),
}
ALPHA = 0.45  # the heat map's opacity over the image
SCALE = 2  # each pixel drawn as SCALE x SCALE, so a 56 x 56 canvas is legible without smoothing


def jet(values: np.ndarray) -> np.ndarray:
    """RGB in [0, 1] (shape ``values.shape + (3,)``) of ``values``, clipped to [0, 1]."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0.0, 1.0)
    channels = []
    for name in ("red", "green", "blue"):
        points, levels = zip(*JET[name], strict=True)
        channels.append(np.interp(v, points, levels))
    return np.stack(channels, axis=-1)


def overlay(image: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """``heat`` (values in [0, 1]; others clipped) in jet colours at :data:`ALPHA` over the grey ``image`` (same
    H x W, values in [0, 1]): an H x W x 3 uint8 array."""
    grey = np.clip(np.nan_to_num(np.asarray(image, dtype=np.float64)), 0.0, 1.0)[..., None]
    rgb = (1.0 - ALPHA) * grey + ALPHA * jet(heat)
    return np.round(rgb * 255).astype(np.uint8)


def overlay_png(image: np.ndarray, heat: np.ndarray) -> bytes:
    """:func:`overlay` as PNG bytes, each pixel enlarged to :data:`SCALE` x :data:`SCALE`."""
    pixels = overlay(image, heat).repeat(SCALE, axis=0).repeat(SCALE, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
