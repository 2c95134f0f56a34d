"""The lecture's quadrant CNN, with its first linear layer's inputs left to PyTorch (nn.LazyLinear), and the
lecture's translation-robust variant: same-padded convolutions without a bias on the first, a global max pool."""

from __future__ import annotations

import torch
from torch import nn


class QuadrantNet(nn.Module):
    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, num_channel, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(num_channel, 2 * num_channel, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.LazyLinear(4 * num_channel),  # the lecture: "let PyTorch work out the flattened size"
            nn.ReLU(),
            nn.Linear(4 * num_channel, 2 * num_channel),
            nn.ReLU(),
            nn.Linear(2 * num_channel, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x))


class RobustQuadrantNet(nn.Module):
    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, num_channel, kernel_size=5, padding="same", bias=False),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(num_channel, 2 * num_channel, kernel_size=5, padding="same"),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.pool = nn.AdaptiveMaxPool2d((1, 1))
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.LazyLinear(4 * num_channel),
            nn.ReLU(),
            nn.Linear(4 * num_channel, 2 * num_channel),
            nn.ReLU(),
            nn.Linear(2 * num_channel, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.conv(x)))
