"""Calibrate the robustness checks: train designs that should pass and fail, over seeds, budgets and both splits.

    CNN_GRADER_SECRET=calibration .venv/bin/python bench/calibrate_quadrant.py --seeds 0-19 \\
        [--images 12800 16000 19200] [--split full|test-only] [--data-root DIR] [--dataset KEY[=RAW_FOLDER]]
        [--save FILE] [--load FILE ...]

Trains each design exactly as grading trains a student's network: exported by the worker's code
(grader/netexport.py), rebuilt by the judge's (grader/netgraph.py), in the training form from the judge's own
initial weights (grader/fastgraph.py, grader/netinit.py), with the grader's trainer and the checks' learning rate
and batch size, on the measurement's training digits; tested on its secret sample in both corners
(course/robustness/testdigits.py; ``CNN_GRADER_SECRET`` fixes the samples). One run per design and seed measures every
budget of ``--images`` (the first images of a longer run are the shorter run). ``--split test-only`` builds a
data root with the two test files only (the fallback). Prints per split and budget a Markdown table (min-max
over seeds) and each design's verdicts under the rules of course/robustness/check_robustness.py (a borderline value
re-measured with the next two seeds), with the false fails and false passes. ``--save`` keeps the raw
measurements (JSON), ``--load`` applies the rules again to saved ones (several files: one table).
Paste the tables into docs/calibration.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course.robustness import check_robustness as rules  # noqa: E402
from course.robustness.testdigits import measured  # noqa: E402
from grader import coursepkg  # noqa: E402
from grader.data import DataSet, load_pools, resolve_data_root  # noqa: E402
from grader.fastgraph import training_form  # noqa: E402
from grader.netexport import export_network, probe  # noqa: E402
from grader.netgraph import GraphNet  # noqa: E402
from grader.quadrants import digits_to_canvas  # noqa: E402
from grader.trainer import THREADS, SideBySide, predict, train_classifier  # noqa: E402
from reference.quadrant import QuadrantNet, RobustQuadrantNet  # noqa: E402


class GlobalPoolNet(nn.Module):
    """Two convs (padding, conv1's bias and batch norm configurable), global average or max pooling, the course's
    MLP head."""

    def __init__(self, padding: int, pool: str, c: int = 8, bias: bool = True, norm: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, c, 5, padding=padding, bias=bias)
        self.conv2 = nn.Conv2d(c, 2 * c, 5, padding=padding)
        self.norm1 = nn.BatchNorm2d(c) if norm else nn.Identity()
        self.norm2 = nn.BatchNorm2d(2 * c) if norm else nn.Identity()
        self.head = nn.Sequential(
            nn.Linear(2 * c, 4 * c), nn.ReLU(), nn.Linear(4 * c, 2 * c), nn.ReLU(), nn.Linear(2 * c, 10)
        )
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.norm1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.norm2(self.conv2(x))), 2)
        x = x.amax((2, 3)) if self.pool == "max" else x.mean((2, 3))
        return self.head(x)


class AugmentedFlatten(QuadrantNet):
    """The spec'd flatten network that, while training, moves each digit to a random corner inside forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            rolled = torch.stack([torch.roll(x, s, (2, 3)) for s in ((0, 0), (0, 28), (28, 0), (28, 28))])
            x = rolled[torch.randint(0, 4, (x.shape[0],)), torch.arange(x.shape[0])]
        return super().forward(x)


def _solutions_robust() -> nn.Module:
    """The model answers' RobustQuadrantNet (solutions/quadrant.py), as a student hands it in."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("solutions_quadrant", ROOT / "solutions" / "quadrant.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RobustQuadrantNet()


# (design, what it should do: "flatten" = the specified QuadrantNet, "robust" = a translation-invariant design
#  that learns, "invariant" = invariant but slow, "not invariant" = a design the invariance check must fail,
#  "partial" = no expected verdict)
DESIGNS = {
    "QuadrantNet (flatten head, reference)": (QuadrantNet, "flatten"),
    "RobustQuadrantNet (padding 2, conv1 without bias, global max; reference)": (RobustQuadrantNet, "robust"),
    "the model answers' RobustQuadrantNet (solutions/quadrant.py)": (_solutions_robust, "robust"),
    "global max, padding 2, conv1 with bias (the course's suggestion)": (lambda: GlobalPoolNet(2, "max"), "robust"),
    "global max, padding 2, batch norm after each conv": (lambda: GlobalPoolNet(2, "max", norm=True), "robust"),
    "wider: 16 channels, padding 2, global max": (lambda: GlobalPoolNet(2, "max", c=16, bias=False), "robust"),
    "flatten head + random corner inside forward (augmentation)": (AugmentedFlatten, "robust"),
    "global average, padding 2, conv1 without bias (invariant, slow)": (
        lambda: GlobalPoolNet(2, "avg", bias=False),
        "invariant",
    ),
    "global max, unpadded convs": (lambda: GlobalPoolNet(0, "max"), "partial"),
    "global average, unpadded convs (the course's first suggestion)": (
        lambda: GlobalPoolNet(0, "avg"),
        "not invariant",
    ),
}


def as_graded(model: nn.Module, kind: str, seed: int, batch: int) -> GraphNet:
    """``model`` as the judge trains it: exported (H and W free unless it is the specified flatten network),
    rebuilt, in its training form from the judge's initial weights drawn with ``seed``."""
    dynamic = kind != "flatten"
    shapes = [(2, 56), (2, 84), (2, 70), (batch, 56)] if dynamic else [(2, 56), (batch, 56)]
    exported = export_network(model, probe(56), dynamic, shapes)
    return training_form(GraphNet.from_export(exported), seed, initialise=True)


def test_only_root(data_root: str | None, dataset: DataSet) -> str:
    """A temporary data root holding the data set's two test files only (the grader's fallback)."""
    raw = dataset.raw_dir(resolve_data_root(data_root))
    target = Path(tempfile.mkdtemp(prefix="test-only-")) / dataset.folder / "raw"
    target.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        for candidate in (raw / name, raw / f"{name}.gz"):
            if candidate.exists():
                shutil.copyfile(candidate, target / candidate.name)
    return str(target.parents[1])


def measure(pools, split: str, seeds: list[int], budgets: list[int]) -> list[dict]:
    """Raw measurements: one record per design, seed and budget. Trained as grading trains: two at a time on
    training threads of one thread each (grader/trainer.py's SideBySide). Every network is exported and rebuilt
    before the first training starts (torch.export must not run beside a training)."""
    settings = rules.DEFAULT
    built = []
    for name, (make, kind) in DESIGNS.items():
        for seed in seeds:
            torch.manual_seed(seed)  # the student's initial weights (the judge redraws them)
            built.append((name, seed, as_graded(make(), kind, seed, settings.batch_size)))

    def one(name: str, seed: int, model: GraphNet) -> list[dict]:
        digits = measured(pools, seed)
        train_x, train_y = torch.from_numpy(digits.train_digits), torch.from_numpy(digits.train_labels)
        test_x = torch.from_numpy(digits.test_digits)
        start = time.perf_counter()
        found = []

        def after(seen: int) -> None:
            if seen not in budgets:
                return
            tl, br = (
                predict(model, test_x, "cpu", settings.batch_size, prepare=partial(digits_to_canvas, corner=c))
                for c in rules.CORNERS
            )
            scores = {
                "top_left": float((tl == digits.test_labels).mean()),
                "bottom_right": float((br == digits.test_labels).mean()),
                "agreement": float((tl == br).mean()),
            }
            found.append({"design": name, "split": split, "seed": seed, "images": seen, **scores})
            print(
                f"{split:9} {name[:56]:<56} seed {seed:2} images {seen:6}: top-left {scores['top_left']:.3f} "
                f"bottom-right {scores['bottom_right']:.3f} agreement {scores['agreement']:.3f} "
                f"({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
            model.train()

        budget = replace(rules.budget_of(settings, seed), images=max(budgets))
        prepare = partial(digits_to_canvas, corner="top_left")
        train_classifier(model, train_x, train_y, budget, "cpu", progress=after, prepare=prepare)
        return found

    pool = SideBySide(2)
    jobs = [pool.submit(partial(one, name, seed, model)) for name, seed, model in built]
    try:
        return [record for job in jobs for record in pool.result(job)]
    finally:
        pool.close()


def _errors(rows: list[dict], settings) -> tuple[list[str], list[str], int]:
    """False fails, false passes and the number of expected verdicts under ``settings`` (a value that misses its
    threshold or lies within the margin re-measured with the next two seeds, cyclically)."""
    fails, passes, decided = [], [], 0
    seeds = sorted({r["seed"] for r in rows})
    for name, (_, kind) in DESIGNS.items():
        by_seed = {
            r["seed"]: rules.Run(r["top_left"], r["bottom_right"], r["agreement"]) for r in rows if r["design"] == name
        }
        ordered = [(s, by_seed[s]) for s in seeds if s in by_seed]
        expected = rules.expected_verdicts(kind)
        for index, (seed, _) in enumerate(ordered):
            runs = [ordered[(index + k) % len(ordered)][1] for k in range(1 + settings.extra_seeds)]
            for check, ok in rules.verdicts_from_runs(runs, kind, settings).items():
                if check in expected:
                    decided += 1
                    if ok != expected[check]:
                        (fails if expected[check] else passes).append(f"{name[:40]} seed {seed} {check}")
    return fails, passes, decided


def report(records: list[dict], settings=rules.DEFAULT) -> None:
    """Per split and budget: the min-max table and the verdicts under ``settings`` (a value that misses its
    threshold, or lies within the margin, re-measured with the next two seeds, cyclically), and whether they still
    hold with every threshold moved by the margin."""
    for split in sorted({r["split"] for r in records}):
        for images in sorted({r["images"] for r in records if r["split"] == split}):
            rows = [r for r in records if r["split"] == split and r["images"] == images]
            seeds = sorted({r["seed"] for r in rows})
            print(f"\n### {split}: {images:,} training images (seeds {seeds[0]}-{seeds[-1]})\n")
            print("| design | top-left | bottom-right | answered alike | verdicts over seeds |")
            print("|---|---|---|---|---|")
            wrong = {"false fail": [], "false pass": [], "decided": 0}
            for name, (_, kind) in DESIGNS.items():
                by_seed = {
                    r["seed"]: rules.Run(r["top_left"], r["bottom_right"], r["agreement"])
                    for r in rows
                    if r["design"] == name
                }
                if not by_seed:
                    continue
                ordered = [by_seed[s] for s in seeds if s in by_seed]
                verdicts = []
                for index in range(len(ordered)):
                    runs = [ordered[(index + k) % len(ordered)] for k in range(1 + settings.extra_seeds)]
                    verdicts.append(rules.verdicts_from_runs(runs, kind, settings))
                summary = ", ".join(
                    f"{k.split('_', 2)[-1].replace('_', ' ')} {sum(v[k] for v in verdicts)}/{len(verdicts)}"
                    for k in verdicts[0]
                )
                expected = rules.expected_verdicts(kind)
                for seed, v in zip(sorted(by_seed), verdicts, strict=True):
                    for check, ok in v.items():
                        if check in expected:
                            wrong["decided"] += 1
                            if ok != expected[check]:
                                wrong["false fail" if expected[check] else "false pass"].append(
                                    f"{name[:40]} seed {seed} {check}"
                                )
                tl = np.array([r.top_left for r in ordered])
                br = np.array([r.bottom_right for r in ordered])
                ag = np.array([r.agreement for r in ordered])
                print(
                    f"| {name} | {tl.min():.2f}-{tl.max():.2f} | {br.min():.2f}-{br.max():.2f} | "
                    f"{ag.min():.3f}-{ag.max():.3f} | {summary} |"
                )
            fails, passes = wrong["false fail"], wrong["false pass"]
            print(
                f"\nfalse fails: {len(fails)}, false passes: {len(passes)} of {wrong['decided']} verdicts with an "
                "expected outcome"
            )
            for line in fails + passes:
                print(f"  {line}")
            base, margin = settings, settings.margin
            moved = [
                replace(base, learns_top_left=base.learns_top_left + a, keeps_fraction=base.keeps_fraction + b)
                for a in (-margin, 0, margin)
                for b in (-margin, 0, margin)
            ]
            worst = max((_errors(rows, m) for m in moved), key=lambda e: len(e[0]) + len(e[1]))
            print(
                f"with the learning and invariance thresholds moved by up to {margin:g}: at worst "
                f"{len(worst[0])} false fails and {len(worst[1])} false passes"
            )


def _seeds(text: list[str]) -> list[int]:
    found = []
    for part in text:
        low, _, high = part.partition("-")
        found += list(range(int(low), int(high) + 1)) if high else [int(low)]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", default=["0-19"], help="seeds or ranges (0-19)")
    parser.add_argument("--images", type=int, nargs="+", default=[rules.BUDGET.images])
    parser.add_argument("--split", choices=("full", "test-only"), default="full")
    parser.add_argument("--designs", help="only the designs whose name contains one of these (a|b|c)")
    parser.add_argument("--data-root")
    parser.add_argument(
        "--dataset",
        default=coursepkg.current().default_dataset,
        help="KEY or KEY=RAW_FOLDER: one of the course's data sets (its calibrated settings decide the verdicts)",
    )
    parser.add_argument("--save", type=Path)
    parser.add_argument("--load", type=Path, nargs="+")
    args = parser.parse_args()
    key, _, raw = args.dataset.partition("=")
    course = coursepkg.current()
    dataset = replace(course.datasets[key], raw=raw) if raw else course.datasets[key]
    settings = rules.Robustness(**course.settings_for(key)["robustness"])
    if args.load:
        records = [record for path in args.load for record in json.loads(path.read_text())]
    else:
        if args.designs:
            for name in [n for n in DESIGNS if not any(part in n for part in args.designs.split("|"))]:
                del DESIGNS[name]
        root = args.data_root
        if args.split == "test-only":  # the test files copied into a root of their own, read from there
            root, dataset = test_only_root(args.data_root, dataset), replace(dataset, raw=None)
        pools = load_pools(root, download=False, dataset=dataset)
        print(f"data: {pools.source}; budgets {args.images}; trainings: 2 at a time, {THREADS} thread each\n")
        records = measure(pools, args.split, _seeds(args.seeds), sorted(args.images))
        if args.save:
            args.save.write_text(json.dumps(records, indent=1))
    print(f"verdicts under the course's settings on {dataset.name}: {settings}")
    report(records, settings)


if __name__ == "__main__":
    main()
