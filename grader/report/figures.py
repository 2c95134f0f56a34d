"""The pictures of the HTML reports, drawn with matplotlib (Agg) and returned as PNG bytes.

Each function takes plain numbers and arrays (never a report), so it can be tested and reused alone.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402

DPI = 100


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def gradcam_comparison(images: np.ndarray, student: np.ndarray, reference: np.ndarray, labels: Sequence[int]) -> bytes:
    """Two rows over the same digits: the student's Grad-CAM, then the reference's, over the canvas."""
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.5 * n, 3.4), squeeze=False)
    for row, (title, maps) in enumerate((("yours", student), ("reference", reference))):
        for col in range(n):
            ax = axes[row][col]
            ax.imshow(images[col], cmap="gray", vmin=0, vmax=1)
            ax.imshow(np.clip(maps[col], 0, 1), cmap="jet", alpha=0.45, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"digit {labels[col]}", fontsize=9)
        axes[row][0].set_ylabel(title, fontsize=10)
    fig.tight_layout()
    return _png(fig)


def accuracy_bars(accuracies: dict[str, tuple[float, float]], learns: float) -> bytes:
    """Top-left vs bottom-right test accuracy per network, with the bar a network must learn to."""
    names = list(accuracies)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(names), 2.8))
    top_left = [accuracies[n][0] for n in names]
    bottom_right = [accuracies[n][1] for n in names]
    ax.bar(x - 0.2, top_left, 0.4, label="top-left (trained)", color="#4c72b0")
    ax.bar(x + 0.2, bottom_right, 0.4, label="bottom-right (unseen)", color="#dd8452")
    for offset, values in ((-0.2, top_left), (0.2, bottom_right)):
        for xi, value in zip(x + offset, values, strict=True):
            ax.text(xi, value + 0.02, f"{value:.2f}", ha="center", fontsize=8)
    ax.axhline(learns, color="gray", linestyle="--", linewidth=1)
    ax.set_xticks(x, names)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
    return _png(fig)


def score_histogram(scores: Sequence[float], max_score: float) -> bytes:
    """How many students scored what."""
    fig, ax = plt.subplots(figsize=(6, 2.8))
    bins = np.linspace(0, max(max_score, 1.0), 11)
    ax.hist(scores, bins=bins, color="#4c72b0", edgecolor="white")
    ax.set_xlabel(f"score (of {max_score:g})")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def _horizontal_bars(values: dict[str, float], xlabel: str, color: str, xmax: float | None = None) -> bytes:
    names = list(values)
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.22 * len(names)))
    ax.barh(range(len(names)), [values[n] for n in names], color=color)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.invert_yaxis()
    if xmax is not None:
        ax.set_xlim(0, xmax)
    ax.set_xlabel(xlabel)
    return _png(fig)


def pass_rates(rates: dict[str, float]) -> bytes:
    """Horizontal bars: the fraction of students who passed each check."""
    return _horizontal_bars(rates, "fraction of students who passed", "#55a868", xmax=1.0)


def grading_times(seconds: dict[str, float]) -> bytes:
    """Bars: grading time per submission."""
    return _horizontal_bars(seconds, "grading time (s)", "#8172b3")
