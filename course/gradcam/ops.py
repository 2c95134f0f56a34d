"""What the worker does for the Grad-CAM checks: run the student's function on a test model and observe it."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from course import testmodels
from grader.worker import sideeffects
from grader.worker.observe import observe
from grader.worker.ops import describe_exception, op, resolve


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
    model = testmodels.from_request(request)
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
