"""Time ``grader.check(group)`` from a notebook kernel, for each group, against grading the whole notebook.

    .venv/bin/python bench/kernel_check_time.py

Runs the solution notebook in a real kernel (nbclient) with its experiments skipped, then times each
``grader.check`` call inside that kernel (the kernel's names are handed over by value: nothing of the
notebook runs again), and prints each one's wall time and its ratio to grading the notebook with
``cnn-grader grade``, measured in the same run.
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
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "cnn_exercises.ipynb"
GROUPS = ("shapes", "quadrant", "gradcam", "training")
TIMER = """import time as _t, grader as _g
_r = {}
for _group in {groups!r}:
    _s = _t.perf_counter(); _c = _g.check(_group); _r[_group] = (_t.perf_counter() - _s, _c.score, _c.max_score)
print(_r)"""


def main() -> None:
    if not os.environ.get("CNN_GRADER_DATA") and (ROOT.parent / "shared" / "data").is_dir():
        os.environ["CNN_GRADER_DATA"] = str(ROOT.parent / "shared" / "data")
    with tempfile.TemporaryDirectory() as tmp:
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        notebook.cells = [
            c for c in notebook.cells if "grader.check(" not in c.source and "if not GRADING" not in c.source
        ]
        notebook.cells.append(nbformat.v4.new_code_cell(TIMER.replace("{groups!r}", repr(GROUPS))))
        os.environ["CNN_GRADER_GRADING"] = "0"  # the kernel is the student's, not a grading's
        NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp}}).execute()
        printed = "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
        timings = eval(printed)  # noqa: S307 - our own cell's printed dict
        start = time.perf_counter()
        out = Path(tmp, "whole")
        subprocess.run(
            [sys.executable, "-m", "grader.cli", "grade", str(NOTEBOOK), "--out", str(out)],
            check=True,
            capture_output=True,
        )
        whole = time.perf_counter() - start
        score = json.loads((out / "results.json").read_text())["score"]
        print(f"{'grading the notebook (cnn-grader grade)':<42} {whole:5.1f} s   score {score:g}")
        for group, (seconds, got, total) in timings.items():
            print(
                f"grader.check({group!r}){'':<{28 - len(group)}} {seconds:5.1f} s   {got:g}/{total:g}   "
                f"{seconds / whole:.2f} x the whole grading"
            )


if __name__ == "__main__":
    main()
