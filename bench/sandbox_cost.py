"""What the bubblewrap sandbox adds to a grading: worker start-up with and without it.

    .venv/bin/python bench/sandbox_cost.py [--runs 5]

Each run starts a fresh worker on solutions/ and waits for its first answer (the worker imports torch,
then the submission). Prints the median per mode and the ratio measured in this run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from grader.judge.sandbox import bwrap_works
from grader.judge.session import GradeOptions, GradingSession

ROOT = Path(__file__).resolve().parents[1]


def start_once(mode: str) -> float:
    session = GradingSession(ROOT / "solutions", GradeOptions(sandbox=mode))
    try:
        start = time.perf_counter()
        session.start()
        session.require("shapes.conv_output_size")
        return time.perf_counter() - start
    finally:
        session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    modes = ["none", "bwrap"] if bwrap_works() else ["none"]
    medians = {}
    for mode in modes:
        start_once(mode)  # warm the page cache
        times = [start_once(mode) for _ in range(args.runs)]
        medians[mode] = statistics.median(times)
        print(f"{mode:<6} worker ready in {medians[mode]:.2f} s (median of {args.runs}; min {min(times):.2f} s)")
    if "bwrap" in medians:
        added = medians["bwrap"] - medians["none"]
        print(f"bubblewrap adds {added * 1000:.0f} ms per worker start ({medians['bwrap'] / medians['none']:.2f}x)")
    else:
        print("bubblewrap is not available here")


if __name__ == "__main__":
    main()
