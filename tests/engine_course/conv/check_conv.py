"""conv/...: the hand-written convolution against PyTorch's own, on shapes hypothesis draws."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from grader.checks.properties import run_property
from grader.checks.registry import check
from grader.judge import expect
from grader.judge.faults import CheckFailure
from grader.judge.session import GradingSession


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    kernel, padding = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    size = draw(st.integers(max(1, kernel - 2 * padding), 7))
    return {
        "batch": draw(st.integers(1, 2)),
        "channels": draw(st.integers(1, 3)),
        "out": draw(st.integers(1, 3)),
        "size": size,
        "kernel": kernel,
        "stride": draw(st.integers(1, 2)),
        "padding": padding,
        "seed": draw(st.integers(0, 2**16)),
    }


def _arrays(case: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["batch"], case["channels"], case["size"], case["size"])).astype(np.float32)
    w = rng.standard_normal((case["out"], case["channels"], case["kernel"], case["kernel"])).astype(np.float32)
    return x, w


@check("conv/matches_conv2d", 5, hint="pad the input first, then slide the kernel `stride` positions at a time")
def test_matches_conv2d(grading: GradingSession) -> None:
    qualname = "conv.conv2d_manual"

    def test(case: dict[str, Any]) -> None:
        x, w = _arrays(case)
        kwargs = {"x": x, "weight": w, "stride": case["stride"], "padding": case["padding"]}
        what = f"conv2d_manual(x of shape {x.shape}, weight of shape {w.shape}, stride={case['stride']}, " + (
            f"padding={case['padding']})"
        )
        reply = grading.ask("call", what, needs=(qualname,), target=qualname, kwargs=kwargs)
        expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), stride=case["stride"], padding=case["padding"])
        actual = expect.as_array(reply["result"], what, tuple(expected.shape))
        if not np.allclose(actual, expected.numpy(), atol=1e-4):
            raise CheckFailure(
                f"{what} differs from torch.nn.functional.conv2d by up to "
                f"{np.abs(actual - expected.numpy()).max():.3g}."
            )

    grading.require(qualname)
    run_property(cases(), test, grading.options.seed)
