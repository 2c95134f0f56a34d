"""training/...: train_one_epoch, evaluate and fit on deterministic set-ups, against the reference (stored vectors).

Every verdict rests on values the student's code computes and the reference recomputes (weights after an
epoch, returned statistics, losses and predictions, the state a model is left in); no wrapper is put around
the student's optimizer or model. Each set-up makes one behaviour show in those values:

- SGD with momentum: the weights after one epoch (the order of zero_grad, backward and step);
- stale ``.grad`` on every parameter before the epoch: a loop must clear gradients before each backward;
- a batch-norm model handed over in eval mode: batch statistics against running ones change the weights,
  so a loop that never calls ``model.train()`` ends elsewhere;
- a model with batch norm, dropout and a layer that shifts its output while gradients are enabled
  (:class:`course.testmodels.GradModeShift`), handed over in train mode: evaluate's loss and predictions
  are the reference's only in eval mode under ``torch.no_grad()``;
- a model whose validation accuracy follows a script and whose state counts its training batches
  (:class:`course.testmodels.ScriptedNet`): which epoch fit restored shows in the state it returns.

Loaders end with a batch of one sample (a ``logits.squeeze()`` breaks exactly there).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from course import vectors
from grader.checks.registry import check
from grader.judge import expect
from grader.judge.faults import CheckFailure
from grader.judge.session import GradingSession

N_SAMPLES, BATCH, FEATURES, CLASSES = 49, 8, 8, 3  # 49 = 6 full batches + a last batch of one
MODEL = {"name": "probe_mlp", "seed": 11, "features": FEATURES, "classes": CLASSES}
BN_MODEL = {**MODEL, "batch_norm": True}
EVAL_MODEL = {**MODEL, "batch_norm": True, "grad_shift": True}
MOMENTUM_SGD = {"lr": 0.1, "momentum": 0.9}
PLAIN_SGD = {"lr": 0.1}


def dataset(seed: int = 0, n: int = N_SAMPLES, features: int = FEATURES, classes: int = CLASSES):
    """Seeded (x, y) for the training set-ups."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = torch.randint(classes, (n,), generator=generator)
    return x.numpy(), y.numpy()


# stored key -> (model, optimizer, start mode, stale gradients, samples): the epochs the public checks compare
# (batch norm cannot train on a batch of one sample: its set-up ends with a batch of two)
EPOCHS = {
    "epoch": (MODEL, MOMENTUM_SGD, "train", False, N_SAMPLES),
    "epoch_zero_grad": (MODEL, PLAIN_SGD, "train", True, N_SAMPLES),
    "epoch_bn": (BN_MODEL, MOMENTUM_SGD, "eval", False, N_SAMPLES + 1),
}


# the mistakes each set-up tells apart (their weights are stored beside the right ones: course/vectors)
MISTAKES = {"epoch_zero_grad": ("no_zero_grad", "zero_grad_after_step"), "epoch_bn": ("eval_mode",)}
# stored key -> (model, gradients enabled, train mode): evaluate's right answer and the answers of its mistakes
EVALUATIONS = {
    "evaluate": (MODEL, False, False),
    "evaluate_modes": (EVAL_MODEL, False, False),
    "evaluate_modes.with_grad": (EVAL_MODEL, True, False),
    "evaluate_modes.train_mode": (EVAL_MODEL, False, True),
    "evaluate_modes.train_mode_with_grad": (EVAL_MODEL, True, True),
}


def ask_epoch(
    grading: GradingSession,
    model: dict,
    x: np.ndarray,
    y: np.ndarray,
    batch: int,
    optimizer: dict,
    start_mode: str = "train",
    preset_grads: bool = False,
) -> tuple[dict, str]:
    """Run train_one_epoch on ``model`` over (x, y) in batches of ``batch``; the reply and its description."""
    what = f"train_one_epoch(model, loader of {len(x)} samples in batches of {batch}, SGD {optimizer})"
    request = {"model": model, "x": x, "y": y, "batch_size": batch, "optimizer": optimizer}
    request |= {"start_mode": start_mode, "preset_grads": preset_grads}
    key = ("train_one_epoch", repr(sorted((k, repr(v)) for k, v in request.items())))
    reply = grading.memo(
        key, lambda: grading.ask("train_one_epoch", what, needs=("training.train_one_epoch",), **request)
    )
    return reply, what


def epoch_call(grading: GradingSession, key: str) -> tuple[dict, str]:
    model, optimizer, start, stale, n = EPOCHS[key]
    return ask_epoch(grading, model, *dataset(n=n), BATCH, optimizer, start_mode=start, preset_grads=stale)


def weights_differ(reply: dict, expected: dict[str, np.ndarray], tolerance: float = 1e-5) -> str | None:
    """The first weight in ``reply`` that differs from ``expected`` (a description), or None."""
    for name, want in expected.items():
        got = reply["weights"].get(name)
        if not isinstance(got, np.ndarray) or got.shape != want.shape:
            return f"the model has no weight {name!r} of shape {want.shape}"
        if got.dtype.kind == "f" and not np.all(np.isfinite(got)):
            return f"weight {name} holds NaN or infinite values"
        error = np.abs(got.astype(np.float64) - want)
        if np.any(error > tolerance):
            return f"weight {name} differs by up to {float(error.max()):.3g}"
    return None


def expect_weights(reply: dict, expected: dict[str, np.ndarray], after: str, why: str = "") -> None:
    """The model's weights in ``reply`` equal ``expected`` (to 1e-5) ``after`` what was done."""
    problem = weights_differ(reply, expected)
    if problem:
        raise CheckFailure(f"after {after}, {problem} from the reference's.{why}")


def stored_weights(key: str) -> dict[str, np.ndarray]:
    prefix = f"training/{key}/"
    return {k.removeprefix(prefix): v for k, v in vectors.arrays().items() if k.startswith(prefix)}


def stored_epoch(key: str = "epoch") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The reference's statistics and weights after one epoch of the set-up ``key`` (stored vectors)."""
    return vectors.table(f"training/{key}_stats"), stored_weights(key)


def mistake_in(reply: dict, key: str) -> str | None:
    """Which of the set-up's known mistakes the weights in ``reply`` are those of, if any."""
    for mistake in MISTAKES[key]:
        if weights_differ(reply, stored_weights(f"{key}.{mistake}")) is None:
            return mistake
    return None


@check(
    "training/train_one_epoch_updates",
    3,
    hint="per batch: clear the gradients, forward, loss, backward, step (in an order that trains on this batch)",
)
def test_train_one_epoch_updates(grading: GradingSession) -> None:
    reply, what = epoch_call(grading, "epoch")
    expect_weights(reply, stored_epoch("epoch")[1], f"{what}, one epoch of SGD with momentum")


@check(
    "training/train_one_epoch_statistics",
    2,
    hint="the epoch's loss is the mean per sample, not per batch: weight each batch by its size",
)
def test_train_one_epoch_statistics(grading: GradingSession) -> None:
    reply, what = epoch_call(grading, "epoch")
    stats, _ = stored_epoch("epoch")
    result = expect.as_dict(reply["result"], what, ("loss", "accuracy"))
    for key in ("loss", "accuracy"):
        got = expect.as_float(result[key], f'{what}["{key}"]')
        if abs(got - stats[key]) > 1e-5:
            raise CheckFailure(
                f'{what}["{key}"] is {got:.6f}, expected {stats[key]:.6f} (over all {N_SAMPLES} samples; '
                f"the last batch has only {N_SAMPLES % BATCH})."
            )


ZERO_GRAD_MISTAKES = {
    "no_zero_grad": "the gradients were never cleared: they accumulate over the batches",
    "zero_grad_after_step": "the gradients are cleared after each step, so the first step also used the stale "
    "gradients the model came with",
}


@check("training/zero_grad", 3, hint="gradients add up across backward() calls unless they are cleared")
def test_zero_grad(grading: GradingSession) -> None:
    """Fails on the weights of a gradient-clearing mistake; other wrong weights are train_one_epoch_updates'."""
    reply, what = epoch_call(grading, "epoch_zero_grad")
    mistake = mistake_in(reply, "epoch_zero_grad")
    if mistake:
        raise CheckFailure(
            f"{what} on a model handed over with stale .grad on every parameter: the weights are those of a loop "
            f"where {ZERO_GRAD_MISTAKES[mistake]}."
        )


@check("training/train_mode", 2, hint="the model may come in eval mode: put it in training mode first")
def test_train_mode(grading: GradingSession) -> None:
    """Fails on the weights of an epoch in eval mode; other wrong weights are train_one_epoch_updates'."""
    reply, what = epoch_call(grading, "epoch_bn")
    if mistake_in(reply, "epoch_bn"):
        raise CheckFailure(
            f"{what} on a batch-norm model handed over in eval mode: the weights are those of an epoch in eval mode "
            "(batch norm normalised with its running statistics, not the batch's)."
        )


def eval_samples(model: dict) -> int:
    """Evaluation sets end with a batch of one sample, except where batch norm in train mode must be told
    apart (it cannot run on one sample): there they end with two."""
    return N_SAMPLES + 1 if model.get("batch_norm") else N_SAMPLES


def eval_call(grading: GradingSession, model: dict, start_mode: str = "eval", mixed: bool = False) -> dict:
    x, y = dataset(seed=1, n=eval_samples(model))
    what = f"evaluate(model, loader of {len(x)} samples in batches of {BATCH})"
    return grading.memo(
        ("evaluate", repr(model), start_mode, mixed),
        lambda: grading.ask(
            "evaluate",
            what,
            needs=("training.evaluate",),
            model=model,
            x=x,
            y=y,
            batch_size=BATCH,
            start_mode=start_mode,
            mixed_modes=mixed,
        ),
    )


def evaluated(reply: dict, what: str) -> dict[str, Any]:
    """evaluate()'s result as numbers and label arrays (wrong types fail with the reason)."""
    result = expect.as_dict(reply["result"], what, ("loss", "accuracy", "y_true", "y_pred"))
    values: dict[str, Any] = {k: expect.as_float(result[k], f'{what}["{k}"]') for k in ("loss", "accuracy")}
    for key in ("y_true", "y_pred"):
        values[key] = expect.as_array(result[key], f'{what}["{key}"]').reshape(-1)
    return values


def matches(values: dict[str, Any], want: dict[str, Any]) -> bool:
    return (
        abs(values["loss"] - want["loss"]) <= 1e-5
        and abs(values["accuracy"] - want["accuracy"]) <= 1e-5
        and all(np.array_equal(values[k], want[k]) for k in ("y_true", "y_pred") if k in want)
    )


EVALUATE_MISTAKES = {
    "with_grad": "with gradients enabled (its model here behaves differently when they are on, as a model may)",
    "train_mode": "in train mode (batch norm used the batch's statistics)",
    "train_mode_with_grad": "in train mode and with gradients enabled",
}


def stored_evaluation(key: str) -> dict[str, Any]:
    labels = {k: vectors.array(f"training/{key}/{k}") for k in ("y_true", "y_pred")}
    return vectors.table(f"training/{key}") | labels


@check(
    "training/evaluate",
    2,
    hint="weight each batch's mean loss by its size; y_pred is the argmax of the logits, in loader order",
)
def test_evaluate(grading: GradingSession) -> None:
    what = "evaluate(...)"
    values = evaluated(eval_call(grading, MODEL), what)
    want = stored_evaluation("evaluate")
    for key in ("loss", "accuracy"):
        if abs(values[key] - want[key]) > 1e-5:
            raise CheckFailure(
                f'{what}["{key}"] is {values[key]:.6f}, expected {want[key]:.6f} (mean over all samples).'
            )
    for key in ("y_true", "y_pred"):
        if values[key].shape != (N_SAMPLES,) or not np.array_equal(values[key], want[key]):
            raise CheckFailure(f'{what}["{key}"] differs from the expected {N_SAMPLES} labels in loader order.')


@check(
    "training/evaluate_eval_mode_no_grad",
    2,
    hint="evaluation switches off what only training needs: training-time layers and gradient tracking",
)
def test_evaluate_eval_mode(grading: GradingSession) -> None:
    """Fails on the values of an evaluation in the wrong mode; other wrong values are training/evaluate's."""
    what = "evaluate() of a batch-norm model handed over in train mode"
    values = evaluated(eval_call(grading, EVAL_MODEL, "train"), what)
    for mistake, how in EVALUATE_MISTAKES.items():
        if matches(values, stored_evaluation(f"evaluate_modes.{mistake}")):
            raise CheckFailure(f"{what}: the loss and predictions are those of an evaluation {how}.")


@check(
    "training/evaluate_restores_mode",
    1,
    hint="remember every submodule's own mode before, and restore each one afterwards, also on error",
)
def test_evaluate_restores_mode(grading: GradingSession) -> None:
    changes = eval_call(grading, EVAL_MODEL, mixed=True)["changes"]
    if changes["modes"]:
        raise CheckFailure(
            "evaluate left these submodules of a model with mixed train/eval submodules in another mode: "
            f"{', '.join(changes['modes'][:4])}."
        )
    if changes["weights"]:
        raise CheckFailure("evaluate changed the model's weights.")


# fit(): validation accuracy per epoch is scripted; with patience 3 the best is epoch 3 (0-based) and the
# run stops after epoch 6. 0.9 at epoch 6 ties the best and must not count as a new best.
SCRIPT = [0.2, 0.5, 0.5, 0.9, 0.6, 0.7, 0.9, 0.8, 0.95, 1.0, 1.0, 1.0]
SCRIPT_EPOCHS, SCRIPT_PATIENCE, SCRIPT_RUN, SCRIPT_BEST = 12, 3, 7, 3
RISING = [0.2, 0.4, 0.6, 0.8]
FROM_ZERO = [0.0, 0.0, 0.5]  # a first epoch of accuracy 0 is still the best so far
FIT_CASES = (  # (script, epochs, patience): the public early-stopping runs
    (SCRIPT, SCRIPT_EPOCHS, SCRIPT_PATIENCE),
    (RISING, 4, 5),
    (FROM_ZERO, 3, 1),
    (RISING, 0, 2),  # epochs=0: nothing trained
)
N_VAL = 20
FIT_BATCH = 5


def fit_request(script: list[float], epochs: int, patience: int, seed: int = 3) -> dict[str, Any]:
    """The data and settings of one scripted fit() run (the worker and the reference build the same)."""
    generator = torch.Generator().manual_seed(seed)
    train_x = torch.cat([torch.zeros(15, 3), torch.randn(15, 4, generator=generator)], 1).numpy()
    train_y = torch.randint(3, (15,), generator=generator).numpy()
    val_y = torch.randint(3, (N_VAL,), generator=generator)
    index = torch.arange(N_VAL).float()[:, None]
    val_x = torch.cat([torch.ones(N_VAL, 1), index, val_y.float()[:, None], torch.zeros(N_VAL, 4)], 1).numpy()
    return {
        "script": list(script),
        "train_x": train_x,
        "train_y": train_y,
        "val_x": val_x,
        "val_y": val_y.numpy(),
        "batch_size": FIT_BATCH,
        "lr": 0.5,
        "epochs": epochs,
        "patience": patience,
    }


def fit_key(script: list[float], epochs: int, patience: int) -> str:
    return f"training/fit/{'-'.join(f'{v:g}' for v in script)}/{epochs}/{patience}"


def fit_call(grading: GradingSession, script: list[float], epochs: int, patience: int, seed: int = 3) -> dict:
    what = f"fit(model, ..., epochs={epochs}, patience={patience})"
    request = fit_request(script, epochs, patience, seed)
    return grading.memo(
        ("fit", tuple(script), epochs, patience, seed),
        lambda: grading.ask("fit", what, needs=("training.fit",), **request),
    )


def history(reply: dict, what: str) -> tuple[list[float], list[float], int]:
    result = expect.as_dict(reply["result"], what, ("train_loss", "val_accuracy", "best_epoch"))
    losses = [expect.as_float(v, f'{what}["train_loss"]') for v in expect.as_list(result["train_loss"], what)]
    accs = [expect.as_float(v, f'{what}["val_accuracy"]') for v in expect.as_list(result["val_accuracy"], what)]
    return losses, accs, expect.as_int(result["best_epoch"], f'{what}["best_epoch"]')


def compare_history(reply: dict, want: dict[str, Any], what: str) -> None:
    """The returned history against the reference's run: as many epochs, the same accuracies and losses."""
    losses, accs, _ = history(reply, what)
    run = len(want["val_accuracy"])
    if len(accs) != run or not np.allclose(accs, want["val_accuracy"], atol=1e-6):
        raise CheckFailure(
            f"{what} returned val_accuracy {[round(a, 3) for a in accs]}, expected {want['val_accuracy']} "
            f"({run} epochs, then stop)."
        )
    if len(losses) != run or not np.allclose(losses, want["train_loss"], atol=1e-5):
        shown = [round(v, 4) for v in losses]
        raise CheckFailure(
            f"{what} returned train_loss {shown}, expected {[round(v, 4) for v in want['train_loss']]} (each epoch's "
            "mean loss per sample, as train_one_epoch returns it)."
        )


def compare_restored(reply: dict, want: dict[str, Any], what: str) -> None:
    """best_epoch, and the state the model was left in: the best epoch's (its batch count tells)."""
    _, _, best = history(reply, what)
    if best != want["best_epoch"]:
        raise CheckFailure(
            f"{what} reported best_epoch {best}, expected {want['best_epoch']} (0-based; ties are not better)."
        )
    got = reply["final"].get("trained_batches")
    if not isinstance(got, np.ndarray) or int(got) != want["trained_batches"]:
        batches = int(got) if isinstance(got, np.ndarray) else None
        raise CheckFailure(
            f"{what}: the model was left with the state after {batches} training batches, expected the state saved "
            f"at the best epoch {want['best_epoch']} (after {want['trained_batches']}): save a copy of the whole "
            "state_dict at each new best and load it back before returning."
        )


@check(
    "training/early_stopping",
    1,
    hint="count the epochs since the last strictly better validation accuracy; stop when the count reaches patience",
)
def test_early_stopping(grading: GradingSession) -> None:
    for script, epochs, patience in FIT_CASES:
        what = f"fit(epochs={epochs}, patience={patience}) with validation accuracies {script}"
        compare_history(
            fit_call(grading, script, epochs, patience), vectors.table(fit_key(script, epochs, patience)), what
        )


@check(
    "training/restores_best_weights",
    1,
    hint="at each new best keep a copy (not a reference) of the state; load it back before returning",
)
def test_restores_best_weights(grading: GradingSession) -> None:
    for script, epochs, patience in FIT_CASES:
        what = f"fit(epochs={epochs}, patience={patience}) with validation accuracies {script}"
        compare_restored(
            fit_call(grading, script, epochs, patience), vectors.table(fit_key(script, epochs, patience)), what
        )
