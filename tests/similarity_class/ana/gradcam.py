"""Looking inside a CNN: Grad-CAM, layer activations and saliency maps.

Exercise module of cnn-grader: replace each ``raise NotImplementedError`` with your code.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn


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
    activations_store = []
    gradients_store = []

    def forward_hook(module, inp, out):
        activations_store.append(out)
        out.register_hook(lambda g: gradients_store.append(g))

    was_training = {name: m.training for name, m in model.named_modules()}
    old_grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    hook = target_layer.register_forward_hook(forward_hook)
    try:
        with torch.enable_grad():
            inp = x.clone().detach().requires_grad_(True)
            logits = model(inp)
            if target_class is None:
                target = logits.argmax(dim=1)
            elif isinstance(target_class, int):
                target = torch.tensor([target_class] * logits.shape[0])
            else:
                target = target_class.view(-1)
            if target.numel() == 1:
                target = target.repeat(logits.shape[0])
            if (target < 0).any() or (target >= logits.shape[1]).any():
                raise IndexError("target_class out of range")
            chosen = logits.gather(1, target.view(-1, 1).to(logits.device)).sum()
            chosen.backward()
    finally:
        hook.remove()
        for name, m in model.named_modules():
            m.training = was_training[name]
        for p, g in zip(model.parameters(), old_grads, strict=True):
            p.grad = g
    acts = activations_store[-1].detach()
    grads = gradients_store[-1]
    alpha = grads.mean(dim=[2, 3])
    cam = torch.relu(torch.einsum("nc,nchw->nhw", alpha, acts))
    flat = cam.view(cam.shape[0], -1)
    mins = flat.min(dim=1).values.view(-1, 1, 1)
    maxs = flat.max(dim=1).values.view(-1, 1, 1)
    rng = maxs - mins
    cam = torch.where(rng > 0, (cam - mins) / rng.clamp(min=1e-12), torch.zeros_like(cam))
    cam = F.interpolate(cam[:, None], size=(x.shape[2], x.shape[3]), mode="bilinear", align_corners=False)
    return cam[:, 0].detach()


def activations(model: nn.Module, x: torch.Tensor, layers: list[nn.Module]) -> list[torch.Tensor]:
    """Return the outputs of each module in ``layers`` when ``model`` runs on x, in the same order.

    Use forward hooks and remove them before returning (also on error). The outputs are detached;
    no gradients are computed.
    """
    captured = [None] * len(layers)

    def save(index, module, inp, out):
        captured[index] = out.detach()

    hooks = [layer.register_forward_hook(functools.partial(save, k)) for k, layer in enumerate(layers)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return captured


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
    was_training = {name: m.training for name, m in model.named_modules()}
    old_grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    try:
        with torch.enable_grad():
            inp = x.clone().detach().requires_grad_(True)
            logits = model(inp)
            if target_class is None:
                target = logits.argmax(dim=1)
            elif isinstance(target_class, int):
                target = torch.tensor([target_class] * logits.shape[0])
            else:
                target = target_class.view(-1).repeat(logits.shape[0] // target_class.numel())
            logits.gather(1, target.view(-1, 1).to(logits.device)).sum().backward()
    finally:
        for name, m in model.named_modules():
            m.training = was_training[name]
        for p, g in zip(model.parameters(), old_grads, strict=True):
            p.grad = g
    return inp.grad.abs().amax(dim=1)
