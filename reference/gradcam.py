"""Grad-CAM, layer activations and saliency maps (reference implementation).

None of these functions switches the model's train/eval mode: they compute in the mode the model is in
(call ``model.eval()`` first for the usual maps). Each records every submodule's flag and restores it in
``finally`` all the same, removes its hooks in ``finally``, and uses ``torch.autograd.grad`` so that no
parameter's ``.grad`` is touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


@contextmanager
def _modes_restored(model: nn.Module) -> Iterator[None]:
    """Restore the train/eval flag of ``model`` and every submodule on exit, also on error."""
    flags = [(m, m.training) for m in model.modules()]
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


def _target_scores(logits: torch.Tensor, target_class: int | torch.Tensor | None) -> torch.Tensor:
    """Pick each sample's logit of ``target_class`` (int, tensor of N ints, or None for the argmax)."""
    if logits.dim() != 2:
        raise ValueError(f"the model must return N x num_classes logits, got shape {tuple(logits.shape)}")
    n, num_classes = logits.shape
    if target_class is None:
        index = logits.detach().argmax(dim=1)
    elif isinstance(target_class, torch.Tensor):
        if target_class.is_floating_point() or target_class.is_complex():
            raise TypeError(f"target_class must hold integers, got dtype {target_class.dtype}")
        index = target_class.to(device=logits.device, dtype=torch.long).reshape(-1)
        if index.numel() == 1:
            index = index.expand(n)
        if index.numel() != n:
            raise ValueError(f"target_class has {index.numel()} entries for a batch of {n}")
    else:
        index = torch.full((n,), int(target_class), dtype=torch.long, device=logits.device)
    if n and (index.min() < 0 or index.max() >= num_classes):
        raise IndexError(f"target_class out of range for {num_classes} classes: {index.tolist()}")
    return logits.gather(1, index[:, None])[:, 0]


def _minmax_per_image(maps: torch.Tensor) -> torch.Tensor:
    """Scale each N x h x w map to [0, 1]; a constant map becomes zeros (no epsilon, never NaN)."""
    flat = maps.flatten(1)
    lo = flat.amin(dim=1)[:, None, None]
    span = flat.amax(dim=1)[:, None, None] - lo
    nonconstant = span > 0
    return torch.where(nonconstant, (maps - lo) / torch.where(nonconstant, span, 1.0), 0.0)


def grad_cam(
    model: nn.Module,
    x: torch.Tensor,
    target_layer: nn.Module,
    target_class: int | torch.Tensor | None = None,
) -> torch.Tensor:
    """The contract's ``gradcam.grad_cam`` (docstring in grader/contract.py).

    The target layer's output is captured by a forward hook as a fresh leaf tensor ``A``; the rest of the
    network runs on a copy of it, so an in-place op after the layer (``ReLU(inplace=True)``) cannot change
    ``A``, and frozen models (no parameter requires grad) work too. If the layer runs more than once per
    forward, its last call counts. Samples are independent (the scores are summed) unless the model mixes
    them, e.g. BatchNorm in train mode.
    """
    captured: list[torch.Tensor] = []

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        if not isinstance(output, torch.Tensor) or output.dim() != 4:
            raise TypeError("grad_cam needs a target layer whose output is an N x C x h x w tensor")
        leaf = output.detach().requires_grad_(True)
        captured[:] = [leaf]
        return leaf.clone()

    with _modes_restored(model), torch.enable_grad():
        handle = target_layer.register_forward_hook(hook)
        try:
            scores = _target_scores(model(x), target_class)
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError("target_layer did not run in model's forward pass")
        (activation,) = captured
        (grads,) = torch.autograd.grad(scores.sum(), activation)

    weights = grads.mean(dim=(2, 3))  # N x C
    cam = torch.relu(torch.einsum("nc,nchw->nhw", weights, activation.detach()))
    cam = _minmax_per_image(cam)
    return F.interpolate(cam[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]


def activations(model: nn.Module, x: torch.Tensor, layers: list[nn.Module]) -> list[torch.Tensor]:
    """The contract's ``gradcam.activations`` (docstring in grader/contract.py).

    A layer that runs more than once per forward reports its last output; a
    layer listed twice appears twice.
    """
    outputs: dict[int, torch.Tensor] = {}

    def make_hook(position: int):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            outputs[position] = output.detach().clone()

        return hook

    handles = [layer.register_forward_hook(make_hook(i)) for i, layer in enumerate(layers)]
    try:
        with torch.no_grad(), _modes_restored(model):
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    missing = [i for i in range(len(layers)) if i not in outputs]
    if missing:
        raise RuntimeError(f"layers at positions {missing} did not run in model's forward pass")
    return [outputs[i] for i in range(len(layers))]


def saliency_map(
    model: nn.Module,
    x: torch.Tensor,
    target_class: int | torch.Tensor | None = None,
) -> torch.Tensor:
    """The contract's ``gradcam.saliency_map`` (docstring in grader/contract.py)."""
    x_leaf = x.detach().clone().requires_grad_(True)
    with _modes_restored(model), torch.enable_grad():
        scores = _target_scores(model(x_leaf), target_class)
        (grads,) = torch.autograd.grad(scores.sum(), x_leaf)
    return grads.abs().amax(dim=1)
