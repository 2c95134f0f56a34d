"""How fast the judge trains a student network, against this machine's own sgemm rate, and what OpenMP's
wait policy does to two trainings side by side (``cnn-grader batch -j 2``, the test suite's two processes).

    .venv/bin/python bench/train_speed.py

Prints the sgemm rate (2048 x 2048 float32 matrix products), the training rate of the reference
RobustQuadrantNet and QuadrantNet over one epoch of 4,000 canvases (FLOPs counted by
``torch.utils.flop_counter`` on one batch, forward and backward), their ratio, and the wall time of two
such trainings run at once with ``OMP_WAIT_POLICY`` ACTIVE and PASSIVE (grader/__init__.py sets PASSIVE).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {solutions!r})
import torch
from quadrant import RobustQuadrantNet
from grader.trainer import Budget, train_classifier
torch.manual_seed(0)
x, y = torch.rand(4000, 1, 56, 56), torch.randint(10, (4000,))
start = time.perf_counter()
train_classifier(RobustQuadrantNet(), x, y, Budget(epochs=1), "cpu")
print(time.perf_counter() - start)
"""


def sgemm_rate(n: int = 2048, repeats: int = 10) -> float:
    import torch

    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def training_rate(net_name: str, n: int = 4000) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    sys.path.insert(0, str(ROOT / "solutions"))
    import quadrant

    from grader.trainer import Budget, train_classifier

    torch.manual_seed(0)
    net = getattr(quadrant, net_name)()
    x, y = torch.rand(n, 1, 56, 56), torch.randint(10, (n,))
    budget = Budget(epochs=1)
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(net(x[: budget.batch_size]), y[: budget.batch_size]).backward()
    flops = counter.get_total_flops() * n / budget.batch_size
    start = time.perf_counter()
    train_classifier(net, x, y, budget, "cpu")
    return flops / (time.perf_counter() - start) / 1e9


def side_by_side(policy: str) -> list[float]:
    code = CHILD.format(root=str(ROOT), solutions=str(ROOT / "solutions"))
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env) for _ in "ab"]
    return [float(p.communicate()[0]) for p in procs]


def main() -> None:
    import torch

    policy = os.environ.get("OMP_WAIT_POLICY")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY={policy}")
    sgemm = sgemm_rate()
    print(f"sgemm: {sgemm:.1f} GFLOP/s")
    for name in ("RobustQuadrantNet", "QuadrantNet"):
        rate = training_rate(name)
        print(f"training {name}: {rate:.1f} GFLOP/s = {rate / sgemm:.2f} x sgemm")
    for policy in ("ACTIVE", "PASSIVE"):
        walls = side_by_side(policy)
        print(f"two trainings at once, OMP_WAIT_POLICY={policy}: " + ", ".join(f"{w:.1f} s" for w in walls))


if __name__ == "__main__":
    main()
