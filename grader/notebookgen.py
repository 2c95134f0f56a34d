"""Render the course notebooks from the modules: the manifest's ``notebook`` in ``exercises/`` and ``solutions/``.

The code cells hold exactly the module sources (stubs from the contract, or the solutions), so a notebook
grades like its modules; the text around them is the course's (``course/notebook.toml`` and each module's
``course/<module>/notebook.toml``). Experiment cells (sample grid, learning curves, Grad-CAM overlays) are skipped
when ``CNN_GRADER_GRADING=1``, which the grader sets. ``python -m grader.notebookgen`` rewrites both;
``tests/test_notebooks.py`` fails when the committed notebooks drift.
"""

from __future__ import annotations

import argparse
import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader import contract, coursepkg
from grader.stubgen import render_module

ROOT = Path(__file__).resolve().parents[1]

CHECK = """import grader

grader.check("{group}")  # the public {group} checks on what this notebook defines (nothing while graded){more}"""


@dataclass(frozen=True)
class Section:
    """A module's part of the notebook (``<module>/notebook.toml``): its text, cells after its code, and a note
    after its check cell's call."""

    text: str
    after: str | None = None
    check_note: str | None = None


def _toml(path: Path) -> dict[str, str]:
    return tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def course_text() -> dict[str, str]:
    """The course's own notebook text (``notebook.toml`` in the course folder): intro, setup, finale."""
    return _toml(coursepkg.current().root / "notebook.toml")


def section(module: str) -> Section:
    """A module's section; a module without a ``notebook.toml`` gets a heading with its docstring."""
    group = next(g for g in coursepkg.current().groups if g.name == module)
    found = _toml(group.folder / "notebook.toml")
    if not found:
        return Section(f"## {module}\n\n{contract.module(module).doc}")
    return Section(found["text"], found.get("after"), found.get("check_note"))


def module_body(source: str) -> str:
    """A module's source without its docstring and ``from __future__`` import (one notebook cell)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    skip: set[int] = set()
    for node in tree.body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node is tree.body[0]
        if is_doc or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            skip.update(range(node.lineno - 1, node.end_lineno or node.lineno))
    return "\n".join(line for i, line in enumerate(lines) if i not in skip).strip() + "\n"


def render(kind: str) -> nbformat.NotebookNode:
    """The notebook for ``kind`` ``"exercises"`` (stubs) or ``"solutions"``."""
    text = course_text()
    cells = [nbformat.v4.new_markdown_cell(text["intro"])] if "intro" in text else []
    cells += [nbformat.v4.new_code_cell(text["setup"])] if "setup" in text else []
    for module in contract.MODULES:
        source = (
            render_module(module) if kind == "exercises" else (ROOT / "solutions" / f"{module.name}.py").read_text()
        )
        part = section(module.name)
        cells.append(nbformat.v4.new_markdown_cell(part.text))
        cells.append(nbformat.v4.new_code_cell(module_body(source)))
        if part.after:
            cells.append(nbformat.v4.new_code_cell(part.after))
        more = f"\n{part.check_note}" if part.check_note else ""
        cells.append(nbformat.v4.new_code_cell(CHECK.format(group=module.name, more=more)))
    if "finale" in text:
        cells.append(nbformat.v4.new_markdown_cell(text["finale_title"]))
        cells.append(nbformat.v4.new_code_cell(text["finale"]))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index}"  # stable ids keep the committed files reproducible
    return notebook


def rendered_text(kind: str) -> str:
    return nbformat.writes(render(kind)) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    for kind in ("exercises", "solutions"):
        path = ROOT / kind / coursepkg.notebook_name()
        path.write_text(rendered_text(kind))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
