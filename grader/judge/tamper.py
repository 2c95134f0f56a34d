"""The judge's static scan of a submission for code that reaches into the grader or the interpreter.

The worker is the student's own process: code in it can rewrite any grader module it has imported, the
interpreter's tables, or the libraries the checks compare with. No exercise needs to, so such code is
evidence of tampering. This module only *parses* (:mod:`ast`) a submission's ``.py`` files and its
notebooks' code cells (``.ipynb``, nbformat 3 or 4, and jupytext percent scripts); it never imports, runs
or compiles them. A notebook cell is read as the worker's kernel would run it: magic and shell lines become
``pass`` and a cell magic's cell is skipped, as in :mod:`grader.worker.notebook`, then IPython's own input
transformer handles what is left (help lines, prompts), and the imports of every cell count in every other.

A finding is a :class:`Signal` (file, line, what) for the instructor to review: evidence, not proof. Code
that hides itself from a parser (aliases, strings, computed attribute names) can escape it. A file or cell
that does not parse yields nothing here: the grading reports its syntax error.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

# top-level packages of the grader that the worker can import -> what they are
GRADER_PACKAGES = {
    "grader": "the grader's own code",
    "course": "the grader's course code",
    "reference": "the grader's reference solutions",
    "hidden_checks": "the grader's hidden checks",
}
# what a submission may use of the grader: the exercise contract, grader.data (the course notebook loads its data
# set with it) and grader.check (runs the checks from a notebook); a course adds its own helpers (the manifest's
# student_imports: the CNN course's notebook pastes digits on a canvas with grader.quadrants)
ENGINE_ALLOWED = ("grader.contract", "grader.data", "grader.check")


def allowed_imports() -> tuple[str, ...]:
    from grader import coursepkg

    return (*ENGINE_ALLOWED, *coursepkg.current().student_imports)


FORBIDDEN_IMPORTS = {
    "ctypes": "reads and writes the process's memory",
    "_ctypes": "reads and writes the process's memory",
    "cffi": "reads and writes the process's memory",
    "subprocess": "runs other programs",
    "_posixsubprocess": "runs other programs",
    "pty": "runs other programs",
}
# module.attribute (under whatever name it was imported) -> why any use of it is a signal
USES = {
    "sys.modules": "the interpreter's table of loaded modules",
    "sys._getframe": "another function's frame",
    "sys._current_frames": "every thread's frame",
    "sys.settrace": "a hook that sees every line the grader runs",
    "sys.setprofile": "a hook that sees every call the grader makes",
    "threading.settrace": "a hook that sees every line the grader runs",
    "threading.setprofile": "a hook that sees every call the grader makes",
    "sys.addaudithook": "a hook on the interpreter's events",
    "sys.meta_path": "an import hook",
    "sys.path_hooks": "an import hook",
    "inspect.currentframe": "another function's frame",
    "inspect.stack": "the callers' frames",
    "inspect.getouterframes": "the callers' frames",
    "inspect.getinnerframes": "frames of other functions",
    "inspect.trace": "frames of other functions",
    "gc.get_objects": "every object of the process",
    "gc.get_referrers": "the objects that hold an object",
    "gc.get_referents": "the objects an object holds",
    "traceback.walk_stack": "the callers' frames",
    "traceback.walk_tb": "frames of other functions",
    "types.CodeType": "builds code objects",
    "types.FunctionType": "builds functions from code objects",
}
# exec, eval and compile are not signals: what they run is compiled at run time, and the worker's audit hook hands
# that source to the judge, which scans it as it scans a file (grader/worker/audit.py, :func:`audit_signals`)
MODULE_ALIASES = {"posix": "os", "nt": "os", "__builtin__": "builtins"}  # os re-exports these
# os functions that reach the worker's processes and file descriptors (the judge's channel is one); exec*, spawn*
# and posix_spawn* by prefix. Threads, multiprocessing and signal handlers are not flagged: DataLoader uses them.
OS_CALLS = {
    "dup", "dup2", "fdopen", "setsid", "setpgid", "setpgrp", "fork", "forkpty", "system", "popen",
}  # fmt: skip
OS_PREFIXES = ("exec", "spawn", "posix_spawn")
FD_OPENERS = {"builtins.open", "io.open", "io.FileIO", "os.write"}  # a signal when given a file descriptor number
IMPORTERS = {
    "builtins.__import__",
    "importlib.import_module",
    "importlib.__import__",
    "pkgutil.resolve_name",  # "package.module:attribute"
    "runpy.run_module",
}
BUILTINS_WATCHED = {"__import__"}
# Rebinding an attribute is a signal only in the packages the worker's own observations rely on (the grader, the
# interpreter's, torch and numpy): patching tqdm, torchvision or matplotlib changes nothing the grader reads.
RELIED_ON = {
    *GRADER_PACKAGES, "torch", "numpy", "sys", "builtins", "os", "posix", "io", "json", "gc", "inspect", "importlib",
    "types", "functools", "copy", "traceback", "threading", "cloudpickle", "pickle", "math", "operator",
    "collections", "itertools", "contextlib", "weakref", "abc", "dataclasses", "typing", "warnings", "time",
}  # fmt: skip
SENSITIVE_ROOTS = {"sys", "builtins", "os", "gc", "inspect", "importlib", *GRADER_PACKAGES}  # getattr(sys, name)
# attribute names (of any object) -> what they reach
INTROSPECTION = {
    **dict.fromkeys(("f_back", "f_globals", "f_locals", "f_code", "f_builtins"), "another function's frame"),
    **dict.fromkeys(("tb_frame", "gi_frame", "cr_frame", "ag_frame"), "another function's frame"),
    "__globals__": "the globals of a function's module",
    "__code__": "a function's code",
    "__closure__": "a function's variables",
    "__builtins__": "the interpreter's built-in functions",
    "__subclasses__": "every class of the process",
}
GLOBAL_HOOKS = {
    "register_module_forward_hook",
    "register_module_forward_pre_hook",
    "register_module_full_backward_hook",
    "register_module_full_backward_pre_hook",
    "register_module_backward_hook",
    "register_module_buffer_registration_hook",
    "register_module_parameter_registration_hook",
    "register_module_module_registration_hook",
}
# settings, not code (cudnn.deterministic = True), and the usual notebook workarounds for downloads and argparse
ALLOWED_REBINDS = (
    "torch.backends.",
    "pandas.options.",
    "PIL.Image.MAX_IMAGE_PIXELS",
    "PIL.ImageFile.LOAD_TRUNCATED_IMAGES",
    "ssl._create_default_https_context",
    "sys.argv",
)
REBIND_WHY = {
    "sys.stdout": "the worker's output",
    "sys.stderr": "the worker's error output",
    "sys.stdin": "the worker's input",
    "sys.__stdout__": "the worker's output",
    "sys.__stderr__": "the worker's error output",
}
LINE_MAGIC = re.compile(r"^(\s*)([%!].*)$")  # as grader.worker.notebook._MAGIC
PERCENT_CELL = re.compile(r"^# %%", re.MULTILINE)


@dataclass(frozen=True)
class Signal:
    """One finding: where (a file relative to the submission, or a notebook cell) and what."""

    file: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}"


@dataclass(frozen=True)
class _Unit:
    """One parsed module or cell, labelled for its signals; ``offset`` turns its line numbers into the label's."""

    tree: ast.Module
    label: str
    offset: int = 0


@dataclass
class _Names:
    """What the names of a module (or of all of a notebook's cells) stand for."""

    imported: dict[str, str] = field(default_factory=dict)  # a name bound by an import -> its qualified name
    bound: set[str] = field(default_factory=set)  # every name bound at all (assigned, a parameter, defined)


def _collect_names(trees: Iterable[ast.Module]) -> _Names:
    names = _Names()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    root = alias.name.partition(".")[0]
                    names.imported[alias.asname or root] = alias.name if alias.asname else root
            elif isinstance(node, ast.ImportFrom):
                base = "." * node.level + (node.module or "")  # a relative import: the submission's own module
                for alias in node.names:
                    if alias.name != "*":
                        qualified = base + alias.name if base.endswith(".") else f"{base}.{alias.name}"
                        names.imported[alias.asname or alias.name] = qualified
            elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                names.bound.add(node.id)
            elif isinstance(node, ast.arg):
                names.bound.add(node.arg)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.bound.add(node.name)
    names.bound |= names.imported.keys()
    return names


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` of a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _shown(qualified: str) -> str:
    return qualified.removeprefix("builtins.")


def _is_os_call(pair: str) -> bool:
    module, _, name = pair.partition(".")
    return module == "os" and (name in OS_CALLS or name.startswith(OS_PREFIXES))


class _Scanner:
    """Flags the nodes of one unit; every ``on_<NodeType>`` sees its node before the node's children."""

    def __init__(self, unit: _Unit, names: _Names, grader: dict[str, str]) -> None:
        self.unit = unit
        self.names = names
        self.grader = grader  # the grader packages this submission does not shadow with its own module
        self.signals: list[Signal] = []
        self.called: set[int] = set()  # ids of nodes called as functions
        self.membership: set[int] = set()  # ids of nodes only tested with ``in``: "google.colab" in sys.modules

    def run(self) -> list[Signal]:
        for node in ast.walk(self.unit.tree):
            handler = getattr(self, f"on_{type(node).__name__}", None)
            if handler is not None:
                handler(node)
        return self.signals

    def flag(self, node: ast.AST, what: str) -> None:
        self.signals.append(Signal(self.unit.label, getattr(node, "lineno", 0) + self.unit.offset, what))

    def qualify(self, node: ast.AST) -> str | None:
        """The qualified name of a dotted expression whose root was imported (``np.allclose`` ->
        ``numpy.allclose``), else None."""
        dotted = _dotted(node)
        if dotted is None:
            return None
        root, dot, rest = dotted.partition(".")
        base = self.names.imported.get(root)
        return None if base is None else base + dot + rest

    # --- imports ---------------------------------------------------------------------------------------
    def on_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imported(node, alias.name, plain=True)

    def on_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or node.module is None:  # the submission's own modules
            return
        for alias in node.names:
            full = f"{node.module}.{alias.name}"
            # from grader import check is fine, from grader import worker is not
            self.imported(node, full if node.module in self.grader else node.module, plain=True)
            self.attribute_name(node, alias.name)
            self.uses(node, full)

    def imported(self, node: ast.AST, module: str, *, plain: bool) -> None:
        """``plain``: an import statement, whose ``import grader`` is scanned by its uses (grader.check)."""
        root = module.partition(".")[0]
        if root in self.grader and not self.allowed_grader(module, bare=plain):
            self.flag(node, f"imports {module} ({self.grader[root]})")
        elif root in FORBIDDEN_IMPORTS:
            self.flag(node, f"imports {module} ({FORBIDDEN_IMPORTS[root]})")

    @staticmethod
    def allowed_grader(qualified: str, *, bare: bool) -> bool:
        return (bare and qualified == "grader") or any(
            qualified == allowed or qualified.startswith(allowed + ".") for allowed in allowed_imports()
        )

    # --- uses ------------------------------------------------------------------------------------------
    def on_Compare(self, node: ast.Compare) -> None:
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                self.membership.add(id(right))

    def on_Name(self, node: ast.Name) -> None:
        if node.id == "__builtins__":
            self.flag(node, "uses __builtins__ (the interpreter's built-in functions)")
            return
        if not isinstance(node.ctx, ast.Load):
            return
        qualified = self.qualify(node)
        if qualified is None and node.id in BUILTINS_WATCHED:
            # a call is the builtin's whatever the name; a reference only where the code binds no such name
            if id(node) in self.called or node.id not in self.names.bound:
                qualified = f"builtins.{node.id}"
        if qualified is not None:
            self.uses(node, qualified)
            self.refers_to_importer(node, qualified)

    def on_Attribute(self, node: ast.Attribute) -> None:
        self.attribute_name(node, node.attr)
        if node.attr == "__dict__":
            self.namespace(node, node.value)
        qualified = self.qualify(node)
        if qualified is None:
            return
        if isinstance(node.ctx, ast.Store | ast.Del):
            self.rebinds(node, qualified, deleting=isinstance(node.ctx, ast.Del))
        self.uses(node, qualified)
        self.refers_to_importer(node, qualified)

    def attribute_name(self, node: ast.AST, name: str) -> None:
        if name in INTROSPECTION:
            self.flag(node, f"uses .{name} ({INTROSPECTION[name]})")
        elif name.startswith("_global_") and "hook" in name:  # torch's; a student's self._global_pool is not
            self.flag(node, f"uses torch's global module hooks ({name})")
        elif name in GLOBAL_HOOKS:
            self.flag(node, f"registers a global module hook ({name})")

    def uses(self, node: ast.AST, qualified: str) -> None:
        parts = qualified.split(".")
        if parts[0] in self.grader and not self.allowed_grader(qualified, bare=True):
            self.flag(node, f"uses {'.'.join(parts[:2])} ({self.grader[parts[0]]})")
            return
        if len(parts) < 2:
            return
        # the last two parts, so that os reached through another module (grader.data.os.system) counts too
        pair = f"{MODULE_ALIASES.get(parts[-2], parts[-2])}.{parts[-1]}"
        use = f"calls {_shown(pair)}()" if id(node) in self.called else f"uses {_shown(pair)}"
        if pair in USES and not (pair == "sys.modules" and id(node) in self.membership):
            self.flag(node, f"{use} ({USES[pair]})")
        elif _is_os_call(pair):
            self.flag(node, f"{use} (the worker's processes and file descriptors)")

    def refers_to_importer(self, node: ast.AST, qualified: str) -> None:
        if qualified in IMPORTERS and id(node) not in self.called:  # im = importlib.import_module; im(name)
            self.flag(node, f"refers to {_shown(qualified)} (imports modules named at run time)")

    # --- calls -----------------------------------------------------------------------------------------
    def on_Call(self, node: ast.Call) -> None:
        self.called.add(id(node.func))
        qualified = self.qualify(node.func)
        if qualified is None and isinstance(node.func, ast.Name):
            qualified = f"builtins.{node.func.id}"
        args = node.args
        if qualified in IMPORTERS:
            self.dynamic_import(node, qualified, args[0] if args else None)
        elif qualified in ("builtins.setattr", "builtins.delattr") and args:
            self.sets_attribute(node, args, deleting=qualified == "builtins.delattr")
        elif qualified == "builtins.getattr" and len(args) >= 2:
            self.gets_attribute(node, args)
        elif qualified == "builtins.vars" and args:
            self.namespace(node, args[0])
        elif qualified in FD_OPENERS and args and isinstance(args[0], ast.Constant) and type(args[0].value) is int:
            self.flag(node, f"{_shown(qualified)}() on file descriptor {args[0].value} (the worker's own channels)")

    def dynamic_import(self, node: ast.Call, importer: str, first: ast.AST | None) -> None:
        module = _string(first)
        if module is None:
            self.flag(node, f"imports a module named at run time ({_shown(importer)})")
        else:  # __import__("grader") returns the package to code the scan cannot follow: only the allowed ones
            self.imported(node, module.partition(":")[0], plain=False)

    def sets_attribute(self, node: ast.Call, args: list[ast.expr], *, deleting: bool) -> None:
        name = _string(args[1]) if len(args) > 1 else None
        if name is not None:
            self.attribute_name(node, name)
        target = self.qualify(args[0])
        if target is not None:
            self.rebinds(node, f"{target}.{name or '<a computed name>'}", deleting=deleting)

    def namespace(self, node: ast.AST, target: ast.AST) -> None:
        """``vars(module)`` or ``module.__dict__``: every attribute of the module, by name at run time."""
        qualified = self.qualify(target)
        root = qualified.partition(".")[0] if qualified else None
        if root in self.grader and not self.allowed_grader(qualified, bare=False):
            self.flag(node, f"reads the namespace of {qualified} ({self.grader[root]})")
        elif root in SENSITIVE_ROOTS:
            self.flag(node, f"reads the namespace of {qualified} (its attributes, chosen at run time)")

    def gets_attribute(self, node: ast.Call, args: list[ast.expr]) -> None:
        name = _string(args[1])
        target = self.qualify(args[0])
        if name is not None:
            self.attribute_name(node, name)
            if target is not None:
                self.uses(node, f"{target}.{name}")
        elif target is not None and target.partition(".")[0] in SENSITIVE_ROOTS:
            self.flag(node, f"getattr({target}, <a computed name>) (an attribute of {target} chosen at run time)")

    # --- rebinding -------------------------------------------------------------------------------------
    def rebinds(self, node: ast.AST, qualified: str, *, deleting: bool) -> None:
        if qualified.startswith(ALLOWED_REBINDS) or qualified.partition(".")[0] not in RELIED_ON:
            return
        if qualified in REBIND_WHY:
            self.flag(node, f"reassigns {qualified} ({REBIND_WHY[qualified]})")
        else:
            verb = "deletes" if deleting else "rebinds"
            self.flag(node, f"{verb} {qualified} (patches code it imported, for the grader too)")


def _parse(text: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes and the like: the grading reports what matters
            return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # nesting too deep for the parser: never runs
        return None


def _scan(units: list[_Unit], local_modules: Iterable[str]) -> list[Signal]:
    """Every unit scanned with the names of all of them; one signal per line, the outermost construct's."""
    names = _collect_names(unit.tree for unit in units)
    local = set(local_modules) - {"grader"}  # the worker imported the grader before any submitted module
    grader = {root: why for root, why in GRADER_PACKAGES.items() if root not in local}
    signals: dict[tuple[str, int], Signal] = {}
    for unit in units:
        for signal in _Scanner(unit, names, grader).run():
            signals.setdefault((signal.file, signal.line), signal)
    order = {unit.label: index for index, unit in enumerate(units)}
    return sorted(signals.values(), key=lambda signal: (order[signal.file], signal.line))


def scan_source(text: str, file: str, local_modules: Iterable[str] = ()) -> list[Signal]:
    """Signals in one module's source; none where it does not parse. ``local_modules``: the top-level modules the
    submission provides itself (its own ``reference.py`` is not the grader's)."""
    tree = _parse(text)
    return [] if tree is None else _scan([_Unit(tree, file)], local_modules)


@cache
def _ipython_transformer() -> Any:
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # no IPython, no kernel: no notebook runs here
        return None
    return TransformerManager()


def _without_magics(source: str) -> str | None:
    """A cell as the worker hands it to the kernel: magic and shell lines ``pass``; None for a cell magic's cell,
    which the worker never runs. The same as grader.worker.notebook._strip_magics (tests/test_tamper.py)."""
    if source.lstrip().startswith("%%"):
        return None
    return "\n".join(f"{m.group(1)}pass" if (m := LINE_MAGIC.match(line)) else line for line in source.splitlines())


def _kernel_source(source: str) -> tuple[str, int] | None:
    """What the worker's kernel runs of a cell, and how many leading lines of the cell IPython leaves out."""
    text = _without_magics(source)
    if text is None:
        return None
    lines = text.splitlines()
    dropped = next((i for i, line in enumerate(lines) if line.strip()), len(lines))  # IPython drops blank ones
    text = "\n".join(lines[dropped:])
    transformer = _ipython_transformer()
    if transformer is not None:
        try:
            text = transformer.transform_cell(text)
        except Exception:  # IPython's tokenizer on hostile input: parse the text as it is
            pass
    return text, dropped


def _cell_units(cells: Iterable[tuple[int, str]], label: Callable[[int], tuple[str, int]]) -> Iterator[_Unit]:
    """``cells``: (cell number, source) pairs; ``label(number)``: (file label, line offset) of that cell."""
    for number, source in cells:
        kernel = _kernel_source(source)
        tree = None if kernel is None else _parse(kernel[0])
        if tree is not None:
            file, offset = label(number)
            yield _Unit(tree, file, offset + kernel[1])


def _notebook_cells(notebook: Any) -> Iterator[tuple[int, str]]:
    """(cell number, source) of each code cell, numbered over all cells as the worker's report numbers them."""
    if not isinstance(notebook, dict):
        return
    cells = notebook.get("cells")
    if not isinstance(cells, list):  # nbformat 3 keeps its cells in worksheets
        sheets = notebook.get("worksheets")
        sheets = sheets if isinstance(sheets, list) else []
        cells = [c for s in sheets if isinstance(s, dict) and isinstance(s.get("cells"), list) for c in s["cells"]]
    for number, cell in enumerate(cells, start=1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", cell.get("input", ""))  # nbformat 3 calls it input
            yield number, "".join(map(str, source)) if isinstance(source, list) else str(source)


def scan_notebook(text: str, file: str, local_modules: Iterable[str] = ()) -> list[Signal]:
    """Signals in a notebook's code cells, labelled ``file, cell N``; none where it is not JSON."""
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError):
        return []
    units = list(_cell_units(_notebook_cells(notebook), lambda number: (f"{file}, cell {number}", 0)))
    return _scan(units, local_modules)


def _percent_cells(text: str) -> Iterator[tuple[int, str]]:
    """(lines before it, source) of each cell of a jupytext percent script."""
    start, lines = 1, []
    for number, line in enumerate(text.splitlines(), start=1):
        if PERCENT_CELL.match(line):
            yield start - 1, "\n".join(lines)
            start, lines = number + 1, []
        else:
            lines.append(line)
    yield start - 1, "\n".join(lines)


def _scan_script(text: str, file: str, local_modules: Iterable[str]) -> list[Signal]:
    tree = _parse(text)
    if tree is not None:
        return _scan([_Unit(tree, file)], local_modules)
    if PERCENT_CELL.search(text) is None:
        return []
    # a percent script the worker may run as a notebook: magics make it no module, its cells still run
    return _scan(list(_cell_units(_percent_cells(text), lambda first: (file, first))), local_modules)


def _local_modules(names: Iterable[str]) -> set[str]:
    """The top-level modules and packages a submission provides, from its file names."""
    local = set()
    for name in names:
        parts = Path(name).parts
        if len(parts) == 1 and parts[0].endswith(".py"):
            local.add(parts[0].removesuffix(".py"))
        elif len(parts) == 2 and parts[1] == "__init__.py":
            local.add(parts[0])
    return local


def scan_files(paths: dict[str, Path]) -> list[Signal]:
    """Signals in every ``.py`` and ``.ipynb`` file of ``paths`` (name relative to the submission -> file)."""
    local = _local_modules(paths)
    signals: list[Signal] = []
    for name, path in sorted(paths.items()):
        suffix = Path(name).suffix
        if suffix not in (".py", ".ipynb"):
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        signals += scan_notebook(text, name, local) if suffix == ".ipynb" else _scan_script(text, name, local)
    return signals


# what the worker's audit hook reports (grader/worker/audit.py): event -> what the submission reached
AUDIT_EVENTS = {
    "sys._getframe": USES["sys._getframe"],
    "sys._current_frames": USES["sys._current_frames"],
    "sys.settrace": USES["sys.settrace"],
    "sys.setprofile": USES["sys.setprofile"],
    "sys.addaudithook": USES["sys.addaudithook"],
    "gc.get_objects": USES["gc.get_objects"],
    "gc.get_referrers": USES["gc.get_referrers"],
    "gc.get_referents": USES["gc.get_referents"],
    "exec": "runs code while the notebook's pickled objects are restored",
    "compile": "compiles code while the notebook's pickled objects are restored",
    "compile as a library": "compiles code that claims to be a library's file",
    "compile of unreadable code": "compiles code the grader cannot read (too long, or not text)",
    "code.__new__": "builds a code object that claims to be a library's",
    "marshal.loads": "builds code objects from bytes",
    "marshal.load": "builds code objects from bytes",
    "object.__getattr__": "a frame or a function's code, through an attribute",
    "object.__setattr__": "rewrites a function's code or a frame",
    "object.__delattr__": "rewrites a function's code or a frame",
    "audit channel closed": "closed the grader's audit channel (one of the worker's file descriptors)",
    "unreadable audit line": "wrote into the grader's audit channel",
}
AUDIT_PREFIXES = {
    "ctypes.": FORBIDDEN_IMPORTS["ctypes"],
    **dict.fromkeys(("os.", "subprocess.", "pty."), "runs other programs"),
}


def audit_signals(finding: dict[str, Any], redact: Callable[[str], str]) -> list[Signal]:
    """The :class:`Signal` s of one finding of the worker's audit hook (file shown without the machine's paths):
    one for an audited operation; for code compiled at run time, what the scan finds in its source (often none)."""
    event = str(finding.get("event", ""))
    file = redact(str(finding.get("file", ""))) or "<worker>"
    line = finding.get("line", 0)
    line = line if isinstance(line, int) else 0
    source = finding.get("source")
    if event == "compile" and isinstance(source, str):
        found = scan_source(source, "<compiled>")
        return [Signal(file, line, f"at run time, in code it compiled: {signal.what}") for signal in found]
    what = AUDIT_EVENTS.get(event) or next(
        (why for prefix, why in AUDIT_PREFIXES.items() if event.startswith(prefix)), "an audited operation"
    )
    return [Signal(file, line, f"at run time: {what} ({event})")]
