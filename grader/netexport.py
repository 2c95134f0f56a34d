"""The worker's side of a judged network: ``torch.export`` to plain data (JSON and numpy arrays, no pickle).

:func:`export_network` traces a student's module in train and in eval mode, decomposes each program to the
Core ATen IR (:func:`grader.netops.decomposition_table`: ``padding="same"``, ``nn.Mish``, ``einsum``,
``InstanceNorm2d``, ... all become operations of PyTorch's closed set) and writes it as a list of operations
on named values, with the network's tensors as arrays. The judge rebuilds and runs it
(:mod:`grader.netgraph`).

What an honest network needs of the export, and gets:

- **Lazy modules** (``nn.LazyLinear``, ``nn.LazyConv2d``) are materialised by one forward pass in eval mode
  before anything is traced.
- **Shapes read from the input.** The batch size and, where asked, the height and width are traced as free
  sizes. Where tracing fixed one of them anyway (``len(x)``, ``F.max_pool2d(x, x.size()[2:])``), the
  network is traced again for each shape the judge will run it at (:data:`Traced`), so the rebuilt network
  computes what the module computes at every one of them; a network traced for fixed shapes runs at no other.
- **Probes.** The module's own outputs on :func:`probe` inputs at every size the judge uses travel with the
  graph: the judge checks that the rebuilt network computes the same, and refuses it with a message otherwise.
- **Where.** Each operation carries the line of the submission it came from, so a refusal can name it.

A network torch.export cannot trace raises :class:`NetworkRefused` with the construct, the student's line and
what to write instead.
"""

from __future__ import annotations

import copy
import re
import sysconfig
import traceback
from pathlib import Path
from typing import Any

import torch
from torch import nn

MODES = ("train", "eval")
PROBE_BATCH = 2
FORMAT = 2  # the export's layout (a stored export of another format is not reused)


class NetworkRefused(Exception):
    """A network that cannot be exported, or an export the judge will not run; the message says why."""


def probe(size: int, batch: int = PROBE_BATCH) -> torch.Tensor:
    """The seeded input the judge and the worker both run a network on at ``size`` x ``size``."""
    return torch.rand(batch, 1, size, size, generator=torch.Generator().manual_seed(size))


# --- where in the submission -----------------------------------------------------------------------------

_IGNORED = tuple(
    {
        str(Path(p).resolve())
        for key, p in sysconfig.get_paths().items()
        if key in ("stdlib", "platstdlib", "purelib", "platlib")
    }
    | {str(Path(__file__).resolve().parent)}  # the grader's own files
)
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)\n\s*(.*)')


def _own(filename: str) -> bool:
    """Whether a frame is the submission's: not the standard library's, an installed package's or the grader's."""
    if filename.startswith("<"):
        return False
    return not str(Path(filename).resolve()).startswith(_IGNORED)


_CELL = re.compile(r"ipykernel_\d+/\d+\.py$")  # where a notebook cell's code says it lives


def _where_frame(filename: str, line: int | None, code: str) -> str:
    name = "a notebook cell" if _CELL.search(filename) else Path(filename).name
    return f"{name}:{line}: {code.strip()}" if code.strip() else f"{name}:{line}"


def where_from_stack(stack_trace: str | None) -> str:
    """``file:line: code`` of the innermost frame of a traced operation's stack that is the submission's."""
    found = ""
    for filename, line, _function, code in _FRAME.findall(stack_trace or ""):
        if _own(filename):
            found = _where_frame(filename, int(line), code)
    return found


def where_from_exception(exc: BaseException) -> str:
    """``file:line: code`` of the innermost frame of an exception's traceback that is the submission's."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _own(f.filename)]
    if frames:
        return _where_frame(frames[-1].filename, frames[-1].lineno, frames[-1].line or "")
    return where_from_stack(str(exc))  # torch.export names the user's call in its message


# --- tracing ---------------------------------------------------------------------------------------------


def _advice(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if "data-dependent" in text or "DataDependent" in text:
        return (
            "a Python value was read from a tensor (an `if` on a tensor, int(t), float(t), t.item(), bool(t)), "
            "which depends on the data and cannot be traced: keep it a tensor (torch.where, a mask, indexing)"
        )
    if ".numpy()" in text or "numpy" in text.lower():
        return "numpy cannot be traced: compute with torch operations on tensors"
    if "uninitialized" in text.lower():
        return "a lazy module could not be materialised by a forward pass on a 56 x 56 batch"
    return "write forward as torch operations on tensors (layers, torch functions), without Python side effects"


def _refused(exc: BaseException, what: str) -> NetworkRefused:
    where = where_from_exception(exc)
    first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    at = f" at {where}" if where else ""
    return NetworkRefused(f"torch.export could not trace {what}{at} ({type(exc).__name__}: {first}); {_advice(exc)}")


def materialise(model: nn.Module, example: torch.Tensor) -> None:
    """Give lazy modules their parameters with one forward pass in eval mode (the mode is restored)."""
    from torch.nn.modules.lazy import LazyModuleMixin

    if not any(isinstance(m, LazyModuleMixin) and m.has_uninitialized_params() for m in model.modules()):
        return
    training = model.training
    try:
        with torch.no_grad():
            model.eval()(example)
    except Exception as exc:  # noqa: BLE001 - the network's own failure: say so
        raise _refused(exc, "the network while materialising its lazy modules") from None
    finally:
        model.train(training)


def _trace(model: nn.Module, example: torch.Tensor, mode: str, free: tuple[int, ...]) -> Any:
    from torch.export import Dim

    model.train(mode == "train")
    dims = {axis: Dim.AUTO for axis in free}
    try:
        program = torch.export.export(model, (example,), dynamic_shapes=(dims,))
        if _allowed_as_traced(program):
            return program  # already PyTorch's functional operations the judge runs: nothing to decompose
        return program.run_decompositions(_decompositions())
    except NetworkRefused:
        raise
    except Exception as exc:  # noqa: BLE001 - any tracing failure is the network's: say so
        shape = " x ".join(str(s) for s in example.shape)
        raise _refused(exc, f"it in {mode} mode on a {shape} batch") from None


def _allowed_as_traced(program: Any) -> bool:
    """Whether every operation of a traced program is one the judge runs and it changes no state (then
    decomposing it, about 0.5 s a mode, would change nothing the judge reads)."""
    from torch.export.graph_signature import OutputKind

    from grader.netops import ALL_OPS

    if any(spec.kind != OutputKind.USER_OUTPUT for spec in program.graph_signature.output_specs):
        return False
    return all(_op_name(n.target) in ALL_OPS for n in program.graph.nodes if n.op == "call_function")


def _decompositions() -> dict:
    from grader.netops import decomposition_table

    return decomposition_table()


def _fixed(program: Any, free: tuple[int, ...]) -> list[int]:
    """The axes of ``free`` that tracing fixed to the example's size (read from the input's traced shape)."""
    from torch.export.graph_signature import InputKind
    from torch.fx.experimental.symbolic_shapes import is_concrete_int

    user = [s.arg.name for s in program.graph_signature.input_specs if s.kind == InputKind.USER_INPUT]
    nodes = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    shape = nodes[user[0]].meta["val"].shape if user and user[0] in nodes else ()
    return [axis for axis in free if axis < len(shape) and is_concrete_int(shape[axis])]


def export_network(
    model: nn.Module,
    example: torch.Tensor,
    dynamic_size: bool,
    shapes: list[tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """``model`` traced by ``torch.export`` in train and eval mode, decomposed to Core ATen, as plain data.

    ``example`` is the batch to trace on (``N x 1 x 56 x 56``); the batch size is free, and H and W too when
    ``dynamic_size``. ``shapes`` lists the (batch, size) pairs the judge will run the network at: where tracing
    fixed a free size, the network is traced once per pair. Returns ``{"format", "graphs": [{"mode", "batch",
    "size", "nodes", "output", "mutations"}], "parameters", "frozen", "names", "probes"}``; raises
    :class:`NetworkRefused` when the network cannot be exported. The module's modes and PyTorch's global random
    state are as they were afterwards.
    """
    modes = [(m, m.training) for m in model.modules()]
    state = torch.random.get_rng_state()
    try:
        return _export(model, example, dynamic_size, shapes)
    finally:
        for module, training in modes:
            module.training = training
        torch.random.set_rng_state(state)


def _export(
    model: nn.Module, example: torch.Tensor, dynamic_size: bool, shapes: list[tuple[int, int]] | None
) -> dict[str, Any]:
    size = int(example.shape[-1])
    shapes = list(dict.fromkeys(tuple(s) for s in (shapes or [(int(example.shape[0]), size)])))
    materialise(model, example)
    free = (0, 2, 3) if dynamic_size else (0,)
    programs = {mode: _trace(model, example, mode, free) for mode in MODES}
    fixed = sorted({axis for program in programs.values() for axis in _fixed(program, free)})
    probes = _probes(model, shapes)
    if not fixed:
        tensors = _Tensors()
        graphs = [_graph(p, mode, None, None if dynamic_size else size, tensors) for mode, p in programs.items()]
        message = _message(graphs, tensors, [], probes)
        if _computes_as_traced(message):
            return message
        fixed = list(free)  # a size read from the input was fixed inside the graph: trace each shape
    tensors = _Tensors()
    graphs, untraced = [], []
    named = ", ".join(("batch size", "channels", "height", "width")[axis] for axis in fixed)
    for batch, side in shapes:
        try:
            traced = [_trace(model, torch.rand(batch, 1, side, side), mode, ()) for mode in MODES]
        except NetworkRefused as exc:
            if side == size:  # the shape it is trained and tested at: nothing can be judged without it
                raise NetworkRefused(
                    f"{exc} (tracing fixed the {named} read from the input, so the network was traced again for "
                    f"each shape the grader runs it at; at {batch} x 1 x {side} x {side} it fails)"
                ) from None
            untraced.append({"batch": batch, "size": side, "error": str(exc)})
            continue
        graphs += [_graph(program, mode, batch, side, tensors) for mode, program in zip(MODES, traced, strict=True)]
    return _message(graphs, tensors, fixed, probes, untraced)


def _message(
    graphs: list[dict], tensors: _Tensors, fixed: list[int], probes: list[dict], untraced: list[dict] | None = None
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "graphs": graphs,
        "parameters": tensors.arrays("parameter"),
        "frozen": tensors.arrays("frozen"),
        "names": tensors.names,
        "fixed": [("batch", "channels", "height", "width")[axis] for axis in fixed],
        "untraced": untraced or [],  # shapes the network could not be traced at (other sizes), and why
        "probes": probes,
    }


def _computes_as_traced(message: dict[str, Any]) -> bool:
    """Whether the graphs traced with free sizes compute the module's logits at every probed shape (the judge
    checks this again; here it decides whether to trace each shape on its own)."""
    from grader.netgraph import GraphNet

    try:
        GraphNet.from_export(message)
    except NetworkRefused as exc:
        return "other logits" not in str(exc) and "fails at" not in str(exc)
    return True


def _probes(model: nn.Module, shapes: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """The module's own logits on :func:`probe` inputs of each (batch, size): eval mode, then train mode on a
    copy (batch norm's statistics change there), each under the same global seed."""
    found = []
    for batch, side in shapes:
        entry: dict[str, Any] = {"batch": batch, "size": side}
        for mode in ("eval", "train"):
            try:
                net = model if mode == "eval" else copy.deepcopy(model)
                torch.manual_seed(0)
                with torch.no_grad():
                    out = net.train(mode == "train")(probe(side, batch))
                entry[mode] = out.detach().float().numpy().copy() if isinstance(out, torch.Tensor) else None
            except Exception as exc:  # noqa: BLE001 - the network's own failure at this size
                entry[mode] = None
                entry[f"{mode}_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        found.append(entry)
    return found


# --- encoding --------------------------------------------------------------------------------------------


class _Tensors:
    """The network's tensors, keyed alike in every graph ("t0", "t1", ...), with their state-dict names."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}  # state-dict name -> key
        self.found: dict[str, tuple[str, torch.Tensor]] = {}  # key -> (kind, tensor)
        self.names: dict[str, str] = {}  # key -> state-dict name

    def key(self, name: str, kind: str, tensor: torch.Tensor) -> str:
        tensor = tensor.detach().cpu()
        if tensor.is_complex() or tensor.layout != torch.strided:
            raise NetworkRefused(f"{name} is a {tensor.dtype} {tensor.layout} tensor the grader cannot carry")
        key = self.keys.setdefault(name, f"t{len(self.keys)}")
        self.found.setdefault(key, (kind, tensor))
        self.names[key] = name
        return key

    def arrays(self, kind: str) -> dict[str, Any]:
        return {k: t.contiguous().numpy().copy() for k, (c, t) in self.found.items() if c == kind}


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
    if isinstance(value, torch.layout):
        return {"$layout": str(value).removeprefix("torch.")}
    if isinstance(value, torch.memory_format):
        return {"$memory_format": str(value).removeprefix("torch.")}
    raise NetworkRefused(f"the forward pass uses a {type(value).__name__} ({value!r}) the grader cannot carry")


def _inherited(node: Any, wheres: dict[str, str]) -> str:
    """The line of the nearest argument that has one (decompositions leave some nodes without a stack)."""
    for arg in node.all_input_nodes:
        if wheres.get(arg.name):
            return wheres[arg.name]
    return ""


def _graph(program: Any, mode: str, batch: int | None, size: int | None, tensors: _Tensors) -> dict[str, Any]:
    from torch.export.graph_signature import InputKind, OutputKind

    signature = program.graph_signature
    state = {**program.state_dict, **program.constants}
    names: dict[str, dict] = {}
    inputs = 0
    for spec in signature.input_specs:
        if spec.kind == InputKind.USER_INPUT:
            names[spec.arg.name] = {"$input": inputs}
            inputs += 1
        elif spec.kind in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR):
            kind = "parameter" if spec.kind == InputKind.PARAMETER else "frozen"
            names[spec.arg.name] = {"$tensor": tensors.key(spec.target, kind, state[spec.target]), "name": spec.target}
        else:
            raise NetworkRefused(f"the network uses {spec.kind.name.lower()} inputs the grader cannot carry")
    users = [spec for spec in signature.output_specs if spec.kind == OutputKind.USER_OUTPUT]
    if inputs != 1 or len(users) != 1:
        raise NetworkRefused("the forward pass must take one tensor of images and return one tensor of logits")
    wheres: dict[str, str] = {}
    nodes = []
    for node in program.graph.nodes:
        if node.op == "call_function":
            where = where_from_stack(node.meta.get("stack_trace")) or _inherited(node, wheres)
            wheres[node.name] = where
            nodes.append(
                {
                    "name": node.name,
                    "op": _op_name(node.target),
                    "args": _encode(list(node.args), names),
                    "kwargs": {k: _encode(v, names) for k, v in node.kwargs.items()},
                    "where": where,
                }
            )
    outputs = next(n for n in program.graph.nodes if n.op == "output").args[0]
    mutations = []
    for spec, value in zip(signature.output_specs, outputs, strict=True):
        if spec.kind in (OutputKind.BUFFER_MUTATION, OutputKind.PARAMETER_MUTATION):
            target = tensors.keys.get(spec.target)
            mutations.append(
                {
                    "target": target,
                    "name": spec.target,
                    "value": _encode(value, names),
                    "where": wheres.get(getattr(value, "name", ""), ""),
                }
            )
        elif spec.kind == OutputKind.USER_OUTPUT:
            output = _encode(value, names)
        elif spec.kind != OutputKind.USER_INPUT_MUTATION:  # an in-place change of the input is its own business
            raise NetworkRefused(f"the network returns a {spec.kind.name.lower()} the grader cannot carry")
    return {"mode": mode, "batch": batch, "size": size, "nodes": nodes, "output": output, "mutations": mutations}
