# Dmitri Ivanov -- assignment 3, networks
import torch.nn as nn


def _conv_stage(in_ch, out_ch, padding_px=0, bias=True):
    return [
        nn.Conv2d(in_ch, out_ch, kernel_size=5, padding=padding_px, bias=bias),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2),
    ]


def _classifier(n_inputs, width, num_classes):
    return nn.Sequential(
        nn.Linear(n_inputs, 4 * width),
        nn.ReLU(),
        nn.Linear(4 * width, 2 * width),
        nn.ReLU(),
        nn.Linear(2 * width, num_classes),
    )


class QuadrantNet(nn.Module):
    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        super().__init__()
        width = num_channel
        self.backbone = nn.Sequential(*_conv_stage(1, width), *_conv_stage(width, 2 * width))
        self.fc = _classifier(2 * width * 11 * 11, width, num_classes)

    def forward(self, x):
        maps = self.backbone(x)
        return self.fc(maps.reshape(maps.size(0), -1))


class RobustQuadrantNet(nn.Module):
    # padded convs + global max pooling so location is forgotten
    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        super().__init__()
        width = num_channel
        self.backbone = nn.Sequential(
            *_conv_stage(1, width, padding_px=2, bias=False), *_conv_stage(width, 2 * width, padding_px=2)
        )
        self.fc = _classifier(2 * width, width, num_classes)

    def forward(self, x):
        maps = self.backbone(x)
        summary = maps.flatten(2).max(dim=2).values
        return self.fc(summary)
