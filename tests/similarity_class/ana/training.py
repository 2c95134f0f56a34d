"""Training a classifier: one epoch, evaluation, and early stopping.

Exercise module of cnn-grader: replace each ``raise NotImplementedError`` with your code.
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
    compute ``loss_fn(model(x), y)`` (a mean over the batch), backpropagate and step the optimizer.
    Return ``{"loss": float, "accuracy": float}``: the mean loss per *sample* and the fraction of
    samples whose argmax prediction equals y, over the whole epoch (a smaller last batch weighs
    less than a full one).
    """
    model.train()
    loss_sum = 0.0
    hits = 0
    seen = 0
    for batch_x, batch_y in loader:
        batch_x = batch_x.to(device)
        batch_y = batch_y.to(device)
        optimizer.zero_grad()
        predictions = model(batch_x)
        batch_loss = loss_fn(predictions, batch_y)
        batch_loss.backward()
        optimizer.step()
        size = batch_y.shape[0]
        loss_sum += batch_loss.item() * size
        hits += int((predictions.argmax(1) == batch_y).sum())
        seen += size
    return {"loss": loss_sum / seen, "accuracy": hits / seen}


def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable, device: str = "cpu") -> dict:
    """Evaluate ``model`` on ``loader`` without changing it.

    Run in eval mode with gradients disabled, then restore the model's previous train/eval mode.
    Return ``{"loss": float, "accuracy": float, "y_true": Tensor, "y_pred": Tensor}``: the mean
    loss per sample, the accuracy, and 1-D CPU int64 tensors of the labels and argmax predictions
    in loader order.
    """
    previous_mode = model.training
    model.eval()
    labels = []
    preds = []
    loss_sum = 0.0
    with torch.no_grad():
        for batch_x, batch_y in loader:
            batch_x, batch_y = batch_x.to(device), batch_y.to(device)
            output = model(batch_x)
            loss_sum += loss_fn(output, batch_y).item() * batch_y.size(0)
            labels.append(batch_y.cpu())
            preds.append(output.argmax(1).cpu())
    model.train(previous_mode)
    labels = torch.cat(labels).to(torch.int64)
    preds = torch.cat(preds).to(torch.int64)
    return {
        "loss": loss_sum / len(labels),
        "accuracy": (labels == preds).float().mean().item(),
        "y_true": labels,
        "y_pred": preds,
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
    epoch whose validation accuracy is strictly higher than every earlier one is the new best;
    keep a copy of the weights then. Stop after ``patience`` consecutive epochs without a new
    best. Before returning, load the best weights back into ``model``.
    Return ``{"train_loss": list[float], "val_accuracy": list[float], "best_epoch": int}`` with
    one entry per epoch run; ``best_epoch`` is a 0-based index into those lists.
    """
    train_losses = []
    val_accs = []
    best_acc = -1.0
    best_epoch = 0
    best_weights = copy.deepcopy(model.state_dict())
    bad_epochs = 0
    for epoch in range(epochs):
        stats = train_one_epoch(model, train_loader, optimizer, loss_fn, device)
        train_losses.append(stats["loss"])
        acc = evaluate(model, val_loader, loss_fn, device)["accuracy"]
        val_accs.append(acc)
        if acc > best_acc:
            best_acc = acc
            best_epoch = epoch
            best_weights = copy.deepcopy(model.state_dict())
            bad_epochs = 0
        else:
            bad_epochs += 1
        if bad_epochs >= patience:
            break
    model.load_state_dict(best_weights)
    return {"train_loss": train_losses, "val_accuracy": val_accs, "best_epoch": best_epoch}
