"""A student network as plain data, judged in the judge: the graph of ATen operations and its tensors.

The worker builds the student's network and exports it with ``torch.export`` (:func:`export_network`):
the result is a list of operations on named values (JSON) and the network's tensors (numpy arrays), which
travel like any observation (:mod:`grader.protocol`: no pickle). The judge rebuilds it as a
:class:`GraphNet` (:func:`GraphNet.from_export`) that runs only operations from :data:`ALLOWED_OPS`, each
resolved by name from a fixed table, never by looking a name up in a module, so rebuilding runs no code of
the submission's. Sizes are bounded (:data:`MAX_NODES`, :data:`MAX_PARAMETERS`, :data:`MAX_FROZEN`).

Everything the checks learn about a network (its layer table, its forward operations, its parameter
count, its logits, how it trains and what it predicts) the judge computes from the rebuilt network with its
own code: a patched worker can only change *which* network it hands over, and then that network is graded.

Each operation node becomes a child module (``Conv2d``, ``Linear``, ``MaxPool2d``, ... named after the
operation), so torchinfo reads a rebuilt network's layer table as it reads an ``nn.Module``'s. The network
is exported in train mode and in eval mode; the rebuilt network runs the graph of its own mode, so dropout,
batch norm and augmentations under ``if self.training`` behave as written. Parameters are trained by the
grader's trainer; buffers and constants are not, and are limited to :data:`MAX_FROZEN` elements (no room
for a table of test digits).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

MAX_NODES = 2000
MAX_PARAMETERS = 4_000_000  # elements; the contract's networks have about 5,000 to 70,000
MAX_FROZEN = 65_536  # elements of buffers and constants (batch norm statistics are a few dozen)

# ATen operations a CNN of this course is made of, and the display names of their layer rows.
_ATEN = {
    "conv2d.default": "Conv2d",
    "conv1d.default": "Conv1d",
    "linear.default": "Linear",
    "max_pool2d.default": "MaxPool2d",
    "avg_pool2d.default": "AvgPool2d",
    "adaptive_max_pool2d.default": "AdaptiveMaxPool2d",
    "adaptive_avg_pool2d.default": "AdaptiveAvgPool2d",
    "relu.default": "ReLU",
    "relu_.default": "ReLU",
    "leaky_relu.default": "LeakyReLU",
    "leaky_relu_.default": "LeakyReLU",
    "gelu.default": "GELU",
    "silu.default": "SiLU",
    "silu_.default": "SiLU",
    "elu.default": "ELU",
    "sigmoid.default": "Sigmoid",
    "tanh.default": "Tanh",
    "hardtanh.default": "Hardtanh",
    "hardtanh_.default": "Hardtanh",
    "softplus.default": "Softplus",
    "dropout.default": "Dropout",
    "feature_dropout.default": "Dropout",
    "batch_norm.default": "BatchNorm",
    "layer_norm.default": "LayerNorm",
    "group_norm.default": "GroupNorm",
    "log_softmax.int": "LogSoftmax",
    "softmax.int": "Softmax",
    "flatten.using_ints": "Flatten",
    "view.default": "View",
    "reshape.default": "View",
    "permute.default": "View",
    "transpose.int": "View",
    "squeeze.dim": "View",
    "squeeze.dims": "View",
    "unsqueeze.default": "View",
    "contiguous.default": "View",
    "clone.default": "View",
    "t.default": "View",
    "amax.default": "Reduce",
    "amin.default": "Reduce",
    "max.dim": "Reduce",
    "min.dim": "Reduce",
    "mean.dim": "Reduce",
    "sum.dim_IntList": "Reduce",
    "logsumexp.default": "Reduce",
    "matmul.default": "MatMul",
    "mm.default": "MatMul",
    "bmm.default": "MatMul",
    "addmm.default": "MatMul",
    "add.Tensor": "Arithmetic",
    "add_.Tensor": "Arithmetic",
    "sub.Tensor": "Arithmetic",
    "mul.Tensor": "Arithmetic",
    "mul_.Tensor": "Arithmetic",
    "div.Tensor": "Arithmetic",
    "neg.default": "Arithmetic",
    "pow.Tensor_Scalar": "Arithmetic",
    "clamp.default": "Arithmetic",
    "clamp_min.default": "Arithmetic",
    "abs.default": "Arithmetic",
    "exp.default": "Arithmetic",
    "sqrt.default": "Arithmetic",
    "cat.default": "Cat",
    "stack.default": "Cat",
    "constant_pad_nd.default": "Pad",
    "pad.default": "Pad",
    "roll.default": "Augment",
    "flip.default": "Augment",
    "randint.low": "Random",
    "randint.default": "Random",
    "rand.default": "Random",
    "randn.default": "Random",
    "rand_like.default": "Random",
    "randn_like.default": "Random",
    "randperm.default": "Random",
    "bernoulli.p": "Random",
    "index.Tensor": "View",
    "select.int": "View",
    "slice.Tensor": "View",
    "expand.default": "View",
    "arange.default": "Random",
    "arange.start": "Random",
    "where.self": "Arithmetic",
    "eq.Scalar": "Arithmetic",
    "gt.Scalar": "Arithmetic",
    "lt.Scalar": "Arithmetic",
    "zeros_like.default": "Arithmetic",
    "ones_like.default": "Arithmetic",
    "sym_size.int": "Size",
    "_assert_scalar.default": "Assert",
}
_OPERATORS = {f"operator.{n}": getattr(operator, n) for n in ("getitem", "add", "sub", "mul", "floordiv", "neg")}
_FORWARD_OPS = {"conv2d": "conv2d", "relu": "relu", "relu_": "relu", "max_pool2d": "max_pool2d", "linear": "linear"}


def allowed_ops() -> dict[str, Callable]:
    """Operation name (as exported) -> the callable the judge runs for it."""
    table: dict[str, Callable] = dict(_OPERATORS)
    for name in _ATEN:
        packet, overload = name.split(".")
        table[f"aten.{name}"] = getattr(getattr(torch.ops.aten, packet), overload)
    return table


ALLOWED_OPS = allowed_ops()


class NetworkRefused(Exception):
    """A network that cannot be exported, or an export the judge will not run; the message says why."""


# --- the worker's side: export ---------------------------------------------------------------------------


def _op_name(target: Any) -> str:
    if isinstance(target, torch._ops.OpOverload):
        return str(target)
    module = getattr(target, "__module__", "")
    return f"{'operator' if module in ('_operator', 'operator') else module}.{getattr(target, '__name__', target)}"


def _encode(value: Any, names: dict[str, dict]) -> Any:
    if isinstance(value, torch.fx.Node):
        return names.get(value.name, {"$node": value.name})
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, list | tuple | torch.fx.immutable_collections.immutable_list):
        return [_encode(v, names) for v in value]
    if isinstance(value, torch.dtype):
        return {"$dtype": str(value).removeprefix("torch.")}
    if isinstance(value, torch.device):
        return {"$device": value.type}
    raise NetworkRefused(f"the forward pass uses a {type(value).__name__} ({value!r}) the grader cannot carry")


MODES = ("train", "eval")


def export_network(model: nn.Module, example: torch.Tensor, dynamic_size: bool) -> dict[str, Any]:
    """``model`` traced by ``torch.export`` on ``example`` in train and in eval mode (batch size free; H and W
    free when ``dynamic_size``), so what the forward pass does in each mode (dropout, batch norm, an
    augmentation under ``if self.training``) is the graph's.

    Returns ``{"graphs": {"train": {"nodes", "output"}, "eval": ...}, "parameters", "frozen"}``: plain JSON
    and numpy arrays, tensors keyed alike in both graphs. Raises :class:`NetworkRefused` when the network
    cannot be exported.
    """
    from torch.export import Dim

    dims = {0: Dim.AUTO, 2: Dim.AUTO, 3: Dim.AUTO} if dynamic_size else {0: Dim.AUTO}
    keys: dict[str, str] = {}  # state-dict name -> the key both graphs use
    found: dict[str, tuple[str, torch.Tensor]] = {}  # key -> (kind, tensor)
    graphs = {}
    for mode in MODES:
        model.train(mode == "train")
        try:
            program = torch.export.export(model, (example,), dynamic_shapes=(dims,))
        except Exception as exc:  # noqa: BLE001 - any tracing failure is the network's: say so
            message = f"{type(exc).__name__}: {str(exc)[:600]}"
            raise NetworkRefused(f"torch.export could not trace it in {mode} mode: {message}") from None
        graphs[mode] = _graph(program, keys, found)
    parameters = {k: t.numpy().copy() for k, (kind, t) in found.items() if kind == "parameter"}
    frozen = {k: t.numpy().copy() for k, (kind, t) in found.items() if kind != "parameter"}
    return {"graphs": graphs, "parameters": parameters, "frozen": frozen}


def _graph(program: Any, keys: dict[str, str], found: dict[str, tuple[str, torch.Tensor]]) -> dict[str, Any]:
    from torch.export.graph_signature import InputKind, OutputKind

    signature = program.graph_signature
    tensors = {**program.state_dict, **program.constants}
    names: dict[str, dict] = {}
    inputs = 0
    for spec in signature.input_specs:
        if spec.kind == InputKind.USER_INPUT:
            names[spec.arg.name] = {"$input": inputs}
            inputs += 1
        elif spec.kind in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR):
            tensor = tensors[spec.target].detach().cpu()
            if tensor.is_complex() or tensor.layout != torch.strided:
                raise NetworkRefused(f"{spec.target} is a {tensor.dtype} tensor the grader cannot carry")
            key = keys.setdefault(spec.target, f"t{len(keys)}")
            found.setdefault(key, ("parameter" if spec.kind == InputKind.PARAMETER else "frozen", tensor))
            names[spec.arg.name] = {"$tensor": key, "name": spec.target}
        else:
            raise NetworkRefused(f"the network uses {spec.kind.name.lower()} inputs the grader cannot carry")
    outputs = [spec for spec in signature.output_specs if spec.kind == OutputKind.USER_OUTPUT]
    if inputs != 1 or len(outputs) != 1:
        raise NetworkRefused("the forward pass must take one tensor of images and return one tensor of logits")
    nodes, output = [], None
    for node in program.graph.nodes:
        if node.op == "call_function":
            nodes.append(
                {
                    "name": node.name,
                    "op": _op_name(node.target),
                    "args": _encode(list(node.args), names),
                    "kwargs": {k: _encode(v, names) for k, v in node.kwargs.items()},
                }
            )
        elif node.op == "output":
            output = _encode(node.args[0][0], names)
    return {"nodes": nodes, "output": output}


# --- the judge's side: rebuild and run -------------------------------------------------------------------


class OpNode(nn.Module):
    """One operation of the graph as a child module (its class name is the layer kind torchinfo shows)."""

    def __init__(self, index: int, op: str, fn: Callable, own_parameters: int = 0) -> None:
        super().__init__()
        self.index, self.op, self.fn = index, op, fn
        self.own_parameters = own_parameters  # elements of the parameters it uses (its weight and bias)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


_KINDS: dict[str, type] = {}


def _kind(name: str) -> type:
    """A subclass of OpNode per layer kind, so a row's class name says what the operation is."""
    if name not in _KINDS:
        _KINDS[name] = type(name, (OpNode,), {})
    return _KINDS[name]


@dataclass(frozen=True)
class Call:
    """One node: its output's name, the operation, and its arguments (with value references)."""

    name: str
    op: str
    args: Any
    kwargs: dict[str, Any]


class _Graph(nn.Module):
    """One mode's operations: tensor operations as child modules (torchinfo's rows), size arithmetic as calls."""

    def __init__(self, calls: list[Call], output: Any, parameters: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.calls, self.output = calls, output
        self.layers = nn.ModuleList(
            _kind(_ATEN[c.op.removeprefix("aten.")])(i, c.op, ALLOWED_OPS[c.op], _own(c, parameters))
            for i, c in enumerate(calls)
            if _layer(c.op)
        )
        layers = iter(self.layers)
        self.runners: list[Callable] = [next(layers) if _layer(c.op) else ALLOWED_OPS[c.op] for c in calls]


class GraphNet(nn.Module):
    """A network rebuilt from :func:`export_network`'s message; runs allowlisted operations only.

    Its train and eval graphs share one set of parameters and buffers; :attr:`training` picks the graph.
    """

    def __init__(self, graphs: dict[str, tuple[list[Call], Any]], parameters: dict, frozen: dict) -> None:
        super().__init__()
        self.digest = ""  # the hash of the export it was rebuilt from (set by grader.judge.networks)
        self.weights = nn.ParameterDict({k: nn.Parameter(torch.from_numpy(v.copy())) for k, v in parameters.items()})
        for key, value in frozen.items():
            self.register_buffer(f"frozen_{key}", torch.from_numpy(value.copy()))
        # ModuleDict keys become attributes: "train" would shadow nn.Module.train
        self.modes = nn.ModuleDict({f"{mode}_graph": _Graph(*graph, parameters) for mode, graph in graphs.items()})

    @classmethod
    def from_export(cls, message: dict[str, Any]) -> GraphNet:
        """Validate and rebuild; raises :class:`NetworkRefused` for anything outside the rules."""
        try:
            raw_graphs = {mode: message["graphs"][mode] for mode in MODES}
            parameters, frozen = dict(message["parameters"]), dict(message["frozen"])
        except (KeyError, TypeError):
            raise NetworkRefused("the export is malformed") from None
        for group, limit, what in ((parameters, MAX_PARAMETERS, "parameters"), (frozen, MAX_FROZEN, "buffers")):
            arrays = [a for a in group.values() if isinstance(a, np.ndarray)]
            if len(arrays) != len(group) or any(a.dtype.kind not in "biuf" for a in arrays):
                raise NetworkRefused(f"the export's {what} are not numeric arrays")
            size = sum(a.size for a in arrays)
            if size > limit:
                raise NetworkRefused(f"the network has {size:,} elements of {what}; at most {limit:,} are judged")
        graphs = {mode: _validated(raw, parameters, frozen) for mode, raw in raw_graphs.items()}
        return cls(graphs, parameters, frozen)

    def _tensor(self, key: str) -> torch.Tensor:
        return self.weights[key] if key in self.weights else getattr(self, f"frozen_{key}")

    def _value(self, value: Any, env: dict[str, Any], x: torch.Tensor) -> Any:
        if isinstance(value, list):
            return [self._value(v, env, x) for v in value]
        if isinstance(value, dict):
            if "$node" in value:
                return env[value["$node"]]
            if "$tensor" in value:
                return self._tensor(value["$tensor"])
            if "$input" in value:
                return x
            if "$dtype" in value:
                return getattr(torch, value["$dtype"])
            if "$device" in value:
                return x.device  # wherever the judge runs the network
        return value

    @property
    def graph(self) -> _Graph:
        return self.modes["train_graph" if self.training else "eval_graph"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        graph, env = self.graph, {}
        for call, run in zip(graph.calls, graph.runners, strict=True):
            args = self._value(call.args, env, x)
            kwargs = {k: self._value(v, env, x) for k, v in call.kwargs.items()}
            env[call.name] = run(*args, **kwargs)
        return self._value(graph.output, env, x)

    def forward_ops(self) -> list[str]:
        """The convolution, ReLU, max-pool and linear operations of the eval-mode forward pass, in order."""
        ops = [c.op.split(".")[1] for c in self.modes["eval_graph"].calls if c.op.startswith("aten.")]
        return [_FORWARD_OPS[op] for op in ops if op in _FORWARD_OPS]

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.weights.values())


def _validated(raw: Any, parameters: dict, frozen: dict) -> tuple[list[Call], Any]:
    try:
        nodes, output = list(raw["nodes"]), raw["output"]
    except (KeyError, TypeError):
        raise NetworkRefused("the export is malformed") from None
    if len(nodes) > MAX_NODES:
        raise NetworkRefused(f"the graph has {len(nodes)} operations; at most {MAX_NODES} are judged")
    known: set[str] = set()  # a node may use only the values computed before it
    calls = []
    for node in nodes:
        op = node.get("op") if isinstance(node, dict) else None
        if op not in ALLOWED_OPS:
            raise NetworkRefused(f"the forward pass uses {op}, which is not among the operations the grader runs")
        _check_refs(node.get("args"), known, parameters, frozen)
        kwargs = node.get("kwargs", {})
        if not isinstance(kwargs, dict):
            raise NetworkRefused("the export is malformed")
        _check_refs(list(kwargs.values()), known, parameters, frozen)
        calls.append(Call(str(node["name"]), op, node.get("args", []), dict(node.get("kwargs", {}))))
        known.add(str(node["name"]))
    _check_refs(output, known, parameters, frozen)
    return calls, output


def _own(call: Call, parameters: dict[str, np.ndarray]) -> int:
    """Elements of the distinct parameters a call uses directly."""
    keys: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict) and value.get("$tensor") in parameters:
            keys.add(value["$tensor"])

    walk(call.args)
    walk(list(call.kwargs.values()))
    return sum(int(parameters[k].size) for k in keys)


def _layer(op: str) -> bool:
    """Whether an operation computes tensors (a layer row) rather than sizes or checks."""
    return op.startswith("aten.") and _ATEN[op.removeprefix("aten.")] not in ("Size", "Assert")


def _check_refs(value: Any, known: set[str], parameters: dict, frozen: dict) -> None:
    if isinstance(value, list):
        for item in value:
            _check_refs(item, known, parameters, frozen)
    elif isinstance(value, dict):
        if "$node" in value and value["$node"] not in known:
            raise NetworkRefused(f"the export refers to an unknown value {value['$node']!r}")
        if "$tensor" in value and value["$tensor"] not in parameters and value["$tensor"] not in frozen:
            raise NetworkRefused(f"the export refers to an unknown tensor {value['$tensor']!r}")
        if "$dtype" in value and not isinstance(getattr(torch, str(value["$dtype"]), None), torch.dtype):
            raise NetworkRefused(f"the export names an unknown dtype {value['$dtype']!r}")
        for key in value:
            if key not in ("$node", "$tensor", "name", "$input", "$dtype", "$device"):
                raise NetworkRefused(f"the export holds an unknown field {key!r}")
    elif not (isinstance(value, bool | int | float | str) or value is None):
        raise NetworkRefused(f"the export holds a {type(value).__name__}")
