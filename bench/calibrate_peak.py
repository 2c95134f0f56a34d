"""Calibrate ``gradcam/peak_on_object`` per data set: how often the Grad-CAM peak lies in the object's quadrant.

    .venv/bin/python bench/calibrate_peak.py [--data-root DIR] [--dataset KEY[=RAW_FOLDER] ...]

For each data set of the course (course/course.toml's ``[data.sets]``; ``KEY=FOLDER`` names a folder holding its
four files, as an instructor's ``[data] raw`` does), trains the check's quadrant model as grading does
(course/gradcam/trained.py, cached), then runs the check's own measurement (its 24 images, its canvases) with the
model answers' ``grad_cam`` and with every Grad-CAM bug of the corpus (tests/corpus.py) that changes the map. Prints
the fraction of peaks in the object's quadrant: a threshold between the correct value and the bugs' highest
separates them. The measurement has no seed of its own (fixed canvases, a deterministic model).
"""

from __future__ import annotations

import argparse
import sys
import types
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from corpus import BUGS  # noqa: E402

from course import testmodels  # noqa: E402
from course.gradcam.check_gradcam import PEAK_DIGITS  # noqa: E402
from course.gradcam.trained import quadrant_cam_weights, quadrant_canvases  # noqa: E402
from grader import coursepkg  # noqa: E402
from grader.data import load_split  # noqa: E402


def peak_hits(grad_cam, split) -> float:
    """The check's measurement (course/gradcam/check_gradcam.py::test_peak_on_object) with ``grad_cam``."""
    canvases, corners = quadrant_canvases(split.train_digits[-PEAK_DIGITS:], seed=1)
    labels = torch.as_tensor(split.train_labels[-PEAK_DIGITS:].tolist(), dtype=torch.long)
    model = testmodels.from_request({"model": {"name": "quadrant_cam"}, "weights": quadrant_cam_weights(split)})
    model.eval()
    maps = grad_cam(model, canvases.clone(), model.get_submodule("conv2"), labels).detach().numpy()
    rows, cols = np.unravel_index(maps.reshape(len(maps), -1).argmax(1), (56, 56))
    return float((((rows >= 28) * 2 + (cols >= 28)) == corners).mean())


def variants() -> dict[str, object]:
    """The model answers' grad_cam and each corpus bug's (the gradcam bugs whose source plants cleanly)."""
    source = (ROOT / "solutions" / "gradcam.py").read_text()
    found = {}
    for name, text in [("model answers (correct)", source)] + [
        (bug.name, source.replace(bug.old, bug.new)) for bug in BUGS if bug.module == "gradcam" and bug.old in source
    ]:
        module = types.ModuleType(f"gradcam_{len(found)}")
        exec(compile(text, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - the project's own corpus
        found[name] = module.grad_cam
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root")
    parser.add_argument("--dataset", nargs="+", help="KEY or KEY=RAW_FOLDER (default: every data set of the course)")
    args = parser.parse_args()
    course = coursepkg.current()
    chosen = dict(item.partition("=")[::2] for item in args.dataset) if args.dataset else dict.fromkeys(course.datasets)
    functions = variants()
    rows = []
    for key, raw in chosen.items():
        dataset = course.datasets[key]
        if raw:
            dataset = replace(dataset, raw=raw)
        split = load_split(args.data_root, dataset=dataset, download=False)
        for name, fn in functions.items():
            try:
                rows.append((dataset.name, name, f"{peak_hits(fn, split):.3f}"))
            except Exception as exc:  # noqa: BLE001 - a bug that raises is caught by other checks
                rows.append((dataset.name, name, f"raises {type(exc).__name__}"))
    print("| data set | grad_cam | peaks in the object's quadrant (of 24) |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
