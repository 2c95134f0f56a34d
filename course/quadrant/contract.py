"""The contract of the student module ``quadrant``: every name students implement in it, defined once.

Stubs, the notebook, the solutions, the reference and the checks all follow it (grader/contract.py).
"""

from grader.contract import Exercise, Module

MODULE = Module(
    name="quadrant",
    doc="The quadrant CNN and a variant that is robust to where the digit sits.",
    imports=("import torch", "from torch import nn"),
    exercises=(
        Exercise(
            "quadrant",
            "QuadrantNet(nn.Module)",
            """The quadrant CNN from the course.

            conv(1 -> c, 5x5) ReLU maxpool(2) conv(c -> 2c, 5x5) ReLU maxpool(2) flatten
            Linear(2c * 11 * 11 -> 4c) ReLU Linear(4c -> 2c) ReLU Linear(2c -> num_classes), where
            c = ``num_channel``. The input is N x 1 x 56 x 56; the output is N x num_classes logits (no
            softmax). For c = 8 it has 66,106 parameters.
            """,
            kind="class",
            methods=(
                (
                    "__init__(self, num_channel: int = 8, num_classes: int = 10) -> None",
                    "Create the layers. Call ``super().__init__()`` first.",
                ),
                (
                    "forward(self, x: torch.Tensor) -> torch.Tensor",
                    "Map N x 1 x 56 x 56 images to N x num_classes logits.",
                ),
            ),
        ),
        Exercise(
            "quadrant",
            "RobustQuadrantNet(nn.Module)",
            """Your translation-robust variant of QuadrantNet.

            Trained on digits in the top-left corner only, it must classify digits in the bottom-right
            corner nearly as well. It must accept square inputs of other sizes too (e.g. N x 1 x 84 x 84)
            and return N x num_classes logits. Hint: what does a flatten layer remember that a global
            pooling layer forgets, and what does a valid convolution see at the canvas edge?

            How it is graded: the grader builds it (default arguments), trains it from initial weights
            of its own (each parameter drawn anew with the scale of yours) with its own trainer (Adam, lr
            0.003, batch 64, 16,000 top-left training images) and tests it on a secret sample of held-out
            digits in both corners. *Learning*: top-left accuracy reaches 0.60. *Invariance*: bottom-right
            accuracy is at least 0.87 of top-left accuracy, judged whenever top-left accuracy is above
            0.25 (a slow but invariant design keeps these points). A result that misses a rule, or lies
            close to a threshold, is measured again with two more seeds; the median decides.
            Networks (this one and QuadrantNet) are exported with ``torch.export`` and judged as graphs of
            tensor operations: write them as layers and torch operations. ``forward`` must be a function
            of its input: it may not change the network's own parameters or buffers (batch norm's running
            statistics aside), and no Python value may be read from a tensor (no ``if`` on a tensor,
            no ``.item()``, no numpy), so no data-dependent control flow; ``if self.training:`` is fine.
            """,
            kind="class",
            methods=(
                (
                    "__init__(self, num_channel: int = 8, num_classes: int = 10) -> None",
                    "Create the layers. Call ``super().__init__()`` first.",
                ),
                (
                    "forward(self, x: torch.Tensor) -> torch.Tensor",
                    "Map N x 1 x H x W images to N x num_classes logits.",
                ),
            ),
        ),
    ),
)
