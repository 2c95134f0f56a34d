"""The grader's own trainer for the robustness checks: every network gets the same seeded budget.

It runs in the judge, on networks rebuilt from their exported graphs (:mod:`grader.netgraph`): no student
code runs while a network trains or predicts, and the test labels never leave the judge.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from grader.budget import Budget


class TrainingTooLong(Exception):
    """Training went past its deadline (a network far larger or slower than the exercise needs)."""


def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    budget: Budget,
    device: str,
    deadline: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[float]:
    """Adam on cross-entropy over shuffled mini-batches; returns the mean loss of each epoch.

    ``deadline`` (a ``time.monotonic()`` value) stops training with :class:`TrainingTooLong`;
    ``progress(epoch)`` is called after each epoch.
    """
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=budget.lr)
    generator = torch.Generator().manual_seed(budget.seed)
    images, labels = images.to(device), labels.to(device)
    history = []
    for epoch in range(budget.epochs):
        order = torch.randperm(len(images), generator=generator).to(device)
        total = 0.0
        for start in range(0, len(images), budget.batch_size):
            if deadline is not None and time.monotonic() > deadline:
                raise TrainingTooLong(f"training was stopped after {epoch} epochs and {start:,} images")
            batch = order[start : start + budget.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss.item()}")
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        history.append(total / len(images))
        if progress is not None:
            progress(epoch + 1)
    return history


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, device: str, batch_size: int = 500) -> np.ndarray:
    """Argmax predictions in eval mode, as int64."""
    model.eval()
    out = [model(images[i : i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(out).numpy().astype(np.int64)
