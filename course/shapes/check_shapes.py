"""shapes/...: output sizes and the quadrant shapes against PyTorch's own layers, parameter counts.

Expected values come from PyTorch itself, or from the stored vectors (``course/vectors``) for the
reference's parameter count of a model with tied, frozen and BatchNorm layers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from torch import nn

from course import vectors
from grader.checks.properties import Prefetched, call_repr, drawn_cases, run_property
from grader.checks.registry import check
from grader.judge import expect
from grader.judge.faults import CheckFailure
from grader.judge.session import GradingSession


def _torch_conv(size: int, kernel_size: int, stride: int, padding: int, dilation: int) -> int:
    x = torch.zeros(1, 1, size, 1)
    w = torch.zeros(1, 1, kernel_size, 1)
    return F.conv2d(x, w, stride=(stride, 1), padding=(padding, 0), dilation=(dilation, 1)).shape[2]


def _torch_quadrant_shapes(num_channel: int, input_size: int) -> list[tuple[int, ...]]:
    """(C, H, W) after conv1, pool1, conv2 and pool2 of the quadrant CNN: C from the architecture, H and W read
    from PyTorch's own layers.

    H and W do not depend on the channels, so the layers run on one channel of zeros: on the "meta" device the
    first call imported torch's symbolic shapes and sympy (about 1 s of a cached grading), and with every
    channel the 150 cases of a property took 0.26 s.
    """
    c = num_channel
    x = torch.zeros(1, 1, input_size, input_size)
    kernel = torch.zeros(1, 1, 5, 5)
    shapes = []
    for channels, layer in (
        (c, lambda t: F.conv2d(t, kernel)),
        (c, lambda t: F.max_pool2d(t, 2)),
        (2 * c, lambda t: F.conv2d(t, kernel)),
        (2 * c, lambda t: F.max_pool2d(t, 2)),
    ):
        x = layer(x)
        shapes.append((channels, *x.shape[2:]))
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


def _hint(case: dict[str, Any], hints: dict[str, str], default: str) -> str:
    """The hint for the parameter that makes ``case`` special (the first whose value is not the plain one)."""
    plain = {"stride": (1, None), "padding": (0,), "dilation": (1,), "ceil_mode": (False,), "groups": (1,)}
    plain |= {"bias": (True,)}
    for name, hint in hints.items():
        if name in case and case[name] not in plain.get(name, ()):
            return hint
    return default


def _int_property(
    grading: GradingSession,
    qualname: str,
    cases: st.SearchStrategy,
    expected_fn,
    hint_of: Callable[[dict[str, Any]], str] | None = None,
) -> None:
    """``qualname`` on every case of ``cases`` equals ``expected_fn``; the hint fits the smallest failing case."""
    name = qualname.split(".")[1]
    grading.require(qualname)
    drawn = drawn_cases(cases, grading.options.seed)
    answers = Prefetched(grading, qualname, drawn)  # one round trip

    def test(case: dict[str, Any]) -> None:
        what = call_repr(name, case)
        reply = answers.reply(case, what)
        value = expect.as_int(reply["result"], what)
        expected = expected_fn(**case)
        if value != expected:
            hint = hint_of(case) if hint_of else None
            raise CheckFailure(f"{what} returned {value}, expected {expected}.", hint=hint)

    grading.require(qualname)
    run_property(cases, test, grading.options.seed, drawn)


SIZE_HINTS = {
    "ceil_mode": "with ceil_mode the count of window starts rounds up, but a window may not start in the right padding",
    "dilation": "a dilated window's taps lie `dilation` apart: count the positions from its first tap to its last",
    "padding": "padding adds positions on both sides of the input",
    "stride": "windows start every `stride` positions: how many starts fit before the last full window?",
}
SIZE_DEFAULT = "count the positions the layer sees, and how many of them one window covers"


@check("shapes/conv_output_size", 4, hint=SIZE_DEFAULT)
def test_conv_output_size(grading: GradingSession) -> None:
    hint_of = lambda case: _hint(case, SIZE_HINTS, SIZE_DEFAULT)  # noqa: E731
    _int_property(grading, "shapes.conv_output_size", conv_cases(), _torch_conv, hint_of)


POOL_HINTS = {"stride": "stride=None means the pool's windows do not overlap (stride = kernel_size)", **SIZE_HINTS}


@check("shapes/pool_output_size", 4, hint=SIZE_DEFAULT)
def test_pool_output_size(grading: GradingSession) -> None:
    hint_of = lambda case: _hint(case, POOL_HINTS, SIZE_DEFAULT)  # noqa: E731
    _int_property(grading, "shapes.pool_output_size", pool_cases(), _torch_pool, hint_of)


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


PARAM_DEFAULT = "one weight per (output, input) connection a filter makes, plus one bias per output"
CONV_PARAM_HINTS = {
    "groups": "with groups, each filter sees only its own group's share of the input channels",
    "bias": "bias=False: no bias parameters",
}


@check("shapes/conv_params", 2, hint=PARAM_DEFAULT)
def test_conv_params(grading: GradingSession) -> None:
    def torch_count(**c: Any) -> int:
        return _layer_params(
            nn.Conv2d(c["in_channels"], c["out_channels"], c["kernel_size"], bias=c["bias"], groups=c["groups"])
        )

    def hint_of(case: dict[str, Any]) -> str:
        if isinstance(case["kernel_size"], tuple):
            return "a tuple kernel_size is (height, width): the two need not be equal"
        return _hint(case, CONV_PARAM_HINTS, PARAM_DEFAULT)

    _int_property(grading, "shapes.conv_params", conv_param_cases(), torch_count, hint_of)


@check("shapes/linear_params", 2, hint=PARAM_DEFAULT)
def test_linear_params(grading: GradingSession) -> None:
    cases = st.fixed_dictionaries(
        {"in_features": st.integers(1, 3000), "out_features": st.integers(1, 300), "bias": st.booleans()}
    )
    _int_property(
        grading,
        "shapes.linear_params",
        cases,
        lambda **c: _layer_params(nn.Linear(c["in_features"], c["out_features"], c["bias"])),
        lambda case: _hint(case, {"bias": "bias=False: no bias parameters"}, PARAM_DEFAULT),
    )


@check(
    "shapes/count_parameters",
    4,
    hint="parameters, not buffers; a weight shared by two layers is one parameter; mind requires_grad",
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


@check(
    "shapes/quadrant_net_shapes",
    4,
    hint="follow one axis through the four layers: what a 5x5 valid convolution and a 2x2 pool each do to it",
)
def test_quadrant_net_shapes(grading: GradingSession) -> None:
    qualname = "shapes.quadrant_net_shapes"
    grading.require(qualname)
    cases = st.fixed_dictionaries({"num_channel": st.integers(1, 16), "input_size": st.integers(16, 100)})
    first = {"num_channel": 8, "input_size": 56}
    drawn = drawn_cases(cases, grading.options.seed)
    answers = Prefetched(grading, qualname, [first, *drawn])  # one round trip

    def test(case: dict[str, Any]) -> None:
        what = call_repr("quadrant_net_shapes", case)
        reply = answers.reply(case, what)
        items = expect.as_list(reply["result"], what, length=4)
        got = []
        for item in items:
            triple = expect.as_list(item, what, length=3)
            got.append(tuple(expect.as_int(v, what) for v in triple))
        expected = _torch_quadrant_shapes(**case)
        if got != expected:
            raise CheckFailure(f"{what} returned {got}, expected {expected}.")

    test(first)
    run_property(cases, test, grading.options.seed, drawn)
