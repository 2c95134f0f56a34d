"""The Grad-CAM group's panel on the feedback page: the student's maps over the stored pictures, the reference's
below (recorded by ``gradcam/matches_reference``)."""

from __future__ import annotations

from typing import Any

from grader.report.html import gradcam_table


def panels(shown: dict[str, Any]) -> list[str]:
    """HTML blocks from the public checks' records (``shown``: record name -> record with ``arrays``)."""
    if "gradcam:digits" not in shown:
        return []
    cam = shown["gradcam:digits"].arrays
    return [
        "<p>Grad-CAM (target: the true digit) of a small CNN trained on quadrant digits, on six test digits "
        "shipped with the course: yours on top, the reference's below.</p>"
        + gradcam_table(cam["images"], cam["student"], cam["reference"], cam["labels"].tolist())
    ]
