"""Render the student stubs (``exercises/*.py``) from the contract.

``python -m grader.stubgen exercises/`` rewrites the stubs; ``tests/test_contract.py`` fails when the
committed stubs drift from what this module renders.
"""

from __future__ import annotations

import argparse
import ast
import inspect
from pathlib import Path

from grader import contract
from grader.contract import Exercise, Module

_HEADER = '"""{doc}\n\nExercise module of cnn-grader: replace each ``raise NotImplementedError`` with your code.\n"""\n'


def _docstring(text: str, indent: str) -> str:
    body = inspect.cleandoc(text)
    lines = body.splitlines()
    out = [f'{indent}"""{lines[0]}']
    out += [f"{indent}{line}" if line else "" for line in lines[1:]]
    if len(lines) > 1:
        out.append(f'{indent}"""')
    else:
        out[-1] += '"""'
    return "\n".join(out)


def _def_line(signature: str, indent: str) -> str:
    """``def signature:``, one parameter per line when it would not fit in 100 columns."""
    line = f"{indent}def {signature}:"
    if len(line) <= 100:
        return line
    fn = ast.parse(f"def {signature}: pass").body[0]
    assert isinstance(fn, ast.FunctionDef)
    params = [p.strip() for p in _split_params(signature)]
    returns = f" -> {ast.unparse(fn.returns)}" if fn.returns else ""
    inner = "".join(f"{indent}    {p},\n" for p in params)
    return f"{indent}def {fn.name}(\n{inner}{indent}){returns}:"


def _split_params(signature: str) -> list[str]:
    """Split the parameter list of ``signature`` at top-level commas."""
    inside = signature[signature.index("(") + 1 : signature.rindex(")")]
    parts, depth, current = [], 0, ""
    for ch in inside:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current] if current.strip() else parts


def _render_exercise(ex: Exercise) -> str:
    if ex.kind == "function":
        return f"{_def_line(ex.signature, '')}\n{_docstring(ex.doc, '    ')}\n    raise NotImplementedError\n"
    parts = [f"class {ex.signature}:\n{_docstring(ex.doc, '    ')}\n"]
    for signature, doc in ex.methods:
        body = "    " * 2
        first = f"{body}super().__init__()\n" if signature.startswith("__init__") else ""
        stub = f"{first}{body}raise NotImplementedError\n"
        parts.append(f"{_def_line(signature, '    ')}\n{_docstring(doc, body)}\n{stub}")
    return "\n".join(parts)


def render_module(module: Module) -> str:
    """Return the stub source of one student module."""
    imports = "\n".join(["from __future__ import annotations", "", *module.imports])
    body = "\n\n".join(_render_exercise(ex) for ex in module.exercises)
    return f"{_HEADER.format(doc=module.doc)}\n{imports}\n\n\n{body}"


def render_all() -> dict[str, str]:
    """Map ``<module>.py`` to its stub source for every contract module."""
    return {f"{m.name}.py": render_module(m) for m in contract.MODULES}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="folder to write the stub modules into")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, source in render_all().items():
        (args.out / name).write_text(source)
        print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
