"""The contract of the fixture module ``conv``: a 2-D convolution written by hand."""

from grader.contract import Exercise, Module

MODULE = Module(
    name="conv",
    doc="A 2-D convolution by hand, as nn.Conv2d computes it.",
    imports=("import torch",),
    exercises=(
        Exercise(
            "conv",
            "conv2d_manual(x: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0) -> torch.Tensor",
            """Return the cross-correlation of ``x`` (N x C x H x W) with ``weight`` (O x C x k x k), as
            ``torch.nn.functional.conv2d(x, weight, stride=stride, padding=padding)`` computes it, using only
            slicing, sums and products (no ``conv2d``, no ``unfold``).
            """,
        ),
    ),
)
