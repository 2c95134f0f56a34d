"""Training a classifier: one epoch, evaluation, and early stopping.

Model answer.
"""

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
    """Train ``model`` for one pass over ``loader`` (batches of ``(x, y)``) and return statistics.

    Put the model in train mode, and for each batch: move it to ``device``, clear the gradients,
    compute ``loss_fn(model(x), y)`` (a mean over the batch; one forward pass per batch), backpropagate
    and step the optimizer. Return ``{"loss": float, "accuracy": float}``: the mean loss per
    *sample* and the fraction of samples whose argmax prediction (of that forward pass) equals y,
    over the whole epoch (a smaller last batch weighs less than a full one; the last batch may
    hold a single sample).
    """
    model.train()  # dropout and batch norm behave differently in training
    total_loss = 0.0
    correct = 0
    n = 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()  # gradients add up across backward() calls unless cleared
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        optimizer.step()

        # loss is the batch *mean*: multiply by the batch size so the last, smaller batch weighs less.
        total_loss += loss.item() * len(y)
        correct += (out.argmax(dim=1) == y).sum().item()
        n += len(y)
    return {"loss": total_loss / n, "accuracy": correct / n}


def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable, device: str = "cpu") -> dict:
    """Evaluate ``model`` on ``loader`` without changing it.

    Run in eval mode with gradients disabled, then restore every submodule's own previous
    train/eval flag (a model may hold submodules in different modes), also on error.
    Return ``{"loss": float, "accuracy": float, "y_true": Tensor, "y_pred": Tensor}``: the mean
    loss per sample, the accuracy, and 1-D CPU int64 tensors of the labels and argmax predictions
    in loader order (the last batch may hold a single sample).
    """
    was_training = {module: module.training for module in model.modules()}  # each submodule's own flag
    model.eval()
    total_loss = 0.0
    y_true, y_pred = [], []
    try:
        with torch.no_grad():
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                out = model(x)
                total_loss += loss_fn(out, y).item() * len(y)
                y_true.append(y.cpu())
                y_pred.append(out.argmax(dim=1).cpu())
    finally:
        for module, flag in was_training.items():  # put the model back the way we found it
            module.train(flag)

    y_true = torch.cat(y_true).long()
    y_pred = torch.cat(y_pred).long()
    n = len(y_true)
    return {
        "loss": total_loss / n,
        "accuracy": (y_true == y_pred).sum().item() / n,
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
    """Train for up to ``epochs`` epochs with early stopping on validation accuracy.

    Each epoch: ``train_one_epoch`` on ``train_loader``, then ``evaluate`` on ``val_loader``. An
    epoch whose validation accuracy is strictly higher than every earlier one is the new best
    (so the first epoch always is, even at accuracy 0); keep a copy of the model's whole
    ``state_dict`` (parameters and buffers) then. Stop after ``patience`` consecutive epochs
    without a new best. Before returning, load the best state back into ``model``.
    Return ``{"train_loss": list[float], "val_accuracy": list[float], "best_epoch": int}`` with
    one entry per epoch run (``train_loss``: each epoch's mean loss per sample, as
    ``train_one_epoch`` returns it); ``best_epoch`` is a 0-based index into those lists. With
    ``epochs=0`` nothing is trained: empty lists, ``best_epoch`` -1, the model unchanged.
    """
    history = {"train_loss": [], "val_accuracy": [], "best_epoch": -1}
    best_accuracy = float("-inf")
    best_state = None
    epochs_without_improvement = 0

    for epoch in range(epochs):
        train_stats = train_one_epoch(model, train_loader, optimizer, loss_fn, device)
        val_stats = evaluate(model, val_loader, loss_fn, device)
        history["train_loss"].append(train_stats["loss"])
        history["val_accuracy"].append(val_stats["accuracy"])

        if val_stats["accuracy"] > best_accuracy:
            best_accuracy = val_stats["accuracy"]
            history["best_epoch"] = epoch
            # state_dict() returns references to the live tensors: copy them, or later training
            # would change our "best" weights too.
            best_state = copy.deepcopy(model.state_dict())
            epochs_without_improvement = 0
        else:
            epochs_without_improvement += 1
            if epochs_without_improvement >= patience:
                break

    if best_state is not None:
        model.load_state_dict(best_state)
    return history
