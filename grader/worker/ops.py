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

from grader import contract, coursepkg
from grader.netexport import NetworkRefused, export_network
from grader.worker import submission
from grader.worker.observe import observe

OPS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
COURSE_OPS = "ops.py"  # a course group's worker operations (registered with @op when imported)


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


def arguments(target: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` as the student's function takes them: an array for a parameter the contract annotates as a
    ``Tensor`` becomes a tensor (the protocol carries numpy arrays only)."""
    annotations = {p.name: p.annotation or "" for p in contract.exercise(target).params}
    return {
        key: torch.from_numpy(np.array(value))
        if isinstance(value, np.ndarray) and "Tensor" in annotations.get(key, "")
        else value
        for key, value in kwargs.items()
    }


@op
def op_call(request: dict[str, Any]) -> dict[str, Any]:
    target = request["target"]
    return {"result": observe(resolve(target)(**arguments(target, request.get("kwargs", {}))))}


@op
def op_call_many(request: dict[str, Any]) -> dict[str, Any]:
    """``op_call`` on each of ``kwargs_list``: one reply per call, as ``op_call`` would have answered it."""
    fn = resolve(request["target"])
    replies = []
    for kwargs in request["kwargs_list"]:
        torch.set_default_dtype(torch.float32)  # as the worker resets between requests
        torch.set_grad_enabled(True)
        try:
            replies.append({"ok": True, "result": observe(fn(**arguments(request["target"], kwargs)))})
        except BaseException as exc:  # noqa: BLE001 - reported per call, as op_call's are
            replies.append({"ok": False, "error": describe_exception(exc)})
    return {"replies": replies}


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


def load_course_ops() -> None:
    """Register the operations the course's groups need (``<group>/ops.py``, each op decorated with :func:`op`).

    Course code is trusted: the worker imports it before the audit hook is installed and before any student code.
    """
    for group in coursepkg.current().groups:
        if (group.folder / COURSE_OPS).is_file():
            coursepkg.import_course_file(group.folder / COURSE_OPS)
