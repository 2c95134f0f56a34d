"""The lecture's networks written functionally: layers created in __init__, F.* calls in forward, torch.flatten,
a global max computed with x.amax over the feature map's height and width."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class QuadrantNet(nn.Module):
    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, num_channel, 5)
        self.conv2 = nn.Conv2d(num_channel, 2 * num_channel, 5)
        self.fc1 = nn.Linear(2 * num_channel * 11 * 11, 4 * num_channel)
        self.fc2 = nn.Linear(4 * num_channel, 2 * num_channel)
        self.fc3 = nn.Linear(2 * num_channel, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class RobustQuadrantNet(nn.Module):
    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, num_channel, 5, padding=2, bias=False)
        self.conv2 = nn.Conv2d(num_channel, 2 * num_channel, 5, padding=2)
        self.fc1 = nn.Linear(2 * num_channel, 4 * num_channel)
        self.fc2 = nn.Linear(4 * num_channel, 2 * num_channel)
        self.fc3 = nn.Linear(2 * num_channel, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.amax(dim=(-2, -1))
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)
