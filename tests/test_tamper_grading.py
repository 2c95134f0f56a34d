"""Attacks from the red team's table, kept as tests: each asserts the points it may earn.

A submission whose source reaches into the grader or the interpreter has the checks whose evidence the worker
observes withheld (0 points, one problem reported once, the evidence named) and is flagged in the gradebook and the
class summary; the checks the judge verifies itself (the networks' layers, logits and training) are graded all the
same. Honest submissions are not flagged. A submission that makes every request slow cannot make one grading
outlast its budget.
"""

from __future__ import annotations

import csv
import json
import shutil
import textwrap
import time
from pathlib import Path

import pytest
from conftest import ROOT, grade

from grader.batch import store
from grader.batch.runner import run_batch
from grader.batch.task import GradeSettings
from grader.judge import tamper

pytestmark = pytest.mark.slow

ATTACKS = {  # class of attack -> import-time code appended to gradcam.py (from the red team's table)
    "patch the worker's side-effect observer": """
        import sys
        sys.modules["grader.worker.sideeffects"].changes = lambda *args, **kwargs: []
    """,
    "patch the worker's comparison": """
        import grader.worker.ops as _ops
        _ops.torch.equal = lambda a, b: True
    """,
    "reach the caller's frame": """
        import sys
        _frame = sys._getframe(0)
    """,
    "a global forward hook": """
        import torch.nn.modules.module as _m
        _hooks = _m._global_forward_hooks
    """,
    "build an import from strings": """
        _ops = __import__("grader" + ".worker.ops")
    """,
    "the grader's namespace through vars": """
        import grader
        _worker = vars(grader)["worker"]
    """,
    "resolve a grader module by name": """
        import pkgutil
        _effects = pkgutil.resolve_name("grader.worker.sideeffects")
    """,
    "frames through traceback.walk_stack": """
        import traceback
        _frames = list(traceback.walk_stack(None))
    """,
}
RUNTIME_ATTACKS = {  # no parser sees these: the worker's audit hook does (grader/worker/audit.py)
    "reach a frame through names built at run time": """
        _sys = getattr(torch, "s" + "ys")
        _frame = getattr(_sys, "_get" + "frame")(0)
    """,
    "a code object posing as torch's": """
        _code = getattr(lambda: 0, "__co" + "de__")
        _posing = getattr(_code, "rep" + "lace")(co_filename=torch.__file__)
    """,
    "exec of a string built at run time that patches the grader": """
        exec("import grader.worker.side" + "effects as _s\\n_s.changes = lambda *a, **k: {}")
    """,
    "close the audit channel": """
        import os as _os
        _env = dict(v.split(b"=", 1) for v in open("/proc/self/environ", "rb").read().split(b"\\0") if b"=" in v)
        _os.close(int(_env[b"CNN_GRADER_AUDIT_FD"]))
    """,
}
ATTACKS.update(RUNTIME_ATTACKS)


def solutions_with(tmp_path: Path, code: str) -> Path:
    folder = tmp_path / "submission"
    shutil.copytree(ROOT / "solutions", folder, ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"))
    gradcam = folder / "gradcam.py"
    gradcam.write_text(gradcam.read_text() + "\n" + textwrap.dedent(code))
    return folder


STUDENTS = {f"attack{index}": ATTACKS[name] for index, name in enumerate(sorted(ATTACKS))}
STUDENT_ATTACK = {f"attack{index}": name for index, name in enumerate(sorted(ATTACKS))}


@pytest.fixture(scope="module")
def attacked_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An honest student and one student per attack, graded as a class (gradcam checks, two jobs)."""
    where = tmp_path_factory.mktemp("attacked")
    for student, code in {"honest": "", **STUDENTS}.items():
        shutil.copytree(solutions_with(where / "work" / student, code), where / "class" / student)
    run_batch(where / "class", where / "out", GradeSettings(tiers="public", k="gradcam"), jobs=2, progress=False)
    return where / "out"


@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_an_attack_earns_nothing_and_is_flagged(attacked_class: Path, student: str) -> None:
    results = json.loads((store.student_dir(attacked_class, student) / "results.json").read_text())
    assert results["tests"], student
    assert all(t["score"] == 0 for t in results["tests"]), student
    assert "reaches into the grader" in results["output"]
    where = "<worker>:" if "channel" in STUDENT_ATTACK[student] else "gradcam.py:"
    assert where in results["output"]  # where, for the student and the instructor


@pytest.mark.parametrize("attack", sorted(RUNTIME_ATTACKS))
def test_the_runtime_attacks_pass_the_static_scan(attack: str) -> None:
    """What catches them is the audit hook, not the scan."""
    assert tamper.scan_source(textwrap.dedent(RUNTIME_ATTACKS[attack]), "gradcam.py", ()) == []


def test_flagged_submissions_are_marked_in_the_gradebook_and_the_summary(attacked_class: Path) -> None:
    rows = {row["student"]: row for row in csv.DictReader((attacked_class / "gradebook.csv").open())}
    assert rows["honest"]["tampering_flagged"] == "false" and float(rows["honest"]["total"]) > 0
    for student in STUDENTS:
        assert rows[student]["tampering_flagged"] == "true" and float(rows[student]["total"]) == 0, student
    summary = (attacked_class / "summary.html").read_text()
    assert "Submissions flagged for review" in summary and "gradcam.py:" in summary


def test_a_slow_submission_cannot_outlast_the_check_budget(tmp_path: Path) -> None:
    slow = """
        import time as _time
        _honest = conv_output_size
        def conv_output_size(*args, **kwargs):
            _time.sleep(0.3)
            return _honest(*args, **kwargs)
    """
    folder = tmp_path / "submission"
    shutil.copytree(ROOT / "solutions", folder, ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"))
    shapes = folder / "shapes.py"
    shapes.write_text(shapes.read_text() + textwrap.dedent(slow))
    started = time.monotonic()
    graded = grade(folder, tmp_path / "out", "--tiers", "public", "-k", "conv_output_size", "--check-budget", "3")
    assert time.monotonic() - started < 60  # 150 cases x 0.3 s would be 45 s in the check alone
    check = graded.checks["shapes/conv_output_size"]
    assert check["score"] == 0 and "time budget" in check["output"]


def test_a_flag_withholds_only_the_checks_observed_in_the_worker(tmp_path: Path) -> None:
    """The judge computes the quadrant checks from the exported graph: tampering in the worker cannot change them."""
    folder = solutions_with(tmp_path, ATTACKS["reach the caller's frame"])
    graded = grade(folder, tmp_path / "out", "-k", "layer_shapes or parameter_counts or conv_output_size")
    assert graded.returncode == 0
    checks = graded.checks
    assert checks["quadrant/layer_shapes"]["status"] == checks["quadrant/parameter_counts"]["status"] == "passed"
    assert checks["shapes/conv_output_size"]["score"] == 0
    assert "Withheld for your instructor's review" in graded.results["output"]
    assert "gradcam.py:" in graded.results["output"] and "frame" in graded.results["output"]
    assert "still count" in graded.results["output"]
