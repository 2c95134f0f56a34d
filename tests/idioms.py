"""Everyday PyTorch written into quadrant-style networks: what students hand in, as the grader must judge it.

Each :class:`Idiom` is a small network (``N x 1 x H x W`` images to ``N x 10`` logits) written the way course
code, tutorials and the PyTorch documentation write it. ``tests/test_engine_idioms.py`` exports each one as the
worker does (:func:`grader.netexport.export_network`), rebuilds it as the judge does
(:meth:`grader.netgraph.GraphNet.from_export`) and asserts that the rebuilt network computes what the module
computes at every size a check uses, or that it is refused with a message naming the construct, the line
and what to write instead. None of these networks was written for the grader's sake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Idiom:
    """``build()`` makes the network; ``sized``: it takes any square size (judged at 56, 84 and 70);
    ``refused``: None where it must be judged as written, else words its refusal must contain."""

    name: str
    build: Callable[[], nn.Module]
    sized: bool = True
    refused: str | None = None


C = 8


def head(width: int = 2 * C) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, 4 * C), nn.ReLU(), nn.Linear(4 * C, 10))


class Body(nn.Module):
    """conv-relu-pool twice with ``padding`` (any form ``nn.Conv2d`` takes), then a global max pool."""

    def __init__(self, padding="same", conv=nn.Conv2d, act=nn.ReLU, norm=None, pool=nn.MaxPool2d) -> None:
        super().__init__()
        layers = []
        for cin, cout in ((1, C), (C, 2 * C)):
            layers.append(conv(cin, cout, 5, padding=padding))
            if norm is not None:
                layers.append(norm(cout))
            layers += [act(), pool(2)]
        self.features = nn.Sequential(*layers)
        self.head = head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).amax(dim=(2, 3)))


class Pooled(nn.Module):
    """A padded conv body and a head, with the global pooling step given as a function."""

    def __init__(self, pool: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, C, 5, padding=2)
        self.conv2 = nn.Conv2d(C, 2 * C, 5, padding=2)
        self.pool = pool
        self.head = head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.head(self.pool(x))


class Flat(nn.Module):
    """The course's flatten network (56 x 56 only), with the flatten step given as a function."""

    def __init__(self, flatten: Callable[[torch.Tensor], torch.Tensor], lazy: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, C, 5)
        self.conv2 = nn.Conv2d(C, 2 * C, 5)
        self.fc1 = nn.LazyLinear(4 * C) if lazy else nn.Linear(2 * C * 11 * 11, 4 * C)
        self.fc2 = nn.Linear(4 * C, 10)
        self.flatten = flatten

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(self.flatten(x))))


class Lambda(nn.Module):
    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def seq(*layers: nn.Module) -> nn.Sequential:
    return nn.Sequential(*layers)


def conv_net(*middle: nn.Module, last: int = 2 * C) -> nn.Sequential:
    """conv(1 -> C, pad 2) ReLU pool, ``middle``, a global max and a head over ``last`` channels."""
    return seq(
        nn.Conv2d(1, C, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        *middle,
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
        head(last),
    )


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 2 * C, 3, padding=1)
        self.a = nn.Conv2d(2 * C, 2 * C, 3, padding=1)
        self.b = nn.Conv2d(2 * C, 2 * C, 3, padding=1)
        self.head = head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.stem(x)), 2)
        x = F.relu(x + self.b(F.relu(self.a(x))))
        return self.head(torch.amax(x, dim=(-2, -1)))


class Inception(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.b3 = nn.Conv2d(1, C, 3, padding=1)
        self.b5 = nn.Conv2d(1, C, 5, padding=2)
        self.head = head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([F.relu(self.b3(x)), F.relu(self.b5(x))], dim=1)
        return self.head(F.adaptive_max_pool2d(F.max_pool2d(x, 2), 1).flatten(1))


class SqueezeExcite(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2 * C, 5, padding=2)
        self.gate = nn.Sequential(nn.Linear(2 * C, C), nn.ReLU(), nn.Linear(C, 2 * C), nn.Sigmoid())
        self.head = head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        weights = self.gate(x.mean(dim=(2, 3)))
        x = x * weights[:, :, None, None]
        return self.head(x.amax(dim=(2, 3)))


class MatmulHead(nn.Module):
    """A hand-written linear layer: ``x @ w.T + b``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2 * C, 5, padding=2)
        self.w = nn.Parameter(torch.randn(10, 2 * C) * 0.1)
        self.b = nn.Parameter(torch.zeros(10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv(x)), 4).amax(dim=(2, 3))
        return x @ self.w.T + self.b


class EinsumHead(MatmulHead):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv(x)), 4).amax(dim=(2, 3))
        return torch.einsum("nc,kc->nk", x, self.w) + self.b


class Normalised(nn.Module):
    """Input normalisation with MNIST's mean and std kept as buffers (as torchvision's transforms do)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(0.1307))
        self.register_buffer("std", torch.tensor(0.3081))
        self.body = Body(padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - self.mean) / self.std)


class SizePool(Pooled):
    """A global max pool whose kernel is read from the input's size (specialised by tracing)."""

    def __init__(self) -> None:
        super().__init__(lambda x: F.max_pool2d(x, kernel_size=x.size()[2:]).flatten(1))


class ShapePool(Pooled):
    """A global average computed from the input's shape: ``sum / (h * w)`` (symbolic sizes)."""

    def __init__(self) -> None:
        super().__init__(lambda x: x.sum(dim=(2, 3)) / (x.shape[2] * x.shape[3]))


class Augmenting(nn.Module):
    """Random corners while training (``if self.training``), the course's flatten head otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self.net = Flat(lambda x: x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            shifts = torch.randint(0, 2, (2,)) * 28
            x = torch.roll(x, shifts=(int(shifts[0]), int(shifts[1])), dims=(2, 3))
        return self.net(x)


class AugmentedFlatten(Flat):
    """Random corners while training, chosen with tensor operations (a roll per corner, an index)."""

    def __init__(self) -> None:
        super().__init__(lambda x: x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            rolled = torch.stack([torch.roll(x, s, (2, 3)) for s in ((0, 0), (0, 28), (28, 0), (28, 28))])
            x = rolled[torch.randint(0, 4, (x.shape[0],)), torch.arange(x.shape[0])]
        return super().forward(x)


class NoisyInput(Body):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            x = x + 0.05 * torch.randn_like(x)
        return super().forward(x)


class Counter(Body):
    """Counts its forward passes in a buffer: state the grader cannot judge as a pure function."""

    def __init__(self) -> None:
        super().__init__(padding=2)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return super().forward(x)


class DataDependent(Body):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.mean() > 0.5:  # a branch on the data: torch.export cannot trace it
            x = 1 - x
        return super().forward(x)


class NumpyInForward(Body):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = float(x.detach().numpy().max())
        return super().forward(x / scale)


class FixedBatch(Flat):
    def __init__(self) -> None:
        super().__init__(lambda x: x.view(2, -1))


class Printing(Body):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        print("batch of", x.shape[0])
        return super().forward(x)


class Unpadded(nn.Module):
    """Valid convolutions and a global average (the course's first suggestion)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = seq(
            nn.Conv2d(1, C, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(C, 2 * C, 5), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.features(x)), 1))


class Looped(nn.Module):
    """Layers kept in a ModuleList and applied in a Python loop."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(1, C, 3, padding=1), nn.Conv2d(C, 2 * C, 3, padding=1)])
        self.head = head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = F.max_pool2d(F.relu(conv(x)), 2)
        return self.head(x.flatten(2).max(dim=2).values)


class Named(nn.Module):
    """Layers in an OrderedDict Sequential, a functional dropout and log-softmax output."""

    def __init__(self) -> None:
        super().__init__()
        from collections import OrderedDict

        self.features = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv2d(1, C, 5, padding=2),
                relu1=nn.ReLU(inplace=True),
                pool1=nn.MaxPool2d(2),
                conv2=nn.Conv2d(C, 2 * C, 5, padding=2),
                relu2=nn.ReLU(inplace=True),
                pool2=nn.MaxPool2d(2),
            )
        )
        self.head = head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x).amax(dim=(2, 3))
        x = F.dropout(x, 0.2, training=self.training)
        return F.log_softmax(self.head(x), dim=1)


class TorchFunctions(Body):
    """torch.* spellings: torch.relu, torch.max_pool2d, torch.flatten, torch.mean with keepdim."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.max_pool2d(torch.relu(self.features[0](x)), 2)
        x = torch.max_pool2d(torch.relu(self.features[3](x)), 2)
        x = torch.flatten(torch.amax(x, dim=(2, 3), keepdim=True), 1)
        return self.head(x)


class Unfolded(nn.Module):
    """A convolution written by hand with ``F.unfold`` (im2col) and a matrix product."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(2 * C, 1 * 3 * 3) * 0.3)
        self.head = head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        columns = F.unfold(x, 3, padding=1)  # N x 9 x (h*w)
        maps = (self.weight @ columns).view(n, 2 * C, h, w)
        return self.head(F.relu(maps).amax(dim=(2, 3)))


class Interpolated(nn.Module):
    """Downsamples with F.interpolate (bilinear, a scale factor) before the convolutions."""

    def __init__(self) -> None:
        super().__init__()
        self.body = Body(padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
        return self.body(x)


class Clamped(Body):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.clamp(x, 0.0, 1.0) * 2 - 1
        return super().forward(x)


class Standardised(Body):
    """Per-image standardisation: mean and std over each image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True)
        return super().forward((x - mean) / (std + 1e-5))


class LogSumExpPool(Pooled):
    def __init__(self) -> None:
        super().__init__(lambda x: torch.logsumexp(x.flatten(2), dim=2))


class TypeCast(Body):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float()).to(torch.float32).type(torch.float32)


class DoubleHead(Body):
    """Computes in float64 inside the head and returns float32 logits."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x).amax(dim=(2, 3))
        return self.head(features.double().float())


class Squeezed(Pooled):
    def __init__(self) -> None:
        super().__init__(lambda x: F.adaptive_max_pool2d(x, 1).squeeze())


class ChannelsLast(Body):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.contiguous(memory_format=torch.channels_last))


class Permuted(Pooled):
    """Channels moved last with permute, then a max over the positions."""

    def __init__(self) -> None:
        super().__init__(lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, 2 * C).max(dim=1).values)


class Gated(Body):
    """torch.where on a comparison: a hard threshold of the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.where(x > 0.1, x, torch.zeros_like(x)))


class Spectral(Body):
    def __init__(self) -> None:
        super().__init__(padding=2)
        self.head[0] = nn.utils.parametrizations.spectral_norm(nn.Linear(2 * C, 4 * C))


class WeightNormed(Body):
    def __init__(self) -> None:
        super().__init__(padding=2)
        self.head[0] = nn.utils.parametrizations.weight_norm(nn.Linear(2 * C, 4 * C))


class SplitChannels(Body):
    """torch.chunk of the feature maps, a max of the two halves (a maxout)."""

    def __init__(self) -> None:
        super().__init__(padding=2)
        self.head = head(C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = torch.chunk(self.features(x), 2, dim=1)
        return self.head(torch.maximum(a, b).amax(dim=(2, 3)))


def _lazy_conv_net() -> nn.Module:
    return seq(nn.LazyConv2d(C, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), Lambda(lambda x: x.amax((2, 3))), head(C))


def _lambda_pool(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], nn.Module]:
    return lambda: Pooled(fn)


IDIOMS: list[Idiom] = [
    # --- padding and convolution forms
    Idiom("padding_same", lambda: Body(padding="same")),
    Idiom("padding_valid_with_avg", lambda: Body(padding="valid")),
    Idiom("padding_int", lambda: Body(padding=2)),
    Idiom("padding_tuple", lambda: Body(padding=(2, 2))),
    Idiom(
        "padding_reflect",
        lambda: seq(
            nn.Conv2d(1, C, 5, padding=2, padding_mode="reflect"),
            nn.ReLU(),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
            head(C),
        ),
    ),
    Idiom(
        "padding_replicate",
        lambda: seq(
            nn.ReplicationPad2d(2), nn.Conv2d(1, C, 5), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(), head(C)
        ),
    ),
    Idiom("f_pad_constant", _lambda_pool(lambda x: F.pad(x, (1, 1, 1, 1)).amax(dim=(2, 3)))),
    Idiom("dilated_conv", lambda: conv_net(nn.Conv2d(C, 2 * C, 3, padding=2, dilation=2), nn.ReLU())),
    Idiom("strided_conv", lambda: conv_net(nn.Conv2d(C, 2 * C, 3, stride=2, padding=1), nn.ReLU())),
    Idiom(
        "depthwise_separable",
        lambda: conv_net(nn.Conv2d(C, C, 3, padding=1, groups=C), nn.Conv2d(C, 2 * C, 1), nn.ReLU()),
    ),
    Idiom("conv_transpose", lambda: conv_net(nn.ConvTranspose2d(C, 2 * C, 2, stride=2), nn.ReLU())),
    Idiom("conv_without_bias", lambda: conv_net(nn.Conv2d(C, 2 * C, 5, padding=2, bias=False), nn.ReLU())),
    Idiom("unfold_conv", Unfolded),
    # --- lazy modules
    Idiom("lazy_linear_flatten", lambda: Flat(lambda x: x.flatten(1), lazy=True), sized=False),
    Idiom("lazy_conv", _lazy_conv_net),
    # --- activations
    Idiom("relu_inplace", Named),
    Idiom("prelu", lambda: Body(act=nn.PReLU)),
    Idiom("mish", lambda: Body(act=nn.Mish)),
    Idiom("hardswish", lambda: Body(act=nn.Hardswish)),
    Idiom("gelu", lambda: Body(act=nn.GELU)),
    Idiom("silu", lambda: Body(act=nn.SiLU)),
    Idiom("elu", lambda: Body(act=nn.ELU)),
    Idiom("leaky_relu", lambda: Body(act=lambda: nn.LeakyReLU(0.1, inplace=True))),
    Idiom("relu6", lambda: Body(act=nn.ReLU6)),
    Idiom(
        "tanh_sigmoid",
        lambda: seq(
            nn.Conv2d(1, C, 5, padding=2),
            nn.Tanh(),
            nn.Conv2d(C, 2 * C, 3, padding=1),
            nn.Sigmoid(),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
            head(),
        ),
    ),
    Idiom("softplus", lambda: Body(act=nn.Softplus)),
    # --- normalisation
    Idiom("batch_norm", lambda: Body(norm=nn.BatchNorm2d)),
    Idiom(
        "batch_norm_1d_head",
        lambda: seq(
            nn.Conv2d(1, 2 * C, 5, padding=2),
            nn.ReLU(),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
            nn.Linear(2 * C, 4 * C),
            nn.BatchNorm1d(4 * C),
            nn.ReLU(),
            nn.Linear(4 * C, 10),
        ),
    ),
    Idiom("instance_norm", lambda: Body(norm=nn.InstanceNorm2d)),
    Idiom("group_norm", lambda: Body(norm=lambda c: nn.GroupNorm(2, c))),
    Idiom(
        "layer_norm_head",
        lambda: seq(
            nn.Conv2d(1, 2 * C, 5, padding=2),
            nn.ReLU(),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
            nn.LayerNorm(2 * C),
            head(),
        ),
    ),
    Idiom("input_normalisation_buffers", Normalised),
    Idiom("per_image_standardisation", Standardised),
    Idiom("weight_norm", WeightNormed),
    # --- pooling
    Idiom("adaptive_max", lambda: conv_net(nn.Conv2d(C, 2 * C, 5, padding=2), nn.ReLU())),
    Idiom("adaptive_avg", Unpadded),
    Idiom("amax", lambda: Body(padding=2)),
    Idiom("mean_hw", _lambda_pool(lambda x: x.mean((2, 3)))),
    Idiom("flatten_max_values", Looped),
    Idiom("torch_max_dim", _lambda_pool(lambda x: torch.max(torch.max(x, dim=3)[0], dim=2)[0])),
    Idiom("avg_pool_layers", lambda: Body(pool=nn.AvgPool2d)),
    Idiom("pool_kernel_from_size", SizePool),
    Idiom("mean_from_shape", ShapePool),
    Idiom("logsumexp_pool", LogSumExpPool),
    Idiom("adaptive_then_squeeze", Squeezed),
    Idiom("permute_then_max", Permuted),
    Idiom("maxout_chunks", SplitChannels),
    # --- flattening and heads
    Idiom("flatten_module", lambda: Flat(nn.Flatten()), sized=False),
    Idiom("view_size0", lambda: Flat(lambda x: x.view(x.size(0), -1)), sized=False),
    Idiom("reshape_len", lambda: Flat(lambda x: x.reshape(len(x), -1)), sized=False),
    Idiom("torch_flatten", lambda: Flat(lambda x: torch.flatten(x, start_dim=1)), sized=False),
    Idiom("matmul_transpose", MatmulHead),
    Idiom("einsum_head", EinsumHead),
    Idiom("log_softmax_output", Named),
    Idiom(
        "unflatten_module",
        lambda: seq(
            nn.Conv2d(1, C, 5, padding=2),
            nn.ReLU(),
            nn.Flatten(2),
            Lambda(lambda x: x.max(dim=2).values),
            nn.Unflatten(1, (C, 1)),
            nn.Flatten(),
            head(C),
        ),
    ),
    Idiom("identity_layers", lambda: conv_net(nn.Identity(), nn.Conv2d(C, 2 * C, 3, padding=1), nn.Identity())),
    # --- architectures
    Idiom("residual_block", Residual),
    Idiom("inception_cat", Inception),
    Idiom("squeeze_excite", SqueezeExcite),
    Idiom("module_list_loop", Looped),
    Idiom("torch_functions", TorchFunctions),
    # --- dropout, augmentation
    Idiom("dropout", lambda: seq(Body(padding=2), nn.Dropout(0.3))),
    Idiom("dropout2d", lambda: conv_net(nn.Dropout2d(0.1), nn.Conv2d(C, 2 * C, 3, padding=1), nn.ReLU())),
    Idiom("functional_dropout", Named),
    Idiom("random_corner_augmentation_with_tensors", AugmentedFlatten, sized=False),
    Idiom("noise_augmentation", NoisyInput),
    # --- input handling, types, layouts
    Idiom("interpolate_bilinear", Interpolated),
    Idiom("upsample_nearest", lambda: seq(nn.Upsample(scale_factor=2), Body(padding=2))),
    Idiom("clamp_rescale", Clamped),
    Idiom("where_threshold", Gated),
    Idiom("float_casts", TypeCast),
    Idiom("double_in_head", DoubleHead),
    Idiom("channels_last_input", ChannelsLast),
    Idiom("print_in_forward", Printing),
    # --- refused, with a message that says why and what to write instead
    Idiom("buffer_counter", Counter, refused="calls"),
    Idiom("spectral_norm", Spectral, refused="changes"),
    Idiom("data_dependent_branch", DataDependent, refused="if x.mean() > 0.5"),
    Idiom("numpy_in_forward", NumpyInForward, refused="numpy"),
    Idiom("fixed_batch_view", FixedBatch, sized=False, refused="batch"),
    Idiom("random_shift_read_into_python", Augmenting, sized=False, refused="int(shifts[0])"),
]
