"""Honest submissions at many seeds, on both splits: every point kept, or the table says where not.

    CNN_GRADER_DATA=../shared/data .venv/bin/python bench/honest_seeds.py [--seeds 0-9] [--splits full test-only]
        [--submissions solutions tests/similarity_class/ana ...] [-k EXPR]

Grades each submission with ``cnn-grader grade --seed N`` (a fresh judge each time, as an autograder runs it) on the
full MNIST (``$CNN_GRADER_DATA``) and on a data root holding the two test files only, and prints a Markdown table:
one row per submission and split, the score at each seed, and the checks lost. A correct submission written
independently (tests/similarity_class/) must keep every point at every seed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from calibrate_quadrant import _seeds, test_only_root  # noqa: E402

DEFAULT = ["solutions", *(f"tests/similarity_class/{n}" for n in ("ana", "ben", "chloe", "dmitri", "emma"))]


def grade(submission: Path, seed: int, data_root: str, k: str | None) -> tuple[float, float, list[str], float]:
    with tempfile.TemporaryDirectory() as out:
        command = [str(Path(sys.executable).with_name("cnn-grader")), "grade", str(submission), "--out", out]
        command += ["--seed", str(seed), "--data-root", data_root] + (["-k", k] if k else [])
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        seconds = time.perf_counter() - started
        results = Path(out) / "results.json"
        if done.returncode != 0 or not results.exists():
            return 0.0, 0.0, [f"exit {done.returncode}: {done.stderr[-300:]}"], seconds
        report = json.loads(results.read_text())
        lost = [t["name"] for t in report["tests"] if t["status"] != "passed"]
        return report["score"], report["max_score"], lost, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", default=["0-9"])
    parser.add_argument("--splits", nargs="+", default=["full", "test-only"], choices=("full", "test-only"))
    parser.add_argument("--submissions", nargs="+", default=DEFAULT)
    parser.add_argument("-k", help="only these checks (a pytest -k expression)")
    args = parser.parse_args()
    full_root = os.environ.get("CNN_GRADER_DATA") or str(ROOT.parent / "shared" / "data")
    roots = {"full": full_root, "test-only": test_only_root(full_root)}
    seeds = _seeds(args.seeds)
    print(f"| submission | split | {' | '.join(f'seed {s}' for s in seeds)} | checks lost |")
    print(f"|---|---|{'---|' * len(seeds)}---|")
    for name in args.submissions:
        for split in args.splits:
            scores, lost = [], {}
            for seed in seeds:
                score, maximum, failed, seconds = grade(ROOT / name, seed, roots[split], args.k)
                scores.append(f"{score:g}/{maximum:g}")
                for check in failed:
                    lost.setdefault(check, []).append(seed)
                print(f"  {name} {split} seed {seed}: {score:g}/{maximum:g} in {seconds:.0f} s", file=sys.stderr)
            named = [f"{c} ({'every seed' if len(s) == len(seeds) else 'seeds ' + ', '.join(map(str, s))})"
                     for c, s in sorted(lost.items())]  # fmt: skip
            print(f"| {name} | {split} | {' | '.join(scores)} | {', '.join(named) or 'none'} |", flush=True)


if __name__ == "__main__":
    main()
