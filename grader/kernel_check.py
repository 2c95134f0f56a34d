"""``grader.check("gradcam")`` in a notebook cell: the public checks on what *this kernel* defines, inline.

The kernel is the student's own process; the judge still runs out of process and never imports the
kernel's code. :func:`check` hands the contract names the kernel defines to a grading like any other:

1. each contract name found in the caller's globals is pickled by value with cloudpickle (a function
   travels with the globals it uses, so nothing of the notebook runs again: no training cell is re-run);
2. they are written into a private folder as the four exercise modules, each of which only unpickles its
   own names (``shapes.py`` assigns ``conv_output_size = ...``);
3. ``cnn-grader grade FOLDER --tiers public -k NAME`` grades that folder: the worker (sandboxed, like
   every grading) unpickles the names, the judge reads JSON and numpy arrays back, as always;
4. the report comes back as a :class:`KernelCheck`: ``.score``, ``.max_score``, ``.checks``; it shows as
   HTML (points, failures with counterexamples and hints, the figures of the feedback page) where the
   front end renders HTML (JupyterLab, Notebook, VS Code) and as the text ``cnn-grader check`` prints
   elsewhere.

Inside a grading (the worker runs a submitted notebook, ``CNN_GRADER_GRADING`` is set) a call does nothing
and returns None: the notebook's own checks never grade it twice.
"""

from __future__ import annotations

import html
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import contract
from grader.results import CheckResult, GradeReport

PICKLE_NAME = "_kernel_names.pkl"
KERNEL = "this notebook's kernel"
RERUN = "cnn-grader check"  # the report's "run one check again" line: the same checks from a terminal
TIMEOUT = 1800.0  # seconds for the whole grading (the robustness group trains two networks)
SCOPED_STYLE = (
    ".cnn-grader .passed{color:#1a7f37}.cnn-grader .failed,.cnn-grader .error{color:#c62828}"
    ".cnn-grader .hint{color:#555}.cnn-grader pre{white-space:pre-wrap}"
    ".cnn-grader img{max-width:100%;height:auto}"
    ".cnn-grader .note{background:#fff8e1;padding:.3em .6em;border-left:3px solid #f0b400}"
)
MODULE_TEMPLATE = '''"""Written by grader.check(): the names the notebook's kernel defined, handed over by value."""

import pathlib as _pathlib

import cloudpickle as _cloudpickle

_NAMES = _cloudpickle.loads((_pathlib.Path(__file__).parent / "{pickle}").read_bytes())
'''


class CheckNotRun(RuntimeError):
    """The grading could not run (the grader's fault or setup, not the kernel's code): the message says why."""


@dataclass
class KernelCheck:
    """What ``grader.check`` found: the report of the selected public checks on the kernel's names."""

    report: GradeReport
    text: str  # what `cnn-grader check` prints for the same checks
    page: str = ""  # the feedback page (HTML) with its figures
    selected: str | None = None
    exit_code: int = 0
    unpicklable: dict[str, str] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return self.report.score

    @property
    def max_score(self) -> float:
        return self.report.max_score

    @property
    def checks(self) -> list[CheckResult]:
        return self.report.checks

    @property
    def passed(self) -> bool:
        return bool(self.report.checks) and all(c.status == "passed" for c in self.report.checks)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        match = re.search(r"<body>(.*)</body>", self.page, re.DOTALL)
        body = match.group(1) if match else f"<pre>{html.escape(self.text)}</pre>"
        return f"<div class='cnn-grader'><style>{SCOPED_STYLE}</style>{body}</div>"


def _check_names() -> set[str]:
    from grader.course import known_checks

    return set(known_checks())


def _inside_grading() -> bool:
    return os.environ.get("CNN_GRADER_GRADING") == "1" or os.environ.get("CNN_GRADER_WORKER") == "1"


def _caller_globals() -> dict[str, Any]:
    frame = inspect.currentframe()
    try:
        while frame is not None and frame.f_globals.get("__name__") in (__name__, "grader"):
            frame = frame.f_back
        return dict(frame.f_globals) if frame is not None else {}
    finally:
        del frame


def _student_modules(values: Any) -> list[Any]:
    """The modules (other than ``__main__``) that define ``values`` and are not installed packages."""
    installed = {Path(p).resolve() for p in {sys.prefix, sys.base_prefix, *sys.path} if "site-packages" in p}
    installed |= {Path(sys.base_prefix).resolve()}
    found = []
    for value in values:
        name = getattr(value, "__module__", None)
        module = sys.modules.get(name) if name and name != "__main__" else None
        path = getattr(module, "__file__", None)
        if module is None or path is None or name.split(".")[0] in ("grader", "torch"):
            continue
        resolved = Path(path).resolve()
        if not any(resolved.is_relative_to(root) for root in installed) and module not in found:
            found.append(module)
    return found


def write_submission(names: dict[str, Any], folder: Path) -> dict[str, str]:
    """Write ``names`` (contract name -> object) as the four exercise modules in ``folder``.

    Returns the names that could not be pickled, with why; each becomes a stand-in that raises saying so.
    """
    import cloudpickle

    pickled: dict[str, bytes] = {}
    unpicklable: dict[str, str] = {}
    by_value = _student_modules(names.values())
    for module in by_value:  # the worker cannot import the student's own modules: their code travels too
        cloudpickle.register_pickle_by_value(module)
    try:
        for name, value in names.items():
            try:
                pickled[name] = cloudpickle.dumps(value)
            except Exception as exc:  # noqa: BLE001 - any pickling failure costs only that name
                unpicklable[name] = f"{type(exc).__name__}: {exc}"
    finally:
        for module in by_value:
            cloudpickle.unregister_pickle_by_value(module)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PICKLE_NAME).write_bytes(cloudpickle.dumps(pickled))
    for module in contract.MODULES:
        lines = [MODULE_TEMPLATE.format(pickle=PICKLE_NAME)]
        for exercise in module.exercises:
            if exercise.name in pickled:
                lines.append(f"{exercise.name} = _cloudpickle.loads(_NAMES[{exercise.name!r}])")
            elif exercise.name in unpicklable:
                why = f"grader.check could not hand {exercise.name} to the grader ({unpicklable[exercise.name]})"
                lines.append(f"\n\ndef {exercise.name}(*args, **kwargs):\n    raise RuntimeError({why!r})\n")
        (folder / f"{module.name}.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return unpicklable


def check(
    name: str | None = None,
    *,
    namespace: dict[str, Any] | None = None,
    data_root: str | None = None,
    timeout: float = TIMEOUT,
) -> KernelCheck | None:
    """Grade the contract names this kernel defines with the public checks ``name`` selects.

    ``name``: a group (``"gradcam"``), a check (``"shapes/conv_output_size"``), part of one, or None for every
    public check. ``namespace`` defaults to the caller's globals (the notebook's). Raises :class:`CheckNotRun`
    when the grading itself could not run; returns None inside a grading.
    """
    if _inside_grading():
        return None
    scope = namespace if namespace is not None else _caller_globals()
    names = {ex.name: scope[ex.name] for ex in contract.EXERCISES.values() if ex.name in scope}
    work = Path(tempfile.mkdtemp(prefix="cnn-grader-check-"))
    try:
        submission, out = work / "kernel", work / "out"
        unpicklable = write_submission(names, submission)
        command = [sys.executable, "-P", "-m", "grader.cli", "grade", str(submission), "--out", str(out)]
        command += ["--tiers", "public", "--report-json", str(out / "report.json")]
        if name:  # a group or check name exactly (shapes is not quadrant/layer_shapes), else part of names
            checks = _check_names()
            exact = name in checks | {check.split("/", 1)[0] for check in checks}
            command += ["--only" if exact else "-k", name]
        if data_root:
            command += ["--data-root", data_root]
        try:  # -P and cwd: nothing of the notebook's folder is on the judge's import path
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=work)
        except subprocess.TimeoutExpired:
            raise CheckNotRun(f"the grading took longer than {timeout:g} s") from None
        report_file = out / "report.json"
        if not report_file.exists():
            tail = (proc.stdout + proc.stderr).strip()[-2000:]
            raise CheckNotRun(f"the grader could not run (exit {proc.returncode}):\n{tail}")
        report = GradeReport.from_json(json.loads(report_file.read_text()))
        report.submission = KERNEL
        report.graded_files = {module: KERNEL for module in report.graded_files}
        report.notes = [n for n in report.notes if not n.startswith("public checks only")]
        if name and not report.checks:
            from grader.checks.registry import examples

            check, _, group = examples()
            raise CheckNotRun(
                f"no public check matches {name!r}: give a group ({group}), a check name ({check}) "
                "or part of one; every check: cnn-grader check --list"
            )
        page = (out / "feedback.html").read_text() if (out / "feedback.html").exists() else ""
        # the judge graded module files written from the kernel's names: name what the student graded instead
        page = re.sub(r"<p>Graded files: .*?</p>", f"<p>Graded: <code>{html.escape(KERNEL)}</code></p>", page)
        from grader.report import console

        text = console.render(report, rerun=RERUN)
        return KernelCheck(report, text, page, name, proc.returncode, unpicklable)
    finally:
        shutil.rmtree(work, ignore_errors=True)
