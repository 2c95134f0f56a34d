# Ben Okafor - part 3: Grad-CAM, activations, saliency
from contextlib import contextmanager

import torch
import torch.nn.functional as F


@contextmanager
def _preserve(model):
    # remember the train/eval flag of every submodule and put them all back afterwards
    flags = [m.training for m in model.modules()]
    try:
        yield
    finally:
        for m, f in zip(model.modules(), flags, strict=True):
            m.training = f


def _targets(logits, target_class):
    n, k = logits.shape
    if target_class is None:
        t = logits.argmax(1)
    elif torch.is_tensor(target_class):
        t = target_class.flatten().long()
        if t.numel() == 1:
            t = t.repeat(n)
    else:
        t = torch.tensor([int(target_class)]).repeat(n)
    if bool((t < 0).any()) or bool((t >= k).any()):
        raise IndexError("bad target_class")
    return t.to(logits.device)


def grad_cam(model, x, target_layer, target_class=None):
    store = {}

    def grab(mod, args, output):
        store["feat"] = output
        return output.clone()

    h = target_layer.register_forward_hook(grab)
    with _preserve(model):
        try:
            with torch.enable_grad():
                logits = model(x.detach().requires_grad_())
                t = _targets(logits, target_class)
                picked = logits[torch.arange(len(t)), t]
                g = torch.autograd.grad(picked.sum(), store["feat"])[0]
        finally:
            h.remove()
    feat = store["feat"].detach()
    w = g.mean(dim=-1).mean(dim=-1)
    cam = F.relu((feat * w[:, :, None, None]).sum(1))
    out = []
    for m in cam:
        span = m.max() - m.min()
        out.append((m - m.min()) / span if span > 0 else torch.zeros_like(m))
    cam = torch.stack(out).unsqueeze(1)
    return F.interpolate(cam, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False).squeeze(1)


def activations(model, x, layers):
    got = {}
    hs = []
    for j in range(len(layers)):
        hs.append(layers[j].register_forward_hook(lambda m, i, o, j=j: got.__setitem__(j, o.detach())))
    try:
        with torch.no_grad():
            model(x)
    finally:
        while hs:
            hs.pop().remove()
    return [got[j] for j in range(len(layers))]


def saliency_map(model, x, target_class=None):
    with _preserve(model):
        with torch.enable_grad():
            inp = x.detach().clone()
            inp.requires_grad = True
            logits = model(inp)
            t = _targets(logits, target_class)
            (grad,) = torch.autograd.grad(logits.gather(1, t[:, None]).sum(), inp)
    return grad.abs().max(1)[0]
