"""A rebuilt network in the form the judge trains and tests: the same function, 1.5-1.9x as fast on a CPU,
with random numbers of its own.

:func:`training_form` copies a :class:`~grader.netgraph.GraphNet` (its current weights, both modes' graphs)
and changes only how it computes, never what:

- **Channels-last tensors.** Every 4-D input and parameter is laid out channels-last, which oneDNN convolves
  without reordering to and from its blocked layout. A tensor with one channel is stored the same in both
  layouts and PyTorch would keep it in the default one (the first convolution of a grey-scale network then
  reorders its whole output: 7.8 ms a batch of 64 instead of 1.1 ms), so the strides are set explicitly.
  Channels-last convolutions add in another order: results differ from the default layout's by rounding, like
  another thread count; the robustness thresholds are calibrated with this form (docs/calibration.md).
- **Max pooling before ReLU.** ``max_pool(relu(x)) == relu(max_pool(x))`` bit for bit, and so are the
  gradients (both route each window's gradient to its first maximum; a window with no positive value gets
  none either way), but the second computes the ReLU and its backward on a quarter of the values. Applied
  where the ReLU's input and output have no other use.
- ``view`` becomes ``reshape`` (a channels-last tensor cannot be viewed as a flat one; the values are the same).
- **Its own random numbers.** Dropout and the random operations a network may use to augment its input
  (:data:`RANDOM_OPS`) draw from the network's :class:`RandomSource`, seeded by :func:`training_form`, not
  from PyTorch's global generator: the same numbers as the global generator after ``torch.manual_seed(seed)``
  (ATen's CPU dropout is exactly the Bernoulli mask computed here), and two networks can train side by side
  on threads of one process without their draws depending on which thread ran first (grader/trainer.py).

The layer tables, parameter counts and logits the quadrant checks read come from the network as exported,
not from this form.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch

from grader.netgraph import Call, GraphNet

_RELUS = ("aten.relu.default", "aten.relu_.default")
_POOL = "aten.max_pool2d.default"


def channels_last(tensor: torch.Tensor) -> torch.Tensor:
    """A copy of a 4-D tensor with channels-last strides, also when it has one channel (see the module doc)."""
    out = torch.empty_like(tensor, memory_format=torch.channels_last)
    return out.copy_(tensor)


class RandomSource:
    """A network's own random numbers: one generator per device, each seeded with :attr:`seed` when first used."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._generators: dict[str, torch.Generator] = {}

    def on(self, device: torch.device | str | None) -> torch.Generator:
        key = str(torch.device(device if device is not None else "cpu"))
        if key not in self._generators:
            self._generators[key] = torch.Generator(device=key).manual_seed(self.seed)
        return self._generators[key]


def _dropout(random: RandomSource, x: torch.Tensor, p: float, train: bool, *, feature: bool = False) -> torch.Tensor:
    """ATen's CPU dropout (``_dropout_impl``) with an explicit generator: a Bernoulli(1 - p) mask, scaled."""
    if p == 0 or not train or x.numel() == 0:
        return x
    if p == 1:
        return x * torch.zeros((), dtype=x.dtype, device=x.device)
    shape = (*x.shape[:2], *[1] * (x.dim() - 2))
    noise = x.new_empty(shape) if feature else torch.empty_like(x)
    noise.bernoulli_(1 - p, generator=random.on(x.device))
    return x * noise.div_(1 - p)


def _with_generator(overload: Any, random: RandomSource, *args: Any, **kwargs: Any) -> torch.Tensor:
    """A random operation's ``generator`` overload, drawing on its ``device=`` or else its input's device."""
    tensor = next((a for a in args if isinstance(a, torch.Tensor)), None)
    device = kwargs.get("device") or (tensor.device if tensor is not None else None)
    return overload(*args, generator=random.on(device), **kwargs)


_ATEN = torch.ops.aten
# every random operation netgraph runs, and how it runs with the network's own generator
RANDOM_OPS: dict[str, Any] = {
    "aten.dropout.default": _dropout,
    "aten.feature_dropout.default": partial(_dropout, feature=True),
    "aten.rand.default": partial(_with_generator, _ATEN.rand.generator),
    "aten.randn.default": partial(_with_generator, _ATEN.randn.generator),
    "aten.rand_like.default": partial(_with_generator, _ATEN.rand_like.generator),
    "aten.randn_like.default": partial(_with_generator, _ATEN.randn_like.generator),
    "aten.randint.default": partial(_with_generator, _ATEN.randint.generator),
    "aten.randint.low": partial(_with_generator, _ATEN.randint.low_generator),
    "aten.randperm.default": partial(_with_generator, _ATEN.randperm.generator),
    "aten.bernoulli.p": partial(_with_generator, _ATEN.bernoulli.p),
}


class FastGraphNet(GraphNet):
    """A :class:`GraphNet` that takes its 4-D input channels-last and draws from its own :attr:`random`
    (made by :func:`training_form`)."""

    def __init__(self, graphs: dict, parameters: dict, frozen: dict, seed: int = 0) -> None:
        super().__init__(graphs, parameters, frozen)
        self.random = RandomSource(seed)
        for graph in self.modes.values():
            for index, call in enumerate(graph.calls):
                if call.op in RANDOM_OPS:
                    graph.runners[index] = partial(RANDOM_OPS[call.op], self.random)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(channels_last(x) if x.dim() == 4 else x)


def training_form(net: GraphNet, seed: int = 0) -> FastGraphNet:
    """A new network computing what ``net`` computes, from ``net``'s current weights, in the faster form; its
    random operations draw from its own generator, seeded with ``seed``."""
    graphs = {
        mode.removesuffix("_graph"): (rewrite(graph.calls, graph.output), graph.output)
        for mode, graph in net.modes.items()
    }
    parameters = {key: p.detach().cpu().numpy() for key, p in net.weights.items()}
    frozen = {name.removeprefix("frozen_"): b.cpu().numpy() for name, b in net.named_buffers()}
    fast = FastGraphNet(graphs, parameters, frozen, seed)
    fast.digest = net.digest
    with torch.no_grad():
        for parameter in fast.weights.values():
            if parameter.dim() == 4:
                parameter.data = channels_last(parameter.data)
    return fast.train(net.training)


def _uses(calls: list[Call], output: Any) -> dict[str, int]:
    """How many times each value is used (as an argument, or as the graph's output)."""
    counts: dict[str, int] = {}

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict) and "$node" in value:
            counts[value["$node"]] = counts.get(value["$node"], 0) + 1

    for call in calls:
        walk(call.args)
        walk(list(call.kwargs.values()))
    walk(output)
    return counts


def rewrite(calls: list[Call], output: Any) -> list[Call]:
    """The calls with each ReLU -> max pool pair swapped and ``view`` as ``reshape`` (see the module doc)."""
    uses = _uses(calls, output)
    by_name = {call.name: call for call in calls}
    consumer: dict[str, Call] = {}  # a ReLU's name -> the max pool that takes it as its input
    for call in calls:
        source = call.args[0] if call.op == _POOL and call.args else None
        if isinstance(source, dict) and set(source) == {"$node"} and source["$node"] in by_name:
            relu = by_name[source["$node"]]
            inner = relu.args[0] if relu.op in _RELUS and len(relu.args) == 1 and not relu.kwargs else None
            if (
                isinstance(inner, dict)
                and set(inner) == {"$node"}
                and uses.get(relu.name) == 1
                and uses.get(inner["$node"]) == 1  # an in-place ReLU's input is read by nothing else
            ):
                consumer[relu.name] = call
    relu_of = {pool.name: by_name[relu] for relu, pool in consumer.items()}
    result = []
    for call in calls:
        if call.name in consumer:
            continue  # computed where its pool was: every argument of the pool is known there
        if call.name in relu_of:  # pool the ReLU's input, then the ReLU under the pool's name
            source = relu_of[call.name].args[0]
            pooled = Call(f"{call.name}__before_relu", _POOL, [source, *call.args[1:]], call.kwargs)
            result += [pooled, Call(call.name, "aten.relu.default", [{"$node": pooled.name}], {})]
        elif call.op == "aten.view.default":
            result.append(Call(call.name, "aten.reshape.default", call.args, call.kwargs))
        else:
            result.append(call)
    return result
