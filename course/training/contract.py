"""The contract of the student module ``training``: every name students implement in it, defined once.

Stubs, the notebook, the solutions, the reference and the checks all follow it (grader/contract.py).
"""

from grader.contract import Exercise, Module

MODULE = Module(
    name="training",
    doc="Training a classifier: one epoch, evaluation, and early stopping.",
    imports=("from collections.abc import Callable, Iterable", "", "import torch", "from torch import nn"),
    exercises=(
        Exercise(
            "training",
            "train_one_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer, "
            'loss_fn: Callable, device: str = "cpu") -> dict',
            """Train ``model`` for one pass over ``loader`` (batches of ``(x, y)``) and return statistics.

            Put the model in train mode, and for each batch: move it to ``device``, clear the gradients,
            compute ``loss_fn(model(x), y)`` (a mean over the batch; one forward pass per batch), backpropagate
            and step the optimizer. Return ``{"loss": float, "accuracy": float}``: the mean loss per
            *sample* and the fraction of samples whose argmax prediction (of that forward pass) equals y,
            over the whole epoch (a smaller last batch weighs less than a full one; the last batch may
            hold a single sample).
            """,
        ),
        Exercise(
            "training",
            'evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable, device: str = "cpu") -> dict',
            """Evaluate ``model`` on ``loader`` without changing it.

            Run in eval mode with gradients disabled, then restore every submodule's own previous
            train/eval flag (a model may hold submodules in different modes), also on error.
            Return ``{"loss": float, "accuracy": float, "y_true": Tensor, "y_pred": Tensor}``: the mean
            loss per sample, the accuracy, and 1-D CPU int64 tensors of the labels and argmax predictions
            in loader order (the last batch may hold a single sample).
            """,
        ),
        Exercise(
            "training",
            "fit(model: nn.Module, train_loader: Iterable, val_loader: Iterable, "
            "optimizer: torch.optim.Optimizer, loss_fn: Callable, epochs: int, patience: int = 5, "
            'device: str = "cpu") -> dict',
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
            """,
        ),
    ),
)
