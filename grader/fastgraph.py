"""A rebuilt network in the form the judge trains and tests: the same function, 1.5-1.9x as fast on a CPU,
from the judge's own initial weights.

:func:`training_form` copies a :class:`~grader.netgraph.GraphNet` (its graphs, its tensors) and changes only
how it computes, never what:

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
- **Its own random numbers.** Dropout and the random operations a network may use draw from the copy's
  :class:`~grader.netops.RandomSource`, seeded by :func:`training_form`: two networks can train side by side
  on threads of one process without their draws depending on which thread ran first (grader/trainer.py).

With ``initialise`` (as the robustness checks train), the copy starts from the judge's own initial weights
(:mod:`grader.netinit`), not the student's. The layer tables, parameter counts and logits the quadrant checks
read come from the network as exported, not from this form.
"""

from __future__ import annotations

from typing import Any

import torch

from grader import netinit
from grader.netgraph import Call, GraphNet, Mutation

_RELUS = ("aten.relu.default",)
_POOL = "aten.max_pool2d.default"


def channels_last(tensor: torch.Tensor) -> torch.Tensor:
    """A copy of a 4-D tensor with channels-last strides, also when it has one channel (see the module doc)."""
    out = torch.empty_like(tensor, memory_format=torch.channels_last)
    return out.copy_(tensor)


class FastGraphNet(GraphNet):
    """A :class:`GraphNet` that takes its 4-D input channels-last (made by :func:`training_form`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(channels_last(x) if x.dim() == 4 else x)


def training_form(net: GraphNet, seed: int = 0, initialise: bool = False) -> FastGraphNet:
    """A new network computing what ``net`` computes, in the faster form; its random operations draw from its
    own generator, seeded with ``seed``. Its weights are ``net``'s, or with ``initialise`` the judge's own
    initialisation drawn with ``seed`` (:func:`grader.netinit.initialise`)."""
    graphs = [
        (graph.variant, rewrite(graph.calls, graph.output, graph.mutations), graph.output, graph.mutations)
        for graph in net.graphs.values()
    ]
    parameters = {key: p.detach().cpu().numpy() for key, p in net.weights.items()}
    frozen = {name.removeprefix("frozen_"): b.cpu().numpy() for name, b in net.named_buffers()}
    fast = FastGraphNet(graphs, parameters, frozen, net.names, seed=seed)
    fast.digest, fast.untraced = net.digest, dict(net.untraced)
    if initialise:
        netinit.initialise(fast, seed)
    with torch.no_grad():
        for parameter in fast.weights.values():
            if parameter.dim() == 4:
                parameter.data = channels_last(parameter.data)
    return fast.train(net.training)


def _uses(calls: list[Call], output: Any, mutations: list[Mutation]) -> dict[str, int]:
    """How many times each value is used (as an argument, the graph's output or a buffer's new value)."""
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
    for mutation in mutations:
        walk(mutation.value)
    return counts


def rewrite(calls: list[Call], output: Any, mutations: list[Mutation] = ()) -> list[Call]:
    """The calls with each ReLU -> max pool pair swapped and ``view`` as ``reshape`` (see the module doc)."""
    uses = _uses(calls, output, list(mutations))
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
            pooled = Call(f"{call.name}__before_relu", _POOL, [source, *call.args[1:]], call.kwargs, call.where)
            result += [pooled, Call(call.name, "aten.relu.default", [{"$node": pooled.name}], {}, call.where)]
        elif call.op == "aten.view.default":
            result.append(Call(call.name, "aten.reshape.default", call.args, call.kwargs, call.where))
        else:
            result.append(call)
    return result
