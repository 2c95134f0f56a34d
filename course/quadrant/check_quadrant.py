"""quadrant/...: the QuadrantNet's layers against the reference's table (stored vectors).

The network is judged in the judge (:mod:`course.quadrant.networks`): its layer table (read with torchinfo from
the rebuilt network), its forward operations, its parameter count and its logits are computed here.
"""

from __future__ import annotations

import numpy as np
import torch

from course import vectors
from course.quadrant.layertable import layer_table
from course.quadrant.networks import QUADRANT_NET, example_batch, network
from grader.checks.registry import check
from grader.judge.faults import CheckFailure
from grader.judge.session import GradingSession
from grader.netgraph import GraphNet, TooSlow

COMPARED = ("Conv2d", "Linear")
BATCH = 2

Row = tuple[str, tuple[int, ...], int]  # a Conv2d or Linear call: kind, output shape, own parameters


def table(net: GraphNet) -> dict:
    """What the quadrant checks compare: Conv2d/Linear rows, forward operations, parameters, logits."""
    x = example_batch((BATCH, 1, 56, 56))
    rows = [(r.kind, r.output_shape, r.params) for r in layer_table(net.eval(), x, COMPARED)]
    with torch.no_grad():
        output = net.eval()(x).detach().numpy()
    return {"rows": rows, "ops": net.forward_ops(), "total_params": net.parameter_count(), "output": output}


def stored_rows(num_channel: int) -> list[Row]:
    """The reference QuadrantNet's Conv2d/Linear rows for ``num_channel`` (4, 8 or 16), from the stored vectors."""
    return [(kind, tuple(shape), params) for kind, shape, params in vectors.table(f"quadrant/rows/{num_channel}")]


def student_table(grading: GradingSession, num_channel: int) -> dict:
    init = {"num_channel": num_channel}

    def read() -> dict:
        net = network(grading, QUADRANT_NET, init)
        what = f"reading QuadrantNet(num_channel={num_channel})'s layers"
        seconds, _ = grading.deadline(grading.options.timeout, what)
        try:
            with net.limited(seconds):
                return table(net)
        except TooSlow:
            raise CheckFailure(f"{what} took more than {seconds:.0f} s: a network of this course runs in ms") from None

    return grading.memo(("quadrant_table", num_channel), read)


def _table(rows: list[Row], with_params: bool) -> str:
    return "\n".join(
        f"  {i + 1}. {kind:<7} output {shape}" + (f", {params:,} parameters" if with_params else "")
        for i, (kind, shape, params) in enumerate(rows)
    )


def compare_layers(
    grading: GradingSession, num_channel: int, with_params: bool, expected: list[Row] | None = None
) -> None:
    """The student's Conv2d/Linear rows against ``expected`` (default: the stored reference rows)."""
    got = student_table(grading, num_channel)["rows"]
    expected = stored_rows(num_channel) if expected is None else expected

    def key(rows):
        return rows if with_params else [(k, s) for k, s, _ in rows]

    if key(got) != key(expected):
        raise CheckFailure(
            f"QuadrantNet(num_channel={num_channel}): the Conv2d/Linear layers (in call order) differ from the "
            f"specification.\nyours:\n{_table(got, with_params)}\nexpected:\n{_table(expected, with_params)}"
        )


@check(
    "quadrant/layer_shapes",
    3,
    hint="build the layers in the docstring's order, sizes from num_channel (the table shows where yours differ)",
    evidence="judge",
)
def test_layer_shapes(grading: GradingSession) -> None:
    compare_layers(grading, 8, with_params=False)


def compare_forward_ops(grading: GradingSession) -> None:
    """QuadrantNet's convolution, ReLU, max-pool and linear operations against the specification's."""
    got = student_table(grading, 8)["ops"]
    expected = list(vectors.table("quadrant/ops"))
    if got != expected:
        raise CheckFailure(
            "QuadrantNet's forward pass calls (convolutions, ReLUs, max pools and linear layers, in order):\n"
            f"  {', '.join(got) or 'none of them'}\nexpected:\n  {', '.join(expected)}"
        )


@check(
    "quadrant/forward_ops",
    2,
    hint="a ReLU after every conv and hidden Linear layer, a 2x2 max pool after each conv",
    evidence="judge",
)
def test_forward_ops(grading: GradingSession) -> None:
    compare_forward_ops(grading)


@check(
    "quadrant/parameter_counts",
    3,
    hint="each layer has its weights plus one bias per output; fc1's inputs follow from the shape after pool2",
    evidence="judge",
)
def test_parameter_counts(grading: GradingSession) -> None:
    compare_layers(grading, 8, with_params=True)
    total = student_table(grading, 8)["total_params"]
    if total != 66_106:
        raise CheckFailure(f"QuadrantNet() has {total:,} parameters in all, expected 66,106 (extra layers?).")


@check(
    "quadrant/num_channel",
    2,
    hint="derive every layer size from num_channel; do not hard-code 8, 16, 32",
    evidence="judge",
)
def test_num_channel(grading: GradingSession) -> None:
    for num_channel in (4, 16):
        compare_layers(grading, num_channel, with_params=True)


@check(
    "quadrant/logits",
    3,
    hint="return the last Linear layer's output; CrossEntropyLoss applies log-softmax itself",
    evidence="judge",
)
def test_logits(grading: GradingSession) -> None:
    what = f"QuadrantNet()(x) for x of shape {BATCH} x 1 x 56 x 56"
    out = student_table(grading, 8)["output"]
    if out.shape != (BATCH, 10):
        raise CheckFailure(f"{what} returned shape {out.shape}, expected {(BATCH, 10)}.")
    if not np.all(np.isfinite(out)):
        raise CheckFailure(f"{what} contains NaN or infinite values.")
    rows_sum_to_one = np.allclose(out.sum(1), 1.0, atol=1e-4) and np.all(out >= 0)
    log_softmax = np.allclose(np.log(np.exp(out.astype(np.float64)).sum(1)), 0.0, atol=1e-4)
    if rows_sum_to_one or log_softmax:
        kind = "probabilities (softmax)" if rows_sum_to_one else "log-probabilities (log_softmax)"
        raise CheckFailure(f"{what} returns {kind}; the contract asks for raw logits.")
