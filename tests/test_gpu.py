"""The GPU path: the model answers graded with ``--device cuda`` get the verdicts the CPU gives (skipped without
CUDA, as on CI; run on a machine with a GPU, and its figures recorded in docs/performance.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import ROOT, course_points, grade

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine"),
]


def test_the_gpu_grades_the_solutions_as_the_cpu_does(tmp_path: Path, solutions_graded) -> None:
    graded = grade(ROOT / "solutions", tmp_path / "out", "--device", "cuda", "--no-cache")
    assert graded.returncode == 0
    verdicts = {name: t["status"] for name, t in graded.checks.items()}
    assert verdicts == {name: t["status"] for name, t in solutions_graded.checks.items()}
    assert graded.results["score"] == solutions_graded.results["score"] == course_points()
