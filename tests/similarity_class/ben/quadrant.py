# Ben Okafor - part 2: the quadrant network
import torch.nn as nn


def _block(cin, cout, pad=0, bias=True):
    return [nn.Conv2d(cin, cout, kernel_size=5, padding=pad, bias=bias), nn.ReLU(), nn.MaxPool2d(kernel_size=2)]


def _head(n_in, c, num_classes):
    return nn.Sequential(
        nn.Linear(n_in, 4 * c),
        nn.ReLU(),
        nn.Linear(4 * c, 2 * c),
        nn.ReLU(),
        nn.Linear(2 * c, num_classes),
    )


class QuadrantNet(nn.Module):
    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        super().__init__()
        c = num_channel
        self.body = nn.Sequential(*_block(1, c), *_block(c, 2 * c))
        self.head = _head(2 * c * 11 * 11, c, num_classes)

    def forward(self, x):
        feats = self.body(x)
        return self.head(feats.reshape(feats.size(0), -1))


class RobustQuadrantNet(nn.Module):
    # same convolutions but padded, and a max over all positions instead of flattening them
    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        super().__init__()
        c = num_channel
        self.body = nn.Sequential(*_block(1, c, pad=2, bias=False), *_block(c, 2 * c, pad=2))
        self.head = _head(2 * c, c, num_classes)

    def forward(self, x):
        feats = self.body(x)
        pooled = feats.flatten(2).max(dim=2).values
        return self.head(pooled)
