"""Looking inside a CNN: Grad-CAM, layer activations and saliency maps.

Model answer. None of the functions changes the model's train/eval mode: they compute in whatever mode
the model is in (call ``model.eval()`` yourself first). Gradients come from ``torch.autograd.grad``,
which returns them instead of adding them to the parameters' ``.grad`` as ``loss.backward()`` would.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _pick_scores(logits: torch.Tensor, target_class: int | torch.Tensor | None) -> torch.Tensor:
    """Return one logit per sample: the one of ``target_class`` (int, N ints, or None for the argmax)."""
    n, num_classes = logits.shape
    if target_class is None:
        classes = logits.argmax(dim=1)
    elif isinstance(target_class, torch.Tensor):
        classes = target_class.long().reshape(-1).expand(n)  # a one-element tensor counts for all
    else:
        classes = torch.full((n,), int(target_class), dtype=torch.long)
    if classes.min() < 0 or classes.max() >= num_classes:
        raise IndexError(f"target_class {classes.tolist()} is not in 0..{num_classes - 1}")
    rows = torch.arange(n)
    return logits[rows, classes.to(logits.device)]


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

    Compute in the mode the model is in (do not switch it to eval or train: the caller decides).
    Leave the model exactly as you found it, also when an exception is raised: its and every
    submodule's train/eval flag, no hooks left registered, parameters' ``.grad`` unchanged and
    weights unchanged; leave ``x`` alone too (its values, ``requires_grad`` and ``.grad``). The
    result is detached.
    """
    saved = {}

    def keep_output(module, inputs, output):
        saved["A"] = output
        # Hand a copy to the rest of the network: an in-place op after this layer
        # (e.g. ReLU(inplace=True)) would otherwise overwrite the activations we keep.
        return output.clone()

    # Remember every module's mode so that we can put it back whatever happens.
    modes = [(m, m.training) for m in model.modules()]
    handle = target_layer.register_forward_hook(keep_output)
    try:
        with torch.enable_grad():
            # x itself needs no gradient, but making it require one puts every layer's output in the
            # autograd graph, even when the model's parameters are frozen.
            x_in = x.detach().requires_grad_(True)
            logits = model(x_in)
            scores = _pick_scores(logits, target_class)
            A = saved["A"]  # N x C x h x w
            # The scores of different samples do not interact, so the gradient of their sum gives
            # every sample the gradient of its own score.
            (dA,) = torch.autograd.grad(scores.sum(), A)
    finally:
        handle.remove()
        for m, mode in modes:
            m.training = mode

    A = A.detach()
    weights = dA.mean(dim=(2, 3), keepdim=True)  # N x C x 1 x 1: one weight per channel and sample
    cam = F.relu((weights * A).sum(dim=1))  # N x h x w

    # Min-max normalise each map on its own, before upsampling.
    normalised = torch.zeros_like(cam)
    for i in range(cam.shape[0]):
        lo, hi = cam[i].min(), cam[i].max()
        if hi > lo:  # a constant map stays all zeros instead of 0 / 0 = NaN
            normalised[i] = (cam[i] - lo) / (hi - lo)

    upsampled = F.interpolate(normalised.unsqueeze(1), size=x.shape[-2:], mode="bilinear", align_corners=False)
    return upsampled.squeeze(1)


def activations(model: nn.Module, x: torch.Tensor, layers: list[nn.Module]) -> list[torch.Tensor]:
    """Return the outputs of each module in ``layers`` when ``model`` runs on x, in the same order.

    Use forward hooks and remove them before returning (also on error). Return each output as
    the layer produced it: a detached *copy* (a later in-place operation, such as
    ``nn.ReLU(inplace=True)``, would change the layer's own output tensor). No gradients are
    computed; the model and ``x`` are left as they were.
    """
    outputs = {}
    handles = []
    for i, layer in enumerate(layers):
        # i=i binds the current index (a plain closure would see the last i only).
        def hook(module, inputs, output, i=i):
            outputs[i] = output.detach().clone()  # a later in-place op must not change it

        handles.append(layer.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return [outputs[i] for i in range(len(layers))]


def saliency_map(
    model: nn.Module,
    x: torch.Tensor,
    target_class: int | torch.Tensor | None = None,
) -> torch.Tensor:
    """Return vanilla-gradient saliency maps (Simonyan et al. 2014) of shape N x H x W.

    The score is the logit of ``target_class`` (as in ``grad_cam``); the map is the maximum over
    input channels of the absolute gradient of the score w.r.t. x. No normalisation. Compute in
    the mode the model is in. Leave the model as you found it (modes, ``.grad``, weights) and do
    not touch the caller's x (its values, ``requires_grad`` and ``.grad``): differentiate a copy.
    """
    modes = [(m, m.training) for m in model.modules()]
    try:
        with torch.enable_grad():
            # A copy of x that records gradients; the caller's x stays untouched.
            x_in = x.detach().clone().requires_grad_(True)
            scores = _pick_scores(model(x_in), target_class)
            (dx,) = torch.autograd.grad(scores.sum(), x_in)
    finally:
        for m, mode in modes:
            m.training = mode
    return dx.abs().max(dim=1).values  # N x H x W
