"""The operations a judged network may use: PyTorch's Core ATen operator set, less what cannot be pure.

A student network is exported with ``torch.export`` and decomposed to the Core ATen IR
(:func:`decomposition_table`): PyTorch's own closed set of about 190 functional operations into which every
``nn`` layer and ``torch`` function decomposes. The judge runs a graph only if each of its operations is in
:data:`ALLOWED`, resolved by name from this fixed table (never looked up in a module):

- every Core ATen operation whose schema writes none of its arguments, except :data:`REFUSED` (operations
  that read memory by address or outside their arguments);
- :data:`PRESERVED`: ``conv2d``, ``linear`` and ``max_pool2d`` are kept whole instead of decomposed, so a
  network's layer table still shows its convolutions and linear layers (and trains as fast as before);
- a few functional operations with no decomposition (:data:`EXTRA`), size arithmetic on Python integers
  (:data:`SYMBOLIC`) and tracing's assertions (:data:`NO_OPS`, which the judge skips);
- random operations (:data:`RANDOM`), which draw from the network's own generator
  (:class:`RandomSource`), and ``empty`` tensors, which the judge fills with zeros (:data:`ZEROED`): an
  uninitialised tensor would show the network whatever the judge's memory held before.

Nothing here writes a tensor in place: a rebuilt network is a pure function of its parameters, its buffers
and its input. Batch norm's running statistics are the one state a forward pass may change
(:mod:`grader.netgraph` applies them).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import partial
from typing import Any

import torch

_ATEN = torch.ops.aten

# composites kept whole: readable layer tables, and the training form's fast paths (grader/fastgraph.py)
PRESERVED = ("conv2d.default", "linear.default", "max_pool2d.default")
# functional operations that have no decomposition to Core ATen
EXTRA = (
    "adaptive_max_pool2d.default",
    "_native_batch_norm_legit_functional.default",  # batch norm in train mode, its new statistics as outputs
    "reshape.default",  # the training form writes views of channels-last tensors as reshapes
    "flatten.using_ints",  # nn.Flatten, a view (kept where a graph needs no decomposition, grader/netexport.py)
)
# Core ATen operations the judge will not run
REFUSED = {
    "as_strided.default": "it reads a tensor's memory by address",
    "sym_storage_offset.default": "it reads where a tensor lies in memory",
    "_native_batch_norm_legit.default": "it writes the running statistics in place",
    "atan2.out": "it writes its output argument",
}
NO_OPS = (  # tracing's checks of what it assumed (a valid input never trips them)
    "_assert_tensor_metadata.default",
    "_assert_scalar.default",
    "_assert_async.default",
    "_assert_async.msg",
    "sym_constrain_range_for_size.default",
)
SYMBOLIC = {
    f"operator.{name}": getattr(operator, name)
    for name in (
        "getitem",
        "add",
        "sub",
        "mul",
        "floordiv",
        "truediv",
        "mod",
        "neg",
        "pow",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
    )
}


class RandomSource:
    """A network's own random numbers: one generator per device, each seeded with :attr:`seed` when first used.

    Two networks trained side by side on threads of one process then draw the same numbers whatever runs
    beside them (grader/trainer.py), and a training is reproducible from its seed alone.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._generators: dict[str, torch.Generator] = {}

    def __deepcopy__(self, memo: dict) -> RandomSource:
        return RandomSource(self.seed)  # a copy draws its own numbers, from the start

    def reset(self) -> None:
        """Draw from the start again."""
        self._generators.clear()

    def on(self, device: torch.device | str | None) -> torch.Generator | None:
        key = str(torch.device(device if device is not None else "cpu"))
        if key == "meta":
            return None  # shapes only (grader/netgraph.py, GraphNet.bytes_needed): nothing is drawn
        if key not in self._generators:
            self._generators[key] = torch.Generator(device=key).manual_seed(self.seed)
        return self._generators[key]


def _native_dropout(random: RandomSource, x: torch.Tensor, p: float, train: bool | None) -> tuple:
    """ATen's CPU ``native_dropout`` with an explicit generator: a Bernoulli(1 - p) mask, scaled."""
    if not train or p == 0 or x.numel() == 0:
        return x.clone(), torch.ones_like(x, dtype=torch.bool)
    if p == 1:
        return x * torch.zeros((), dtype=x.dtype, device=x.device), torch.zeros_like(x, dtype=torch.bool)
    # drawn in the default layout, as the module drew it (the training form's tensors are channels-last)
    mask = torch.empty_like(x, memory_format=torch.contiguous_format).bernoulli_(1 - p, generator=random.on(x.device))
    return x * mask * (1.0 / (1 - p)), mask.bool()


def _with_generator(overload: Any, random: RandomSource, *args: Any, **kwargs: Any) -> torch.Tensor:
    """A random operation's ``generator`` overload, drawing on its ``device=`` or else its input's device; a
    ``*_like`` draw is made in the default layout, as the module made it (the training form is channels-last)."""
    tensor = next((a for a in args if isinstance(a, torch.Tensor)), None)
    device = kwargs.get("device") or (tensor.device if tensor is not None else None)
    if any(a.name == "memory_format" for a in overload._schema.arguments) and kwargs.get("memory_format") in (
        None,
        torch.preserve_format,
    ):
        kwargs["memory_format"] = torch.contiguous_format
    return overload(*args, generator=random.on(device), **kwargs)


# every random operation a graph may use, and how it runs with the network's own generator
RANDOM: dict[str, Callable[..., Any]] = {
    "native_dropout.default": _native_dropout,
    "rand.default": partial(_with_generator, _ATEN.rand.generator),
    "randn.default": partial(_with_generator, _ATEN.randn.generator),
    "rand_like.default": partial(_with_generator, _ATEN.rand_like.generator),
    "randn_like.default": partial(_with_generator, _ATEN.randn_like.generator),
    "randint.default": partial(_with_generator, _ATEN.randint.generator),
    "randint.low": partial(_with_generator, _ATEN.randint.low_generator),
    "randperm.default": partial(_with_generator, _ATEN.randperm.generator),
    "bernoulli.p": partial(_with_generator, _ATEN.bernoulli.p),
    "bernoulli.default": partial(_with_generator, _ATEN.bernoulli.default),
    "normal.Tensor_float": partial(_with_generator, _ATEN.normal.Tensor_float),
    "normal.float_Tensor": partial(_with_generator, _ATEN.normal.float_Tensor),
    "normal.Tensor_Tensor": partial(_with_generator, _ATEN.normal.Tensor_Tensor),
}


def _zeros(*args: Any, **kwargs: Any) -> torch.Tensor:
    kwargs.pop("memory_format", None)
    return torch.zeros(*args, **kwargs)


def _zeros_strided(size: Any, stride: Any, **kwargs: Any) -> torch.Tensor:
    return torch.zeros(size, **kwargs)


def _zeros_like(x: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    return torch.zeros_like(x, **kwargs)


ZEROED: dict[str, Callable[..., Any]] = {
    "empty.memory_format": _zeros,
    "empty_strided.default": _zeros_strided,
    "empty_like.default": _zeros_like,
}


def _core() -> dict[str, Any]:
    """Core ATen operations by name ("aten.conv2d.default" style), as this PyTorch defines the set."""
    found = {}
    for packet_name in dir(_ATEN):
        packet = getattr(_ATEN, packet_name, None)
        if not isinstance(packet, torch._ops.OpOverloadPacket):
            continue
        for overload in packet.overloads():
            op = getattr(packet, overload)
            if torch.Tag.core in op.tags:
                found[f"{packet_name}.{overload}"] = op
    return found


def _overload(name: str) -> Any:
    packet, overload = name.split(".")
    return getattr(getattr(_ATEN, packet), overload)


def _allowed() -> dict[str, Callable[..., Any]]:
    table: dict[str, Callable[..., Any]] = dict(SYMBOLIC)
    for name, op in _core().items():
        if name in REFUSED or name in RANDOM or name in ZEROED or op._schema.is_mutable:
            continue
        if torch.Tag.nondeterministic_seeded in op.tags:
            continue  # a random operation without a seeded form here
        table[f"aten.{name}"] = op
    for name in PRESERVED + EXTRA:
        table[f"aten.{name}"] = _overload(name)
    for name in NO_OPS:
        table[f"aten.{name}"] = _no_op
    for name, substitute in ZEROED.items():
        table[f"aten.{name}"] = substitute
    return table


def _no_op(*args: Any, **kwargs: Any) -> None:
    return None


ALLOWED = _allowed()
RANDOM_NAMES = frozenset(f"aten.{name}" for name in RANDOM)  # run with the network's generator
ALL_OPS = frozenset(ALLOWED) | RANDOM_NAMES


def runner(name: str, random: RandomSource) -> Callable[..., Any]:
    """How the judge runs operation ``name`` (which must be in :data:`ALL_OPS`)."""
    if name in RANDOM_NAMES:
        return partial(RANDOM[name.removeprefix("aten.")], random)
    return ALLOWED[name]


def decomposition_table() -> dict:
    """``torch.export``'s decompositions to Core ATen, less :data:`PRESERVED`."""
    table = torch.export.default_decompositions()
    for name in PRESERVED:
        table.pop(_overload(name), None)
    return table


# --- what an operation is called in a layer table, and in messages ---------------------------------------

_KINDS = {
    "conv2d": "Conv2d",
    "convolution": "Conv2d",
    "linear": "Linear",
    "addmm": "MatMul",
    "mm": "MatMul",
    "bmm": "MatMul",
    "max_pool2d": "MaxPool2d",
    "max_pool2d_with_indices": "MaxPool2d",
    "avg_pool2d": "AvgPool2d",
    "adaptive_max_pool2d": "AdaptiveMaxPool2d",
    "_adaptive_avg_pool2d": "AdaptiveAvgPool2d",
    "relu": "ReLU",
    "_native_batch_norm_legit_functional": "BatchNorm",
    "_native_batch_norm_legit_no_training": "BatchNorm",
    "_native_batch_norm_legit": "BatchNorm",
    "native_layer_norm": "LayerNorm",
    "native_group_norm": "GroupNorm",
    "native_dropout": "Dropout",
}
SIZE_OPS = frozenset(SYMBOLIC) | {"aten.sym_size.int", "aten.sym_stride.int", "aten.sym_numel.default"}


def kind(name: str, args: list[Any] | None = None) -> str:
    """The layer kind of operation ``name`` (a torchinfo row's class name): ``aten.conv2d.default`` is
    ``Conv2d``; a transposed ``convolution`` is ``ConvTranspose2d``; others are named after the operation."""
    packet = name.split(".")[1] if name.startswith("aten.") else name
    if packet == "convolution" and args and len(args) > 6 and args[6] is True:
        return "ConvTranspose2d"
    if packet in _KINDS:
        return _KINDS[packet]
    return "".join(part.capitalize() for part in packet.strip("_").split("_")) or "Op"


def is_layer(name: str) -> bool:
    """Whether an operation computes tensors (a layer row) rather than sizes or assertions."""
    return name.startswith("aten.") and name not in SIZE_OPS and name.removeprefix("aten.") not in NO_OPS
