"""What the worker can be asked to do: run a student function in a set-up situation and report.

Each op takes a plain request and returns a plain reply: observations of what the student code
returned and did (outputs, weights, modes, hooks), never a verdict. Exceptions from student code
propagate to the dispatcher, which reports them; ops that test behaviour on error catch them.
"""

from __future__ import annotations

import importlib
import inspect
import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from grader import contract, testmodels
from grader.netexport import NetworkRefused, export_network
from grader.worker import sideeffects, submission
from grader.worker.observe import observe

OPS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def op(fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    OPS[fn.__name__.removeprefix("op_")] = fn
    return fn


class MissingName(Exception):
    """The submission lacks a module file or a contract name."""


_CELL_FILE = re.compile(r"ipykernel_\d+/\d+\.py$")  # where a notebook cell's functions say they live


def _student_frame(filename: str, where: Path) -> bool:
    return Path(filename).is_relative_to(where) or bool(_CELL_FILE.search(filename))


def redact(text: str) -> str:
    """``text`` with the grading machine's paths removed: submission files relative, the working folder too."""
    for folder in (submission.folder(), Path.cwd()):
        text = text.replace(f"{folder}/", "").replace(str(folder), ".")
    return _CELL_FILE.sub("notebook cell", text)


def describe_exception(exc: BaseException) -> dict[str, str]:
    """Type, message and the traceback frames that lie in the submission's files (paths relative to it)."""
    where = submission.folder()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _student_frame(f.filename, where)]
    lines = traceback.format_list(frames[-6:]) + traceback.format_exception_only(type(exc), exc)
    raised_in, tb = "", exc.__traceback__
    while tb is not None:  # the innermost student function, by qualified name ("QuadrantNet.__init__")
        if _student_frame(tb.tb_frame.f_code.co_filename, where):
            raised_in = tb.tb_frame.f_code.co_qualname
        tb = tb.tb_next
    return {
        "type": type(exc).__name__,
        "message": redact(str(exc))[:1000],
        "traceback": redact("".join(lines))[-3000:],
        "raised_in": raised_in,
    }


def resolve(qualname: str) -> Any:
    """The submission's object for a contract name such as ``"gradcam.grad_cam"``."""
    ex = contract.exercise(qualname)
    if not submission.has_module(ex.module):
        raise MissingName(f"the submission has no {ex.module}.py")
    module = importlib.import_module(ex.module)
    if not hasattr(module, ex.name):
        raise MissingName(f"{ex.module}.py defines no {ex.name!r}")
    return getattr(module, ex.name)


@op
def op_prepare(request: dict[str, Any]) -> dict[str, Any]:
    """Find the submission's kind; execute a notebook submission (its per-cell report comes back)."""
    return submission.prepare(request["cell_timeout"], request["plan"])


@op
def op_load(request: dict[str, Any]) -> dict[str, Any]:
    """Import one student module; report which contract names it defines and their signatures."""
    name = request["module"]
    spec = contract.module(name)
    if not submission.has_module(name):
        raise MissingName(f"the submission has no {name}.py")
    module = importlib.import_module(name)
    signatures = {}
    for ex in spec.exercises:
        obj = getattr(module, ex.name, None)
        if obj is None:
            continue
        try:
            signatures[ex.name] = str(inspect.signature(obj))
        except (TypeError, ValueError):
            signatures[ex.name] = "<no signature>"
    return {"present": sorted(signatures), "signatures": signatures}


@op
def op_call(request: dict[str, Any]) -> dict[str, Any]:
    return {"result": observe(resolve(request["target"])(**request.get("kwargs", {})))}


@op
def op_call_many(request: dict[str, Any]) -> dict[str, Any]:
    """``op_call`` on each of ``kwargs_list``: one reply per call, as ``op_call`` would have answered it."""
    fn = resolve(request["target"])
    replies = []
    for kwargs in request["kwargs_list"]:
        torch.set_default_dtype(torch.float32)  # as the worker resets between requests
        torch.set_grad_enabled(True)
        try:
            replies.append({"ok": True, "result": observe(fn(**kwargs))})
        except BaseException as exc:  # noqa: BLE001 - reported per call, as op_call's are
            replies.append({"ok": False, "error": describe_exception(exc)})
    return {"replies": replies}


@op
def op_count_parameters(request: dict[str, Any]) -> dict[str, Any]:
    model = testmodels.build(request["model"])
    fn = resolve("shapes.count_parameters")
    return {"result": observe(fn(model, trainable_only=request["trainable_only"]))}


def _construct(target: str, init: dict[str, Any], seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = resolve(target)(**init)
    if not isinstance(model, nn.Module):
        raise TypeError(f"{target}(**{init}) returned a {type(model).__name__}, not an nn.Module")
    return model


@op
def op_export(request: dict[str, Any]) -> dict[str, Any]:
    """Build a student network (seeded) and export it as a graph of tensor operations (grader/netgraph.py).

    Nothing is measured here: the judge rebuilds the network from the export and judges it itself.
    """
    model = _construct(request["target"], request.get("init", {}), request.get("seed", 0))
    example = torch.rand(request["input_shape"], generator=torch.Generator().manual_seed(1))
    shapes = [(int(b), int(s)) for b, s in request.get("shapes") or []]
    try:
        return {"network": export_network(model, example, bool(request.get("dynamic_size")), shapes or None)}
    except NetworkRefused as exc:
        return {"refused": redact(str(exc))}


def _model(request: dict[str, Any]) -> nn.Module:
    model = testmodels.build(request["model"])
    if "weights" in request:
        testmodels.load_arrays(model, request["weights"])
    return model


def _target_class(value: Any, form: str) -> Any:
    if form == "none" or value is None:
        return None
    if form == "tensor":
        return torch.as_tensor(value, dtype=torch.long)
    return int(value)


@op
def op_explain(request: dict[str, Any]) -> dict[str, Any]:
    """Run grad_cam, saliency_map or activations on a test model; report the output and side effects.

    An exception from the student function is reported (``raised``) rather than propagated, so the
    side effects of the error path can be observed too.
    """
    model = _model(request)
    if request.get("mixed_modes"):
        sideeffects.set_mixed_modes(model)
    else:
        model.train(request.get("mode") == "train")
    if request.get("preset_grads"):
        sideeffects.preset_grads(model)
    x = torch.from_numpy(np.asarray(request["x"], dtype=np.float32).copy())
    x_before = x.clone()
    fn = resolve(request["target"])
    kwargs: dict[str, Any] = {}
    if request["target"] == "gradcam.grad_cam":
        kwargs["target_layer"] = model.get_submodule(request["target_layer"])
    if request["target"] == "gradcam.activations":
        kwargs["layers"] = [model.get_submodule(name) for name in request["layers"]]
    else:
        kwargs["target_class"] = _target_class(request.get("target_class"), request.get("class_as", "int"))
    before = sideeffects.snapshot(model)
    raised = None
    result = None
    try:
        result = observe(fn(model, x, **kwargs))
    except Exception as exc:  # noqa: BLE001 - reported as an observation
        raised = describe_exception(exc)
    return {
        "result": result,
        "raised": raised,
        "changes": sideeffects.changes(before, sideeffects.snapshot(model)),
        "input_modified": not torch.equal(x, x_before),
        "input_flags": [
            name
            for name, changed in (
                ("requires_grad", x.requires_grad),
                (".grad", x.grad is not None),
                ("hooks", sideeffects.tensor_hooks(x) > 0),
            )
            if changed
        ],
    }


def _loader(request: dict[str, Any]) -> DataLoader:
    x = torch.from_numpy(np.asarray(request["x"], dtype=np.float32).copy())
    y = torch.from_numpy(np.asarray(request["y"], dtype=np.int64).copy())
    return DataLoader(TensorDataset(x, y), batch_size=request["batch_size"], shuffle=False)


def _optimizer(model: nn.Module, spec: dict[str, Any]) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=spec.get("momentum", 0.0))


@op
def op_train_one_epoch(request: dict[str, Any]) -> dict[str, Any]:
    """The student's train_one_epoch on a test model; the judge compares its statistics and weights."""
    model = _model(request)
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
    model = _model(request)
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
    """Run the student's fit() on a :class:`~grader.testmodels.ScriptedNet` whose accuracy is scripted."""
    model, train, val, optimizer = testmodels.scripted_fit(request)
    fn = resolve("training.fit")
    args = (torch.nn.CrossEntropyLoss(), request["epochs"], request["patience"], "cpu")
    result = fn(model, train, val, optimizer, *args)
    return {"result": observe(result), "final": testmodels.state_arrays(model)}
