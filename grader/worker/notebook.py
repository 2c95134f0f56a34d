"""Run a submitted notebook in a fresh kernel (inside the worker) and collect the contract names.

nbclient executes the cells with a per-cell timeout that interrupts the cell and goes on with the next.
Errors are read from each cell's execute reply, not from its outputs (a student can hide tracebacks).
Magics and shell lines are not executed; they are reported. When the kernel dies, the notebook runs
again without the cell that killed it, so names defined elsewhere are still graded. Finally a collector
cell cloudpickles the contract names into a file that this worker (never the judge) loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from grader import contract
from grader.worker import audit

NOTEBOOK_FILES = ("*.ipynb",)
MAX_KERNEL_DEATHS = 2
_MAGIC = re.compile(r"^(\s*)([%!].*)$")

PREAMBLE = """
import sys as _sys, types as _types
try:
    import google.colab  # noqa: F401
except ImportError:  # a stand-in so notebooks written for Colab import
    _google = _sys.modules.setdefault("google", _types.ModuleType("google"))
    _colab = _types.ModuleType("google.colab")
    _colab.drive = _types.SimpleNamespace(mount=lambda *a, **k: None, flush_and_unmount=lambda *a, **k: None)
    _colab.files = _types.SimpleNamespace(upload=lambda *a, **k: {}, download=lambda *a, **k: None)
    _google.colab = _colab
    _sys.modules.update(
        {"google.colab": _colab, "google.colab.drive": _colab.drive, "google.colab.files": _colab.files}
    )
del _sys, _types
"""

COLLECTOR = """
def _cnn_grader_collect(_names, _path):
    import cloudpickle as _cp
    _found = {}
    for _name in _names:
        if _name in globals():
            try:
                _found[_name] = _cp.dumps(globals()[_name])
            except Exception as _exc:
                _found[_name] = repr(_exc).encode()
    with open(_path, "wb") as _f:
        _f.write(_cp.dumps(_found))
_cnn_grader_collect(NAMES, PATH)
del _cnn_grader_collect
"""


@dataclass
class CellReport:
    """One code cell as executed: where it is, how it starts, and how it ended."""

    index: int
    head: str
    status: str = "ok"
    error: str = ""
    skipped: list[str] = field(default_factory=list)


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read an ``.ipynb`` (any nbformat version, upgraded to 4 and validated) or a jupytext percent ``.py``."""
    if path.suffix == ".py":
        import jupytext

        return jupytext.read(path, fmt="py:percent")
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    return notebook


def find_notebook(folder: Path) -> Path | None:
    """The notebook of a submission folder that holds no module files, if any."""
    notebooks = sorted(folder.glob("*.ipynb"))
    if notebooks:
        return notebooks[0]
    scripts = [p for p in sorted(folder.glob("*.py")) if "# %%" in p.read_text(errors="replace")]
    return scripts[0] if scripts else None


def _strip_magics(source: str) -> tuple[str, list[str]]:
    """Replace magic and shell lines with ``pass`` (keeping indentation); return the skipped lines."""
    if source.lstrip().startswith("%%"):
        return "pass", [source.strip().splitlines()[0]]
    skipped, lines = [], []
    for line in source.splitlines():
        match = _MAGIC.match(line)
        if match:
            skipped.append(match.group(2).strip())
            lines.append(f"{match.group(1)}pass")
        else:
            lines.append(line)
    return "\n".join(lines), skipped


def _head(source: str) -> str:
    lines = [line for line in source.strip().splitlines() if line.strip()][:2]
    return " / ".join(line.strip()[:80] for line in lines)


def execute(
    path: Path, namespace_file: Path, cell_timeout: float, skip: frozenset[int] = frozenset()
) -> list[CellReport]:
    """Execute the notebook once; raise :class:`KernelDied` with the reports so far if the kernel dies."""
    original = read_notebook(path)
    names = sorted(ex.name for ex in contract.EXERCISES.values())
    cells = [nbformat.v4.new_code_cell(PREAMBLE)]
    reports: dict[int, CellReport] = {}
    for index, cell in enumerate(original.cells, start=1):
        if cell.cell_type != "code" or index in skip:
            continue
        source, skipped = _strip_magics(cell.source)
        reports[len(cells)] = CellReport(index, _head(cell.source), skipped=skipped)
        cells.append(nbformat.v4.new_code_cell(source))
    collector = COLLECTOR.replace("NAMES", repr(names)).replace("PATH", repr(str(namespace_file)))
    cells.append(nbformat.v4.new_code_cell(collector))
    notebook = nbformat.v4.new_notebook(cells=cells)

    def executed(cell: Any, cell_index: int, execute_reply: dict) -> None:
        content = execute_reply.get("content", {})
        report = reports.get(cell_index)
        if report is not None and content.get("status") != "ok":
            report.status = "error"
            report.error = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"[:500]
        cell.outputs = []  # outputs can be megabytes and are never graded

    def started(cell: Any, cell_index: int) -> None:
        current[0] = cell_index

    current = [0]
    client = NotebookClient(
        notebook,
        timeout=cell_timeout,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": "CellTimeoutError", "evalue": f"interrupted after {cell_timeout:g} s"},
        allow_errors=True,
        kernel_name="python3",
        allow_stdin=False,
        on_cell_executed=executed,
        on_cell_start=started,
    )
    try:
        client.execute()
    except DeadKernelError:
        raise KernelDied(list(reports.values()), reports.get(current[0])) from None
    return list(reports.values())


class KernelDied(Exception):
    def __init__(self, reports: list[CellReport], cell: CellReport | None) -> None:
        super().__init__("kernel died")
        self.reports = reports
        self.cell = cell


def run(path: Path, namespace_file: Path, cell_timeout: float) -> dict[str, Any]:
    """Execute the notebook (again without any cell that kills the kernel) and report per cell."""
    skip: set[int] = set()
    deaths: list[CellReport] = []
    while True:
        try:
            reports = execute(path, namespace_file, cell_timeout, frozenset(skip))
            break
        except KernelDied as died:
            if died.cell is None or len(deaths) >= MAX_KERNEL_DEATHS:
                reports = died.reports
                break
            died.cell.status, died.cell.error = "error", "the kernel died while running this cell; it was skipped"
            deaths.append(died.cell)
            skip.add(died.cell.index)
    by_index = {r.index: r for r in reports}
    for dead in deaths:
        by_index[dead.index] = dead
    return {
        "cells": [vars(r) for r in sorted(by_index.values(), key=lambda r: r.index)],
        "collected": namespace_file.exists(),
    }


def load_namespace(namespace_file: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The collected objects by name, and the reasons names could not be loaded."""
    if not namespace_file.exists():
        return {}, {}
    raw: dict[str, bytes] = audit.loads(namespace_file.read_bytes())
    found, problems = {}, {}
    for name, payload in raw.items():
        try:
            found[name] = audit.loads(payload)
        except Exception as exc:  # noqa: BLE001 - a name that cannot be restored is reported, not fatal
            problems[name] = f"could not be taken out of the kernel: {payload[:200]!r} ({exc})"
    return found, problems
