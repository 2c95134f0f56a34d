"""Notebook submissions: executed with nbclient in the worker, graded exactly like modules."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, course_checks, course_points, grade
from nbclient import NotebookClient

from grader import contract, coursepkg, notebookgen

SOLUTION_NOTEBOOK = ROOT / "solutions" / coursepkg.notebook_name()


@pytest.mark.parametrize("kind", ["exercises", "solutions"])
def test_committed_notebooks_are_generated_from_the_modules(kind: str) -> None:
    committed = (ROOT / kind / coursepkg.notebook_name()).read_text()
    assert committed == notebookgen.rendered_text(kind), "run `python -m grader.notebookgen`"


def test_a_code_cell_holds_exactly_a_module() -> None:
    source = (ROOT / "solutions" / "shapes.py").read_text()
    body = notebookgen.module_body(source)
    assert "from __future__" not in body and body.strip() in source
    assert "def conv_output_size(" in body


def notebook_with(tmp_path: Path, edit) -> Path:
    """The solutions notebook changed by ``edit(cells)``, written to tmp_path."""
    notebook = nbformat.read(SOLUTION_NOTEBOOK, as_version=4)
    edit(notebook.cells)
    path = tmp_path / "homework.ipynb"
    nbformat.write(notebook, path)
    return path


def code_cell(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source)


@pytest.mark.slow
def test_solution_notebook_gets_exactly_the_points_of_the_modules(tmp_path: Path, solutions_graded) -> None:
    graded = grade(SOLUTION_NOTEBOOK, tmp_path / "out")
    points = {name: t["score"] for name, t in graded.checks.items()}
    assert points == {name: t["score"] for name, t in solutions_graded.checks.items()}
    assert graded.results["score"] == course_points()


@pytest.mark.slow
def test_exercise_notebook_scores_zero_without_crashing(tmp_path: Path) -> None:
    graded = grade(ROOT / "exercises" / coursepkg.notebook_name(), tmp_path / "out", "-k", "check_shapes")
    assert graded.results["score"] == 0 and len(graded.failed) == course_checks("public", "shapes")
    assert all("is not implemented yet" in t["output"] for t in graded.checks.values())


@pytest.mark.slow
def test_error_in_cell_3_of_10_is_reported_and_the_rest_still_graded(tmp_path: Path) -> None:
    def edit(cells):
        cells[2:2] = [code_cell("x = 1\ny = 1 / 0  # a student's bug")]

    graded = grade(notebook_with(tmp_path, edit), tmp_path / "out", "-k", "check_shapes or check_training")
    assert graded.failed == set()
    assert (
        "homework.ipynb, cell 3 (`x = 1 / y = 1 / 0  # a student's bug`): ZeroDivisionError: division by zero"
        in graded.stdout
    )


@pytest.mark.slow
def test_infinite_loop_cell_is_interrupted_and_later_cells_run(tmp_path: Path) -> None:
    def edit(cells):
        cells[3:3] = [code_cell("while True:\n    pass")]

    # 10 s: the first cell imports torch in a fresh kernel, which can take several seconds on a loaded machine
    graded = grade(notebook_with(tmp_path, edit), tmp_path / "out", "--cell-timeout", "10", "-k", "check_training")
    assert graded.failed == set()
    assert "CellTimeoutError: interrupted after 10 s" in graded.stdout


@pytest.mark.slow
def test_a_dying_kernel_costs_only_its_cell(tmp_path: Path) -> None:
    def edit(cells):
        cells[4:4] = [code_cell("import os\nos._exit(1)")]

    graded = grade(notebook_with(tmp_path, edit), tmp_path / "out", "-k", "check_shapes or check_gradcam")
    assert graded.failed == set()
    assert "the kernel died while running this cell" in graded.stdout


@pytest.mark.slow
def test_half_the_names_grade_half(tmp_path: Path) -> None:
    def edit(cells):
        for cell in cells:
            if "def grad_cam(" in cell.source or "def train_one_epoch(" in cell.source:
                cell.source = "pass"

    graded = grade(notebook_with(tmp_path, edit), tmp_path / "out", "-k", "not check_robustness")
    assert {name.split("/")[0] for name in graded.failed} == {"gradcam", "training"}
    output = graded.explanation("training/train_one_epoch_updates")
    assert "the notebook homework.ipynb defines no train_one_epoch" in output
    assert not any(name.startswith(("shapes/", "quadrant/")) for name in graded.failed)


@pytest.mark.slow
def test_real_notebook_clutter_is_survived(tmp_path: Path) -> None:
    """Magics, !pip, Colab imports, input(), plt.show(), a stale kernel spec and megabytes of output."""

    def edit(cells):
        cells[1:1] = [
            code_cell("!pip install torchinfo\n%matplotlib inline"),
            code_cell("from google.colab import drive\ndrive.mount('/content/drive')"),
            code_cell("name = input('your name? ')"),
            code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()"),
            code_cell("print('x' * 5_000_000)"),
        ]

    path = notebook_with(tmp_path, edit)
    raw = json.loads(path.read_text())
    raw["metadata"]["kernelspec"] = {"name": "python2-old-env", "display_name": "gone", "language": "python"}
    path.write_text(json.dumps(raw))
    graded = grade(path, tmp_path / "out", "-k", "check_shapes")
    assert graded.failed == set()
    output = graded.stdout
    assert "not run when grading: !pip install torchinfo; %matplotlib inline" in output
    assert "StdinNotImplementedError" in output
    assert "google" not in output


@pytest.mark.slow
def test_malformed_and_old_notebooks(tmp_path: Path) -> None:
    broken = tmp_path / "broken" / "homework.ipynb"
    broken.parent.mkdir()
    broken.write_text('{"cells": [')
    graded = grade(broken, tmp_path / "out1", "-k", "check_shapes")
    assert len(graded.failed) == course_checks("public", "shapes")
    assert "could not be run" in graded.explanation("shapes/conv_params")

    old = nbformat.v3.new_notebook(
        worksheets=[
            nbformat.v3.new_worksheet(
                cells=[
                    nbformat.v3.new_code_cell(
                        input=notebookgen.module_body((ROOT / "solutions" / "shapes.py").read_text())
                    )
                ]
            )
        ]
    )
    old_path = tmp_path / "old" / "homework.ipynb"
    old_path.parent.mkdir()
    old_path.write_text(nbformat.v3.writes_json(old))
    graded = grade(old_path, tmp_path / "out2", "-k", "check_shapes")
    assert graded.failed == set()


@pytest.mark.slow
def test_jupytext_percent_script_is_accepted(tmp_path: Path) -> None:
    import jupytext

    script = tmp_path / "homework.py"
    jupytext.write(nbformat.read(SOLUTION_NOTEBOOK, as_version=4), script, fmt="py:percent")
    graded = grade(script, tmp_path / "out", "-k", "check_shapes")
    assert graded.failed == set() and graded.results["score"] == 20


@pytest.mark.slow
def test_solution_notebook_runs_its_own_experiments(tmp_path: Path) -> None:
    """Outside grading the notebook trains, plots and explains (a quick smoke run)."""
    notebook = nbformat.read(SOLUTION_NOTEBOOK, as_version=4)
    env = {"CNN_GRADER_QUICK": "1", "CNN_GRADER_GRADING": "0"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    outputs = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "RobustQuadrantNet: top-left" in outputs
    # each part's grader.check cell shows that group's full points, in HTML and as text
    checked = {}
    for cell in notebook.cells:
        group = re.search(r'grader\.check\("(\w+)"\)', cell.source) if cell.cell_type == "code" else None
        if group:
            shown = next(o["data"] for o in cell.outputs if o.get("output_type") == "execute_result")
            checked[group.group(1)] = shown
    assert sorted(checked) == sorted(m.name for m in contract.MODULES)
    for group, shown in checked.items():
        total = re.search(r"total\s+([\d.]+) /\s+([\d.]+)", shown["text/plain"])
        assert total and total.group(1) == total.group(2) and float(total.group(2)) > 0, (group, shown["text/plain"])
        assert "Score:" in shown["text/html"] and "checks passed" in shown["text/html"]
        assert "Graded files" not in shown["text/html"] and "this notebook&#x27;s kernel" in shown["text/html"]
    images = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3


WRONG_CONV = """
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - kernel_size) // stride + 1  # forgets the dilation
"""


@pytest.mark.slow
def test_grader_check_in_a_kernel_says_what_cnn_grader_check_says(tmp_path: Path) -> None:
    """A wrong answer defined in a notebook: grader.check gives the message the command line gives."""
    folder = tmp_path / "modules"
    folder.mkdir()
    (folder / "shapes.py").write_text(WRONG_CONV)
    graded = grade(folder, tmp_path / "out", "--tiers", "public", "-k", "shapes/conv_output_size")
    expected = graded.checks["shapes/conv_output_size"]["output"]

    notebook = nbformat.v4.new_notebook(
        cells=[
            code_cell(WRONG_CONV),
            code_cell(
                "import grader\nresult = grader.check('shapes/conv_output_size')\n"
                "print(result.score, result.max_score, len(result.checks))\nprint(result.checks[0].message)"
            ),
        ]
    )
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    printed = "".join(o.get("text", "") for o in notebook.cells[1].outputs)
    score, max_score, checks = printed.split("\n", 1)[0].split()
    assert (float(score), float(max_score), checks) == (0, 4, "1"), printed
    message = printed.split("\n", 1)[1].strip()
    assert message and message in expected, (message, expected)
