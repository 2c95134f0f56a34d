"""The grader's training budget for the robustness checks, without torch: the trainer's (grader/trainer.py)
and the course configuration's defaults (grader/course.py), which the command line reads before it loads torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """A training budget: ``images`` training images (shuffled passes over the digits until that many were seen;
    None: ``epochs`` whole passes), mini-batches of ``batch_size``, Adam with ``lr``, the order seeded by ``seed``.
    The robustness checks' values are calibrated in docs/calibration.md."""

    images: int | None = None
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0
    epochs: int = 1

    def passes(self, available: int) -> int:
        """Passes over ``available`` digits this budget starts (the last may stop part way)."""
        if self.images is None:
            return self.epochs
        return max(1, -(-self.images // max(available, 1)))
