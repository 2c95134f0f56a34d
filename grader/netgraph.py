"""A student network as plain data, judged in the judge: graphs of Core ATen operations and their tensors.

The worker exports the student's network (:func:`grader.netexport.export_network`); the judge rebuilds it as
a :class:`GraphNet` (:meth:`GraphNet.from_export`), which runs only operations of :data:`grader.netops.ALLOWED`
resolved by name from a fixed table, so rebuilding runs no code of the submission's. What the judge then
knows of the network it computes itself: layer table, forward operations, parameter count, logits, how it
trains and what it predicts. A patched worker can only change *which* network it hands over.

The rules a graph must meet, each a :class:`NetworkRefused` with a message naming the line otherwise:

- **A pure function.** Operations write nothing in place (:mod:`grader.netops`); the only state a forward
  pass changes is batch norm's running statistics, in train mode (:meth:`GraphNet.apply_mutations`). A graph
  that writes any other parameter or buffer, or writes anything in eval mode, is refused.
- **Bounded fixed values.** Buffers and constants (other than batch norm's statistics), the numbers written
  into the graph, and per parameter tensor its sizes and the two numbers :mod:`grader.netinit` keeps of its
  initial values are at most :data:`MAX_FIXED` in all: a network has no room for a table of digits
  (course/robustness/testdigits.py draws the test digits from a far larger pool).
- **The module's own function.** The rebuilt network must compute the logits the module computed on the
  export's probes at every size the judge uses (:meth:`GraphNet.verify`).

Each operation node becomes a child module named after its kind (``Conv2d``, ``Linear``, ``MaxPool2d``...),
so torchinfo reads a rebuilt network's layer table as it reads an ``nn.Module``'s. A network has one graph
per mode and, where tracing fixed a size, per (batch, size) it was traced at (:class:`Variant`).
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from grader import netops
from grader.netexport import FORMAT, MODES, NetworkRefused, probe
from grader.netops import RandomSource

__all__ = ["GraphNet", "NetworkRefused", "MAX_FIXED", "MAX_NODES", "MAX_PARAMETERS"]

MAX_NODES = 2000  # operations per graph (a decomposed course network has 30 to 300)
MAX_PARAMETERS = 4_000_000  # elements; the contract's networks have about 5,000 to 70,000
MAX_FIXED = 4096  # fixed values a network carries (see the module doc); the corpus's largest needs ~300
MAX_BYTES = 2**30  # memory one training step may need (estimated before it runs); a course network needs ~30 MB
TOLERANCE = {"rtol": 1e-3, "atol": 1e-4}  # the rebuilt network against the module (decompositions round)

PROBE_SHAPE = (2, 56)  # the batch and side of the input the checks read tables and logits from
_FORWARD_OPS = {"Conv2d": "conv2d", "ReLU": "relu", "MaxPool2d": "max_pool2d", "Linear": "linear"}
_BATCH_NORMS = ("aten._native_batch_norm_legit_functional.default", "aten._native_batch_norm_legit_no_training.default")
_REF_KEYS = ("$node", "$tensor", "name", "$input", "$dtype", "$device", "$layout", "$memory_format")


class GraphShapeError(RuntimeError):
    """The network was traced for fixed shapes and is run at another one."""


class TooSlow(Exception):
    """The judge's time for running the network ran out (its :attr:`GraphNet.deadline`)."""


@dataclass(frozen=True)
class Call:
    """One node: its output's name, the operation, its arguments (with value references) and its line."""

    name: str
    op: str
    args: Any
    kwargs: dict[str, Any]
    where: str = ""


@dataclass(frozen=True)
class Variant:
    """What a graph was traced for: its mode, and its batch size and side where tracing fixed them."""

    mode: str
    batch: int | None = None
    size: int | None = None

    @property
    def key(self) -> str:
        return f"{self.mode}_{self.batch or 'n'}_{self.size or 'hw'}"

    def fits(self, training: bool, shape: tuple[int, ...]) -> bool:
        return (
            self.mode == ("train" if training else "eval")
            and (self.batch is None or shape[:1] == (self.batch,))
            and (self.size is None or shape[2:] == (self.size, self.size))
        )


@dataclass(frozen=True)
class Mutation:
    """A buffer the train graph gives a new value (batch norm's running statistics only)."""

    target: str
    value: Any


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


class _Graph(nn.Module):
    """One variant's operations: tensor operations as child modules (torchinfo's rows), sizes as calls."""

    def __init__(
        self,
        variant: Variant,
        calls: list[Call],
        output: Any,
        mutations: list[Mutation],
        parameters: dict[str, np.ndarray],
        random: RandomSource,
    ) -> None:
        super().__init__()
        self.variant, self.calls, self.output, self.mutations = variant, calls, output, mutations
        run = [netops.runner(c.op, random) for c in calls]
        self.layers = nn.ModuleList(
            _kind(netops.kind(c.op, c.args))(i, c.op, run[i], _own(c, parameters))
            for i, c in enumerate(calls)
            if netops.is_layer(c.op)
        )
        layers = iter(self.layers)
        self.runners: list[Callable] = [next(layers) if netops.is_layer(c.op) else run[i] for i, c in enumerate(calls)]


class GraphNet(nn.Module):
    """A network rebuilt from :func:`~grader.netexport.export_network`'s message; runs allowlisted operations.

    Its graphs share one set of parameters and buffers; :attr:`training` and the input's shape pick the graph.
    Random operations draw from :attr:`random` (seed 0 unless :func:`grader.fastgraph.training_form` reseeds).
    """

    def __init__(
        self,
        graphs: list[tuple[Variant, list[Call], Any, list[Mutation]]],
        parameters: dict[str, np.ndarray],
        frozen: dict[str, np.ndarray],
        names: dict[str, str] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.digest = ""  # the hash of the export it was rebuilt from (set by course.quadrant.networks)
        self.names = dict(names or {})  # tensor key -> the module's state-dict name
        self.untraced: dict[tuple[int, int], str] = {}  # (batch, size) -> why tracing failed there
        self.deadline: float | None = None  # time.monotonic() past which running it raises TooSlow
        self._measure: list[int] | None = None  # bytes of the outputs computed, while bytes_needed() runs
        self.random = RandomSource(seed)
        self.weights = nn.ParameterDict({k: nn.Parameter(torch.from_numpy(v.copy())) for k, v in parameters.items()})
        for key, value in frozen.items():
            self.register_buffer(f"frozen_{key}", torch.from_numpy(value.copy()))
        self.graphs = nn.ModuleDict(
            {
                variant.key: _Graph(variant, calls, output, muts, parameters, self.random)
                for variant, calls, output, muts in graphs
            }
        )

    # --- rebuilding ---------------------------------------------------------------------------------------

    @classmethod
    def from_export(cls, message: dict[str, Any], verify: bool = True, seconds: float | None = None) -> GraphNet:
        """Validate and rebuild; raises :class:`NetworkRefused` for anything outside the rules (module doc),
        including, with ``verify``, logits that differ from the module's on the export's probes (checked within
        ``seconds``: :class:`TooSlow` past them), and a training step or prediction at a probed shape that would
        need more than :data:`MAX_BYTES` of memory."""
        try:
            if message.get("format") != FORMAT:
                raise NetworkRefused("the export is of another format")
            raw_graphs = list(message["graphs"])
            parameters, frozen = dict(message["parameters"]), dict(message["frozen"])
            names = {str(k): str(v) for k, v in dict(message.get("names") or {}).items()}
        except (KeyError, TypeError, AttributeError):
            raise NetworkRefused("the export is malformed") from None
        for group, what in ((parameters, "parameters"), (frozen, "buffers")):
            arrays = [a for a in group.values() if isinstance(a, np.ndarray)]
            if len(arrays) != len(group) or any(a.dtype.kind not in "biuf" for a in arrays):
                raise NetworkRefused(f"the export's {what} are not numeric arrays")
        size = sum(a.size for a in parameters.values())
        if size > MAX_PARAMETERS:
            raise NetworkRefused(f"the network has {size:,} parameters; at most {MAX_PARAMETERS:,} are judged")
        graphs = [_validated(raw, parameters, frozen, names) for raw in raw_graphs]
        modes = {variant.mode for variant, *_ in graphs}
        if modes != set(MODES) or len({v.key for v, *_ in graphs}) != len(graphs):
            raise NetworkRefused("the export is malformed: it needs a graph for each mode, once")
        net = cls(graphs, parameters, frozen, names)
        net.untraced = _untraced(message.get("untraced")) | _failing(message.get("probes"))
        fixed = net.fixed_values()
        if fixed > MAX_FIXED:
            raise NetworkRefused(
                f"the network carries {fixed:,} fixed values (buffers, constant tensors and numbers written into "
                f"forward); at most {MAX_FIXED:,} are judged. Nothing this large is fixed in a network of this "
                "course: make such tensors parameters (trained) or compute them in forward"
            )
        shapes = _probed_shapes(message.get("probes"))
        needed = net.bytes_needed(shapes)
        if needed > MAX_BYTES:
            raise NetworkRefused(
                f"a training step of the network would need about {needed / 2**30:.1f} GiB of memory; at most "
                f"{MAX_BYTES / 2**30:g} GiB are judged (a network of this course needs a few dozen MB)"
            )
        if verify:
            with net.limited(seconds):
                net.verify(message.get("probes"))
        return net.eval()

    def verify(self, probes: Any) -> None:
        """Refuse the network unless it computes, at every probed size, the logits the module computed."""
        if not isinstance(probes, list) or not probes:
            raise NetworkRefused("the export carries no probes of the module's own logits")
        training = self.training
        try:
            for entry in probes:
                batch, side = int(entry.get("batch", PROBE_SHAPE[0])), int(entry["size"])
                for mode in ("eval", "train"):
                    expected = entry.get(mode)
                    if expected is None:
                        continue  # the module itself fails there: so will the graph, and the checks say so
                    if mode == "train" and self.has_random(training=True):
                        continue  # its own draws differ from the module's: eval mode decides
                    self._verify_one(batch, side, mode, np.asarray(expected))
        except (KeyError, TypeError, ValueError):
            raise NetworkRefused("the export's probes are malformed") from None
        finally:
            self.train(training)

    def _verify_one(self, batch: int, side: int, mode: str, expected: np.ndarray) -> None:
        snapshot = {k: b.clone() for k, b in self.named_buffers()}
        try:
            with torch.no_grad():
                got = self.train(mode == "train")(probe(side, batch))
        except GraphShapeError:
            return  # not traced for this shape: the checks say so where they need it
        except Exception as exc:  # noqa: BLE001 - a graph the module does not match
            raise NetworkRefused(
                f"the traced graph fails at {batch} x 1 x {side} x {side} in {mode} mode "
                f"({type(exc).__name__}: {str(exc)[:200]}) where the module does not"
            ) from None
        finally:
            for key, buffer in self.named_buffers():
                buffer.copy_(snapshot[key])
        got = got.detach().numpy() if isinstance(got, torch.Tensor) else None
        if got is None or got.shape != expected.shape or not np.allclose(got, expected, **TOLERANCE):
            difference = (
                f"largest difference {np.abs(got - expected).max():.3g}"
                if got is not None and got.shape == expected.shape
                else f"shape {None if got is None else got.shape} instead of {expected.shape}"
            )
            raise NetworkRefused(
                f"the graph torch.export traced computes other logits than the module at {batch} x 1 x {side} x {side} "
                f"in {mode} mode ({difference}). Usually a size read from the input (x.size(), x.shape) or a Python "
                "value was fixed while tracing: use layers and torch operations that take any size "
                "(nn.AdaptiveMaxPool2d(1), x.amax(dim=(2, 3)), x.flatten(1))"
            )

    # --- running ------------------------------------------------------------------------------------------

    def graph_for(self, x: torch.Tensor) -> _Graph:
        """The graph of the current mode traced for ``x``'s shape (or for any shape)."""
        shape = tuple(x.shape)
        why = self.untraced.get((shape[0], shape[-1])) if len(shape) == 4 else None
        if why:
            raise GraphShapeError(why)
        for graph in self.graphs.values():
            if graph.variant.fits(self.training, shape):
                return graph
        traced = sorted(
            {(g.variant.batch, g.variant.size) for g in self.graphs.values()}, key=lambda v: (v[0] or 0, v[1] or 0)
        )
        shapes = ", ".join(f"{b or 'N'} x 1 x {s or 'H'} x {s or 'W'}" for b, s in traced)
        raise GraphShapeError(
            f"the network was traced for inputs of shape {shapes} only (tracing fixed a size read from the "
            f"input), and is run on {' x '.join(map(str, shape))}"
        )

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
            if "$layout" in value:
                return getattr(torch, value["$layout"])
            if "$memory_format" in value:
                return getattr(torch, value["$memory_format"])
        return value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        graph, env = self.graph_for(x), {}
        deadline = self.deadline
        for call, run in zip(graph.calls, graph.runners, strict=True):
            if deadline is not None and time.monotonic() > deadline:
                raise TooSlow(f"the grader's time for running the network ran out at {call.op} ({call.where})")
            args = self._value(call.args, env, x)
            kwargs = {k: self._value(v, env, x) for k, v in call.kwargs.items()}
            env[call.name] = out = run(*args, **kwargs)
            if self._measure is not None:
                self._measure[0] += _bytes(out)
        if graph.mutations:
            self.apply_mutations(graph, env, x)
        return self._value(graph.output, env, x)

    @contextlib.contextmanager
    def limited(self, seconds: float | None) -> Iterator[GraphNet]:
        """Run the network for at most ``seconds`` (None: no limit) inside the block; :class:`TooSlow` past it."""
        before = self.deadline
        self.deadline = None if seconds is None else time.monotonic() + seconds
        try:
            yield self
        finally:
            self.deadline = before

    def bytes_needed(self, shapes: list[tuple[int, int]]) -> int:
        """An upper bound on the memory a training step (train mode: every intermediate kept for the backward
        pass, its gradients, Adam's two moments) or a prediction (eval mode) needs at each (batch, size), from
        the shapes alone: the graph runs on the meta device, computing nothing. Raises :class:`NetworkRefused`
        where the shapes cannot be known without the data."""
        meta = copy.deepcopy(self).to("meta")
        parameters = sum(p.numel() * p.element_size() for p in self.weights.values())
        most = 0
        for batch, side in shapes:
            for training in (True, False):
                meta.train(training)
                x = torch.empty(batch, 1, side, side, device="meta")
                try:
                    graph = meta.graph_for(x)
                except GraphShapeError:
                    continue
                produced = [0]
                meta._measure = produced
                try:
                    with torch.no_grad():
                        meta(x)
                except Exception as exc:  # noqa: BLE001 - an operation whose output size depends on the data
                    raise NetworkRefused(
                        f"the grader cannot bound the memory of the forward pass at {batch} x 1 x {side} x {side} "
                        f"({type(exc).__name__}: {str(exc)[:200]}): an output whose size depends on the data "
                        "(nonzero, masked_select) cannot be judged"
                    ) from None
                finally:
                    meta._measure = None
                step = 2 * produced[0] + 4 * parameters if training else produced[0] + parameters
                most = max(most, step)
                del graph
        return most

    def apply_mutations(self, graph: _Graph, env: dict[str, Any], x: torch.Tensor) -> None:
        """Batch norm's new running statistics (the only state a forward pass changes; validated on rebuild).

        Each buffer is replaced, not written in place: the step's backward pass still needs the values it read."""
        for mutation in graph.mutations:
            setattr(self, f"frozen_{mutation.target}", self._value(mutation.value, env, x).detach())

    # --- what the checks read -----------------------------------------------------------------------------

    def eval_graph(self, batch: int = PROBE_SHAPE[0], size: int = PROBE_SHAPE[1]) -> _Graph:
        """The eval-mode graph for a ``batch x 1 x size x size`` input."""
        training = self.training
        try:
            return self.eval().graph_for(torch.empty(batch, 1, size, size, device="meta"))
        finally:
            self.train(training)

    def forward_ops(self) -> list[str]:
        """The convolution, ReLU, max-pool and linear operations of the eval-mode forward pass, in order."""
        found = []
        for call in self.eval_graph().calls:
            kind = netops.kind(call.op, call.args)
            if kind in _FORWARD_OPS:
                found.append(_FORWARD_OPS[kind])
        return found

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.weights.values())

    def has_random(self, training: bool) -> bool:
        mode = "train" if training else "eval"
        return any(c.op in netops.RANDOM_NAMES for g in self.graphs.values() if g.variant.mode == mode for c in g.calls)

    def batch_norm_statistics(self) -> dict[str, str]:
        """Buffer key -> ``"mean"``, ``"var"`` or ``"count"`` for batch norm's running statistics."""
        found: dict[str, str] = {}
        for graph in self.graphs.values():
            for call in graph.calls:
                if call.op in _BATCH_NORMS:
                    for index, role in ((3, "mean"), (4, "var")):
                        ref = call.args[index] if len(call.args) > index else None
                        if isinstance(ref, dict) and "$tensor" in ref:
                            found[ref["$tensor"]] = role
            calls = {c.name: c for c in graph.calls}
            for mutation in graph.mutations:
                if _is_count(mutation, calls):
                    found[mutation.target] = "count"
        return found

    def fixed_values(self) -> int:
        """Buffers and constants (batch norm's statistics aside) with their sizes, numbers written into the graphs,
        and per parameter tensor its sizes and two numbers (grader/netinit.py): everything the network carries
        into its judged training that is not trained."""
        statistics = self.batch_norm_statistics()
        frozen = sum(
            b.numel() + b.dim() for name, b in self.named_buffers() if name.removeprefix("frozen_") not in statistics
        )
        calls = [c for g in self.graphs.values() for c in g.calls]
        literals = sum(_literals(c.args) + _literals(list(c.kwargs.values())) for c in calls)
        shapes = sum(2 + p.dim() for p in self.weights.values())
        return int(frozen + literals + shapes)

    def variants(self) -> Iterator[Variant]:
        return (g.variant for g in self.graphs.values())


# --- validation ------------------------------------------------------------------------------------------


def _validated(
    raw: Any, parameters: dict, frozen: dict, names: dict[str, str]
) -> tuple[Variant, list[Call], Any, list[Mutation]]:
    try:
        variant = Variant(str(raw["mode"]), _size(raw.get("batch")), _size(raw.get("size")))
        nodes, output, raw_mutations = list(raw["nodes"]), raw["output"], list(raw.get("mutations") or [])
    except (KeyError, TypeError, ValueError):
        raise NetworkRefused("the export is malformed") from None
    if variant.mode not in MODES:
        raise NetworkRefused("the export is malformed")
    if len(nodes) > MAX_NODES:
        raise NetworkRefused(f"the graph has {len(nodes)} operations; at most {MAX_NODES} are judged")
    known: set[str] = set()  # a node may use only the values computed before it
    calls = []
    for node in nodes:
        op = node.get("op") if isinstance(node, dict) else None
        where = str(node.get("where") or "") if isinstance(node, dict) else ""
        if op not in netops.ALL_OPS:
            reason = netops.REFUSED.get(str(op).removeprefix("aten."), "")
            at = f" at {where}" if where else ""
            raise NetworkRefused(
                f"the forward pass uses {op}{at}, which the grader does not run"
                + (f" ({reason})" if reason else " (it is not among PyTorch's Core ATen operations the grader runs)")
                + ": write it with standard layers and torch operations"
            )
        kwargs = node.get("kwargs", {})
        if not isinstance(kwargs, dict):
            raise NetworkRefused("the export is malformed")
        _check_refs(node.get("args"), known, parameters, frozen)
        _check_refs(list(kwargs.values()), known, parameters, frozen)
        calls.append(Call(str(node["name"]), op, list(node.get("args") or []), dict(kwargs), where))
        known.add(str(node["name"]))
    _check_refs(output, known, parameters, frozen)
    mutations = []
    by_name = {c.name: c for c in calls}
    for raw_mutation in raw_mutations:
        try:
            mutation = Mutation(str(raw_mutation["target"]), raw_mutation["value"])
            where = str(raw_mutation.get("where") or "")
        except (KeyError, TypeError):
            raise NetworkRefused("the export is malformed") from None
        _check_refs(mutation.value, known, parameters, frozen)
        name = names.get(mutation.target, mutation.target)
        if (
            mutation.target not in frozen
            or variant.mode != "train"
            or not (_is_statistic(mutation, by_name) or _is_count(mutation, by_name))
        ):
            owner = name.rsplit(".", 1)[0] if "." in name else ""
            at = f" at {where}" if where else (f" (in module {owner!r})" if owner else "")
            raise NetworkRefused(
                f"the forward pass changes {name!r} in {variant.mode} mode{at}: a network's forward pass may not "
                "write its own parameters or buffers (only batch norm's running statistics change, while "
                "training). Keep counters, caches and other state out of forward"
            )
        mutations.append(mutation)
    return variant, calls, output, mutations


def _probed_shapes(probes: Any) -> list[tuple[int, int]]:
    """The (batch, size) pairs of the export's probes: the shapes the judge runs the network at."""
    try:
        found = [(int(e.get("batch", PROBE_SHAPE[0])), int(e["size"])) for e in list(probes or [])]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise NetworkRefused("the export's probes are malformed") from None
    if any(not (0 < b <= 4096 and 0 < s <= 4096) for b, s in found):
        raise NetworkRefused("the export's probes are malformed")
    return found or [PROBE_SHAPE]


def _untraced(raw: Any) -> dict[tuple[int, int], str]:
    try:
        return {(_size(e["batch"]), _size(e["size"])): str(e["error"])[:2000] for e in list(raw or [])}
    except (KeyError, TypeError, ValueError):
        raise NetworkRefused("the export is malformed") from None


def _failing(probes: Any) -> dict[tuple[int, int], str]:
    """The (batch, size) pairs at which the student's module itself raised (a flatten head sized for 56 pixels,
    run at 84), with its error: the graph is not run there, and the checks that need that size say why."""
    found = {}
    for entry in probes if isinstance(probes, list) else []:
        if not isinstance(entry, dict) or entry.get("eval") is not None:
            continue
        error = entry.get("eval_error")
        try:
            shape = (int(entry.get("batch", PROBE_SHAPE[0])), int(entry["size"]))
        except (KeyError, TypeError, ValueError):
            continue  # _probed_shapes refuses malformed probes
        if isinstance(error, str):
            found[shape] = (
                f"the network itself fails on {shape[0]} x 1 x {shape[1]} x {shape[1]} inputs ({error[:300]})"
            )
    return found


def _size(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 4096:
        raise ValueError("a traced size must be a positive integer")
    return value


def _node(ref: Any, calls: dict[str, Call]) -> Call | None:
    return calls.get(ref["$node"]) if isinstance(ref, dict) and set(ref) == {"$node"} else None


def _is_statistic(mutation: Mutation, calls: dict[str, Call]) -> bool:
    """``running_mean`` / ``running_var`` set to the new statistics a train-mode batch norm computed from them."""
    getitem = _node(mutation.value, calls)
    if getitem is None or getitem.op != "operator.getitem" or len(getitem.args) != 2:
        return False
    norm, index = _node(getitem.args[0], calls), getitem.args[1]
    if norm is None or norm.op != _BATCH_NORMS[0] or index not in (3, 4) or len(norm.args) <= index:
        return False
    source = norm.args[index]  # outputs 3 and 4 are the updated arguments 3 and 4
    return isinstance(source, dict) and source.get("$tensor") == mutation.target


def _is_count(mutation: Mutation, calls: dict[str, Call]) -> bool:
    """``num_batches_tracked`` set to itself plus one."""
    add = _node(mutation.value, calls)
    return (
        add is not None
        and add.op == "aten.add.Tensor"
        and len(add.args) == 2
        and isinstance(add.args[0], dict)
        and add.args[0].get("$tensor") == mutation.target
        and add.args[1] == 1
        and not add.kwargs
    )


def _bytes(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, list | tuple):
        return sum(_bytes(v) for v in value)
    return 0


def _literals(value: Any) -> int:
    """How many numbers an argument writes into the graph (booleans and None are not numbers here)."""
    if isinstance(value, list):
        return sum(_literals(v) for v in value)
    return int(isinstance(value, int | float) and not isinstance(value, bool))


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


def _check_refs(value: Any, known: set[str], parameters: dict, frozen: dict) -> None:
    if isinstance(value, list):
        for item in value:
            _check_refs(item, known, parameters, frozen)
    elif isinstance(value, dict):
        for key in value:
            if key not in _REF_KEYS:
                raise NetworkRefused(f"the export holds an unknown field {key!r}")
        if "$node" in value and value["$node"] not in known:
            raise NetworkRefused(f"the export refers to an unknown value {value['$node']!r}")
        if "$tensor" in value and value["$tensor"] not in parameters and value["$tensor"] not in frozen:
            raise NetworkRefused(f"the export refers to an unknown tensor {value['$tensor']!r}")
        for field, kind in (
            ("$dtype", torch.dtype),
            ("$layout", torch.layout),
            ("$memory_format", torch.memory_format),
        ):
            if field in value and not isinstance(getattr(torch, str(value[field]), None), kind):
                raise NetworkRefused(f"the export names an unknown {field[1:]} {value[field]!r}")
    elif not (isinstance(value, bool | int | float | str) or value is None):
        raise NetworkRefused(f"the export holds a {type(value).__name__}")
