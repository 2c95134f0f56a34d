"""Calibrate the robustness thresholds: train designs that should pass and fail, over seeds.

    .venv/bin/python bench/calibrate_quadrant.py [--seeds 0 1 2 3 4] [--data-root DIR]

Uses the grader's own trainer and budget (grader/worker/trainer.py) and the same digit split as grading,
then prints a Markdown table (min-max over seeds) and each design's verdicts under the thresholds in
grader/checks/check_robustness.py. Paste the table into docs/calibration.md.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from grader.checks.check_robustness import BUDGET, bottom_right_needed, collapses, learns
from grader.data import load_split
from grader.quadrants import digits_to_canvas
from grader.worker.trainer import predict, train_classifier
from reference.quadrant import QuadrantNet, RobustQuadrantNet


class GlobalPoolNet(nn.Module):
    """Two convs (padding configurable), global average or max pooling, the same MLP head."""

    def __init__(self, padding: int, pool: str, c: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, c, 5, padding=padding)
        self.conv2 = nn.Conv2d(c, 2 * c, 5, padding=padding)
        self.head = nn.Sequential(
            nn.Linear(2 * c, 4 * c), nn.ReLU(), nn.Linear(4 * c, 2 * c), nn.ReLU(), nn.Linear(2 * c, 10)
        )
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.amax((2, 3)) if self.pool == "max" else x.mean((2, 3))
        return self.head(x)


DESIGNS = {
    "QuadrantNet (flatten head, reference)": QuadrantNet,
    "RobustQuadrantNet (padding 2 + global max pool, reference)": RobustQuadrantNet,
    "global average pool, unpadded convs": lambda: GlobalPoolNet(0, "avg"),
    "global max pool, unpadded convs": lambda: GlobalPoolNet(0, "max"),
    "global max pool, padding 2, conv1 with bias (the course's suggestion)": lambda: GlobalPoolNet(2, "max"),
    "global average pool, padding 2": lambda: GlobalPoolNet(2, "avg"),
}


def verdicts(top_left: float, bottom_right: float) -> str:
    """The robustness checks' rules applied to one measurement (the checks' own functions)."""
    flags = {
        "learns": learns(top_left),
        "collapses": collapses(top_left, bottom_right),
        "keeps": bottom_right >= bottom_right_needed(top_left),
    }
    return " ".join(f"{name}={'y' if flag else 'n'}" for name, flag in flags.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--data-root")
    args = parser.parse_args()
    split = load_split(args.data_root)
    train_x = digits_to_canvas(split.train_digits, "top_left")
    train_y = torch.from_numpy(split.train_labels)
    test = {c: digits_to_canvas(split.test_digits, c) for c in ("top_left", "bottom_right")}
    print(f"data: {split.source}; budget: {BUDGET}; torch threads: {torch.get_num_threads()}\n")
    rows = []
    for name, make in DESIGNS.items():
        scores, seconds = [], []
        for seed in args.seeds:
            budget = replace(BUDGET, seed=seed)
            torch.manual_seed(seed)
            model = make()
            start = time.perf_counter()
            train_classifier(model, train_x, train_y, budget, "cpu")
            seconds.append(time.perf_counter() - start)
            tl, br = (
                (predict(model, test[c], "cpu") == split.test_labels).mean() for c in ("top_left", "bottom_right")
            )
            scores.append((float(tl), float(br)))
            print(
                f"{name:<60} seed {seed}: top-left {tl:.3f} bottom-right {br:.3f} ({seconds[-1]:.1f} s) "
                f"{verdicts(tl, br)}"
            )
        tl_all, br_all = np.array(scores).T
        rows.append(
            f"| {name} | {tl_all.min():.2f}-{tl_all.max():.2f} | {br_all.min():.2f}-{br_all.max():.2f} | "
            f"{np.mean(seconds):.1f} s |"
        )
    print(f"\n| design, trained on top-left only (seeds {args.seeds}) | top-left acc | bottom-right acc | train time |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
