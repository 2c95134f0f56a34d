"""Hand-in (grader/handin.py): ``cnn-grader export`` and ``grader.export()`` write the zip the autograder grades.

The zip is checked as the judge reads it (which files, whether they parse, what is still the stub) and the
autograder grades exactly what it holds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, grade
from nbclient import NotebookClient

from grader import contract, coursepkg
from grader.stubgen import render_all

MODULES = tuple(m.name for m in contract.MODULES)  # the course's student modules
NOTEBOOK = coursepkg.notebook_name()


def export(path: Path, out: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", "export", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def stubs_with(folder: Path, solved: tuple[str, ...] = (), notebook: str | None = None) -> Path:
    """The bundle's exercises/ (stub modules), some modules solved, and a notebook (solved or stub) if asked."""
    folder.mkdir(parents=True)
    for name, text in render_all().items():
        (folder / name).write_text(text)
    for module in solved:
        shutil.copyfile(ROOT / "solutions" / f"{module}.py", folder / f"{module}.py")
    if notebook:
        shutil.copyfile(ROOT / notebook / NOTEBOOK, folder / NOTEBOOK)
    return folder


def test_complete_work_is_zipped_and_graded_from_the_zip_as_from_the_folder(tmp_path: Path) -> None:
    work = stubs_with(tmp_path / "exercises", solved=MODULES)
    (work / "helpers.py").write_text("SCALE = 1\n")
    (work / "digits.npy").write_bytes(b"\0" * 1000)  # data stays behind
    proc = export(work, tmp_path / "submission.zip", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "complete: every exercise is implemented" in proc.stdout
    shapes = len(contract.module("shapes").exercises)
    assert f"shapes     from shapes.py: {shapes} of {shapes} exercises" in proc.stdout
    names = set(zipfile.ZipFile(tmp_path / "submission.zip").namelist())
    assert names == {f"{m}.py" for m in MODULES} | {"helpers.py"}
    graded = grade(tmp_path / "submission.zip", tmp_path / "out", "--tiers", "public", "--only", "shapes")
    assert graded.results["score"] == graded.results["max_score"] > 0


def test_unfinished_and_unreadable_work_is_named_before_it_is_handed_in(tmp_path: Path) -> None:
    work = stubs_with(tmp_path / "exercises", solved=("shapes", "gradcam"))
    (work / "training.py").write_text((ROOT / "solutions" / "training.py").read_text() + "\ndef broken(:\n")
    proc = export(work, tmp_path / "submission.zip", tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "quadrant   from quadrant.py: 0 of 2 exercises implemented" in proc.stdout
    assert "problem: training.py line" in proc.stdout and "cannot be graded until it parses" in proc.stdout
    assert (tmp_path / "submission.zip").exists(), "unfinished work can still be handed in"


def test_a_notebook_beside_the_stubs_is_what_the_zip_is_graded_from(tmp_path: Path) -> None:
    work = stubs_with(tmp_path / "exercises", notebook="solutions")
    notebook = nbformat.read(work / NOTEBOOK, as_version=4)
    notebook.cells += [  # magics read as the worker reads them: no false "does not parse"
        nbformat.v4.new_code_cell("%%writefile notes.txt\nhello world"),
        nbformat.v4.new_code_cell("for i in range(2):\n    %time print(i)"),
    ]
    nbformat.write(notebook, work / NOTEBOOK)
    proc = export(work, tmp_path / "submission.zip", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shapes = len(contract.module("shapes").exercises)
    assert f"shapes     from {NOTEBOOK}: {shapes} of {shapes}" in proc.stdout


def test_a_near_miss_name_is_handed_in_under_its_modules_name(tmp_path: Path) -> None:
    work = stubs_with(tmp_path / "exercises", solved=MODULES)
    (work / "shapes.py").rename(work / "shapes (1).py")
    proc = export(work, tmp_path / "submission.zip", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "shapes.py" in zipfile.ZipFile(tmp_path / "submission.zip").namelist()
    assert "graded shapes (1).py as shapes.py" in proc.stdout


def test_a_notebook_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    work = stubs_with(tmp_path / "exercises")
    (work / NOTEBOOK).write_text('{"cells": [')  # a half-saved notebook
    (work / "shapes.py").unlink()  # so the notebook is what shapes is graded from
    proc = export(work, tmp_path / "submission.zip", tmp_path)
    assert proc.returncode == 1 and f"{NOTEBOOK} cannot be read as a notebook" in proc.stdout, proc.stdout


def test_nothing_to_hand_in_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("todo")
    proc = export(tmp_path / "empty", tmp_path / "submission.zip", tmp_path)
    assert proc.returncode == 2 and "nothing to hand in" in proc.stderr
    assert not (tmp_path / "submission.zip").exists()


@pytest.mark.slow
def test_grader_export_in_a_notebook_writes_the_zip_of_the_saved_notebook(tmp_path: Path) -> None:
    work = stubs_with(tmp_path / "exercises", notebook="solutions")
    cell = nbformat.v4.new_code_cell("import grader\nhanded = grader.export()\nhanded")
    session = nbformat.v4.new_notebook(cells=[cell])
    NotebookClient(session, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    shown = session.cells[0].outputs[0]["data"]
    assert "complete: every exercise is implemented" in shown["text/plain"], json.dumps(shown)[:2000]
    assert "<pre" in shown["text/html"]
    assert NOTEBOOK in zipfile.ZipFile(work / "submission.zip").namelist()
