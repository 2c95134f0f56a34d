"""What the worker does for the training checks: the student's loops on test models, observed by value."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course import testmodels
from grader.worker import sideeffects
from grader.worker.observe import observe
from grader.worker.ops import op, resolve


def _loader(request: dict[str, Any]) -> DataLoader:
    x = torch.from_numpy(np.asarray(request["x"], dtype=np.float32).copy())
    y = torch.from_numpy(np.asarray(request["y"], dtype=np.int64).copy())
    return DataLoader(TensorDataset(x, y), batch_size=request["batch_size"], shuffle=False)


def _optimizer(model: nn.Module, spec: dict[str, Any]) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=spec.get("momentum", 0.0))


@op
def op_train_one_epoch(request: dict[str, Any]) -> dict[str, Any]:
    """The student's train_one_epoch on a test model; the judge compares its statistics and weights."""
    model = testmodels.from_request(request)
    model.train(request.get("start_mode", "train") == "train")
    if request.get("preset_grads"):  # stale gradients from before: a loop must clear them before it steps
        sideeffects.preset_grads(model, every=1)
    optimizer = _optimizer(model, request["optimizer"])
    fn = resolve("training.train_one_epoch")
    result = fn(model, _loader(request), optimizer, torch.nn.CrossEntropyLoss(), device="cpu")
    return {"result": observe(result), "weights": testmodels.state_arrays(model)}


@op
def op_evaluate(request: dict[str, Any]) -> dict[str, Any]:
    """The student's evaluate on a test model; its values show the mode it ran in, the snapshot what it left."""
    model = testmodels.from_request(request)
    if request.get("mixed_modes"):
        sideeffects.set_mixed_modes(model)
    else:
        model.train(request.get("start_mode", "eval") == "train")
    before = sideeffects.snapshot(model)
    fn = resolve("training.evaluate")
    result = fn(model, _loader(request), torch.nn.CrossEntropyLoss(), device="cpu")
    return {"result": observe(result), "changes": sideeffects.changes(before, sideeffects.snapshot(model))}


@op
def op_fit(request: dict[str, Any]) -> dict[str, Any]:
    """Run the student's fit() on a :class:`~course.testmodels.ScriptedNet` whose accuracy is scripted."""
    model, train, val, optimizer = testmodels.scripted_fit(request)
    fn = resolve("training.fit")
    args = (torch.nn.CrossEntropyLoss(), request["epochs"], request["patience"], "cpu")
    result = fn(model, train, val, optimizer, *args)
    return {"result": observe(result), "final": testmodels.state_arrays(model)}
