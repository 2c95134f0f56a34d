"""Every implementation of the exercise contract has exactly the contract's names and signatures.

``exercises/`` (the stubs students get) is read with ``ast``; ``solutions/`` and ``reference/`` are
imported from their files and read with ``inspect``. The stubs must also be exactly what
``grader.stubgen`` renders from the contract, so they cannot drift.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # grader/ is used from the checkout, not installed

from grader.contract import EXERCISES, MODULES, Exercise  # noqa: E402
from grader.stubgen import render_all  # noqa: E402

EXERCISE_IDS = sorted(EXERCISES)


def _load(folder: str, name: str):
    spec = importlib.util.spec_from_file_location(f"_contract_{folder}_{name}", ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _expected(ex: Exercise) -> list[tuple[str, object]]:
    """The contract's (name, default) pairs; ``inspect.Parameter.empty`` for required parameters."""
    return [(p.name, inspect.Parameter.empty if p.default is None else ast.literal_eval(p.default)) for p in ex.params]


def _same(got: list[tuple[str, object]], expected: list[tuple[str, object]]) -> bool:
    """Equal names and defaults, with the default's type too (``True`` is not ``1``)."""
    return [(n, type(d), d) for n, d in got] == [(n, type(d), d) for n, d in expected]


@pytest.mark.parametrize("folder", ["solutions", "reference"])
@pytest.mark.parametrize("qualname", EXERCISE_IDS)
def test_implementation_signature(folder, qualname):
    ex = EXERCISES[qualname]
    obj = getattr(_load(folder, ex.module), ex.name, None)
    assert obj is not None, f"{folder}/{ex.module}.py has no {ex.name}"
    if ex.kind == "class":
        assert inspect.isclass(obj)
        for method, _doc in ex.methods:
            assert callable(getattr(obj, method.split("(", 1)[0], None)), f"{ex.name} lacks {method}"
    else:
        assert inspect.isfunction(obj)
    params = inspect.signature(obj).parameters.values()  # a class: its __init__ without self
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params), "no *args, **kwargs or keyword-only"
    got = [(p.name, p.default) for p in params]
    assert _same(got, _expected(ex)), f"{folder}: {ex.name}{[n for n, _ in got]} differs from {ex.signature}"


def _ast_params(fn: ast.FunctionDef) -> list[tuple[str, object]]:
    args = fn.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    return [
        (a.arg, inspect.Parameter.empty if d is None else ast.literal_eval(d))
        for a, d in zip(positional, defaults, strict=True)
        if a.arg != "self"
    ]


@pytest.mark.parametrize("qualname", EXERCISE_IDS)
def test_stub_signature(qualname):
    ex = EXERCISES[qualname]
    tree = ast.parse((ROOT / "exercises" / f"{ex.module}.py").read_text())
    defs = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)}
    node = defs.get(ex.name)
    assert node is not None, f"exercises/{ex.module}.py has no {ex.name}"
    if ex.kind == "class":
        assert isinstance(node, ast.ClassDef)
        methods = {m.name: m for m in node.body if isinstance(m, ast.FunctionDef)}
        for method, _doc in ex.methods:
            assert method.split("(", 1)[0] in methods
        node = methods["__init__"]
    assert isinstance(node, ast.FunctionDef)
    assert _same(_ast_params(node), _expected(ex))


@pytest.mark.parametrize("name", [m.name for m in MODULES])
def test_stubs_are_rendered_from_the_contract(name):
    committed = (ROOT / "exercises" / f"{name}.py").read_text()
    assert committed == render_all()[f"{name}.py"], "run: python -m grader.stubgen exercises/"


def test_no_stray_stub_modules():
    assert sorted(p.name for p in (ROOT / "exercises").glob("*.py")) == sorted(render_all())
