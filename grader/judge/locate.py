"""Which files of a submission are graded: one documented rule, decided by content, named in the results.

Students hand in a folder of modules, a notebook, both (the course's ``exercises/`` holds the stub modules
*and* the notebook), a zip nested a few folders deep, or files renamed by their browser (``shapes (1).py``).
The rule (docs/submissions.md), applied by the judge by parsing only, never executing:

1. **What counts as work.** An exercise is *implemented* in a source when the source defines its name with
   code other than the released stub's (comments, formatting and docstrings aside), or assigns or imports
   it. A module file that does not parse counts as implementing all of its exercises (the syntax error is
   reported when it is graded). A file that is the released stub is *not attempted*.
2. **The graded folder**: of the folders that hold an exercise module or a notebook, the one that
   implements the most exercises; ties go to the shallowest, then to the first by name.
3. **The notebook**: the course's (its manifest's ``notebook``) where there is one, else the notebook that
   implements the most exercises (then the first by name). A notebook's code cells are read as the kernel
   would run them.
4. **Per module** (each of the course's student modules ``M``): ``M.py``, or one unambiguous
   near-miss name (``shapes (1).py``, ``Shapes.py``, ``shapes-1.py``, ``shapes_v2.py``, ``shapes copy.py``)
   when ``M.py`` is missing; then the source that implements more of M's exercises is graded, the module
   file when both implement as many. Every choice that is not the obvious one is named in the results.
"""

from __future__ import annotations

import ast
import copy
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

from grader import contract, coursepkg
from grader.judge.contained import ContainedFiles, read_contained

_MAGIC = re.compile(r"^\s*[%!]")
_DEFINED = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+(\w+)", re.MULTILINE)
_NEAR_MISS_TAIL = re.compile(r"[\s_-]*(?:\(\d+\)|\d+|copy|\(copy\)|final|v\d+|done|solved|solution)?", re.IGNORECASE)

Kind = Literal["file", "notebook", "missing"]


@dataclass(frozen=True)
class Source:
    """Where one exercise module is graded from (``path`` relative to the graded folder)."""

    module: str
    kind: Kind
    path: str | None = None
    implemented: int = 0
    why: str = ""  # for a missing module: what was found instead, in the student's terms

    def label(self) -> str:
        if self.kind == "missing":
            return "not found"
        return self.path or ""


@dataclass
class Plan:
    """The graded folder (``""``: the submission's top), the source of each module, and notes on the choices."""

    folder: str
    sources: dict[str, Source]
    notebook: str | None = None
    notes: list[str] = field(default_factory=list)

    def files_to_copy(self, tree: ContainedFiles) -> dict[str, str]:
        """Private-copy path -> submission path: the graded folder, near-miss files under their module names,
        and no stub file where the module is graded from the notebook."""
        prefix = f"{self.folder}/" if self.folder else ""
        copied = {rel.removeprefix(prefix): rel for rel in tree.files if rel.startswith(prefix)}
        for source in self.sources.values():
            canonical = f"{source.module}.py"
            if source.kind == "file" and source.path != canonical:
                copied[canonical] = prefix + str(source.path)
            elif source.kind == "notebook":
                copied.pop(canonical, None)
        return copied

    def worker_plan(self) -> dict:
        """What the worker needs: each module's kind and the notebook's name (plain JSON)."""
        return {"modules": {m: s.kind for m, s in self.sources.items()}, "notebook": self.notebook}


# --- what counts as work ---------------------------------------------------------------------------------


def _strip_docstrings(node: ast.AST) -> ast.AST:
    node = copy.deepcopy(node)
    for inner in ast.walk(node):
        body = getattr(inner, "body", None)
        if (
            isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            inner.body = body[1:] or [ast.Pass()]
    return node


def _fingerprint(node: ast.AST) -> str:
    return ast.dump(_strip_docstrings(node))


@functools.cache
def _stub_definitions() -> dict[str, str]:
    """Contract name -> fingerprint of its released stub definition."""
    from grader.stubgen import render_module

    stubs = {}
    for spec in contract.MODULES:
        for node in ast.parse(render_module(spec)).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                stubs[node.name] = _fingerprint(node)
    return stubs


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements that run at import time, looking into ``if``, ``try`` and ``with`` blocks (not functions)."""
    found = []
    for node in body:
        found.append(node)
        if isinstance(node, ast.If | ast.With | ast.For | ast.While):
            found += _top_level(node.body + getattr(node, "orelse", []))
        elif isinstance(node, ast.Try):
            blocks = node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
            found += _top_level(blocks)
    return found


def _definitions(tree: ast.Module) -> dict[str, bool]:
    """Contract names a module body defines -> whether with code other than the stub's (later wins)."""
    stubs = _stub_definitions()
    found: dict[str, bool] = {}
    for node in _top_level(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name in stubs:
            found[node.name] = _fingerprint(node) != stubs[node.name]
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in stubs:
                    found[target.id] = True
        elif isinstance(node, ast.ImportFrom | ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                if name in stubs:
                    found[name] = True
                if alias.name == "*":  # a star import may bring any of them: count the module's names
                    found.update({n: True for n in stubs if n not in found})
    return found


def _exercise_names(module: str) -> set[str]:
    return {ex.name for ex in contract.module(module).exercises}


def module_file_work(text: str, module: str) -> int:
    """How many of ``module``'s exercises a module file implements (all of them when it does not parse)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return len(_exercise_names(module))
    return sum(1 for name, changed in _definitions(tree).items() if changed and name in _exercise_names(module))


def notebook_cells(data: bytes, name: str) -> list[str] | None:
    """The code cells of a notebook (``.ipynb`` JSON or a jupytext percent script), or None when unreadable."""
    if name.endswith(".py"):
        text = data.decode("utf-8", errors="replace")
        return [cell for cell in re.split(r"^# %%.*$", text, flags=re.MULTILINE)]
    try:
        notebook = json.loads(data.decode("utf-8"))
        cells = notebook.get("cells") if isinstance(notebook, dict) else None
        if cells is None and isinstance(notebook, dict):  # nbformat 3 keeps cells in worksheets
            cells = [c for sheet in notebook.get("worksheets", []) for c in sheet.get("cells", [])]
        sources = []
        for cell in cells or []:
            if cell.get("cell_type") != "code":
                continue
            source = cell.get("source", cell.get("input", ""))
            sources.append("".join(source) if isinstance(source, list) else str(source))
        return sources
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError, TypeError):
        return None


def notebook_work(cells: list[str]) -> dict[str, bool]:
    """Contract name -> implemented, over a notebook's code cells in order (a later definition wins)."""
    found: dict[str, bool] = {}
    for source in cells:
        code = "\n".join("pass" if _MAGIC.match(line) else line for line in source.splitlines())
        try:
            found.update(_definitions(ast.parse(code)))
        except (SyntaxError, ValueError):  # a cell that does not parse: its definitions count as work
            found.update({n: True for n in _DEFINED.findall(code) if n in _stub_definitions()})
    return found


# --- the plan --------------------------------------------------------------------------------------------


def _near_misses(names: list[str], module: str) -> list[str]:
    return [
        name
        for name in names
        if name.lower().endswith(".py")
        and name[:-3].lower().startswith(module)
        and name != f"{module}.py"
        and _NEAR_MISS_TAIL.fullmatch(name[len(module) : -3])
    ]


@dataclass
class _Folder:
    path: str
    files: dict[str, bytes]  # name -> bytes, for the folder's own files (no subfolders)

    @property
    def depth(self) -> int:
        return 0 if not self.path else len(PurePosixPath(self.path).parts)


def _is_notebook(name: str, data: bytes) -> bool:
    if name.endswith(".ipynb"):
        return True
    stem = name[:-3] if name.endswith(".py") else None
    return bool(stem) and stem not in {m.name for m in contract.MODULES} and b"# %%" in data


def _folders(tree: ContainedFiles) -> list[_Folder]:
    """Folders that hold a module file, a near-miss of one, or a notebook (with those files' bytes)."""
    by_folder: dict[str, dict[str, bytes]] = {}
    for relative, path in tree.files.items():
        parent, _, name = relative.rpartition("/")
        module_like = name.endswith(".py") and any(name[:-3].lower().startswith(m.name) for m in contract.MODULES)
        if module_like or name.endswith(".ipynb") or name.endswith(".py"):
            data = read_contained(path)
            if module_like or _is_notebook(name, data):
                by_folder.setdefault(parent, {})[name] = data
    return [_Folder(path, files) for path, files in sorted(by_folder.items())]


def _plan_folder(folder: _Folder) -> Plan:
    names = sorted(folder.files)
    notebooks = [n for n in names if _is_notebook(n, folder.files[n])]
    work = {n: notebook_work(cells) for n in notebooks if (cells := notebook_cells(folder.files[n], n)) is not None}
    notes: list[str] = []
    notebook = None
    if notebooks:
        if coursepkg.notebook_name() in notebooks:
            notebook = coursepkg.notebook_name()
        else:  # max() keeps the first by name among equals
            notebook = max(notebooks, key=lambda n: sum(work.get(n, {}).values()))
        if len(notebooks) > 1:
            others = ", ".join(n for n in notebooks if n != notebook)
            notes.append(f"several notebooks: graded {notebook}, not {others} (docs/submissions.md)")
    nb_work = work.get(notebook, {}) if notebook else {}
    sources: dict[str, Source] = {}
    stubs_beside_notebook: list[str] = []
    both: list[str] = []  # module files graded although the notebook implements their exercises too
    for spec in contract.MODULES:
        module, exercises = spec.name, _exercise_names(spec.name)
        file_name = f"{module}.py" if f"{module}.py" in folder.files else None
        if file_name is None:
            misses = _near_misses(names, module)
            if len(misses) == 1:
                file_name = misses[0]
                notes.append(f"graded {misses[0]} as {module}.py")
            elif misses:
                found = ", ".join(misses)
                notes.append(f"{module}.py is missing; found {found}: rename the one to grade to {module}.py")
        in_file = module_file_work(folder.files[file_name].decode("utf-8", "replace"), module) if file_name else None
        in_notebook = sum(1 for n, changed in nb_work.items() if changed and n in exercises)
        if file_name is not None and (in_file or 0) >= in_notebook:
            sources[module] = Source(module, "file", file_name, in_file or 0)
            if in_file and in_notebook:
                both.append(file_name)
        elif notebook is not None:
            sources[module] = Source(module, "notebook", notebook, in_notebook)
            if file_name is not None:
                stubs_beside_notebook.append(file_name)
        else:
            sources[module] = Source(module, "missing", why=f"the submission has no {module}.py")
    if both:
        notes.append(
            f"both {', '.join(both)} and {notebook} implement these exercises: graded {', '.join(both)} "
            "(the module file, where it implements at least as many)"
        )
    if stubs_beside_notebook:
        files = ", ".join(stubs_beside_notebook)
        notes.append(
            f"{files}: the released stub{'s' if len(stubs_beside_notebook) > 1 else ''}, so {notebook} was graded"
        )
    return Plan(folder.path, sources, notebook if any(s.kind == "notebook" for s in sources.values()) else None, notes)


def plan(tree: ContainedFiles) -> Plan:
    """The graded folder and the source of every exercise module of ``tree`` (see the module docstring)."""
    candidates = [(folder, _plan_folder(folder)) for folder in _folders(tree)]
    if not candidates:
        found = sorted(tree.files)
        listing = ", ".join(found[:8]) + (f" and {len(found) - 8} more" if len(found) > 8 else "")
        why = f"found {listing}" if found else "the submission is empty"
        sources = {
            m.name: Source(m.name, "missing", why=f"the submission has no {m.name}.py ({why})")
            for m in contract.MODULES
        }
        return Plan("", sources, notes=[f"no exercise module or notebook found ({why})"])

    def rank(item: tuple[_Folder, Plan]) -> tuple:
        folder, chosen = item
        return (-sum(s.implemented for s in chosen.sources.values()), folder.depth, folder.path)

    candidates.sort(key=rank)
    folder, chosen = candidates[0]
    if folder.path:
        chosen.notes.insert(0, f"graded the folder {folder.path}/")
    others = [f.path or "the top folder" for f, _ in candidates[1:]]
    if others:
        chosen.notes.append(f"also found exercise files in {', '.join(others)} (not graded)")
    for module, source in chosen.sources.items():
        if source.kind == "missing" and others:
            chosen.sources[module] = Source(module, "missing", why=f"{source.why} in {folder.path or 'its top folder'}")
    return chosen
