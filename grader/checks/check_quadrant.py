"""quadrant/...: the QuadrantNet's layers, read with torchinfo, against the reference's table (stored vectors)."""

from __future__ import annotations

import numpy as np

from grader import vectors
from grader.checks.registry import check
from grader.judge import expect
from grader.judge.faults import CheckFailure
from grader.judge.session import GradingSession

COMPARED = ("Conv2d", "Linear")
BATCH = 2


FORWARD_OPS = {"conv2d": "conv2d", "relu": "relu", "relu_": "relu", "max_pool2d": "max_pool2d", "linear": "linear"}


def forward_ops(names: list[str]) -> list[str]:
    """The convolution, ReLU, max-pool and linear calls of a forward pass, in order."""
    return [FORWARD_OPS[n] for n in names if n in FORWARD_OPS]


Row = tuple[str, tuple[int, ...], int]  # a Conv2d or Linear call: kind, output shape, own parameters


def stored_rows(num_channel: int) -> list[Row]:
    """The reference QuadrantNet's Conv2d/Linear rows for ``num_channel`` (4, 8 or 16), from the stored vectors."""
    return [(kind, tuple(shape), params) for kind, shape, params in vectors.table(f"quadrant/rows/{num_channel}")]


def student_table(grading: GradingSession, num_channel: int) -> dict:
    what = f"QuadrantNet(num_channel={num_channel}) on a {BATCH} x 1 x 56 x 56 batch"
    return grading.memo(
        ("quadrant_table", num_channel),
        lambda: grading.ask(
            "layer_table",
            what,
            needs=("quadrant.QuadrantNet",),
            target="quadrant.QuadrantNet",
            init={"num_channel": num_channel},
            input_shape=[BATCH, 1, 56, 56],
        ),
    )


def _rows(rows: list[dict]) -> list[Row]:
    return [(r["kind"], tuple(r["output_shape"]), r["params"]) for r in rows if r["kind"] in COMPARED]


def _table(rows: list[Row], with_params: bool) -> str:
    return "\n".join(
        f"  {i + 1}. {kind:<7} output {shape}" + (f", {params:,} parameters" if with_params else "")
        for i, (kind, shape, params) in enumerate(rows)
    )


def compare_layers(
    grading: GradingSession, num_channel: int, with_params: bool, expected: list[Row] | None = None
) -> None:
    """The student's Conv2d/Linear rows against ``expected`` (default: the stored reference rows)."""
    got = _rows(student_table(grading, num_channel)["rows"])
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
    hint="conv 8@5x5, pool 2, conv 16@5x5, pool 2, then 16*11*11 -> 32 -> 16 -> 10",
)
def test_layer_shapes(grading: GradingSession) -> None:
    compare_layers(grading, 8, with_params=False)


@check(
    "quadrant/forward_ops", 2, hint="a ReLU after every conv and hidden Linear layer, a 2x2 max pool after each conv"
)
def test_forward_ops(grading: GradingSession) -> None:
    got = forward_ops(student_table(grading, 8)["ops"])
    expected = list(vectors.table("quadrant/ops"))
    if got != expected:
        raise CheckFailure(
            "QuadrantNet's forward pass calls (convolutions, ReLUs, max pools and linear layers, in order):\n"
            f"  {', '.join(got) or 'none of them'}\nexpected:\n  {', '.join(expected)}"
        )


@check("quadrant/parameter_counts", 3, hint="conv1 208, conv2 3,216, fc1 61,984, fc2 528, fc3 170: 66,106 in all")
def test_parameter_counts(grading: GradingSession) -> None:
    compare_layers(grading, 8, with_params=True)
    total = student_table(grading, 8)["total_params"]
    if total != 66_106:
        raise CheckFailure(f"QuadrantNet() has {total:,} parameters in all, expected 66,106 (extra layers?).")


@check("quadrant/num_channel", 2, hint="derive every layer size from num_channel; do not hard-code 8, 16, 32")
def test_num_channel(grading: GradingSession) -> None:
    for num_channel in (4, 16):
        compare_layers(grading, num_channel, with_params=True)


@check(
    "quadrant/logits",
    3,
    hint="return the last Linear layer's output; CrossEntropyLoss applies log-softmax itself",
)
def test_logits(grading: GradingSession) -> None:
    what = f"QuadrantNet()(x) for x of shape {BATCH} x 1 x 56 x 56"
    out = expect.as_array(student_table(grading, 8)["output"], what, shape=(BATCH, 10))
    if not np.all(np.isfinite(out)):
        raise CheckFailure(f"{what} contains NaN or infinite values.")
    rows_sum_to_one = np.allclose(out.sum(1), 1.0, atol=1e-4) and np.all(out >= 0)
    log_softmax = np.allclose(np.log(np.exp(out.astype(np.float64)).sum(1)), 0.0, atol=1e-4)
    if rows_sum_to_one or log_softmax:
        kind = "probabilities (softmax)" if rows_sum_to_one else "log-probabilities (log_softmax)"
        raise CheckFailure(f"{what} returns {kind}; the contract asks for raw logits.")
