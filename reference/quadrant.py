"""The quadrant CNN and its translation-robust variant (reference implementation)."""

from __future__ import annotations

import torch
from torch import nn

INPUT_SIZE = 56  # QuadrantNet's canvas: 56 x 56, four 28 x 28 quadrants


def _flat_side(input_size: int = INPUT_SIZE) -> int:
    """Side of the feature map after conv5 -> pool2 -> conv5 -> pool2 (valid convs, floor pools)."""
    side = input_size
    for _ in range(2):
        side = (side - 4) // 2
    return side


class QuadrantNet(nn.Module):
    """The contract's ``quadrant.QuadrantNet`` (docstring in grader/contract.py)."""

    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        """Create the layers."""
        super().__init__()
        c = num_channel
        side = _flat_side()  # 11 for 56 x 56 inputs
        self.conv1 = nn.Conv2d(1, c, kernel_size=5)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(c, 2 * c, kernel_size=5)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(2 * c * side * side, 4 * c)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(4 * c, 2 * c)
        self.relu4 = nn.ReLU()
        self.fc3 = nn.Linear(2 * c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map N x 1 x 56 x 56 images to N x num_classes logits."""
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.relu3(self.fc1(self.flatten(x)))
        x = self.relu4(self.fc2(x))
        return self.fc3(x)


class RobustQuadrantNet(nn.Module):
    """Translation-robust variant of QuadrantNet for square inputs of any size (56, 84, ...).

    conv(1 -> c, 5x5, padding 2, no bias) ReLU maxpool(2) conv(c -> 2c, 5x5, padding 2) ReLU maxpool(2), global max
    pooling over H and W, then Linear(2c -> 4c) ReLU Linear(4c -> 2c) ReLU Linear(2c -> num_classes).
    Zero padding makes the features equivariant to shifts by multiples of the total stride (4) and the
    global max forgets where a feature was, so a digit scores the same in every quadrant. conv1 has no
    bias, so the black background stays exactly zero and matches conv2's zero padding: with a bias the
    invariance is only approximate, and over seeds bottom-right accuracy fell to 0.88 of top-left
    (docs/calibration.md).
    """

    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        """Create the layers."""
        super().__init__()
        c = num_channel
        self.conv1 = nn.Conv2d(1, c, kernel_size=5, padding=2, bias=False)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(c, 2 * c, kernel_size=5, padding=2)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(2 * c, 4 * c)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(4 * c, 2 * c)
        self.relu4 = nn.ReLU()
        self.fc3 = nn.Linear(2 * c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map N x 1 x H x W images to N x num_classes logits."""
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = x.amax(dim=(2, 3))  # global max pooling: N x 2c
        x = self.relu3(self.fc1(x))
        x = self.relu4(self.fc2(x))
        return self.fc3(x)
