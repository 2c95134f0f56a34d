# Dmitri Ivanov -- assignment 3, explanations
from contextlib import contextmanager

import torch
import torch.nn.functional as F


@contextmanager
def _keep_modes(model):
    # save and restore training saved_flags
    saved_flags = [mdl.training for mdl in model.modules()]
    try:
        yield
    finally:
        for mdl, flag in zip(model.modules(), saved_flags, strict=True):
            mdl.training = flag


def _wanted_classes(logits, target_class):
    n, k = logits.shape
    if target_class is None:
        cls = logits.argmax(1)
    elif torch.is_tensor(target_class):
        cls = target_class.flatten().long()
        if cls.numel() == 1:
            cls = cls.repeat(n)
    else:
        cls = torch.tensor([int(target_class)]).repeat(n)
    if bool((cls < 0).any()) or bool((cls >= k).any()):
        raise IndexError("bad target_class")
    return cls.to(logits.device)


def grad_cam(model, x, target_layer, target_class=None):
    cache = {}

    def catch_output(layer, args, result):
        cache["fmap"] = result
        return result.clone()

    handle = target_layer.register_forward_hook(catch_output)
    with _keep_modes(model):
        try:
            with torch.enable_grad():
                logits = model(x.detach().requires_grad_())
                cls = _wanted_classes(logits, target_class)
                selected = logits[torch.arange(len(cls)), cls]
                grads = torch.autograd.grad(selected.sum(), cache["fmap"])[0]
        finally:
            handle.remove()
    fmap = cache["fmap"].detach()
    alpha = grads.mean(dim=-1).mean(dim=-1)
    heat = F.relu((fmap * alpha[:, :, None, None]).sum(1))
    normed = []
    for mdl in heat:
        spread = mdl.max() - mdl.min()
        normed.append((mdl - mdl.min()) / spread if spread > 0 else torch.zeros_like(mdl))
    heat = torch.stack(normed).unsqueeze(1)
    return F.interpolate(heat, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False).squeeze(1)


def activations(model, x, layers):
    captured = {}
    handles = []
    for j in range(len(layers)):
        handles.append(layers[j].register_forward_hook(lambda mdl, i, o, j=j: captured.__setitem__(j, o.detach())))
    try:
        with torch.no_grad():
            model(x)
    finally:
        while handles:
            handles.pop().remove()
    return [captured[j] for j in range(len(layers))]


def saliency_map(model, x, target_class=None):
    with _keep_modes(model):
        with torch.enable_grad():
            x_req = x.detach().clone()
            x_req.requires_grad = True
            logits = model(x_req)
            cls = _wanted_classes(logits, target_class)
            (x_grad,) = torch.autograd.grad(logits.gather(1, cls[:, None]).sum(), x_req)
    return x_grad.abs().max(1)[0]
