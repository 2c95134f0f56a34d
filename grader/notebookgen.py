"""Render the course notebooks from the modules: ``exercises/`` and ``solutions/cnn_exercises.ipynb``.

The code cells hold exactly the module sources (stubs from the contract, or the solutions), so a notebook
grades like its modules. Experiment cells (sample grid, learning curves, Grad-CAM overlays) are skipped
when ``CNN_GRADER_GRADING=1``, which the grader sets. ``python -m grader.notebookgen`` rewrites both;
``tests/test_notebooks.py`` fails when the committed notebooks drift.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import nbformat

from grader.contract import MODULES
from grader.stubgen import render_module

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_NAME = "cnn_exercises.ipynb"

INTRO = """# Convolutional networks: shapes, quadrants, Grad-CAM and training

Fill in every function that raises `NotImplementedError`; the docstrings are the specification. Check
each part with the `grader.check(...)` cell after it (the public checks on what this kernel defines, shown
here), or the whole notebook with `cnn-grader check cnn_exercises.ipynb`.

The grader runs this notebook in a fresh kernel with `CNN_GRADER_GRADING=1` and a time limit per cell:
the experiment cells below skip themselves then, so keep long training inside `if not GRADING:`."""

SETUP = """import os

import matplotlib.pyplot as plt
import torch

GRADING = os.environ.get("CNN_GRADER_GRADING") == "1"  # set by cnn-grader: skip the experiments
QUICK = os.environ.get("CNN_GRADER_QUICK") == "1"  # a smoke run of the experiments
torch.manual_seed(0)"""

SECTIONS = {
    "shapes": """## 1. Shapes

A 5x5 convolution without padding loses 4 pixels per axis; a 2x2 max pool halves (rounding down). Work
out the formulas PyTorch uses, including stride, padding, dilation and `ceil_mode`, and count parameters.""",
    "quadrant": """## 2. The quadrant CNN

A digit sits in one corner of a 56x56 black canvas. `QuadrantNet` is the course's network; trained on
top-left digits only, it fails on bottom-right ones. Design `RobustQuadrantNet` so that it does not.""",
    "gradcam": """## 3. Looking inside: Grad-CAM

Grad-CAM weights the channels of a layer by the spatial mean of the score's gradient and keeps the
positive part. Use hooks, and leave the model exactly as you found it.""",
    "training": """## 4. Training loops

One epoch, an evaluation, and early stopping that restores the best weights.""",
}

AFTER = {
    "shapes": """try:
    print("QuadrantNet feature shapes:", quadrant_net_shapes())
except NotImplementedError:
    print("quadrant_net_shapes is not implemented yet")""",
    "quadrant": """if not GRADING:
    from grader.data import load_split
    from grader.quadrants import RandomQuadrantPad, digits_to_canvas

    split = load_split()  # MNIST through torchvision: --data-root / $CNN_GRADER_DATA / download
    print(split.source)
    pad = RandomQuadrantPad(generator=torch.Generator().manual_seed(0))
    samples = [pad(torch.from_numpy(d).float().div(255)[None]) for d in split.train_digits[:8]]
    fig, axes = plt.subplots(1, 8, figsize=(12, 2))
    for ax, image in zip(axes, samples, strict=True):
        ax.imshow(image[0], cmap="gray")
        ax.axis("off")
    fig.suptitle("RandomQuadrantPad: a digit in a random corner")
    plt.show()""",
}

CHECK = """import grader

grader.check("{group}")  # the public {group} checks on what this notebook defines (nothing while graded){more}"""
MORE = {"quadrant": '\n# grader.check("robustness") trains both networks as the grader does (a minute on a laptop)'}

EXPERIMENT = """if not GRADING:
    from torch.utils.data import DataLoader, TensorDataset

    n_train = 1000 if QUICK else len(split.train_digits)
    train = TensorDataset(digits_to_canvas(split.train_digits[:n_train], "top_left"),
                          torch.from_numpy(split.train_labels[:n_train]))
    tests = {corner: DataLoader(TensorDataset(digits_to_canvas(split.test_digits, corner),
                                              torch.from_numpy(split.test_labels)), batch_size=500)
             for corner in ("top_left", "bottom_right")}
    curves, models = {}, {}
    for net in (QuadrantNet, RobustQuadrantNet):
        torch.manual_seed(0)
        model = net()
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        history = fit(model, DataLoader(train, batch_size=64, shuffle=True), tests["top_left"], optimizer,
                      torch.nn.CrossEntropyLoss(), epochs=1 if QUICK else 3, patience=2)
        curves[net.__name__], models[net.__name__] = history, model
        scores = {c: evaluate(model, loader, torch.nn.CrossEntropyLoss())["accuracy"] for c, loader in tests.items()}
        print(f"{net.__name__}: top-left {scores['top_left']:.3f}, bottom-right {scores['bottom_right']:.3f}")

    fig, ax = plt.subplots(figsize=(5, 3))
    for name, history in curves.items():
        ax.plot(history["train_loss"], label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.legend()
    plt.show()

    model = models["RobustQuadrantNet"].eval()
    x = torch.cat([digits_to_canvas(split.test_digits[i : i + 1], corner)
                   for i, corner in enumerate(("top_left", "top_right", "bottom_left", "bottom_right"))])
    layer = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    maps = grad_cam(model, x, layer)
    fig, axes = plt.subplots(1, 4, figsize=(10, 3))
    for ax, image, heat in zip(axes, x, maps, strict=True):
        ax.imshow(image[0], cmap="gray")
        ax.imshow(heat, cmap="jet", alpha=0.4)
        ax.axis("off")
    fig.suptitle("Grad-CAM of RobustQuadrantNet's last convolution")
    plt.show()"""


def module_body(source: str) -> str:
    """A module's source without its docstring and ``from __future__`` import (one notebook cell)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    skip: set[int] = set()
    for node in tree.body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node is tree.body[0]
        if is_doc or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            skip.update(range(node.lineno - 1, node.end_lineno or node.lineno))
    return "\n".join(line for i, line in enumerate(lines) if i not in skip).strip() + "\n"


def render(kind: str) -> nbformat.NotebookNode:
    """The notebook for ``kind`` ``"exercises"`` (stubs) or ``"solutions"``."""
    cells = [nbformat.v4.new_markdown_cell(INTRO), nbformat.v4.new_code_cell(SETUP)]
    for module in MODULES:
        source = (
            render_module(module) if kind == "exercises" else (ROOT / "solutions" / f"{module.name}.py").read_text()
        )
        cells.append(nbformat.v4.new_markdown_cell(SECTIONS[module.name]))
        cells.append(nbformat.v4.new_code_cell(module_body(source)))
        if module.name in AFTER:
            cells.append(nbformat.v4.new_code_cell(AFTER[module.name]))
        cells.append(nbformat.v4.new_code_cell(CHECK.format(group=module.name, more=MORE.get(module.name, ""))))
    cells.append(nbformat.v4.new_markdown_cell("## 5. The experiment: top-left training, bottom-right testing"))
    cells.append(nbformat.v4.new_code_cell(EXPERIMENT))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index}"  # stable ids keep the committed files reproducible
    return notebook


def rendered_text(kind: str) -> str:
    return nbformat.writes(render(kind)) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    for kind in ("exercises", "solutions"):
        path = ROOT / kind / NOTEBOOK_NAME
        path.write_text(rendered_text(kind))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
