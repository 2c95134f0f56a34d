"""Output sizes and parameter counts of convolutional networks (reference implementation)."""

from __future__ import annotations

from torch import nn


def _effective_kernel(kernel_size: int, dilation: int) -> int:
    """Number of input positions one dilated window spans."""
    return dilation * (kernel_size - 1) + 1


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Return the output length along one spatial axis of ``nn.Conv2d``.

    ``floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``, as PyTorch computes it.
    """
    span = size + 2 * padding - _effective_kernel(kernel_size, dilation)
    return span // stride + 1


def pool_output_size(
    size: int,
    kernel_size: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Return the output length along one spatial axis of ``nn.MaxPool2d``.

    ``stride=None`` means ``stride = kernel_size``. With ``ceil_mode`` the division rounds up and the last
    window is dropped when it would start at or beyond ``size + padding`` (PyTorch's
    ``pooling_output_shape``).
    """
    if stride is None:
        stride = kernel_size
    span = size + 2 * padding - _effective_kernel(kernel_size, dilation)
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1  # ceil division on integers
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def conv_params(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int, int],
    bias: bool = True,
    groups: int = 1,
) -> int:
    """Return the number of learnable parameters of ``nn.Conv2d`` with these arguments.

    An int ``kernel_size`` means a square kernel; each output channel sees ``in_channels // groups`` inputs.
    """
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    weight = out_channels * (in_channels // groups) * kh * kw
    return weight + (out_channels if bias else 0)


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Return the number of learnable parameters of ``nn.Linear(in_features, out_features, bias)``."""
    return out_features * (in_features + int(bias))


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Return the number of parameters of ``model``.

    With ``trainable_only`` only parameters with ``requires_grad`` count. Tied parameters count once;
    buffers are not parameters.
    """
    unique = {id(p): p for _, p in model.named_parameters(remove_duplicate=False)}
    return sum(p.numel() for p in unique.values() if p.requires_grad or not trainable_only)


def quadrant_net_shapes(num_channel: int = 8, input_size: int = 56) -> list[tuple[int, int, int]]:
    """Return the (C, H, W) shapes after conv1, pool1, conv2 and pool2 of the quadrant CNN.

    Both convolutions are 5x5, stride 1, no padding (conv1: ``num_channel`` filters, conv2:
    ``2 * num_channel``); both pools are 2x2 max pools with stride 2 (floor).
    """
    shapes: list[tuple[int, int, int]] = []
    size = input_size
    for channels in (num_channel, 2 * num_channel):
        size = conv_output_size(size, 5)
        shapes.append((channels, size, size))
        size = pool_output_size(size, 2)
        shapes.append((channels, size, size))
    return shapes
