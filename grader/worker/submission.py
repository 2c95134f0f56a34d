"""Where the worker finds the student's names: module files, or a notebook executed in a kernel.

A folder with any of the contract's module files is imported as modules. Otherwise a notebook
(``.ipynb`` or a jupytext percent ``.py``) is executed once; the contract names it defines are installed
as modules of the same names (``shapes``, ``quadrant``, ...), so every op works the same on both. The
collected names are kept in the working directory, so a restarted worker does not run the notebook again.
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


def prepare(cell_timeout: float) -> dict[str, Any]:
    """Decide the submission's kind; for a notebook, execute it (once) and install its names."""
    if _state:
        return _state["summary"]
    if any((folder() / f"{m.name}.py").exists() for m in contract.MODULES):
        _state["summary"] = {"kind": "modules"}
        return _state["summary"]
    path = notebook.find_notebook(folder())
    if path is None:
        _state["summary"] = {"kind": "modules"}
        return _state["summary"]
    report = None
    if not NAMESPACE_FILE.exists():
        report = notebook.run(path, NAMESPACE_FILE.resolve(), cell_timeout)
    found, problems = notebook.load_namespace(NAMESPACE_FILE)
    for spec in contract.MODULES:
        module = types.ModuleType(spec.name, f"contract names defined by {path.name}")
        for ex in spec.exercises:
            if ex.name in found:
                setattr(module, ex.name, found[ex.name])
        sys.modules[spec.name] = module
    _state["summary"] = {"kind": "notebook", "file": path.name, "report": report, "problems": problems}
    return _state["summary"]


def has_module(name: str) -> bool:
    """Whether the submission provides module ``name`` (a file, or a notebook's installed names)."""
    summary = prepare(cell_timeout=15.0)
    return summary["kind"] == "notebook" or (folder() / f"{name}.py").exists()
