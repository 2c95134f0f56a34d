# Ben Okafor - CNN homework, part 1 (shapes)
import math

import torch.nn as nn


def _span(k, d):
    # how many input cells one kernel covers once it is dilated
    return (k - 1) * d + 1


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    return math.floor((size + padding * 2 - _span(kernel_size, dilation)) / stride) + 1


def pool_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    s = kernel_size if stride is None else stride
    room = size + padding * 2 - _span(kernel_size, dilation)
    if ceil_mode:
        n = math.ceil(room / s) + 1
        # pytorch throws away a window that would begin in the right padding
        while (n - 1) * s >= size + padding:
            n -= 1
        return n
    return math.floor(room / s) + 1


def conv_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    n = out_channels * kh * kw * in_channels // groups
    if bias:
        n = n + out_channels
    return n


def linear_params(in_features, out_features, bias=True):
    w = in_features * out_features
    b = out_features if bias else 0
    return w + b


def count_parameters(model: nn.Module, trainable_only=True):
    seen = set()
    count = 0
    for _name, param in model.named_parameters():
        if id(param) in seen:
            continue
        seen.add(id(param))
        if param.requires_grad or not trainable_only:
            count += param.numel()
    return count


def quadrant_net_shapes(num_channel=8, input_size=56):
    out = []
    h = input_size
    for c in (num_channel, 2 * num_channel):
        h = conv_output_size(h, 5)
        out += [(c, h, h)]
        h = pool_output_size(h, 2)
        out += [(c, h, h)]
    return out
