"""Compute what every grading of a batch shares, once per machine, before the gradings start."""

from __future__ import annotations

from course.gradcam.trained import prepare_shared
from grader.data import DataSet, DataUnavailable


def warm(data_root: str | None, dataset: DataSet | None = None) -> str:
    """Decompress the data set into the cache and train the grader's own Grad-CAM model once (both cached on disk).

    Without this, parallel gradings would each train the same model at the same time. Returns a line for
    the log; missing data is reported, not raised (each grading then says so in its own results).
    """
    try:
        split = prepare_shared(data_root, dataset)
    except DataUnavailable as exc:
        return f"no data prepared: {exc}"
    return f"data and reference model ready ({split.source})"
