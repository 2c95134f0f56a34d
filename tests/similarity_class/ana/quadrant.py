"""The quadrant CNN and a variant that is robust to where the digit sits.

Exercise module of cnn-grader: replace each ``raise NotImplementedError`` with your code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class QuadrantNet(nn.Module):
    """The quadrant CNN from the course.

    conv(1 -> c, 5x5) ReLU maxpool(2) conv(c -> 2c, 5x5) ReLU maxpool(2) flatten
    Linear(2c * 11 * 11 -> 4c) ReLU Linear(4c -> 2c) ReLU Linear(2c -> num_classes), where
    c = ``num_channel``. The input is N x 1 x 56 x 56; the output is N x num_classes logits (no
    softmax). For c = 8 it has 66,106 parameters.
    """

    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        """Create the layers. Call ``super().__init__()`` first."""
        super().__init__()
        self.conv1 = nn.Conv2d(1, num_channel, 5)
        self.conv2 = nn.Conv2d(num_channel, 2 * num_channel, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(2 * num_channel * 11 * 11, 4 * num_channel)
        self.fc2 = nn.Linear(4 * num_channel, 2 * num_channel)
        self.fc3 = nn.Linear(2 * num_channel, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map N x 1 x 56 x 56 images to N x num_classes logits."""
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class RobustQuadrantNet(nn.Module):
    """Your translation-robust variant of QuadrantNet.

    Trained on digits in the top-left corner only, it must classify digits in the bottom-right
    corner nearly as well. It must accept square inputs of other sizes too (e.g. N x 1 x 84 x 84)
    and return N x num_classes logits. Hint: what does a flatten layer remember that a global
    pooling layer forgets, and what does a valid convolution see at the canvas edge?
    """

    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        """Create the layers. Call ``super().__init__()`` first."""
        super().__init__()
        # padding 2 keeps the borders, no bias so that the black background stays 0
        self.conv1 = nn.Conv2d(1, num_channel, 5, padding=2, bias=False)
        self.conv2 = nn.Conv2d(num_channel, 2 * num_channel, 5, padding=2)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(2 * num_channel, 4 * num_channel)
        self.fc2 = nn.Linear(4 * num_channel, 2 * num_channel)
        self.fc3 = nn.Linear(2 * num_channel, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map N x 1 x H x W images to N x num_classes logits."""
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.amax(x, dim=(2, 3))  # global max pool: position does not matter any more
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)
