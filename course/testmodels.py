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


class GradModeShift(nn.Module):
    """Identity without gradients; adds ``shift`` while gradients are enabled.

    A value consequence of ``torch.no_grad()``: an ``evaluate`` that forgets it returns other losses and
    predictions, which the judge tells apart from the right ones without asking the worker anything.
    """

    def __init__(self, shift: float = 3.0) -> None:
        super().__init__()
        self.shift = shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.shift if torch.is_grad_enabled() else x


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
    With ``explode`` the head raises after the target layer has run; ``batch_norm`` puts a batch norm after
    ``features.2`` (so the mode a function computes in shows in its values); ``inplace`` makes the first
    ReLU in-place (so an activation that is not copied shows). Layers: ``features.0`` conv, ``.1`` ReLU,
    ``.2`` conv, ``.3`` batch norm or identity, ``.4`` ReLU, ``.5`` max pool.
    """

    def __init__(
        self,
        height: int,
        width: int,
        classes: int = 4,
        explode: bool = False,
        batch_norm: bool = False,
        inplace: bool = False,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1),
            nn.ReLU(inplace=inplace),  # in place: it overwrites features.0's output tensor
            nn.Conv2d(4, 6, 3, padding=1),
            nn.BatchNorm2d(6) if batch_norm else nn.Identity(),  # train and eval mode differ, deterministically
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
    """Linear-(BatchNorm)-ReLU-(Dropout)-(GradModeShift)-Linear: each optional layer makes one behaviour show.

    ``batch_norm`` makes train and eval mode give other outputs deterministically (batch statistics against
    running ones), so the mode a loop runs in shows in the weights after an epoch; ``dropout`` makes an
    evaluation in train mode random; ``grad_shift`` makes an evaluation with gradients enabled shift the logits.
    """

    def __init__(
        self,
        features: int = 8,
        classes: int = 3,
        dropout: float | None = None,
        batch_norm: bool = False,
        grad_shift: bool = False,
    ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(features, 16)
        self.norm = nn.BatchNorm1d(16) if batch_norm else nn.Identity()
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.shift = GradModeShift() if grad_shift else nn.Identity()
        self.fc2 = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.shift(self.drop(F.relu(self.norm(self.fc1(x))))))


class ScriptedNet(nn.Module):
    """Validation accuracy follows a script, whatever the training does; the state tells which epoch it is from.

    Inputs are rows ``[is_val, index, label, features...]``. Training rows go through a linear layer, and each
    training batch adds one to the buffer ``trained_batches`` (part of the state dict, so it is saved and
    restored with the weights). Validation rows, once ``trained_batches`` covers ``e`` epochs, get logits that
    are right for the first ``round(script[e - 1] * n_val)`` indices and wrong for the rest. The judge reads
    which epoch a returned model's state is from in its ``trained_batches``: evidence that only restoring the
    saved state can produce, with no instrumentation of the loop.
    """

    def __init__(self, script: list[float], batches_per_epoch: int, n_val: int, classes: int = 3) -> None:
        super().__init__()
        self.linear = nn.Linear(4, classes)
        self.register_buffer("trained_batches", torch.zeros((), dtype=torch.int64))
        self.script = script
        self.batches_per_epoch = batches_per_epoch
        self.n_val = n_val
        self.classes = classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear(x[:, 3:])
        is_val = x[:, 0] > 0.5
        if not bool(is_val.any()):
            with torch.no_grad():
                self.trained_batches += 1
            return out
        epoch = int(self.trained_batches) // self.batches_per_epoch
        accuracy = self.script[min(max(epoch, 1), len(self.script)) - 1]
        label = x[:, 2].long()
        correct = x[:, 1] < round(accuracy * self.n_val)
        target = torch.where(correct, label, (label + 1) % self.classes)
        scripted = F.one_hot(target, self.classes).float() * 10.0 + 0.0 * out
        return torch.where(is_val[:, None], scripted, out)


def batches(x: Any, y: Any, size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(x, y) as a list of batches in order (a re-iterable loader)."""
    xs = torch.from_numpy(np.asarray(x, dtype=np.float32).copy())
    ys = torch.from_numpy(np.asarray(y, dtype=np.int64).copy())
    return [(xs[i : i + size], ys[i : i + size]) for i in range(0, len(xs), size)]


def scripted_fit(request: dict[str, Any]) -> tuple[ScriptedNet, list, list, torch.optim.Optimizer]:
    """The fit() set-up of a request (script, data, batch size, learning rate), identical on both sides."""
    train = batches(request["train_x"], request["train_y"], request["batch_size"])
    val = batches(request["val_x"], request["val_y"], request["batch_size"])
    torch.manual_seed(0)
    model = ScriptedNet(request["script"], len(train), n_val=len(request["val_x"]))
    return model, train, val, torch.optim.SGD(model.parameters(), lr=request["lr"])


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
        options = {k: bool(spec[k]) for k in ("explode", "batch_norm", "inplace") if k in spec}
        model = _fill(CamNet(spec["height"], spec["width"], spec.get("classes", 4), **options), seed, scale)
        with torch.no_grad():
            model.head.weight.mul_(float(spec.get("head_scale", 1.0)))
            model.head.bias.mul_(float(spec.get("head_scale", 1.0)))
    elif name == "quadrant_cam":
        model = _fill(QuadrantCamNet(), seed, 0.05)
    elif name == "probe_mlp":
        layers = {k: spec[k] for k in ("dropout", "batch_norm", "grad_shift") if k in spec}
        model = _fill(ProbeMLP(spec.get("features", 8), spec.get("classes", 3), **layers), seed, scale)
    else:
        raise KeyError(f"unknown test model {name!r}")
    return model


def from_request(request: dict[str, Any]) -> nn.Module:
    """The test model a worker request names (``model``), with the request's ``weights`` where given."""
    model = build(request["model"])
    if "weights" in request:
        load_arrays(model, request["weights"])
    return model
