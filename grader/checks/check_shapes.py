"""shapes/...: output sizes and the quadrant shapes against PyTorch's own layers, parameter counts.

Expected values come from PyTorch itself, or from the stored vectors (``grader/vectors``) for the
reference's parameter count of a model with tied, frozen and BatchNorm layers.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from torch import nn

from grader import vectors
from grader.checks.properties import call_repr, run_property
from grader.checks.registry import check
from grader.judge import expect
from grader.judge.faults import CheckFailure
from grader.judge.session import GradingSession


def _torch_conv(size: int, kernel_size: int, stride: int, padding: int, dilation: int) -> int:
    x = torch.zeros(1, 1, size, 1)
    w = torch.zeros(1, 1, kernel_size, 1)
    return F.conv2d(x, w, stride=(stride, 1), padding=(padding, 0), dilation=(dilation, 1)).shape[2]


def _torch_quadrant_shapes(num_channel: int, input_size: int) -> list[tuple[int, ...]]:
    """(C, H, W) after conv1, pool1, conv2 and pool2 of the quadrant CNN, read from PyTorch's layers (no data)."""
    c = num_channel
    x = torch.zeros(1, 1, input_size, input_size, device="meta")
    shapes = []
    for layer in (
        nn.Conv2d(1, c, 5, device="meta"),
        nn.MaxPool2d(2),
        nn.Conv2d(c, 2 * c, 5, device="meta"),
        nn.MaxPool2d(2),
    ):
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    return shapes


def _torch_pool(size: int, kernel_size: int, stride: int | None, padding: int, dilation: int, ceil_mode: bool) -> int:
    x = torch.zeros(1, 1, size, 1)
    out = F.max_pool2d(
        x, (kernel_size, 1), (stride or kernel_size, 1), (padding, 0), (dilation, 1), ceil_mode=ceil_mode
    )
    return out.shape[2]


@st.composite
def conv_cases(draw: st.DrawFn) -> dict[str, Any]:
    kernel, dilation, padding = draw(st.integers(1, 7)), draw(st.integers(1, 3)), draw(st.integers(0, 3))
    span = dilation * (kernel - 1) + 1
    size = draw(st.integers(max(1, span - 2 * padding), 64))
    return {
        "size": size,
        "kernel_size": kernel,
        "stride": draw(st.integers(1, 4)),
        "padding": padding,
        "dilation": dilation,
    }


@st.composite
def pool_cases(draw: st.DrawFn) -> dict[str, Any]:
    kernel, dilation = draw(st.integers(1, 5)), draw(st.integers(1, 2))
    padding = draw(st.integers(0, kernel // 2))
    span = dilation * (kernel - 1) + 1
    size = draw(st.integers(max(1, span - 2 * padding), 64))
    stride = draw(st.none() | st.integers(1, 4))
    return {
        "size": size,
        "kernel_size": kernel,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "ceil_mode": draw(st.booleans()),
    }


def _int_property(grading: GradingSession, qualname: str, cases: st.SearchStrategy, expected_fn) -> None:
    name = qualname.split(".")[1]

    def test(case: dict[str, Any]) -> None:
        what = call_repr(name, case)
        reply = grading.ask("call", what, needs=(qualname,), target=qualname, kwargs=case)
        value = expect.as_int(reply["result"], what)
        expected = expected_fn(**case)
        if value != expected:
            raise CheckFailure(f"{what} returned {value}, expected {expected}.")

    grading.require(qualname)
    run_property(cases, test)


@check("shapes/conv_output_size", 4, hint="floor((size + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1")
def test_conv_output_size(grading: GradingSession) -> None:
    _int_property(grading, "shapes.conv_output_size", conv_cases(), _torch_conv)


@check(
    "shapes/pool_output_size",
    4,
    hint="with ceil_mode, drop a last window that would start in the right padding",
)
def test_pool_output_size(grading: GradingSession) -> None:
    _int_property(grading, "shapes.pool_output_size", pool_cases(), _torch_pool)


@st.composite
def conv_param_cases(draw: st.DrawFn) -> dict[str, Any]:
    groups = draw(st.sampled_from([1, 2, 4]))
    kernel = draw(st.integers(1, 7) | st.tuples(st.integers(1, 5), st.integers(1, 5)))
    return {
        "in_channels": groups * draw(st.integers(1, 8)),
        "out_channels": groups * draw(st.integers(1, 8)),
        "kernel_size": kernel,
        "bias": draw(st.booleans()),
        "groups": groups,
    }


def _layer_params(layer: nn.Module) -> int:
    return sum(p.numel() for p in layer.parameters())


@check(
    "shapes/conv_params",
    2,
    hint="out_channels * (in_channels // groups) * kh * kw, plus out_channels for bias",
)
def test_conv_params(grading: GradingSession) -> None:
    _int_property(
        grading,
        "shapes.conv_params",
        conv_param_cases(),
        lambda **c: _layer_params(
            nn.Conv2d(c["in_channels"], c["out_channels"], c["kernel_size"], bias=c["bias"], groups=c["groups"])
        ),
    )


@check("shapes/linear_params", 2)
def test_linear_params(grading: GradingSession) -> None:
    cases = st.fixed_dictionaries(
        {"in_features": st.integers(1, 3000), "out_features": st.integers(1, 300), "bias": st.booleans()}
    )
    _int_property(
        grading,
        "shapes.linear_params",
        cases,
        lambda **c: _layer_params(nn.Linear(c["in_features"], c["out_features"], c["bias"])),
    )


@check(
    "shapes/count_parameters",
    4,
    hint="model.parameters() yields a shared weight once; filter on requires_grad",
)
def test_count_parameters(grading: GradingSession) -> None:
    spec = {"name": "param_counting", "seed": 0}
    for trainable_only in (True, False):
        what = f"count_parameters(model, trainable_only={trainable_only})"
        what += " on a model with tied, frozen and BatchNorm layers"
        reply = grading.ask(
            "count_parameters",
            what,
            needs=("shapes.count_parameters",),
            model=spec,
            trainable_only=trainable_only,
        )
        value = expect.as_int(reply["result"], what)
        expected = vectors.table("shapes/count_parameters")[f"trainable_only={trainable_only}"]
        if value != expected:
            raise CheckFailure(f"{what} returned {value}, expected {expected}.")


@check("shapes/quadrant_net_shapes", 4, hint="conv 5x5 loses 4 pixels per side pair; a 2x2 pool halves (floor)")
def test_quadrant_net_shapes(grading: GradingSession) -> None:
    qualname = "shapes.quadrant_net_shapes"

    def test(case: dict[str, Any]) -> None:
        what = call_repr("quadrant_net_shapes", case)
        reply = grading.ask("call", what, needs=(qualname,), target=qualname, kwargs=case)
        items = expect.as_list(reply["result"], what, length=4)
        got = []
        for item in items:
            triple = expect.as_list(item, what, length=3)
            got.append(tuple(expect.as_int(v, what) for v in triple))
        expected = _torch_quadrant_shapes(**case)
        if got != expected:
            raise CheckFailure(f"{what} returned {got}, expected {expected}.")

    grading.require(qualname)
    cases = st.fixed_dictionaries({"num_channel": st.integers(1, 16), "input_size": st.integers(16, 100)})
    test({"num_channel": 8, "input_size": 56})
    run_property(cases, test)
