"""Expected values computed with ``reference/``: stored for the public checks, computed live for hidden ones.

Instructors only (the student bundle has neither ``reference/`` nor this module). Each ``reference_*``
function answers one kind of question on given inputs; :func:`build` asks them the public checks'
questions and returns what ``grader/vectors`` stores; the hidden checks ask them their own questions at
grading time, so no hidden expected value is ever written down. ``python -m grader.vectors [DIR]`` writes
``tables.json`` and ``arrays.npz`` (default: ``grader/vectors/``).
"""

from __future__ import annotations

import argparse
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from grader import testmodels
from grader.checks import check_gradcam, check_quadrant, check_training
from grader.checks.check_gradcam import CamCase
from grader.layertable import forward_with_ops, layer_table
from grader.vectors import ARRAYS_FILE, TABLES_FILE, VECTORS_DIR
from reference import gradcam, quadrant, shapes, training


def reference_cam(case: CamCase) -> np.ndarray:
    """The reference Grad-CAM maps of ``case`` (N x H x W)."""
    model = testmodels.build(case.spec).eval()
    x = torch.from_numpy(case.x())
    return gradcam.grad_cam(model, x, model.get_submodule(case.layer), check_gradcam.class_arg(case)).numpy()


def reference_activations(case: CamCase, layers: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The outputs of ``layers`` (submodule names) for ``case``'s input, by layer name."""
    model = testmodels.build(case.spec).eval()
    outputs = gradcam.activations(model, torch.from_numpy(case.x()), [model.get_submodule(n) for n in layers])
    return {name: out.numpy() for name, out in zip(layers, outputs, strict=True)}


def reference_saliency(case: CamCase) -> np.ndarray:
    """The reference saliency maps of ``case`` (its classes as a tensor)."""
    model = testmodels.build(case.spec).eval()
    return gradcam.saliency_map(model, torch.from_numpy(case.x()), torch.tensor(case.target_class)).numpy()


def reference_rows(num_channel: int) -> list[list[Any]]:
    """The reference QuadrantNet's Conv2d/Linear calls as ``[kind, output shape, parameters]``."""
    torch.manual_seed(0)
    model = quadrant.QuadrantNet(num_channel=num_channel)
    rows = layer_table(model, torch.zeros(check_quadrant.BATCH, 1, 56, 56))
    return [[r.kind, list(r.output_shape), r.params] for r in rows if r.kind in check_quadrant.COMPARED]


def reference_ops() -> list[str]:
    """The reference QuadrantNet's convolution, ReLU, max-pool and linear calls, in order."""
    _, names = forward_with_ops(quadrant.QuadrantNet(), torch.zeros(check_quadrant.BATCH, 1, 56, 56))
    return check_quadrant.forward_ops(names)


def reference_epoch(
    model_spec: dict, x: np.ndarray, y: np.ndarray, batch_size: int, sgd: dict
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Statistics and weights after one reference epoch of SGD (``sgd``: lr, momentum) in loader order."""
    model = testmodels.build(model_spec).train()
    optimizer = torch.optim.SGD(model.parameters(), **sgd)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=batch_size
    )
    stats = training.train_one_epoch(model, loader, optimizer, torch.nn.CrossEntropyLoss())
    return {k: float(v) for k, v in stats.items()}, testmodels.state_arrays(model)


def reference_evaluate(model_spec: dict, x: np.ndarray, y: np.ndarray, batch_size: int) -> dict[str, Any]:
    """The reference evaluate(): ``loss`` and ``accuracy`` (floats), ``y_true`` and ``y_pred`` (arrays)."""
    model = testmodels.build(model_spec).eval()
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
    arrays["gradcam/saliency"] = reference_saliency(check_gradcam.SALIENCY_CASE)

    x, y = check_training.dataset()
    stats, weights = reference_epoch(check_training.MODEL, x, y, check_training.BATCH, check_training.MOMENTUM_SGD)
    tables["training/epoch_stats"] = stats
    arrays |= {f"training/epoch/{name}": value for name, value in weights.items()}
    evaluated = reference_evaluate(check_training.MODEL, *check_training.dataset(seed=1), check_training.BATCH)
    tables["training/evaluate"] = {k: evaluated[k] for k in ("loss", "accuracy")}
    arrays |= {f"training/evaluate/{k}": evaluated[k] for k in ("y_true", "y_pred")}
    return tables, arrays


def encode(tables: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    """File name -> bytes, the same for the same values: sorted keys, npz members with a fixed date."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in sorted(arrays.items()):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(value), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)), member.getvalue())
    return {
        TABLES_FILE: (json.dumps(tables, indent=1, sort_keys=True) + "\n").encode(),
        ARRAYS_FILE: buffer.getvalue(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m grader.vectors", description=__doc__)
    parser.add_argument("folder", type=Path, nargs="?", default=VECTORS_DIR)
    args = parser.parse_args(argv)
    for name, data in encode(*build()).items():
        (args.folder / name).write_bytes(data)
        print(f"wrote {args.folder / name}")
