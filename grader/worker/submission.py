"""Where the worker finds the student's names: module files, or a notebook executed in a kernel.

The judge decides which source each exercise module is graded from (:mod:`grader.judge.locate`) and sends
that plan with the ``prepare`` request: ``{"modules": {"shapes": "file" | "notebook" | "missing", ...},
"notebook": NAME}``. Modules from files are imported from the submission folder as usual. When any module
comes from the notebook, the notebook is executed once; the contract names it defines for those modules are
installed as modules of the same names (``shapes``, ``quadrant``, ...), so every op works the same on both.
The collected names are kept in the working directory, so a restarted worker does not run the notebook again.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

from grader import contract
from grader.worker import notebook

NAMESPACE_FILE = Path("notebook_namespace.pkl")  # relative to the worker's working directory
_state: dict[str, Any] = {}


def folder() -> Path:
    return Path(sys.path[0])


def prepare(cell_timeout: float, plan: dict[str, Any]) -> dict[str, Any]:
    """Follow the judge's plan; for modules from the notebook, execute it (once) and install their names."""
    if _state:
        return _state["summary"]
    _state["plan"] = plan
    from_notebook = [m for m, kind in plan["modules"].items() if kind == "notebook"]
    if not from_notebook:
        _state["summary"] = {"kind": "modules"}
        return _state["summary"]
    path = folder() / plan["notebook"]
    report = None
    try:
        if not NAMESPACE_FILE.exists():
            report = notebook.run(path, NAMESPACE_FILE.resolve(), cell_timeout)
        found, problems = notebook.load_namespace(NAMESPACE_FILE)
    except Exception as exc:  # noqa: BLE001 - an unreadable notebook costs its modules only, reported once
        _state["summary"] = {"kind": "notebook", "file": path.name, "error": f"{type(exc).__name__}: {exc}"[:500]}
        return _state["summary"]
    for spec in contract.MODULES:
        if spec.name not in from_notebook:
            continue
        module = types.ModuleType(spec.name, f"contract names defined by {path.name}")
        for ex in spec.exercises:
            if ex.name in found:
                setattr(module, ex.name, found[ex.name])
        sys.modules[spec.name] = module
    _state["summary"] = {"kind": "notebook", "file": path.name, "report": report, "problems": problems}
    return _state["summary"]


def has_module(name: str) -> bool:
    """Whether the judge's plan gives module ``name`` a source (``prepare`` must have run)."""
    plan = _state.get("plan")
    if plan is None:
        raise RuntimeError("the worker was asked for a module before the submission was prepared")
    return plan["modules"].get(name, "missing") != "missing"
