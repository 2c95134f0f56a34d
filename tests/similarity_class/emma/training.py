"""Training a classifier: one epoch, evaluation, and early stopping.

Exercise module of cnn-grader: replace each ``raise NotImplementedError`` with your code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn


def _one_pass(model, loader, loss_fn, device, optimizer=None):
    """Go through the loader once (and train if we got an optimizer)."""
    loss_total, labels, predicted = 0.0, [], []
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        if optimizer is not None:
            optimizer.zero_grad()
        outputs = model(inputs)
        loss = loss_fn(outputs, targets)
        if optimizer is not None:
            loss.backward()
            optimizer.step()
        loss_total += loss.item() * targets.numel()
        labels.append(targets.detach().cpu())
        predicted.append(outputs.detach().argmax(dim=1).cpu())
    labels, predicted = torch.cat(labels).long(), torch.cat(predicted).long()
    return loss_total / labels.numel(), labels, predicted


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
    mean_loss, labels, predicted = _one_pass(model, loader, loss_fn, device, optimizer)
    return {"loss": mean_loss, "accuracy": (labels == predicted).double().mean().item()}


def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable, device: str = "cpu") -> dict:
    """Evaluate ``model`` on ``loader`` without changing it.

    Run in eval mode with gradients disabled, then restore the model's previous train/eval mode.
    Return ``{"loss": float, "accuracy": float, "y_true": Tensor, "y_pred": Tensor}``: the mean
    loss per sample, the accuracy, and 1-D CPU int64 tensors of the labels and argmax predictions
    in loader order.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            mean_loss, labels, predicted = _one_pass(model, loader, loss_fn, device)
    finally:
        model.train(was_training)
    accuracy = (labels == predicted).double().mean().item()
    return {"loss": mean_loss, "accuracy": accuracy, "y_true": labels, "y_pred": predicted}


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
    history = {"train_loss": [], "val_accuracy": [], "best_epoch": 0}
    best_weights = {k: t.clone() for k, t in model.state_dict().items()}
    for epoch in range(epochs):
        history["train_loss"].append(train_one_epoch(model, train_loader, optimizer, loss_fn, device)["loss"])
        history["val_accuracy"].append(evaluate(model, val_loader, loss_fn, device)["accuracy"])
        if history["val_accuracy"][-1] > max(history["val_accuracy"][:-1], default=float("-inf")):
            history["best_epoch"] = epoch
            best_weights = {k: t.clone() for k, t in model.state_dict().items()}
        elif epoch - history["best_epoch"] >= patience:
            break
    model.load_state_dict(best_weights)
    return history
