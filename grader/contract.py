"""The exercise contract: what an entry is, and the one place the engine looks entries up.

Each of the course's student modules defines its entries once, in ``course/<module>/contract.py`` (``MODULE``);
``MODULES``, ``EXERCISES``, :func:`exercise` and :func:`module` read them through the course's manifest
(grader/coursepkg.py). Stubs in ``exercises/`` are generated from them (``python -m grader.stubgen``), the tests
check that ``solutions/`` and ``reference/`` match them, the worker uses them to find a submission's names, and
the checks use them to call them. Change a signature there and everything else follows or fails loudly.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Param:
    """One parameter of a contract signature (``default`` is source text, ``None`` when required)."""

    name: str
    annotation: str | None
    default: str | None


@dataclass(frozen=True)
class Exercise:
    """One function or class students implement.

    ``signature`` is Python source without the leading ``def``/``class``, e.g.
    ``"conv_output_size(size: int, kernel_size: int) -> int"`` or ``"QuadrantNet(nn.Module)"``.
    Classes list their methods (``__init__`` first) as further signatures with docstrings.
    """

    module: str
    signature: str
    doc: str
    kind: str = "function"
    methods: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.signature.split("(", 1)[0].strip()

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def params(self) -> tuple[Param, ...]:
        """Parameters of the function, or of the class's ``__init__`` without ``self``."""
        sig = self.signature if self.kind == "function" else self.methods[0][0]
        return _parse_params(sig)


@dataclass(frozen=True)
class Module:
    """A student module: its docstring, the imports its stubs need, and its exercises."""

    name: str
    doc: str
    imports: tuple[str, ...]
    exercises: tuple[Exercise, ...] = field(default=())


def _parse_params(signature: str) -> tuple[Param, ...]:
    tree = ast.parse(f"def {signature}: pass")
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    args = fn.args
    positional = args.posonlyargs + args.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = [
        Param(a.arg, ast.unparse(a.annotation) if a.annotation else None, ast.unparse(d) if d else None)
        for a, d in zip(positional, defaults, strict=True)
    ]
    params += [
        Param(a.arg, ast.unparse(a.annotation) if a.annotation else None, ast.unparse(d) if d else None)
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    return tuple(p for p in params if p.name != "self")


def __getattr__(name: str) -> object:
    """``MODULES`` and ``EXERCISES``: the course's (its groups' ``contract.py``, grader/coursepkg.py)."""
    from grader import coursepkg

    if name == "MODULES":
        return coursepkg.current().modules
    if name == "EXERCISES":
        return coursepkg.current().exercises
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def exercise(qualname: str) -> Exercise:
    """Return the exercise called ``module.name`` (KeyError with the known names otherwise)."""
    exercises = __getattr__("EXERCISES")
    try:
        return exercises[qualname]
    except KeyError:
        raise KeyError(f"{qualname!r} is not in the contract; known: {sorted(exercises)}") from None


def module(name: str) -> Module:
    for m in __getattr__("MODULES"):
        if m.name == name:
            return m
    raise KeyError(f"no contract module {name!r}")
