"""The worker's audit hook (grader/worker/audit.py).

It reports what the submission's own frames do and nothing libraries do for their own work; it is proven
in a separate interpreter (a hook cannot be removed from this one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from grader.worker import audit

pytestmark = pytest.mark.usefixtures("engine_course")  # the engine's own course

STUDENT = """\
import ctypes, gc, inspect, sys, torch
def run():
    exec("x = 1")
    gc.get_referrers(run)
    ctypes.string_at(id(run), 8)
    inspect.currentframe()
    getattr(sys, "_get" + "frame")(0)
    try:
        raise ValueError
    except ValueError as exc:
        exc.__traceback__.tb_frame
    run.__code__.replace(co_name="renamed")  # its own code under its own file: audited when it runs
    run.__code__.replace(co_filename=torch.__file__)  # posing as torch: would run unseen
"""
LIBRARIES = """\
import dataclasses, inspect, logging, traceback, typing
import torch
def libraries():
    # what honest code calls: libraries that use frames, exec and code objects for their own work
    inspect.signature(libraries)
    logging.getLogger("x").warning("a warning")
    typing.NamedTuple("P", [("x", int)])
    dataclasses.make_dataclass("D", ["a"])
    traceback.format_stack()
    torch.nn.Conv2d(1, 2, 3)(torch.zeros(1, 1, 5, 5)).sum().backward()
"""
DRIVER = """\
import json, os, sys
sys.path.insert(0, sys.argv[1])
read_end, write_end = os.pipe()
os.environ["CNN_GRADER_AUDIT_FD"] = str(write_end)
from grader.worker import audit
audit.install()
import student, honest
honest.libraries()
student.run()
os.close(write_end)
with os.fdopen(read_end) as pipe:
    print(json.dumps([json.loads(line) for line in pipe]))
"""


def test_the_hook_reports_the_submissions_frames_and_no_librarys(tmp_path: Path) -> None:
    (tmp_path / "student.py").write_text(STUDENT)
    (tmp_path / "honest.py").write_text(LIBRARIES)
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    findings = json.loads(proc.stdout.splitlines()[-1])
    assert all(f["file"] == str(tmp_path / "student.py") for f in findings), findings
    by_line = {(f["event"], f["line"]) for f in findings}
    assert {("compile", 3), ("gc.get_referrers", 4), ("sys._getframe", 6), ("sys._getframe", 7)} <= by_line
    assert ("exec", 3) not in by_line, "the compile event carries the code (the judge scans its source)"
    assert [f["source"] for f in findings if f["event"] == "compile"] == ["x = 1"]
    assert ("object.__getattr__", 11) in by_line  # a traceback's frame
    assert any(event.startswith("ctypes.") and line == 5 for event, line in by_line)  # past ctypes' own frames
    assert {line for event, line in by_line if event == "code.__new__"} == {13}


HONEST_KERNEL = """\
import torch
def run(x=1, *, y=2):
    return x
class Net(torch.nn.Module):
    \"\"\"A network with a docstring and a default.\"\"\"
    def forward(self, x, k=3):
        return x + k
"""
KERNEL = """\
import sys, cloudpickle
sys.path.insert(0, sys.argv[1])
import student
cloudpickle.register_pickle_by_value(student)
open("kernel.pickle", "wb").write(cloudpickle.dumps((student.run, student.Net)))
"""
PICKLES = """\
import json, os, pickle, sys
sys.path.insert(0, sys.argv[1])
read_end, write_end = os.pipe()
os.environ["CNN_GRADER_AUDIT_FD"] = str(write_end)
from grader.worker import audit
audit.install(sys.argv[1])
from pathlib import Path
import torch  # the worker imports torch before it restores anything
restored = audit.loads(Path("kernel.pickle").read_bytes())  # what a kernel hands over honestly
if sys.argv[2] == "honest":
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        print(json.dumps([json.loads(line) for line in pipe]))
    sys.exit(0)
import torch
class Rewrites:
    def __reduce__(self):
        return (setattr, (torch.nn.Module, "__doc__", "rewritten"))  # a library class, rewritten in the worker
audit.loads(pickle.dumps(Rewrites()))
class Crafted:
    def __reduce__(self):
        return (exec, ("y = 2",))
audit.loads(pickle.dumps(Crafted()))  # a reduction that runs in the worker's own frame
os.close(write_end)
with os.fdopen(read_end) as pipe:
    print(json.dumps([json.loads(line) for line in pipe]))
"""


def _restore(tmp_path: Path, which: str) -> list[dict]:
    (tmp_path / "student.py").write_text(HONEST_KERNEL)
    subprocess.run([sys.executable, "-c", KERNEL, str(tmp_path)], check=True, timeout=120, cwd=tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", PICKLES, str(tmp_path), which],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_restoring_a_kernels_functions_and_classes_is_silent(tmp_path: Path) -> None:
    assert _restore(tmp_path, "honest") == []  # defaults, keyword defaults, a class's docstring and module


def test_a_crafted_pickle_is_reported(tmp_path: Path) -> None:
    findings = _restore(tmp_path, "crafted")
    assert {(f["event"], f["file"]) for f in findings} == {
        ("compile", audit.PICKLED),
        ("exec", audit.PICKLED),
        ("object.__setattr__", audit.PICKLED),  # torch.nn.Module rewritten by a reduction
    }, findings


def test_trusted_roots_are_where_imported_modules_came_from_and_never_hold_the_submission(tmp_path: Path) -> None:
    borrowed = tmp_path / "borrowed"
    borrowed.mkdir()
    (borrowed / "borrowed_lib.py").write_text("X = 1\n")
    sys.path.append(str(borrowed))
    try:
        import borrowed_lib  # noqa: F401 - a library the worker imports before the hook, from a folder of its own

        assert str(borrowed) + os.sep in audit.trusted_roots(str(ROOT / "solutions"))
        assert str(borrowed) + os.sep not in audit.trusted_roots(str(tmp_path))  # it lies inside the submission
    finally:
        sys.path.remove(str(borrowed))
        sys.modules.pop("borrowed_lib", None)
    solutions = str(ROOT / "solutions")
    assert not any((solutions + os.sep).startswith(root) for root in audit.trusted_roots(solutions))
