"""The quadrant CNN and a variant that is robust to where the digit sits.

Exercise module of cnn-grader: replace each ``raise NotImplementedError`` with your code.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict

import torch
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
        self.net = nn.Sequential(
            OrderedDict(
                [
                    ("conv1", nn.Conv2d(1, num_channel, kernel_size=(5, 5))),
                    ("relu1", nn.ReLU(inplace=True)),
                    ("pool1", nn.MaxPool2d(kernel_size=(2, 2))),
                    ("conv2", nn.Conv2d(num_channel, num_channel * 2, kernel_size=(5, 5))),
                    ("relu2", nn.ReLU(inplace=True)),
                    ("pool2", nn.MaxPool2d(kernel_size=(2, 2))),
                    ("flatten", nn.Flatten()),
                    ("fc1", nn.Linear(num_channel * 2 * 121, num_channel * 4)),
                    ("relu3", nn.ReLU(inplace=True)),
                    ("fc2", nn.Linear(num_channel * 4, num_channel * 2)),
                    ("relu4", nn.ReLU(inplace=True)),
                    ("fc3", nn.Linear(num_channel * 2, num_classes)),
                ]
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map N x 1 x 56 x 56 images to N x num_classes logits."""
        return self.net(x)


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
        layers = []
        channels = [1, num_channel, 2 * num_channel]
        for i in range(2):
            layers.append(nn.Conv2d(channels[i], channels[i + 1], 5, padding=2, bias=(i > 0)))
            layers.append(nn.ReLU())
            layers.append(nn.MaxPool2d(2))
        layers.append(nn.AdaptiveMaxPool2d((1, 1)))
        layers.append(nn.Flatten())
        widths = [2 * num_channel, 4 * num_channel, 2 * num_channel]
        for a, b in itertools.pairwise(widths):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], num_classes))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map N x 1 x H x W images to N x num_classes logits."""
        for layer in self.layers:
            x = layer(x)
        return x
