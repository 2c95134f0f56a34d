"""Training a classifier: one epoch, evaluation, and early stopping (reference implementation)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

import torch
from torch import nn


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable,
    device: str = "cpu",
) -> dict:
    """The contract's ``training.train_one_epoch`` (docstring in grader/contract.py)."""
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        optimizer.step()
        batch = y.shape[0]
        loss_sum += loss.item() * batch
        correct += int((logits.detach().argmax(dim=1) == y).sum())
        seen += batch
    if seen == 0:
        raise ValueError("train_one_epoch got an empty loader")
    return {"loss": loss_sum / seen, "accuracy": correct / seen}


def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable, device: str = "cpu") -> dict:
    """The contract's ``training.evaluate`` (docstring in grader/contract.py).

    Every submodule's own train/eval flag is restored, also on error.
    """
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    loss_sum = 0.0
    labels: list[torch.Tensor] = []
    predictions: list[torch.Tensor] = []
    try:
        with torch.no_grad():
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                logits = model(x)
                loss_sum += loss_fn(logits, y).item() * y.shape[0]
                labels.append(y.reshape(-1).cpu().long())
                predictions.append(logits.argmax(dim=1).cpu().long())
    finally:
        for m, flag in flags:
            m.training = flag
    if not labels:
        raise ValueError("evaluate got an empty loader")
    y_true, y_pred = torch.cat(labels), torch.cat(predictions)
    seen = y_true.numel()
    return {
        "loss": loss_sum / seen,
        "accuracy": (y_true == y_pred).sum().item() / seen,
        "y_true": y_true,
        "y_pred": y_pred,
    }


def fit(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable,
    epochs: int,
    patience: int = 5,
    device: str = "cpu",
) -> dict:
    """The contract's ``training.fit`` (docstring in grader/contract.py)."""
    if epochs < 0 or patience < 1:
        raise ValueError(f"need epochs >= 0 and patience >= 1, got {epochs} and {patience}")
    train_loss: list[float] = []
    val_accuracy: list[float] = []
    best_epoch, best_state = -1, None
    for epoch in range(epochs):
        train_loss.append(train_one_epoch(model, train_loader, optimizer, loss_fn, device)["loss"])
        val_accuracy.append(evaluate(model, val_loader, loss_fn, device)["accuracy"])
        if best_state is None or val_accuracy[-1] > val_accuracy[best_epoch]:
            best_epoch, best_state = epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return {"train_loss": train_loss, "val_accuracy": val_accuracy, "best_epoch": best_epoch}
