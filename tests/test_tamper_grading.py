"""Attacks from the red team's table, kept as tests: each asserts the points it may earn.

A submission whose source reaches into the grader or the interpreter has every check withheld (0 points, one
problem reported once) and is flagged in the gradebook and the class summary; honest submissions are not.
A submission that makes every request slow cannot make one grading outlast its budget.
"""

from __future__ import annotations

import csv
import shutil
import textwrap
import time
from pathlib import Path

import pytest
from conftest import ROOT, grade

from grader.batch.runner import run_batch
from grader.batch.task import GradeSettings

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
}


def solutions_with(tmp_path: Path, code: str) -> Path:
    folder = tmp_path / "submission"
    shutil.copytree(ROOT / "solutions", folder, ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"))
    gradcam = folder / "gradcam.py"
    gradcam.write_text(gradcam.read_text() + "\n" + textwrap.dedent(code))
    return folder


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_earns_nothing_and_is_flagged(tmp_path: Path, attack: str) -> None:
    graded = grade(solutions_with(tmp_path, ATTACKS[attack]), tmp_path / "out", "--tiers", "public", "-k", "gradcam")
    assert graded.checks, graded.stdout
    assert all(t["score"] == 0 for t in graded.checks.values()), attack
    assert "reaches into the grader" in graded.results["output"]
    assert "gradcam.py:" in graded.results["output"]  # where, for the student and the instructor
    assert graded.returncode == 0  # a verdict, not a grader fault


def test_a_flagged_submission_is_marked_in_the_gradebook(tmp_path: Path) -> None:
    submissions = tmp_path / "class"
    submissions.mkdir()
    for student, code in (("honest", ""), ("patcher", ATTACKS["patch the worker's comparison"])):
        shutil.copytree(solutions_with(tmp_path / student, code), submissions / student)
    out = tmp_path / "out"
    run_batch(submissions, out, GradeSettings(tiers="public", k="shapes"), jobs=1)
    rows = {row["student"]: row for row in csv.DictReader((out / "gradebook.csv").open())}
    assert rows["patcher"]["flagged"] == "True" and rows["honest"]["flagged"] == "False"
    assert float(rows["patcher"]["total"]) == 0 and float(rows["honest"]["total"]) > 0
    summary = (out / "summary.html").read_text()
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
