"""The judge's static scan of a submission for code that reaches into the grader or the interpreter.

The worker is the student's own process: code in it can rewrite any grader module it has imported. No
exercise needs to, so such code is evidence of tampering. This module only *parses* the submission's
``.py`` files and notebook code cells (:mod:`ast`); it never imports or runs them. A finding is a
:class:`Signal` (file, line, what) for the instructor to review; it is evidence, not proof, and code that
hides itself from a parser escapes it (docs/security.md). A file that does not parse yields nothing here
(its syntax error is reported by the grading itself).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

# what a submission may use of the grader: the course notebook loads MNIST with grader.data and pastes digits
# with grader.quadrants; grader.check runs the checks from a notebook
ALLOWED_GRADER = {"grader.quadrants", "grader.contract", "grader.data", "grader.check"}
SYS_ATTRIBUTES = {
    "modules": "sys.modules (the interpreter's table of loaded modules)",
    "_getframe": "sys._getframe (another function's frame)",
    "settrace": "sys.settrace",
    "setprofile": "sys.setprofile",
    "addaudithook": "sys.addaudithook",
    "meta_path": "sys.meta_path (an import hook)",
    "path_hooks": "sys.path_hooks (an import hook)",
}
FRAME_ATTRIBUTES = {
    "f_back", "f_globals", "f_locals", "f_code", "f_builtins", "tb_frame", "gi_frame", "cr_frame",
    "__globals__", "__code__", "__closure__", "__builtins__", "__subclasses__",
}  # fmt: skip
INSPECT_FRAMES = {"currentframe", "stack", "getouterframes", "getinnerframes", "trace"}
GC_WALKS = {"get_objects", "get_referrers", "get_referents"}
OS_CALLS = {
    "dup", "dup2", "fdopen", "kill", "killpg", "setsid", "setpgid", "fork", "forkpty", "system", "popen",
    "posix_spawn", "posix_spawnp", "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp", "execvpe",
    "spawnv", "spawnve", "spawnl", "spawnle",
}  # fmt: skip
DYNAMIC_CODE = {"exec", "eval", "compile"}
FORBIDDEN_MODULES = {"ctypes", "_ctypes", "cffi", "subprocess", "pty", "gc_hooks"}
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
MAGIC_LINE = re.compile(r"^\s*[%!]|\?\s*$")


@dataclass(frozen=True)
class Signal:
    """One finding: where (a file relative to the submission, or a notebook cell) and what."""

    file: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}"


def _is_grader(module: str) -> bool:
    return (module == "grader" or module.startswith("grader.")) and module not in ALLOWED_GRADER


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` of a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, file: str) -> None:
        self.file = file
        self.signals: list[Signal] = []
        self.modules: dict[str, str] = {}  # a name bound by an import -> the module (or module.name) it is

    def flag(self, node: ast.AST, what: str) -> None:
        self.signals.append(Signal(self.file, getattr(node, "lineno", 0), what))

    def _resolve(self, node: ast.AST) -> str | None:
        """The fully qualified name of a dotted expression whose root was imported (``np.allclose`` ->
        ``numpy.allclose``), else None."""
        dotted = _dotted(node)
        if dotted is None:
            return None
        root, _, rest = dotted.partition(".")
        if root not in self.modules:
            return None
        return f"{self.modules[root]}.{rest}" if rest else self.modules[root]

    # --- imports ---------------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._imported(node, alias.name)
            bound = alias.asname or alias.name.split(".")[0]
            self.modules[bound] = alias.name if alias.asname else alias.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            full = f"{module}.{alias.name}" if module else alias.name
            if module == "grader":
                self._imported(node, full)
            else:
                self._imported(node, module)
            self.modules[alias.asname or alias.name] = full

    def _imported(self, node: ast.AST, module: str) -> None:
        if _is_grader(module) and module != "grader":  # ``import grader`` for grader.check; its uses are scanned
            self.flag(node, f"imports {module} (the grader's own code)")
        elif module.split(".")[0] in FORBIDDEN_MODULES:
            self.flag(node, f"imports {module}")

    # --- uses ------------------------------------------------------------------------------------------
    def visit_Attribute(self, node: ast.Attribute) -> None:
        full = self._resolve(node)
        if full is not None:
            self._qualified(node, full)
        if node.attr in FRAME_ATTRIBUTES:
            self.flag(node, f"reads .{node.attr} (frames and code objects of other functions)")
        elif node.attr.startswith("_global_") and "hook" in node.attr:
            self.flag(node, f"touches torch's global module hooks ({node.attr})")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "__builtins__":
            self.flag(node, "uses __builtins__")
        elif node.id in self.modules and node.id != self.modules[node.id].split(".")[0]:
            self._qualified(node, self.modules[node.id])  # a name imported from a module: from sys import modules

    def _qualified(self, node: ast.AST, full: str) -> None:
        parts = full.split(".")
        if _is_grader(full) and not any(full == a or full.startswith(a + ".") for a in ALLOWED_GRADER):
            if parts[:2] != ["grader", "check"]:
                self.flag(node, f"uses {full} (the grader's own code)")
        elif parts[0] == "sys" and len(parts) > 1 and parts[1] in SYS_ATTRIBUTES:
            self.flag(node, f"uses {SYS_ATTRIBUTES[parts[1]]}")
        elif parts[0] == "inspect" and len(parts) > 1 and parts[1] in INSPECT_FRAMES:
            self.flag(node, f"uses inspect.{parts[1]} (another function's frame)")
        elif parts[0] == "gc" and len(parts) > 1 and parts[1] in GC_WALKS:
            self.flag(node, f"uses gc.{parts[1]} (walks every object of the process)")
        elif parts[0] in ("os", "posix") and len(parts) > 1 and parts[1] in OS_CALLS:
            self.flag(node, f"uses os.{parts[1]}")
        elif parts[0] == "signal":
            self.flag(node, "uses the signal module")
        elif parts[-1] in GLOBAL_HOOKS:
            self.flag(node, f"registers a global module hook ({parts[-1]})")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else None
        literal = bool(node.args) and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
        if name in DYNAMIC_CODE:
            self.flag(node, f"calls {name}() (runs code built at run time)")
        full = self._resolve(func) or (name if name == "__import__" else None)
        if name in ("setattr", "delattr") and node.args and self._resolve(node.args[0]) is not None:
            self.flag(node, f"{name}() on the imported module {self._resolve(node.args[0])}")
        if full in ("__import__", "importlib.import_module", "importlib.__import__", "builtins.__import__"):
            target = node.args[0].value if literal else None
            if target is None:
                self.flag(node, f"imports a module named at run time ({full})")
            elif _is_grader(target):
                self.flag(node, f"imports {target} (the grader's own code)")
        if full is not None and full.split(".")[-1] in DYNAMIC_CODE and full.split(".")[0] == "builtins":
            self.flag(node, f"calls {full}() (runs code built at run time)")
        self.generic_visit(node)

    # --- rebinding -------------------------------------------------------------------------------------
    def _target(self, target: ast.AST) -> None:
        if isinstance(target, ast.Attribute):
            full = self._resolve(target)
            if full is not None and not full.startswith("torch.backends."):
                self.flag(target, f"rebinds {full} (changes an imported module for everyone)")
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self._target(element)
        elif isinstance(target, ast.Name) and target.id == "__builtins__":
            self.flag(target, "rebinds __builtins__")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._target(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._target(node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._target(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._target(target)
        self.generic_visit(node)


def scan_source(text: str, file: str) -> list[Signal]:
    """Signals in one module's source; none where it does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    scanner = _Scanner(file)
    scanner.visit(tree)
    first: dict[int, Signal] = {}  # one signal per line: an attribute chain would otherwise repeat itself
    for signal in scanner.signals:
        first.setdefault(signal.line, signal)
    return sorted(first.values(), key=lambda signal: signal.line)


def _cell_text(cell: dict) -> str:
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else str(source)
    # IPython magics, shell escapes and help lines are not Python: blank them, keeping line numbers
    return "\n".join("" if MAGIC_LINE.search(line) else line for line in text.splitlines())


def scan_notebook(text: str, file: str) -> list[Signal]:
    """Signals in a notebook's code cells (labelled ``file, cell N``); none where it is not JSON."""
    try:
        cells = json.loads(text).get("cells", [])
    except (json.JSONDecodeError, AttributeError):
        return []
    signals: list[Signal] = []
    for index, cell in enumerate(cells, start=1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            signals += scan_source(_cell_text(cell), f"{file}, cell {index}")
    return signals


def scan_files(paths: dict[str, Path]) -> list[Signal]:
    """Signals in every ``.py`` and ``.ipynb`` file of ``paths`` (name relative to the submission -> file)."""
    signals: list[Signal] = []
    for name, path in sorted(paths.items()):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if name.endswith(".ipynb"):
            signals += scan_notebook(text, name)
        elif name.endswith(".py"):
            signals += scan_source(text, name)
    return signals
