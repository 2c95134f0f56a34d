"""The class summary's charts, drawn with matplotlib (Agg) and returned as PNG bytes (a submission's feedback page
draws its pictures without matplotlib: :mod:`grader.report.overlay`).

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
