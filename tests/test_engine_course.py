"""The engine grades a course it has never seen: an exercise added as a course folder, no engine file touched.

``tests/engine_course`` is a course of the engine's own (its module ``conv``: a 2-D convolution by hand, its
contract, a public check with hypothesis-drawn shapes). It is graded with the installed engine as it is,
``$CNN_GRADER_COURSE`` naming the folder; then the same folder is added as a sixth group of a copy of the CNN
course, by one line of its manifest. The engine's files are hashed before and after: none changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader import coursepkg

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "engine_course"
CORRECT = """
import torch


def conv2d_manual(x, weight, stride=1, padding=0):
    n, c, h, w = x.shape
    o, _, k, _ = weight.shape
    padded = torch.zeros(n, c, h + 2 * padding, w + 2 * padding, dtype=x.dtype)
    padded[:, :, padding : padding + h, padding : padding + w] = x
    rows = (h + 2 * padding - k) // stride + 1
    cols = (w + 2 * padding - k) // stride + 1
    out = torch.zeros(n, o, rows, cols, dtype=x.dtype)
    for i in range(rows):
        for j in range(cols):
            window = padded[:, :, i * stride : i * stride + k, j * stride : j * stride + k]
            out[:, :, i, j] = (window.unsqueeze(1) * weight.unsqueeze(0)).sum(dim=(2, 3, 4))
    return out
"""
# Written differently: einsum over an explicit list of windows. Correct, so it keeps every point.
EINSUM = """
import torch
import torch.nn.functional as F


def conv2d_manual(x, weight, stride=1, padding=0):
    x = F.pad(x, (padding, padding, padding, padding))
    k = weight.shape[-1]
    rows = range(0, x.shape[2] - k + 1, stride)
    cols = range(0, x.shape[3] - k + 1, stride)
    windows = torch.stack([torch.stack([x[:, :, i : i + k, j : j + k] for j in cols], 2) for i in rows], 2)
    return torch.einsum("ncrskl,ockl->nors", windows, weight)
"""
NO_PADDING = (
    CORRECT.replace("h + 2 * padding, w + 2 * padding", "h, w")
    .replace("padded[:, :, padding : padding + h, padding : padding + w] = x", "padded[:] = x")
    .replace("(h + 2 * padding - k)", "(h - k)")
    .replace("(w + 2 * padding - k)", "(w - k)")
)
STUB = """
def conv2d_manual(x, weight, stride=1, padding=0):
    raise NotImplementedError
"""


def _engine_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "grader").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(ROOT).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def _grade(course: Path, code: str, tmp_path: Path, *extra: str) -> tuple[dict, str]:
    submission = tmp_path / "submission"
    submission.mkdir(exist_ok=True)
    (submission / "conv.py").write_text(code)
    out = tmp_path / "out"
    env = {**os.environ, coursepkg.COURSE_ENV: str(course), "CNN_GRADER_CONFIG": "defaults"}
    # a judge process of its own: the test's judge template has the CNN course loaded
    proc = subprocess.run(
        [sys.executable, "-m", "grader.cli", "grade", str(submission), "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=env,
    )
    results = out / "results.json"
    assert results.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(results.read_text()), proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("code", "points"),
    [(CORRECT, 5.0), (EINSUM, 5.0), (NO_PADDING, 0.0), (STUB, 0.0)],
    ids=["loops", "einsum", "bug", "stub"],
)
def test_a_course_of_its_own_is_graded_by_the_engine_as_it_is(code: str, points: float, tmp_path: Path) -> None:
    before = _engine_digest()
    results, output = _grade(FIXTURE, code, tmp_path, "--only", "conv")
    assert [t["name"] for t in results["tests"]] == ["conv/matches_conv2d"]
    assert (results["score"], results["tests"][0]["max_score"]) == (points, 5.0), output
    if code is NO_PADDING:
        assert "padding" in results["tests"][0]["output"], "the hint of the minimal failing case"
    assert _engine_digest() == before


def test_an_exercise_added_to_the_cnn_course_is_graded_touching_no_engine_file(tmp_path: Path) -> None:
    """The instructor's way (docs/course.md): copy the course folder, add a group folder, name it in the
    manifest. ``--only conv`` grades the new group alone; the rest of the course is still there."""
    course = tmp_path / "course"
    shutil.copytree(coursepkg.current().root, course, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(FIXTURE / "conv", course / "conv")
    manifest = (course / "course.toml").read_text()
    old = 'groups = ["shapes", "quadrant", "robustness", "gradcam", "training"]'
    assert old in manifest
    (course / "course.toml").write_text(manifest.replace(old, old[:-1] + ', "conv"]'))
    before = _engine_digest()
    results, output = _grade(course, CORRECT, tmp_path, "--only", "conv")
    assert [(t["name"], t["score"]) for t in results["tests"]] == [("conv/matches_conv2d", 5.0)], output
    listed = subprocess.run(
        [sys.executable, "-m", "grader.cli", "check", "--list"],
        capture_output=True,
        text=True,
        env={**os.environ, coursepkg.COURSE_ENV: str(course), "CNN_GRADER_CONFIG": "defaults"},
        cwd=tmp_path,
        timeout=300,
    ).stdout
    assert "conv/matches_conv2d" in listed and "shapes/conv_output_size" in listed
    assert _engine_digest() == before


def test_the_engine_names_no_exercise_check_group_or_data_set_of_the_course() -> None:
    """No code of grader/ (names, attributes, strings that are not docstrings) holds a contract name, a check
    name, a ``group/`` or ``group.`` path or a data set of the CNN course: the engine learns them from the
    manifest. (Bare English words such as ``training`` or ``shapes`` are a variable's, not the course's.)"""
    import ast
    import re

    from grader.checks.registry import all_specs

    course = coursepkg.current()
    exact = {ex.name for m in course.modules for ex in m.exercises} | {g.name for g in course.groups}
    exact -= {"training", "shapes", "fit", "evaluate", "activations"}  # English words, as variables name them
    inside = {ex.qualname for m in course.modules for ex in m.exercises} | {s.name for s in all_specs()}
    inside |= {d.name for d in course.datasets.values()} | {d.folder for d in course.datasets.values()}
    groups = re.compile(r"(?<![\w])(" + "|".join(re.escape(g.name) for g in course.groups) + r")[/.][a-z]")
    found = []
    for path in sorted((ROOT / "grader").rglob("*.py")):
        tree = ast.parse(path.read_text())
        docs = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                text = node.value
            elif isinstance(node, ast.Name | ast.Attribute | ast.FunctionDef | ast.ClassDef):
                text = getattr(node, "id", None) or getattr(node, "attr", None) or node.name
            else:
                continue
            if text in exact or any(word in text for word in inside) or groups.search(text):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text[:60]!r}")
    assert not found, "\n".join(found)
