"""Calibrate the robustness checks: train designs that should pass and fail, over seeds and budgets.

    CNN_GRADER_SECRET=calibration .venv/bin/python bench/calibrate_quadrant.py [--seeds 0 1 ... 9]
        [--epochs 2 3] [--data-root DIR] [--save FILE] [--load FILE]

Trains each design as grading trains a student's network (exported with torch.export, rebuilt from its graph
in the judge's training form: grader/netgraph.py, grader/fastgraph.py) with the grader's own trainer
(grader/trainer.py, the checks' learning rate and batch size) on the grading split's top-left digits, measures
top-left and bottom-right accuracy on the held-out digits exactly as grading does (secret offsets,
grader/judge/testdigits.py; ``CNN_GRADER_SECRET`` fixes them) after each epoch count in ``--epochs`` (one run
per design and seed: the first epochs of a longer run are the shorter run), and prints per budget: a Markdown
table (min-max over seeds), and each design's verdicts under the rules of grader/checks/check_robustness.py,
with the borderline re-measurement, and the false-fail and false-pass rates. ``--save`` keeps the raw
measurements (JSON) and ``--load`` re-applies the rules to them.
Paste the tables into docs/calibration.md.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from grader.checks import check_robustness as rules
from grader.data import load_split
from grader.fastgraph import training_form
from grader.judge.networks import example_batch
from grader.judge.testdigits import test_canvases
from grader.netgraph import GraphNet, export_network
from grader.quadrants import digits_to_canvas
from grader.trainer import THREADS, SideBySide, predict, train_classifier
from reference.quadrant import QuadrantNet, RobustQuadrantNet


class GlobalPoolNet(nn.Module):
    """Two convs (padding and conv1's bias configurable), global average or max pooling, the course's MLP head."""

    def __init__(self, padding: int, pool: str, c: int = 8, bias: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, c, 5, padding=padding, bias=bias)
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


class AugmentedFlatten(QuadrantNet):
    """The spec'd flatten network that, while training, moves each digit to a random corner inside forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            rolled = torch.stack([torch.roll(x, s, (2, 3)) for s in ((0, 0), (0, 28), (28, 0), (28, 28))])
            x = rolled[torch.randint(0, 4, (x.shape[0],)), torch.arange(x.shape[0])]
        return super().forward(x)


# (design, what it should do: "flatten" = the specified QuadrantNet, "robust" = a translation-invariant design,
#  "not invariant" = a design the robustness check must fail)
DESIGNS = {
    "QuadrantNet (flatten head, reference)": (QuadrantNet, "flatten"),
    "RobustQuadrantNet (padding 2, conv1 without bias, global max; reference)": (RobustQuadrantNet, "robust"),
    "global max, padding 2, conv1 with bias (the course's suggestion)": (lambda: GlobalPoolNet(2, "max"), "robust"),
    "global average, padding 2, conv1 without bias (invariant, slow)": (
        lambda: GlobalPoolNet(2, "avg", bias=False),
        "invariant",
    ),
    "wider: 16 channels, padding 2, global max": (lambda: GlobalPoolNet(2, "max", c=16, bias=False), "robust"),
    "flatten head + random corner inside forward (augmentation)": (AugmentedFlatten, "robust"),
    "global max, unpadded convs": (lambda: GlobalPoolNet(0, "max"), "partial"),
    "global average, unpadded convs (the course's first suggestion)": (
        lambda: GlobalPoolNet(0, "avg"),
        "not invariant",
    ),
}


def as_graded(model: nn.Module, kind: str, seed: int) -> GraphNet:
    """``model`` as the judge trains it: exported (H and W free unless it is the specified flatten network, as
    grader/judge/networks.py exports them), rebuilt, in its training form with its random numbers seeded."""
    exported = export_network(model, example_batch(), dynamic_size=kind != "flatten")
    return training_form(GraphNet.from_export(exported), seed)


def measure(split, seeds: list[int], epochs: list[int]) -> list[dict]:
    """Raw accuracies: one record per design, seed and epoch count. Trained as grading trains: two at a time
    on training threads of one thread each (grader/trainer.py's SideBySide), in the same order every run."""
    train_x = digits_to_canvas(split.train_digits, "top_left")
    train_y = torch.from_numpy(split.train_labels)

    def one(name: str, model: GraphNet, seed: int) -> list[dict]:
        tests = test_canvases(split.test_digits, seed)
        start = time.perf_counter()
        found = []

        def after(epoch: int) -> None:
            if epoch not in epochs:
                return
            tl, br = ((predict(model, tests[c], "cpu") == split.test_labels).mean() for c in tests)
            found.append(
                {"design": name, "seed": seed, "epochs": epoch, "top_left": float(tl), "bottom_right": float(br)}
            )
            print(
                f"{name[:58]:<58} seed {seed} epochs {epoch}: top-left {tl:.3f} bottom-right {br:.3f} "
                f"({time.perf_counter() - start:.1f} s)",
                flush=True,
            )
            model.train()

        budget = replace(rules.BUDGET, epochs=max(epochs), seed=seed)
        train_classifier(model, train_x, train_y, budget, "cpu", progress=after)
        return found

    pool = SideBySide(2)
    jobs = []
    for name, (make, kind) in DESIGNS.items():
        for seed in seeds:
            torch.manual_seed(seed)  # the initial weights (the worker builds a student's network with the seed)
            model = as_graded(make(), kind, seed)  # here: building and exporting use global state
            jobs.append(pool.submit(partial(one, name, model, seed)))
    try:
        return [record for job in jobs for record in pool.result(job)]
    finally:
        pool.close()


def report(records: list[dict]) -> None:
    """Per budget: the min-max table and the verdicts (with borderline re-measurement by the next two seeds)."""
    for epochs in sorted({r["epochs"] for r in records}):
        rows = [r for r in records if r["epochs"] == epochs]
        seeds = sorted({r["seed"] for r in rows})
        print(f"\n### {epochs} epochs (seeds {seeds[0]}-{seeds[-1]})\n")
        print("| design | top-left | bottom-right | bottom-right / top-left | verdicts over seeds |")
        print("|---|---|---|---|---|")
        wrong = {"false fail": 0, "false pass": 0, "decided": 0}
        for name, (_, kind) in DESIGNS.items():
            by_seed = {r["seed"]: (r["top_left"], r["bottom_right"]) for r in rows if r["design"] == name}
            tl = np.array([v[0] for v in by_seed.values()])
            br = np.array([v[1] for v in by_seed.values()])
            ratio = br / np.maximum(tl, 1e-9)
            verdicts = []
            for index in range(len(seeds)):  # the seed, then the next two (cyclically) for a borderline value
                runs = [by_seed[seeds[(index + k) % len(seeds)]] for k in range(1 + rules.EXTRA_SEEDS)]
                verdicts.append(rules.verdicts_from_runs(runs, kind))
            summary = ", ".join(f"{k} {sum(v[k] for v in verdicts)}/{len(verdicts)}" for k in verdicts[0])
            for v in verdicts:
                expected = rules.expected_verdicts(kind)
                for check, ok in v.items():
                    if check in expected:
                        wrong["decided"] += 1
                        if ok != expected[check]:
                            wrong["false fail" if expected[check] else "false pass"] += 1
            print(
                f"| {name} | {tl.min():.2f}-{tl.max():.2f} | {br.min():.2f}-{br.max():.2f} | "
                f"{ratio.min():.2f}-{ratio.max():.2f} | {summary} |"
            )
        print(
            f"\nfalse fails: {wrong['false fail']}, false passes: {wrong['false pass']} "
            f"of {wrong['decided']} verdicts with an expected outcome"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--epochs", type=int, nargs="+", default=[rules.BUDGET.epochs])
    parser.add_argument("--data-root")
    parser.add_argument("--save", type=Path)
    parser.add_argument("--load", type=Path)
    args = parser.parse_args()
    if args.load:
        records = json.loads(args.load.read_text())
    else:
        split = load_split(args.data_root)
        print(f"data: {split.source}; budget: {rules.BUDGET}; trainings: 2 at a time, {THREADS} thread each\n")
        records = measure(split, args.seeds, args.epochs)
        if args.save:
            args.save.write_text(json.dumps(records, indent=1))
    report(records)


if __name__ == "__main__":
    main()
