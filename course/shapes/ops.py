"""What the worker does for the shapes checks: count a test model's parameters with the student's function."""

from __future__ import annotations

from typing import Any

from course import testmodels
from grader.worker.observe import observe
from grader.worker.ops import op, resolve


@op
def op_count_parameters(request: dict[str, Any]) -> dict[str, Any]:
    model = testmodels.build(request["model"])
    fn = resolve("shapes.count_parameters")
    return {"result": observe(fn(model, trainable_only=request["trainable_only"]))}
