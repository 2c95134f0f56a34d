"""Purpose-built models the checks hand to student functions.

Public, trusted code used on both sides: the judge builds a model from a spec to compute the expected
answer with ``reference/``, the worker builds the identical model from the same spec to run the
student's function. Weights come from a seeded generator (never the global RNG), so both sides get
bit-identical models without sending them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _fill(model: nn.Module, seed: int, scale: float) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, param in sorted(model.named_parameters()):
            param.copy_(torch.randn(param.shape, generator=generator) * scale)
    return model


class ModeProbe(nn.Module):
    """Identity layer that logs ``(training, grad_enabled)`` at every forward call."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.log.append((self.training, torch.is_grad_enabled()))
        return x


class ParamCountingNet(nn.Module):
    """Conv + BatchNorm + two Linear layers sharing one weight, with a frozen layer.

    Parameters: conv 3*6*3*3 + 6 = 168, bn 6 + 6 = 12 (buffers do not count), shared linear weight 6*6 = 36
    counted once, biases 6 + 6 = 12, frozen head 6*4 + 4 = 28.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)
        self.bn = nn.BatchNorm2d(6)
        self.a = nn.Linear(6, 6)
        self.b = nn.Linear(6, 6)
        self.b.weight = self.a.weight
        self.head = nn.Linear(6, 4)
        self.head.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x)).mean((2, 3))
        return self.head(self.b(F.relu(self.a(x))))


class CamNet(nn.Module):
    """Two padded convs, a max pool and a linear head over the flattened map.

    The head sees every position with its own weight, so gradients at the target layer
    (``features.2``) vary across the image. ``head_scale`` multiplies the logits (0 gives a zero map).
    With ``explode`` the head raises after the target layer has run.
    """

    def __init__(self, height: int, width: int, classes: int = 4, explode: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(4, 6, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Linear(6 * (height // 2) * (width // 2), classes)
        self.explode = explode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)
        if self.explode:
            raise RuntimeError("CamNet exploded on purpose after the target layer ran")
        return self.head(features.flatten(1))


class QuadrantCamNet(nn.Module):
    """A small padded CNN trained on quadrant digits (all corners); Grad-CAM target ``conv2``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5, padding=2)
        self.conv2 = nn.Conv2d(8, 16, 5, padding=2)
        self.head = nn.Linear(16 * 14 * 14, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.head(x.flatten(1))


class ProbeMLP(nn.Module):
    """Linear-ReLU-(Dropout)-Linear with a :class:`ModeProbe` after the first layer."""

    def __init__(self, features: int = 8, classes: int = 3, dropout: float | None = None) -> None:
        super().__init__()
        self.fc1 = nn.Linear(features, 16)
        self.probe = ModeProbe()
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.fc2 = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(F.relu(self.probe(self.fc1(x)))))


class EpochCounter:
    """Counts passes over a :class:`CountingLoader` (shared with :class:`ScriptedNet`)."""

    def __init__(self) -> None:
        self.epoch = 0


class CountingLoader:
    """A re-iterable list of batches that counts how often it was iterated."""

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]], counter: EpochCounter) -> None:
        self.batches = batches
        self.counter = counter

    def __iter__(self):
        self.counter.epoch += 1
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class ScriptedNet(nn.Module):
    """Validation accuracy follows a script, whatever the training does; training still moves weights.

    Inputs are rows ``[is_val, index, label, features...]``. Training rows go through a linear layer.
    Validation rows after ``e`` training epochs get logits that are right for the first
    ``round(script[e - 1] * n_val)`` indices and wrong for the rest. At the first validation call of
    each epoch the weights are snapshotted, so the judge can tell which epoch's weights fit() kept.
    """

    def __init__(self, script: list[float], counter: EpochCounter, n_val: int, classes: int = 3) -> None:
        super().__init__()
        self.linear = nn.Linear(4, classes)
        self.script = script
        self.counter = counter
        self.n_val = n_val
        self.classes = classes
        self.snapshots: dict[int, dict[str, np.ndarray]] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear(x[:, 3:])
        is_val = x[:, 0] > 0.5
        if not bool(is_val.any()):
            return out
        epoch = self.counter.epoch
        if epoch not in self.snapshots:
            self.snapshots[epoch] = state_arrays(self)
        accuracy = self.script[min(max(epoch, 1), len(self.script)) - 1]
        label = x[:, 2].long()
        correct = x[:, 1] < round(accuracy * self.n_val)
        target = torch.where(correct, label, (label + 1) % self.classes)
        scripted = F.one_hot(target, self.classes).float() * 10.0 + 0.0 * out
        return torch.where(is_val[:, None], scripted, out)


def state_arrays(model: nn.Module) -> dict[str, np.ndarray]:
    """The model's parameters and buffers as numpy copies, by state-dict name."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def load_arrays(model: nn.Module, arrays: dict[str, np.ndarray]) -> nn.Module:
    """Load numpy arrays (as from :func:`state_arrays`) into ``model`` strictly."""
    model.load_state_dict({k: torch.from_numpy(np.asarray(v).copy()) for k, v in arrays.items()})
    return model


def build(spec: dict[str, Any]) -> nn.Module:
    """Build the model a spec names, e.g. ``{"name": "cam_net", "seed": 1, "height": 12, "width": 20}``.

    Specs are plain JSON so they travel to the worker; ``scale`` sets the init's standard deviation.
    """
    name, seed, scale = spec["name"], int(spec.get("seed", 0)), float(spec.get("scale", 0.5))
    if name == "param_counting":
        model: nn.Module = _fill(ParamCountingNet(), seed, scale)
    elif name == "cam_net":
        model = _fill(
            CamNet(spec["height"], spec["width"], spec.get("classes", 4), spec.get("explode", False)),
            seed,
            scale,
        )
        with torch.no_grad():
            model.head.weight.mul_(float(spec.get("head_scale", 1.0)))
            model.head.bias.mul_(float(spec.get("head_scale", 1.0)))
    elif name == "quadrant_cam":
        model = _fill(QuadrantCamNet(), seed, 0.05)
    elif name == "probe_mlp":
        model = _fill(ProbeMLP(spec.get("features", 8), spec.get("classes", 3), spec.get("dropout")), seed, scale)
    else:
        raise KeyError(f"unknown test model {name!r}")
    return model


def probe_log(model: nn.Module) -> list[tuple[bool, bool]]:
    """All ``(training, grad_enabled)`` records of the model's probes, in call order."""
    return [entry for m in model.modules() if isinstance(m, ModeProbe) for entry in m.log]
