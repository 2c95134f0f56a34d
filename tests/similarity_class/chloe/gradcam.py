"""Looking inside a CNN: Grad-CAM, layer activations and saliency maps.

Exercise module of cnn-grader: replace each ``raise NotImplementedError`` with your code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _Recorder:
    """Keeps the output of one layer while it is registered."""

    def __init__(self, layer):
        self.output = None
        self.handle = layer.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        self.output = output
        return output * 1.0  # a copy, in case a later layer works in place

    def close(self):
        self.handle.remove()


def _class_indices(target_class, n):
    if target_class is None:
        return None
    if isinstance(target_class, torch.Tensor):
        idx = target_class.to(torch.long).flatten()
        return idx.expand(n) if idx.numel() == 1 else idx
    return torch.full((n,), target_class, dtype=torch.long)


def _selected_logits(logits, target_class):
    idx = _class_indices(target_class, logits.shape[0])
    if idx is None:
        idx = logits.argmax(dim=1)
    if idx.min().item() < 0 or idx.max().item() >= logits.shape[1]:
        raise IndexError(f"class index out of range: {idx.tolist()}")
    one_hot = F.one_hot(idx.to(logits.device), logits.shape[1]).to(logits.dtype)
    return (logits * one_hot).sum()


def _snapshot_modes(model):
    return {m: m.training for m in model.modules()}


def _restore_modes(modes):
    for m, flag in modes.items():
        m.training = flag


def grad_cam(
    model: nn.Module,
    x: torch.Tensor,
    target_layer: nn.Module,
    target_class: int | torch.Tensor | None = None,
) -> torch.Tensor:
    """Return Grad-CAM heatmaps (Selvaraju et al. 2017), N x H x W, for inputs x of N x C x H x W.

    1. Score: the logit (not the softmax) of ``target_class`` for each sample. ``target_class`` is
       an int (the same class for all), a tensor of N ints, or None (each sample's argmax).
    2. Weights: the spatial mean of the gradient of the score w.r.t. ``target_layer``'s output,
       one weight per channel and sample.
    3. Map: ReLU of the weighted sum of ``target_layer``'s output channels.
    4. Normalise each map on its own to [0, 1] by min-max; a constant map becomes all zeros
       (never NaN).
    5. Upsample bilinearly (``align_corners=False``) to x's H x W.

    Leave the model exactly as you found it, also when an exception is raised: its and every
    submodule's train/eval flag, no hooks left registered, parameters' ``.grad`` unchanged and
    weights unchanged. The result is detached.
    """
    modes = _snapshot_modes(model)
    recorder = _Recorder(target_layer)
    try:
        with torch.enable_grad():
            probe = x.detach().clone().requires_grad_(True)
            score = _selected_logits(model(probe), target_class)
            (grads,) = torch.autograd.grad(score, recorder.output)
        features = recorder.output.detach()
    finally:
        recorder.close()
        _restore_modes(modes)
    weights = grads.mean(dim=(-2, -1))
    heat = torch.clamp((features * weights[..., None, None]).sum(dim=1), min=0)
    lo = heat.amin(dim=(1, 2), keepdim=True)
    hi = heat.amax(dim=(1, 2), keepdim=True)
    scaled = (heat - lo) / (hi - lo).where(hi > lo, torch.ones_like(hi))
    scaled = scaled * (hi > lo)
    big = F.interpolate(scaled[:, None, :, :], size=x.shape[2:], mode="bilinear", align_corners=False)
    return big[:, 0, :, :]


def activations(model: nn.Module, x: torch.Tensor, layers: list[nn.Module]) -> list[torch.Tensor]:
    """Return the outputs of each module in ``layers`` when ``model`` runs on x, in the same order.

    Use forward hooks and remove them before returning (also on error). The outputs are detached;
    no gradients are computed.
    """
    recorders = [_Recorder(layer) for layer in layers]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for r in recorders:
            r.close()
    return [r.output.detach() for r in recorders]


def saliency_map(
    model: nn.Module,
    x: torch.Tensor,
    target_class: int | torch.Tensor | None = None,
) -> torch.Tensor:
    """Return vanilla-gradient saliency maps (Simonyan et al. 2014) of shape N x H x W.

    The score is the logit of ``target_class`` (as in ``grad_cam``); the map is the maximum over
    input channels of the absolute gradient of the score w.r.t. x. No normalisation. Leave the
    model as you found it (modes, ``.grad``, weights) and do not modify x.
    """
    modes = _snapshot_modes(model)
    try:
        with torch.enable_grad():
            probe = x.detach().clone().requires_grad_(True)
            score = _selected_logits(model(probe), target_class)
            (grads,) = torch.autograd.grad(score, probe)
    finally:
        _restore_modes(modes)
    return grads.abs().amax(dim=1)
