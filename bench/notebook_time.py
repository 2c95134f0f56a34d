"""Time grading notebooks: the solution notebook, and one whose student left a long training loop in.

    .venv/bin/python bench/notebook_time.py

The long loop is 5 epochs of QuadrantNet over 60,000 quadrant images (the compute of full MNIST, on
synthetic tensors since this machine has no training file), not guarded by CNN_GRADER_GRADING. The
per-cell timeout (default 15 s) interrupts it; the target is under 45 s for the whole grading on 2 cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "cnn_exercises.ipynb"
LONG_LOOP = """import torch
from torch.utils.data import DataLoader, TensorDataset
images, labels = torch.rand(60_000, 1, 56, 56), torch.randint(10, (60_000,))
model = QuadrantNet()
optimizer = torch.optim.Adam(model.parameters())
for epoch in range(5):
    train_one_epoch(model, DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True), optimizer,
                    torch.nn.CrossEntropyLoss())
    print("epoch", epoch)"""


def grade(path: Path, out: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "grader.cli", "grade", str(path), "--out", str(out)], check=True, capture_output=True
    )
    return time.perf_counter() - start, json.loads((out / "results.json").read_text())


def main() -> None:
    if not os.environ.get("CNN_GRADER_DATA") and (ROOT.parent / "shared" / "data").is_dir():
        os.environ["CNN_GRADER_DATA"] = str(ROOT.parent / "shared" / "data")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        index = next(i for i, c in enumerate(notebook.cells) if "def fit(" in c.source) + 1
        notebook.cells.insert(index, nbformat.v4.new_code_cell(LONG_LOOP))
        heavy = tmp / "heavy" / "homework.ipynb"
        heavy.parent.mkdir()
        nbformat.write(notebook, heavy)
        grade(ROOT / "solutions", tmp / "warmup")  # caches (data, the Grad-CAM model) are warm for both
        for label, path in (("solution notebook", NOTEBOOK), ("with a 5-epoch loop", heavy)):
            wall, results = grade(path, tmp / label.replace(" ", "_"))
            print(f"{label:<22} {wall:5.1f} s   score {results['score']:g}/{results['max_score']:g}")
            for line in results["output"].splitlines():
                if "Timeout" in line:
                    print(f"    {line}")


if __name__ == "__main__":
    main()
