"""Training a classifier: one epoch, evaluation, and early stopping.

Exercise module of cnn-grader: replace each ``raise NotImplementedError`` with your code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn


def _run(model, loader, loss_fn, device, optimizer=None):
    """One pass over loader, training when an optimizer is given: mean loss, labels, predictions."""
    summed, labels, guesses = 0.0, [], []
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        if optimizer is not None:
            optimizer.zero_grad()
        scores = model(inputs)
        loss = loss_fn(scores, targets)
        if optimizer is not None:
            loss.backward()
            optimizer.step()
        summed += loss.item() * targets.numel()
        labels.append(targets.detach().cpu())
        guesses.append(scores.detach().argmax(dim=1).cpu())
    labels, guesses = torch.cat(labels).long(), torch.cat(guesses).long()
    return summed / labels.numel(), labels, guesses


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable,
    device: str = "cpu",
) -> dict:
    """Train ``model`` for one pass over ``loader`` (batches of ``(x, y)``) and return statistics.

    Put the model in train mode, and for each batch: move it to ``device``, clear the gradients,
    compute ``loss_fn(model(x), y)`` (a mean over the batch), backpropagate and step the optimizer.
    Return ``{"loss": float, "accuracy": float}``: the mean loss per *sample* and the fraction of
    samples whose argmax prediction equals y, over the whole epoch (a smaller last batch weighs
    less than a full one).
    """
    model.train()
    mean_loss, labels, guesses = _run(model, loader, loss_fn, device, optimizer)
    return {"loss": mean_loss, "accuracy": (labels == guesses).double().mean().item()}


def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable, device: str = "cpu") -> dict:
    """Evaluate ``model`` on ``loader`` without changing it.

    Run in eval mode with gradients disabled, then restore the model's previous train/eval mode.
    Return ``{"loss": float, "accuracy": float, "y_true": Tensor, "y_pred": Tensor}``: the mean
    loss per sample, the accuracy, and 1-D CPU int64 tensors of the labels and argmax predictions
    in loader order.
    """
    before = model.training
    model.eval()
    try:
        with torch.no_grad():
            mean_loss, labels, guesses = _run(model, loader, loss_fn, device)
    finally:
        model.train(before)
    accuracy = (labels == guesses).double().mean().item()
    return {"loss": mean_loss, "accuracy": accuracy, "y_true": labels, "y_pred": guesses}


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
    epoch whose validation accuracy is strictly higher than every earlier one is the new best;
    keep a copy of the weights then. Stop after ``patience`` consecutive epochs without a new
    best. Before returning, load the best weights back into ``model``.
    Return ``{"train_loss": list[float], "val_accuracy": list[float], "best_epoch": int}`` with
    one entry per epoch run; ``best_epoch`` is a 0-based index into those lists.
    """
    record = {"train_loss": [], "val_accuracy": [], "best_epoch": 0}
    best_state = {k: t.clone() for k, t in model.state_dict().items()}
    for epoch in range(epochs):
        record["train_loss"].append(train_one_epoch(model, train_loader, optimizer, loss_fn, device)["loss"])
        record["val_accuracy"].append(evaluate(model, val_loader, loss_fn, device)["accuracy"])
        if record["val_accuracy"][-1] > max(record["val_accuracy"][:-1], default=float("-inf")):
            record["best_epoch"] = epoch
            best_state = {k: t.clone() for k, t in model.state_dict().items()}
        elif epoch - record["best_epoch"] >= patience:
            break
    model.load_state_dict(best_state)
    return record
