"""Time grading solutions/ on CPU, cold and warm, and show where the time goes.

    .venv/bin/python bench/grade_time.py [--runs 2]

Cold: an empty cache folder (MNIST is decompressed, the Grad-CAM quadrant model is trained, both networks
are trained). Warm: the same cache folder with `--no-cache` (data and reference models cached, the
student's networks trained again: what a new submission costs). Cached: the same submission again (its
trained-network accuracies come from the observation cache). Each run is a fresh `cnn-grader grade`
process, as an autograder would start it. Prints wall time per run, seconds per check group (from
results.json), and the ratios measured in this run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def grade_once(cache: Path, out: Path, *extra: str) -> tuple[float, dict]:
    env = {**os.environ, "CNN_GRADER_CACHE": str(cache), "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-m", "grader.cli", "grade", str(ROOT / "solutions"), "--out", str(out)]
    start = time.perf_counter()
    subprocess.run([*command, "--device", "cpu", *extra], check=True, env=env, capture_output=True)
    wall = time.perf_counter() - start
    return wall, json.loads((out / "results.json").read_text())


def startup_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, pytest, hypothesis, torchinfo"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2, help="warm runs after the cold one")
    args = parser.parse_args()
    if not os.environ.get("CNN_GRADER_DATA") and (ROOT.parent / "shared" / "data").is_dir():
        os.environ["CNN_GRADER_DATA"] = str(ROOT.parent / "shared" / "data")
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        plan = [("cold", ())] + [(f"warm {i + 1}", ("--no-cache",)) for i in range(args.runs)] + [("cached", ())]
        runs = []
        for index, (label, extra) in enumerate(plan):
            wall, results = grade_once(cache, Path(tmp) / f"out{index}", *extra)
            runs.append((label, wall, results))
            print(f"{label:<7} wall {wall:5.1f} s   score {results['score']:g}/{results['max_score']:g}")
    imports = startup_seconds()
    print(
        f"\nimport torch + pytest + hypothesis + torchinfo in a fresh process: {imports:.1f} s "
        "(paid by the judge and again by the worker, in parallel)"
    )
    for label, wall, results in (runs[0], runs[1], runs[-1]):
        groups: dict[str, float] = defaultdict(float)
        for test in results["tests"]:
            groups[test["name"].split("/")[0]] += test.get("extra_data", {}).get("seconds", 0.0)
        inside = sum(groups.values())
        parts = ", ".join(f"{g} {s:.1f} s" for g, s in groups.items())
        print(f"{label}: {parts}; outside checks (start-up, data, fixtures) {wall - inside:.1f} s")
    cold, warm, cached = runs[0][1], min(r[1] for r in runs[1:-1]), runs[-1][1]
    print(f"\nwarm / cold = {warm / cold:.2f} ({warm:.1f} s / {cold:.1f} s); cached / cold = {cached / cold:.2f}")


if __name__ == "__main__":
    main()
