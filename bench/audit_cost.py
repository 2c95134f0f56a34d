"""What the worker's audit hook (grader/worker/audit.py) costs the student code it watches.

    .venv/bin/python bench/audit_cost.py [--runs 5]

Times the solution's train_one_epoch and grad_cam (the calls a grading makes most) in one process, first
without the hook, then with it (a hook cannot be removed), and prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "solutions"))

import gradcam  # noqa: E402
import quadrant  # noqa: E402
import training  # noqa: E402

from grader.worker import audit  # noqa: E402


def workload() -> float:
    torch.manual_seed(0)
    model = quadrant.QuadrantNet()
    data = TensorDataset(torch.rand(512, 1, 56, 56), torch.randint(0, 10, (512,)))
    loader = DataLoader(data, batch_size=64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    training.train_one_epoch(model, loader, optimizer, nn.CrossEntropyLoss())
    for _ in range(20):
        gradcam.grad_cam(model, torch.rand(8, 1, 56, 56), model.features[3])
    return time.perf_counter() - start


def median(runs: int) -> float:
    workload()  # warm-up
    return statistics.median(workload() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    without = median(args.runs)
    read_end, write_end = os.pipe()
    os.environ[audit.ENV_FD] = str(write_end)
    audit.install()
    with_hook = median(args.runs)
    os.close(read_end)
    print(f"train_one_epoch (512 digits) + 20 grad_cam calls, median of {args.runs}, one thread")
    print(f"  without the audit hook  {without:.3f} s")
    print(f"  with the audit hook     {with_hook:.3f} s")
    print(f"  ratio                   {with_hook / without:.3f}x")


if __name__ == "__main__":
    main()
