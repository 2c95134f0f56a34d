# Dmitri Ivanov -- assignment 3, shapes
import math

import torch.nn as nn


def _effective(ksize, dil):
    # effective size of a dilated filter
    return (ksize - 1) * dil + 1


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    return math.floor((size + padding * 2 - _effective(kernel_size, dilation)) / stride) + 1


def pool_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    step = kernel_size if stride is None else stride
    available = size + padding * 2 - _effective(kernel_size, dilation)
    if ceil_mode:
        num = math.ceil(available / step) + 1
        # drop the final window if it starts past the input
        while (num - 1) * step >= size + padding:
            num -= 1
        return num
    return math.floor(available / step) + 1


def conv_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    height, width = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    num = out_channels * height * width * in_channels // groups
    if bias:
        num = num + out_channels
    return num


def linear_params(in_features, out_features, bias=True):
    weight_count = in_features * out_features
    bias_count = out_features if bias else 0
    return weight_count + bias_count


def count_parameters(model: nn.Module, trainable_only=True):
    visited = set()
    total = 0
    for _label, tensor in model.named_parameters():
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        if tensor.requires_grad or not trainable_only:
            total += tensor.numel()
    return total


def quadrant_net_shapes(num_channel=8, input_size=56):
    result = []
    side = input_size
    for chans in (num_channel, 2 * num_channel):
        side = conv_output_size(side, 5)
        result += [(chans, side, side)]
        side = pool_output_size(side, 2)
        result += [(chans, side, side)]
    return result
