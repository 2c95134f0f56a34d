"""Hand-in: ``cnn-grader export`` and ``grader.export()`` write the zip the autograder grades, checked first.

The zip holds the code the judge would grade of the student's folder (or notebook) by its own rule
(:mod:`grader.judge.locate`, docs/submissions.md): the graded folder's Python files and notebooks (helper
modules too; data and saved outputs stay behind), a near-miss name under its module's name. Before writing,
every graded source is read as the judge reads it: a module that is missing, a module or notebook cell that
does not parse, and exercises left as the released stub are listed. The zip is written in every case but one
(nothing gradeable found); it is then planned again as the autograder will plan it, and must give the same
sources. Nothing is run: handing in is a matter of files.
"""

from __future__ import annotations

import ast
import io
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader import atomic, contract
from grader.judge import locate
from grader.judge.contained import contained_files, read_contained
from grader.judge.submission import BadSubmission, prepare

DEFAULT_NAME = "submission.zip"
CODE = (".py", ".ipynb")  # what the zip carries of the graded folder


class NothingToHandIn(Exception):
    """No exercise module or notebook was found: no zip is written."""


@dataclass
class HandIn:
    """What was written: the zip, its files, each module's source and how much of it is done, and problems."""

    zip_path: Path
    files: list[str]
    sources: dict[str, str]  # module -> "shapes.py" / "cnn_exercises.ipynb" / "not found"
    done: dict[str, tuple[int, int]]  # module -> (exercises implemented, exercises)
    problems: list[str] = field(default_factory=list)  # would cost points: unreadable or missing sources
    notes: list[str] = field(default_factory=list)  # the judge's choices (which folder, which notebook)

    @property
    def complete(self) -> bool:
        return not self.problems and all(done == total for done, total in self.done.values())

    def summary(self) -> str:
        size = self.zip_path.stat().st_size if self.zip_path.exists() else 0
        lines = [f"wrote {self.zip_path} ({len(self.files)} files, {size / 1024:.0f} KB): hand in this file"]
        for module, source in self.sources.items():
            done, total = self.done[module]
            lines.append(f"  {module:<10} from {source}: {done} of {total} exercises implemented")
        lines += [f"  note: {note}" for note in self.notes]
        lines += [f"  problem: {problem}" for problem in self.problems]
        if self.complete:
            lines.append("complete: every exercise is implemented and every graded file reads")
        elif not self.problems:
            lines.append("incomplete: the exercises not implemented yet get no points")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        return f"<pre class='cnn-grader'>{escape(self.summary())}</pre>"

    def __repr__(self) -> str:
        return self.summary()


def _syntax_problem(text: str, label: str) -> str | None:
    try:
        ast.parse(text)
    except SyntaxError as exc:
        return f"{label} line {exc.lineno}: {exc.msg}: it cannot be graded until it parses"
    except ValueError as exc:
        return f"{label}: {exc}"
    return None


def _problems(folder: Path, plan: locate.Plan) -> list[str]:
    """The graded sources that would lose points whatever their code does: missing, or not parsing."""
    found = []
    for module, source in plan.sources.items():
        if source.kind == "missing":
            found.append(f"{module}: {source.why}")
        elif source.kind == "file":
            text = (folder / f"{module}.py").read_text(encoding="utf-8", errors="replace")
            problem = _syntax_problem(text, f"{source.path}")
            if problem:
                found.append(problem)
    if plan.notebook:
        from grader.worker.notebook import _strip_magics  # the worker's own reading of a cell

        cells = locate.notebook_cells((folder / plan.notebook).read_bytes(), plan.notebook)
        if cells is None:
            found.append(f"{plan.notebook} cannot be read as a notebook: save it again from Jupyter")
        for number, cell in enumerate(cells or [], start=1):
            problem = _syntax_problem(_strip_magics(cell)[0], f"{plan.notebook}, code cell {number},")
            if problem:
                found.append(problem)
    return found


def _stage_code(folder: Path, staged: Path) -> Path:
    """A copy of ``folder``'s code files (those inside it: links that leave it are not followed). The judge's rule
    picks the graded sources among code files only, so the plan is the folder's own."""
    tree = contained_files(folder)
    staged.mkdir(parents=True)
    for relative, path in tree.files.items():
        if relative.endswith(CODE):
            (staged / relative).parent.mkdir(parents=True, exist_ok=True)
            (staged / relative).write_bytes(read_contained(path))
    return staged


def _zip(folder: Path) -> tuple[bytes, list[str]]:
    """The graded folder's code (Python files, helpers included, and notebooks), zipped; data and outputs stay."""
    tree = contained_files(folder)
    code = {r: p for r, p in tree.files.items() if r.endswith(CODE)}  # checkpoints and caches are skipped already
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative, path in sorted(code.items()):
            archive.writestr(relative, read_contained(path))
    return buffer.getvalue(), sorted(code)


def export(path: Path, out: Path | None = None) -> HandIn:
    """Check ``path`` (a folder, notebook or zip) as the autograder reads it and write the zip to hand in
    (``out``, default ``submission.zip`` in the current folder). Raises :class:`NothingToHandIn` or
    :class:`~grader.judge.submission.BadSubmission` when there is nothing to write."""
    out = Path(out) if out is not None else Path.cwd() / DEFAULT_NAME
    with tempfile.TemporaryDirectory(prefix="cnn-grader-export-") as tmp:
        given = Path(path)
        if given.is_dir() and not given.is_symlink():  # its code only: data and outputs neither count nor weigh
            given = _stage_code(given, Path(tmp) / "code")
        prepared = prepare(given, Path(tmp) / "graded")
        plan = prepared.plan
        if all(source.kind == "missing" for source in plan.sources.values()):
            raise NothingToHandIn(
                f"nothing to hand in: {prepared.notes[-1] if prepared.notes else 'no exercise module or notebook'}"
            )
        data, files = _zip(prepared.folder)
        problems = _problems(prepared.folder, plan)
        again = Path(tmp) / "again.zip"
        again.write_bytes(data)
        replanned = prepare(again, Path(tmp) / "check" / "graded").plan
        if {m: (s.kind, s.implemented) for m, s in replanned.sources.items()} != {
            m: (s.kind, s.implemented) for m, s in plan.sources.items()
        }:
            raise BadSubmission("the zip would be graded from other files than the folder: please report this")
    atomic.write_bytes(out, data)
    done = {
        module: (source.implemented, len(contract.module(module).exercises)) for module, source in plan.sources.items()
    }
    sources = {module: source.label() for module, source in plan.sources.items()}
    return HandIn(out, files, sources, done, problems, list(prepared.notes))


def notebook_path(namespace: dict | None = None) -> Path | None:
    """The notebook this kernel runs, where the front end says (Jupyter Server sets ``JPY_SESSION_NAME``,
    ipykernel ``__session__``); else the only notebook in the current folder; else None."""
    for value in ((namespace or {}).get("__session__"), os.environ.get("JPY_SESSION_NAME")):
        if isinstance(value, str) and value.endswith(".ipynb") and Path(value).is_file():
            return Path(value)
    notebooks = sorted(Path.cwd().glob("*.ipynb"))
    return notebooks[0] if len(notebooks) == 1 else None
