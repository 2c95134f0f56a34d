"""training/...: train_one_epoch, evaluate and fit on deterministic set-ups, against the reference (stored vectors).

Each set-up isolates one behaviour: weights after an epoch (SGD with momentum), gradients at every step
with a zero learning rate (to see accumulation), a model that starts in eval mode, a dropout model for
evaluate, and a model whose validation accuracy follows a script for early stopping.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from grader import testmodels, vectors
from grader.checks.registry import check
from grader.judge import expect
from grader.judge.faults import CheckFailure
from grader.judge.session import GradingSession

N_SAMPLES, BATCH, FEATURES, CLASSES = 50, 8, 8, 3  # 50 = 6 full batches + a last batch of 2
MODEL = {"name": "probe_mlp", "seed": 11, "features": FEATURES, "classes": CLASSES}
DROPOUT_MODEL = {**MODEL, "dropout": 0.5}
MOMENTUM_SGD = {"lr": 0.1, "momentum": 0.9}


def dataset(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(N_SAMPLES, FEATURES, generator=generator)
    y = torch.randint(CLASSES, (N_SAMPLES,), generator=generator)
    return x.numpy(), y.numpy()


def loader(x: np.ndarray, y: np.ndarray) -> DataLoader:
    return DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=BATCH, shuffle=False)


def ask_epoch(
    grading: GradingSession, model: dict, x: np.ndarray, y: np.ndarray, batch: int, optimizer: dict, **extra: Any
) -> tuple[dict, str]:
    """Run train_one_epoch on ``model`` over (x, y) in batches of ``batch``; the reply and its description."""
    what = f"train_one_epoch(model, loader of {len(x)} samples in batches of {batch}, SGD {optimizer})"
    reply = grading.ask(
        "train_one_epoch",
        what,
        needs=("training.train_one_epoch",),
        model=model,
        x=x,
        y=y,
        batch_size=batch,
        optimizer=optimizer,
        **{"start_mode": "train", "record_steps": False, **extra},
    )
    return reply, what


def expect_weights(reply: dict, expected: dict[str, np.ndarray], after: str) -> None:
    """The model's weights in ``reply`` equal ``expected`` (to 1e-5) ``after`` what was done."""
    for name, want in expected.items():
        got = reply["weights"].get(name)
        if not isinstance(got, np.ndarray):
            raise CheckFailure(f"after {after} the model has no weight {name!r}.")
        expect.close(got, want, 1e-5, f"weight {name} after {after}")


def train_call(
    grading: GradingSession,
    start_mode: str = "train",
    optimizer: dict | None = None,
    record_steps: bool = False,
) -> dict:
    optimizer = optimizer or MOMENTUM_SGD
    return grading.memo(
        ("train_one_epoch", start_mode, repr(optimizer), record_steps),
        lambda: ask_epoch(
            grading, MODEL, *dataset(), BATCH, optimizer, start_mode=start_mode, record_steps=record_steps
        )[0],
    )


def stored_epoch() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The reference's statistics and weights after one epoch of MODEL on dataset() (stored vectors)."""
    prefix = "training/epoch/"
    weights = {key.removeprefix(prefix): value for key, value in vectors.arrays().items() if key.startswith(prefix)}
    return vectors.table("training/epoch_stats"), weights


@check(
    "training/train_one_epoch_updates",
    3,
    hint="for each batch: zero_grad, forward, loss, backward, step, in that order",
)
def test_train_one_epoch_updates(grading: GradingSession) -> None:
    reply = train_call(grading)
    _, expected = stored_epoch()
    if reply["n_steps"] == 0:
        raise CheckFailure("train_one_epoch never called optimizer.step().")
    expect_weights(reply, expected, f"one epoch of SGD with momentum ({reply['n_steps']} steps)")


@check(
    "training/train_one_epoch_statistics",
    2,
    hint="sum loss.item() * batch_size and the correct predictions, then divide by the number of samples",
)
def test_train_one_epoch_statistics(grading: GradingSession) -> None:
    reply = train_call(grading)
    stats, _ = stored_epoch()
    what = "train_one_epoch(...)"
    result = expect.as_dict(reply["result"], what, ("loss", "accuracy"))
    for key in ("loss", "accuracy"):
        got = expect.as_float(result[key], f'{what}["{key}"]')
        if abs(got - stats[key]) > 1e-5:
            raise CheckFailure(
                f'{what}["{key}"] is {got:.6f}, expected {stats[key]:.6f} (the mean over all {N_SAMPLES} samples; '
                f"the last batch has only {N_SAMPLES % BATCH})."
            )


def _batch_gradients() -> list[list[np.ndarray]]:
    model = testmodels.build(MODEL).train()
    grads = []
    for xb, yb in loader(*dataset()):
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(xb), yb).backward()
        grads.append([p.grad.numpy().copy() for p in model.parameters()])
    return grads


@check("training/zero_grad", 3, hint="call optimizer.zero_grad() before every backward pass")
def test_zero_grad(grading: GradingSession) -> None:
    reply = train_call(grading, optimizer={"lr": 0.0, "momentum": 0.0}, record_steps=True)
    expected = _batch_gradients()
    steps = reply.get("step_grads") or []
    if len(steps) != len(expected):
        raise CheckFailure(f"train_one_epoch stepped the optimizer {len(steps)} times for {len(expected)} batches.")
    for index, (got, want) in enumerate(zip(steps, expected, strict=True)):
        for g, w in zip(got, want, strict=True):
            if g.shape != w.shape or not np.allclose(g, w, atol=1e-6):
                raise CheckFailure(
                    f"at optimizer step {index + 1} the gradients are not those of batch {index + 1} alone "
                    f"(with lr=0 they should be); gradients are accumulating or cleared at the wrong time."
                )


@check("training/train_mode", 2, hint="call model.train() at the start of train_one_epoch")
def test_train_mode(grading: GradingSession) -> None:
    reply = train_call(grading, start_mode="eval")
    log = reply["probe"]
    if not log:
        raise CheckFailure("train_one_epoch never ran the model.")
    if not all(training for training, _ in log):
        raise CheckFailure(
            f"train_one_epoch ran {sum(not t for t, _ in log)} of {len(log)} forward passes in eval mode "
            "(the model was handed over in eval mode)."
        )


def eval_call(grading: GradingSession, model: dict, start_mode: str) -> dict:
    x, y = dataset(seed=1)
    what = f"evaluate(model, loader of {N_SAMPLES} samples in batches of {BATCH})"
    return grading.memo(
        ("evaluate", repr(model), start_mode),
        lambda: grading.ask(
            "evaluate",
            what,
            needs=("training.evaluate",),
            model=model,
            x=x,
            y=y,
            batch_size=BATCH,
            start_mode=start_mode,
        ),
    )


@check(
    "training/evaluate",
    2,
    hint="weight each batch's mean loss by its size; y_pred is the argmax of the logits",
)
def test_evaluate(grading: GradingSession) -> None:
    reply = eval_call(grading, MODEL, "eval")
    what = "evaluate(...)"
    result = expect.as_dict(reply["result"], what, ("loss", "accuracy", "y_true", "y_pred"))
    labels = {k: vectors.array(f"training/evaluate/{k}") for k in ("y_true", "y_pred")}
    want = vectors.table("training/evaluate") | labels
    for key in ("loss", "accuracy"):
        got = expect.as_float(result[key], f'{what}["{key}"]')
        if abs(got - want[key]) > 1e-5:
            raise CheckFailure(f'{what}["{key}"] is {got:.6f}, expected {want[key]:.6f} (mean over all samples).')
    for key in ("y_true", "y_pred"):
        got = expect.as_array(result[key], f'{what}["{key}"]')
        if got.reshape(-1).shape != (N_SAMPLES,) or not np.array_equal(got.reshape(-1), want[key]):
            raise CheckFailure(f'{what}["{key}"] differs from the expected {N_SAMPLES} labels in loader order.')


@check("training/evaluate_eval_mode_no_grad", 2, hint="model.eval() and torch.no_grad() inside evaluate")
def test_evaluate_eval_mode(grading: GradingSession) -> None:
    log = eval_call(grading, DROPOUT_MODEL, "train")["probe"]
    if not log:
        raise CheckFailure("evaluate never ran the model.")
    if any(training for training, _ in log):
        raise CheckFailure("evaluate ran the model in train mode (dropout active); call model.eval().")
    if any(grad for _, grad in log):
        raise CheckFailure("evaluate ran the model with gradients enabled; use torch.no_grad().")


@check("training/evaluate_restores_mode", 1, hint="remember model.training and restore it with model.train(was)")
def test_evaluate_restores_mode(grading: GradingSession) -> None:
    for model, start in ((DROPOUT_MODEL, "train"), (MODEL, "eval")):
        changes = eval_call(grading, model, start)["changes"]
        if changes["modes"]:
            raise CheckFailure(f"evaluate left a model handed over in {start} mode in another mode.")
        if changes["weights"]:
            raise CheckFailure("evaluate changed the model's weights.")


# fit(): validation accuracy per epoch is scripted; with patience 3 the best is epoch 3 (0-based) and the
# run stops after epoch 6. 0.9 at epoch 6 ties the best and must not count as a new best.
SCRIPT = [0.2, 0.5, 0.5, 0.9, 0.6, 0.7, 0.9, 0.8, 0.95, 1.0, 1.0, 1.0]
SCRIPT_EPOCHS, SCRIPT_PATIENCE, SCRIPT_RUN, SCRIPT_BEST = 12, 3, 7, 3
RISING = [0.2, 0.4, 0.6, 0.8]
N_VAL = 20


def fit_call(grading: GradingSession, script: list[float], epochs: int, patience: int) -> dict:
    generator = torch.Generator().manual_seed(3)
    train_x = torch.cat([torch.zeros(15, 3), torch.randn(15, 4, generator=generator)], 1).numpy()
    train_y = torch.randint(3, (15,), generator=generator).numpy()
    val_y = torch.randint(3, (N_VAL,), generator=generator)
    val_x = torch.cat(
        [
            torch.ones(N_VAL, 1),
            torch.arange(N_VAL).float()[:, None],
            val_y.float()[:, None],
            torch.zeros(N_VAL, 4),
        ],
        1,
    ).numpy()
    what = f"fit(model, ..., epochs={epochs}, patience={patience})"
    return grading.memo(
        ("fit", tuple(script), epochs, patience),
        lambda: grading.ask(
            "fit",
            what,
            needs=("training.fit",),
            script=script,
            train_x=train_x,
            train_y=train_y,
            val_x=val_x,
            val_y=val_y.numpy(),
            batch_size=5,
            lr=0.5,
            epochs=epochs,
            patience=patience,
        ),
    )


def _history(reply: dict, what: str) -> tuple[list[float], list[float], int]:
    result = expect.as_dict(reply["result"], what, ("train_loss", "val_accuracy", "best_epoch"))
    losses = [expect.as_float(v, f'{what}["train_loss"]') for v in expect.as_list(result["train_loss"], what)]
    accs = [expect.as_float(v, f'{what}["val_accuracy"]') for v in expect.as_list(result["val_accuracy"], what)]
    return losses, accs, expect.as_int(result["best_epoch"], f'{what}["best_epoch"]')


@check(
    "training/early_stopping",
    1,
    hint="count epochs since the last strictly better validation accuracy; stop when the count reaches patience",
)
def test_early_stopping(grading: GradingSession) -> None:
    for script, epochs, patience, run in (
        (SCRIPT, SCRIPT_EPOCHS, SCRIPT_PATIENCE, SCRIPT_RUN),
        (RISING, 4, 5, 4),
    ):
        what = f"fit(epochs={epochs}, patience={patience}) with validation accuracies {script[:run]}..."
        reply = fit_call(grading, script, epochs, patience)
        if reply["epochs_run"] != run:
            raise CheckFailure(f"{what} trained {reply['epochs_run']} epochs, expected {run}.")
        losses, accs, _ = _history(reply, what)
        if len(losses) != run or not np.allclose(accs, script[:run], atol=1e-6):
            raise CheckFailure(
                f"{what} returned {len(losses)} train losses and val_accuracy "
                f"{[round(a, 3) for a in accs]}, expected {run} entries and {script[:run]}."
            )


@check(
    "training/restores_best_weights",
    1,
    hint="keep copy.deepcopy(model.state_dict()) at each new best and load it back before returning",
)
def test_restores_best_weights(grading: GradingSession) -> None:
    what = f"fit(epochs={SCRIPT_EPOCHS}, patience={SCRIPT_PATIENCE}) with validation accuracies {SCRIPT[:SCRIPT_RUN]}"
    reply = fit_call(grading, SCRIPT, SCRIPT_EPOCHS, SCRIPT_PATIENCE)
    _, _, best = _history(reply, what)
    if best != SCRIPT_BEST:
        raise CheckFailure(f"{what} reported best_epoch {best}, expected {SCRIPT_BEST} (0-based; ties are not better).")
    snapshot = reply["snapshots"].get(str(SCRIPT_BEST + 1))
    if snapshot is None:
        raise CheckFailure(f"{what} did not evaluate after epoch {SCRIPT_BEST}.")
    for name, want in snapshot.items():
        got = reply["final"].get(name)
        if not isinstance(got, np.ndarray) or not np.array_equal(got, want):
            last = reply["snapshots"].get(str(reply["epochs_run"]))
            kept_last = last is not None and all(np.array_equal(reply["final"][k], last[k]) for k in last)
            detail = " It kept the last epoch's weights." if kept_last else ""
            raise CheckFailure(
                f"{what}: the model's final weights are not those of the best epoch {SCRIPT_BEST}." + detail
            )
