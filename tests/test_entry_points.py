"""The ways in: `cnn-grader grade` (folder and zip, JUnit XML), `cnn-grader check`, `pytest --submission`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import ROOT, course_checks, course_points, grade

pytestmark = pytest.mark.slow


def test_zip_of_a_nested_folder_grades_like_the_folder(tmp_path: Path) -> None:
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in (ROOT / "solutions").glob("*.py"):
            zf.write(path, f"my-homework/{path.name}")
    graded = grade(archive, tmp_path / "out", "-k", "check_shapes", "--junit-xml", str(tmp_path / "junit.xml"))
    assert graded.failed == set() and graded.results["score"] == graded.results["max_score"] == course_points(
        "public", "shapes"
    )
    cases = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    assert len(list(cases)) == course_checks("public", "shapes")


def test_zip_with_path_traversal_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escaped.py", "x = 1")
    proc = subprocess.run(
        [sys.executable, "-m", "grader.cli", "grade", str(archive), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "unsafe path in zip" in proc.stdout + proc.stderr
    assert not (tmp_path / "escaped.py").exists()


def test_check_command_prints_points_and_hints(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")
    wrong = (
        "\n\ndef conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):\n    return size - kernel_size\n"
    )
    with (tmp_path / "exercises" / "shapes.py").open("a") as module:
        module.write(wrong)
    proc = subprocess.run(
        [sys.executable, "-m", "grader.cli", "check", "-k", "conv_output_size"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert "shapes         0.0 /   4.0" in proc.stdout
    assert "hint: " in proc.stdout and "returned 0, expected 1" in proc.stdout


def test_plain_pytest_session_runs_the_same_checks(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--submission",
            str(ROOT / "solutions"),
            "-k",
            "check_shapes",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "(6 of 6 checks passed)" in proc.stdout and "total         20.0 /  20.0" in proc.stdout


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the GPU path is proven on GPU machines")
def test_cuda_gives_the_same_verdicts_as_cpu(tmp_path: Path, solutions_graded) -> None:
    graded = grade(ROOT / "solutions", tmp_path / "out", "--device", "cuda")
    assert graded.failed == solutions_graded.failed == set()
