"""The judge's own initial weights for a network it trains: the student's scale, none of the student's values.

The robustness checks train a network from scratch on top-left digits and test what it learnt. Weights handed
in could carry what was learnt elsewhere (a network pretrained on all four corners keeps its bottom-right
accuracy through two epochs of top-left digits), so the judge redraws every parameter tensor before it trains:

- a tensor whose values are all equal (a bias of zeros, batch norm's weight of ones, ``nn.init.constant_``)
  keeps that value;
- any other tensor is redrawn with its own mean and standard deviation: uniformly where its values lie within
  the uniform distribution's bounds (PyTorch's default Kaiming-uniform initialisation, Xavier-uniform), else
  from a normal distribution (``kaiming_normal_``, ``trunc_normal_``, ``normal_``).

So a custom initialisation keeps its scale and family, and no more than two numbers per tensor pass from the
student's weights into the training (counted among a network's fixed values, grader/netgraph.py). Batch norm's
running statistics start as PyTorch starts them (mean 0, variance 1, no batches counted).
"""

from __future__ import annotations

import math

import torch

from grader.netgraph import GraphNet

# A uniform distribution lies within sqrt(3) = 1.73 standard deviations of its mean (a sample's own deviation
# wanders a few percent); a normal sample of 50 values already reaches about 2.3.
UNIFORM_REACH = 2.0


def redraw(tensor: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A new tensor of ``tensor``'s shape and dtype with its mean and spread (see the module doc)."""
    values = tensor.detach().to(torch.float64).flatten()
    if values.numel() == 0:
        return tensor.detach().clone()
    mean = values.mean()
    std = values.std(correction=0) if values.numel() > 1 else values.new_zeros(())
    if not torch.isfinite(mean) or not torch.isfinite(std) or std == 0:
        return torch.full_like(tensor, float(mean) if torch.isfinite(mean) else 0.0)
    bound = math.sqrt(3.0) * float(std)
    noise = torch.empty(tensor.shape, dtype=torch.float64)
    if float((values - mean).abs().max()) <= UNIFORM_REACH * float(std):
        noise.uniform_(-bound, bound, generator=generator)
    else:
        noise.normal_(0.0, float(std), generator=generator)
    return (noise + mean).to(tensor.dtype)


def initialise(net: GraphNet, seed: int) -> None:
    """Redraw ``net``'s parameters and reset its batch norm statistics, in place, reproducibly from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key in sorted(net.weights):  # a fixed order: the same draws for the same network
            parameter = net.weights[key]
            parameter.copy_(redraw(parameter, generator))
        for key, role in net.batch_norm_statistics().items():
            buffer = getattr(net, f"frozen_{key}")
            buffer.fill_({"mean": 0, "var": 1, "count": 0}[role])
