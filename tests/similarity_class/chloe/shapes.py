"""Output sizes and parameter counts of convolutional networks, worked out by hand.

Exercise module of cnn-grader: replace each ``raise NotImplementedError`` with your code.
"""

from __future__ import annotations

from torch import nn


def _dilated(kernel_size, dilation):
    """Width of a dilated kernel."""
    return 1 + (kernel_size - 1) * dilation


def _pair(value):
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def conv_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> int:
    """Return the output length along one spatial axis of ``nn.Conv2d``.

    With input length ``size``, the layer sees ``size + 2 * padding`` positions; a kernel of
    ``kernel_size`` taps spaced ``dilation`` apart spans ``dilation * (kernel_size - 1) + 1`` of
    them, and windows start every ``stride`` positions. Return the number of whole windows,
    exactly as ``nn.Conv2d(1, 1, kernel_size, stride, padding, dilation)`` computes it.

    Example: ``conv_output_size(28, 5) == 24``; ``conv_output_size(5, 3, stride=2, padding=1) == 3``.
    """
    total = size + 2 * padding
    windows = 0
    start = 0
    while start + _dilated(kernel_size, dilation) <= total:
        windows += 1
        start += stride
    return windows


def pool_output_size(
    size: int,
    kernel_size: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Return the output length along one spatial axis of ``nn.MaxPool2d``.

    ``stride=None`` means ``stride = kernel_size``. Like the convolution formula, but with
    ``ceil_mode=True`` the division rounds up, and then PyTorch drops the last window if it would
    start beyond the input plus the left padding (``(out - 1) * stride >= size + padding``).
    Match ``nn.MaxPool2d(kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)`` exactly.

    Example: ``pool_output_size(24, 2) == 12``; ``pool_output_size(5, 2, ceil_mode=True) == 3``.
    """
    step = stride or kernel_size
    reach = _dilated(kernel_size, dilation)
    count = (size + 2 * padding - reach + (step - 1 if ceil_mode else 0)) // step + 1
    if ceil_mode and (count - 1) * step >= size + padding:
        count -= 1  # that window would only see right padding
    return count


def conv_params(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int, int],
    bias: bool = True,
    groups: int = 1,
) -> int:
    """Return the number of learnable parameters of ``nn.Conv2d`` with these arguments.

    An int ``kernel_size`` means a square kernel. Each output channel sees
    ``in_channels // groups`` input channels; the bias adds one parameter per output channel.

    Example: ``conv_params(1, 8, 5) == 208``.
    """
    kh, kw = _pair(kernel_size)
    return out_channels * (in_channels // groups * kh * kw + int(bias))


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Return the number of learnable parameters of ``nn.Linear(in_features, out_features, bias)``.

    Example: ``linear_params(1936, 32) == 61984``.
    """
    return out_features * (in_features + int(bias))


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Return the number of parameters of ``model``.

    With ``trainable_only`` count only parameters with ``requires_grad``. A parameter shared by
    two layers (tied weights) counts once. Buffers (e.g. BatchNorm running statistics) are not
    parameters.
    """
    unique = {id(p): p for p in model.parameters()}.values()
    return sum(p.numel() for p in unique if p.requires_grad or not trainable_only)


def quadrant_net_shapes(num_channel: int = 8, input_size: int = 56) -> list[tuple[int, int, int]]:
    """Return the (C, H, W) shapes after conv1, pool1, conv2 and pool2 of the quadrant CNN.

    The network sees a 1 x input_size x input_size image; conv1 has ``num_channel`` 5x5 filters
    and conv2 ``2 * num_channel`` 5x5 filters (stride 1, no padding); both pools are 2x2 max
    pools with stride 2 (floor). This is the "why 11 x 11?" question as code.

    Example: ``quadrant_net_shapes()[-1] == (16, 11, 11)``.
    """
    c1 = conv_output_size(input_size, 5)
    s1 = pool_output_size(c1, 2)
    c2 = conv_output_size(s1, 5)
    s2 = pool_output_size(c2, 2)
    return [(num_channel, c1, c1), (num_channel, s1, s1), (2 * num_channel, c2, c2), (2 * num_channel, s2, s2)]
