"""The grader's training budget for the robustness checks, without torch: the trainer's (grader/trainer.py)
and the course configuration's defaults (grader/course.py), which the command line reads before it loads torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """The fixed training budget, calibrated in docs/calibration.md."""

    epochs: int = 2
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0
