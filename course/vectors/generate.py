"""Expected values computed with ``reference/``: stored for the public checks, computed live for hidden ones.

Instructors only (the student bundle has neither ``reference/`` nor this module). Each ``reference_*``
function answers one kind of question on given inputs; :func:`build` asks them the public checks'
questions and returns what ``course/vectors`` stores; the hidden checks ask them their own questions at
grading time, so no hidden expected value is written into the package (the reference layer tables, slow
to export, are kept in the judge's private cache folder). ``python -m course.vectors [DIR]`` writes
``tables.json`` and ``arrays.npz`` (default: ``course/vectors/``).
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, ParamSpec, TypeVar

import numpy as np
import torch

from course import testmodels
from course.gradcam import check_gradcam
from course.gradcam.check_gradcam import CamCase
from course.quadrant import check_quadrant, networks
from course.quadrant.networks import example_batch
from course.training import check_training
from course.vectors import ARRAYS_FILE, TABLES_FILE, VECTORS_DIR
from grader import netexport, netgraph, netops
from grader.data import cache_dir
from grader.judge.obscache import content_digest, read_with_arrays, sources_digest, write_with_arrays
from grader.netexport import export_network
from grader.netgraph import GraphNet
from grader.worker import sideeffects
from reference import gradcam, quadrant, shapes, training

P = ParamSpec("P")
T = TypeVar("T")


def reference_cam(case: CamCase) -> np.ndarray:
    """The reference Grad-CAM maps of ``case`` (N x H x W)."""
    model = testmodels.build(case.spec).train(case.mode == "train")
    x = torch.from_numpy(case.x())
    return gradcam.grad_cam(model, x, model.get_submodule(case.layer), check_gradcam.class_arg(case)).numpy()


def reference_activations(case: CamCase, layers: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The outputs of ``layers`` (submodule names) for ``case``'s input, by layer name."""
    model = testmodels.build(case.spec).train(case.mode == "train")
    outputs = gradcam.activations(model, torch.from_numpy(case.x()), [model.get_submodule(n) for n in layers])
    return {name: out.numpy() for name, out in zip(layers, outputs, strict=True)}


def reference_saliency(case: CamCase) -> np.ndarray:
    """The reference saliency maps of ``case`` (its classes as a tensor)."""
    model = testmodels.build(case.spec).train(case.mode == "train")
    return gradcam.saliency_map(model, torch.from_numpy(case.x()), torch.tensor(case.target_class)).numpy()


# what the kept values follow from besides their arguments: a change to any of these files computes them afresh
_TABLE_SOURCES = (quadrant, check_quadrant, netgraph, netexport, netops, networks)  # a reference layer table
_VALUE_SOURCES = (training, testmodels, sideeffects)  # a reference training value


@functools.cache
def _sources(modules: tuple[ModuleType, ...]) -> str:
    return sources_digest(Path(__file__), *(Path(m.__file__) for m in modules))  # read once per process


def kept(function: Callable[P, T], sources: tuple[ModuleType, ...] = _VALUE_SOURCES) -> Callable[P, T]:
    """``function`` (a ``reference_*`` value of plain data and arrays) computed once per installation for the same
    arguments: the hidden checks ask the same questions in every grading, the first reference optimizer of a
    process costs about 1.5 s (torch.optim loads torch._dynamo), and torch.export about 1.5 s a layer table.

    Values are kept in the judge's private cache folder (:func:`grader.data.cache_dir`, beside its secret key;
    never in the package or a student's reach; JSON beside an ``.npz`` read without pickles), keyed by the
    function, its arguments, torch's version and the ``sources`` it follows from.
    """

    @functools.wraps(function)
    def cached(*args: P.args, **kwargs: P.kwargs) -> T:
        identity = {
            "function": function.__name__,
            "args": list(args),
            "kwargs": kwargs,
            "torch": torch.__version__,
            "sources": _sources(sources),
        }
        entry = cache_dir() / "reference" / f"{function.__name__}_{content_digest(identity)[:40]}.json"
        value = read_with_arrays(entry)
        if value is None:
            value = function(*args, **kwargs)
            write_with_arrays(entry, value)
        return value

    return cached


def quadrant_table(num_channel: int) -> dict:
    """The reference QuadrantNet's ``rows`` and ``ops``, judged as a student's is: exported, rebuilt, read by
    the same code (:func:`course.quadrant.check_quadrant.table`)."""
    torch.manual_seed(0)
    model = quadrant.QuadrantNet(num_channel=num_channel)
    net = GraphNet.from_export(export_network(model, example_batch(), dynamic_size=False))
    full = check_quadrant.table(net)
    return {"rows": [[kind, list(shape), params] for kind, shape, params in full["rows"]], "ops": full["ops"]}


_reference_table = kept(quadrant_table, _TABLE_SOURCES)  # 3.2 s of a cached grading before (2026-12-04)


def reference_rows(num_channel: int) -> list[list[Any]]:
    """The reference QuadrantNet's Conv2d/Linear calls as ``[kind, output shape, parameters]``."""
    return [[kind, list(shape), params] for kind, shape, params in _reference_table(num_channel)["rows"]]


def reference_ops() -> list[str]:
    """The reference QuadrantNet's convolution, ReLU, max-pool and linear calls, in order."""
    return _reference_table(8)["ops"]


def reference_epoch(
    model_spec: dict, x: np.ndarray, y: np.ndarray, batch_size: int, sgd: dict, preset_grads: bool = False
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Statistics and weights after one reference epoch of SGD (``sgd``: lr, momentum) in loader order."""
    model = testmodels.build(model_spec).train()
    if preset_grads:
        from grader.worker.sideeffects import preset_grads as preset

        preset(model, every=1)
    optimizer = torch.optim.SGD(model.parameters(), **sgd)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=batch_size
    )
    stats = training.train_one_epoch(model, loader, optimizer, torch.nn.CrossEntropyLoss())
    return {k: float(v) for k, v in stats.items()}, testmodels.state_arrays(model)


def mistaken_epoch(
    model_spec: dict, x: np.ndarray, y: np.ndarray, batch_size: int, sgd: dict, mistake: str, preset_grads: bool
) -> dict[str, np.ndarray]:
    """The weights after an epoch with one known mistake (``no_zero_grad``, ``zero_grad_after_step`` or
    ``eval_mode``: the model left in the eval mode it came in): the checks name these mistakes when they see them."""
    model = testmodels.build(model_spec)
    model.train(mistake != "eval_mode")
    if preset_grads:
        from grader.worker.sideeffects import preset_grads as preset

        preset(model, every=1)
    optimizer = torch.optim.SGD(model.parameters(), **sgd)
    for xb, yb in testmodels.batches(x, y, batch_size):
        if mistake not in ("no_zero_grad", "zero_grad_after_step"):
            optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()
        if mistake == "zero_grad_after_step":
            optimizer.zero_grad()
    return testmodels.state_arrays(model)


def reference_evaluate(
    model_spec: dict, x: np.ndarray, y: np.ndarray, batch_size: int, with_grad: bool = False, train_mode: bool = False
) -> dict[str, Any]:
    """The reference evaluate(): ``loss`` and ``accuracy`` (floats), ``y_true`` and ``y_pred`` (arrays).

    ``with_grad`` / ``train_mode``: what an evaluate that forgets ``torch.no_grad()`` / ``model.eval()`` returns.
    """
    model = testmodels.build(model_spec).eval()
    if with_grad or train_mode:
        model.train(train_mode)
        ys = torch.from_numpy(y)
        with torch.set_grad_enabled(with_grad):
            logits = torch.cat([model(xb) for xb, _ in testmodels.batches(x, y, batch_size)]).detach()
        loss = sum(
            torch.nn.functional.cross_entropy(logits[i : i + batch_size], ys[i : i + batch_size]).item()
            * len(ys[i : i + batch_size])
            for i in range(0, len(ys), batch_size)
        )
        pred = logits.argmax(1)
        accuracy = float((pred == ys).float().mean())
        return {"loss": loss / len(ys), "accuracy": accuracy, "y_true": y, "y_pred": pred.numpy()}
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=batch_size
    )
    result = training.evaluate(model, loader, torch.nn.CrossEntropyLoss())
    return {
        "loss": float(result["loss"]),
        "accuracy": float(result["accuracy"]),
        "y_true": result["y_true"].numpy(),
        "y_pred": result["y_pred"].numpy(),
    }


def build() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The stored vectors: every expected value the public checks compare with, by key."""
    counted = testmodels.build({"name": "param_counting", "seed": 0})
    tables: dict[str, Any] = {
        "shapes/count_parameters": {
            f"trainable_only={flag}": shapes.count_parameters(counted, trainable_only=flag) for flag in (True, False)
        },
        "quadrant/ops": reference_ops(),
        **{f"quadrant/rows/{c}": reference_rows(c) for c in (4, 8, 16)},
    }
    arrays = {f"gradcam/agreement_{i}": reference_cam(case) for i, case in enumerate(check_gradcam.AGREEMENT_CASES)}
    outputs = reference_activations(check_gradcam.ACTIVATIONS_CASE, check_gradcam.ACTIVATION_LAYERS)
    arrays |= {f"gradcam/activations/{name}": out for name, out in outputs.items()}
    inplace = reference_activations(check_gradcam.INPLACE_CASE, ("features.0",))
    arrays |= {f"gradcam/activations_inplace/{name}": out for name, out in inplace.items()}
    arrays["gradcam/saliency"] = reference_saliency(check_gradcam.SALIENCY_CASE)
    arrays["gradcam/saliency_train_mode"] = reference_saliency(check_gradcam.SALIENCY_TRAIN_CASE)

    for key, (model, sgd, _, stale, n) in check_training.EPOCHS.items():
        x, y = check_training.dataset(n=n)
        stats, weights = reference_epoch(model, x, y, check_training.BATCH, sgd, preset_grads=stale)
        tables[f"training/{key}_stats"] = stats
        arrays |= {f"training/{key}/{name}": value for name, value in weights.items()}
        for mistake in check_training.MISTAKES.get(key, ()):
            wrong = mistaken_epoch(model, x, y, check_training.BATCH, sgd, mistake, preset_grads=stale)
            arrays |= {f"training/{key}.{mistake}/{name}": value for name, value in wrong.items()}
    for key, (model, with_grad, train_mode) in check_training.EVALUATIONS.items():
        x, y = check_training.dataset(seed=1, n=check_training.eval_samples(model))
        evaluated = reference_evaluate(model, x, y, check_training.BATCH, with_grad, train_mode)
        tables[f"training/{key}"] = {k: float(evaluated[k]) for k in ("loss", "accuracy")}
        arrays |= {f"training/{key}/{k}": np.asarray(evaluated[k]) for k in ("y_true", "y_pred")}
    for case in check_training.FIT_CASES:
        tables[check_training.fit_key(*case)] = reference_fit(check_training.fit_request(*case))
    return tables, arrays


def reference_fit(request: dict[str, Any]) -> dict[str, Any]:
    """The reference fit() on a scripted run: its history, and the batch count of the state it leaves."""
    model, train, val, optimizer = testmodels.scripted_fit(request)
    result = training.fit(
        model, train, val, optimizer, torch.nn.CrossEntropyLoss(), request["epochs"], request["patience"]
    )
    return {
        "train_loss": [float(v) for v in result["train_loss"]],
        "val_accuracy": [float(v) for v in result["val_accuracy"]],
        "best_epoch": int(result["best_epoch"]),
        "trained_batches": int(model.trained_batches),
    }


def encode(tables: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    """File name -> bytes, the same for the same values: sorted keys, npz members with a fixed date."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in sorted(arrays.items()):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.array(value, order="C"), allow_pickle=False)  # keeps 0-d arrays 0-d
            archive.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)), member.getvalue())
    return {
        TABLES_FILE: (json.dumps(tables, indent=1, sort_keys=True) + "\n").encode(),
        ARRAYS_FILE: buffer.getvalue(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course.vectors", description=__doc__)
    parser.add_argument("folder", type=Path, nargs="?", default=VECTORS_DIR)
    args = parser.parse_args(argv)
    for name, data in encode(*build()).items():
        (args.folder / name).write_bytes(data)
        print(f"wrote {args.folder / name}")
