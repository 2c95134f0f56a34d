"""The contract of the student module ``shapes``: every name students implement in it, defined once.

Stubs, the notebook, the solutions, the reference and the checks all follow it (grader/contract.py).
"""

from grader.contract import Exercise, Module

MODULE = Module(
    name="shapes",
    doc="Output sizes and parameter counts of convolutional networks, worked out by hand.",
    imports=("from torch import nn",),
    exercises=(
        Exercise(
            "shapes",
            "conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, "
            "dilation: int = 1) -> int",
            """Return the output length along one spatial axis of ``nn.Conv2d``.

            With input length ``size``, the layer sees ``size + 2 * padding`` positions; a kernel of
            ``kernel_size`` taps spaced ``dilation`` apart spans ``dilation * (kernel_size - 1) + 1`` of
            them, and windows start every ``stride`` positions. Return the number of whole windows,
            exactly as ``nn.Conv2d(1, 1, kernel_size, stride, padding, dilation)`` computes it.

            Example: ``conv_output_size(28, 5) == 24``; ``conv_output_size(5, 3, stride=2, padding=1) == 3``.
            """,
        ),
        Exercise(
            "shapes",
            "pool_output_size(size: int, kernel_size: int, stride: int | None = None, padding: int = 0, "
            "dilation: int = 1, ceil_mode: bool = False) -> int",
            """Return the output length along one spatial axis of ``nn.MaxPool2d``.

            ``stride=None`` means ``stride = kernel_size``. Like the convolution formula, but with
            ``ceil_mode=True`` the division rounds up, and then PyTorch drops the last window if it would
            start beyond the input plus the left padding (``(out - 1) * stride >= size + padding``).
            Match ``nn.MaxPool2d(kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)`` exactly.

            Example: ``pool_output_size(24, 2) == 12``; ``pool_output_size(5, 2, ceil_mode=True) == 3``.
            """,
        ),
        Exercise(
            "shapes",
            "conv_params(in_channels: int, out_channels: int, kernel_size: int | tuple[int, int], "
            "bias: bool = True, groups: int = 1) -> int",
            """Return the number of learnable parameters of ``nn.Conv2d`` with these arguments.

            An int ``kernel_size`` means a square kernel. Each output channel sees
            ``in_channels // groups`` input channels; the bias adds one parameter per output channel.

            Example: ``conv_params(1, 8, 5) == 208``.
            """,
        ),
        Exercise(
            "shapes",
            "linear_params(in_features: int, out_features: int, bias: bool = True) -> int",
            """Return the number of learnable parameters of ``nn.Linear(in_features, out_features, bias)``.

            Example: ``linear_params(1936, 32) == 61984``.
            """,
        ),
        Exercise(
            "shapes",
            "count_parameters(model: nn.Module, trainable_only: bool = True) -> int",
            """Return the number of parameters of ``model``.

            With ``trainable_only`` count only parameters with ``requires_grad``. A parameter shared by
            two layers (tied weights) counts once. Buffers (e.g. BatchNorm running statistics) are not
            parameters.
            """,
        ),
        Exercise(
            "shapes",
            "quadrant_net_shapes(num_channel: int = 8, input_size: int = 56) -> list[tuple[int, int, int]]",
            """Return the (C, H, W) shapes after conv1, pool1, conv2 and pool2 of the quadrant CNN.

            The network sees a 1 x input_size x input_size image; conv1 has ``num_channel`` 5x5 filters
            and conv2 ``2 * num_channel`` 5x5 filters (stride 1, no padding); both pools are 2x2 max
            pools with stride 2 (floor). This is the "why 11 x 11?" question as code.

            Example: ``quadrant_net_shapes()[-1] == (16, 11, 11)``.
            """,
        ),
    ),
)
