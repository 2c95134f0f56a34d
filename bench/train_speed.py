"""How fast the judge trains a student network, against this machine's own sgemm rate, measured in one run;
and what OpenMP's wait policy does to two trainings side by side (``cnn-grader batch -j 2``, the test suite).

    .venv/bin/python bench/train_speed.py [--images 4000]

The networks are the model answers' QuadrantNet and RobustQuadrantNet, trained as the robustness checks
train them: exported by torch.export, rebuilt from the graph (grader/netgraph.py), one epoch with the grader's
trainer (Adam, batch 64) on random canvases. Three forms of each: the eager module, the rebuilt graph as
exported, and the rebuilt graph's training form (grader/fastgraph.py: channels-last, max pool before ReLU),
which is what grading trains. Then what grading does: the two training forms side by side, each on a
training thread computing on one thread (grader/trainer.py's SideBySide), their FLOPs together over the
wall time. FLOPs are counted by ``torch.utils.flop_counter`` on one batch, forward and backward; rates are
divided by the sgemm rate (2048 x 2048 float32 products, all threads) measured in the same run; the side by
side rate by the best of three sgemm measurements (at the start, just before and just after it).
"""

from __future__ import annotations

import argparse
import copy
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


def forms(net_name: str) -> dict:
    """The eager module, the rebuilt graph as exported and its training form (all with the same weights)."""
    import torch

    sys.path.insert(0, str(ROOT / "solutions"))
    import quadrant

    from grader.fastgraph import training_form
    from grader.netexport import export_network
    from grader.netgraph import GraphNet

    torch.manual_seed(0)
    eager = getattr(quadrant, net_name)()
    graph = GraphNet.from_export(export_network(eager, torch.zeros(2, 1, 56, 56), net_name.startswith("Robust")))
    return {"eager module": eager, "rebuilt graph": graph, "training form": training_form(graph)}


def epoch_flops(model, images: int) -> float:
    """FLOPs of one epoch of ``images`` canvases (forward and backward of each batch)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from grader.trainer import Budget

    batch = Budget().batch_size
    probe = copy.deepcopy(model).train()
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(probe(torch.rand(batch, 1, 56, 56)), torch.randint(10, (batch,))).backward()
    return counter.get_total_flops() * images / batch


def _epoch(model, images: int) -> tuple[float, float]:
    """When one epoch of ``images`` random canvases with the grader's trainer started and ended (after one
    warm-up batch), in ``time.perf_counter()`` seconds."""
    import torch

    from grader.trainer import Budget, train_classifier

    generator = torch.Generator().manual_seed(0)
    x, y = torch.rand(images, 1, 56, 56, generator=generator), torch.randint(10, (images,), generator=generator)
    budget = Budget(epochs=1)
    train_classifier(copy.deepcopy(model), x[: budget.batch_size], y[: budget.batch_size], budget, "cpu")
    start = time.perf_counter()
    train_classifier(model, x, y, budget, "cpu")
    return start, time.perf_counter()


def training_rate(model, images: int) -> float:
    """GFLOP/s of one epoch of ``images`` random canvases, alone, on the process's threads."""
    start, end = _epoch(model, images)
    return epoch_flops(model, images) / (end - start) / 1e9


def side_by_side_rate(models: list, images: int) -> tuple[float, float]:
    """GFLOP/s of ``models`` trained side by side as grading trains them, and the wall time."""
    from grader.trainer import SideBySide

    flops = sum(epoch_flops(m, images) for m in models)
    pool = SideBySide(len(models))
    spans = [pool.result(future) for future in [pool.submit(lambda m=m: _epoch(m, images)) for m in models]]
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return flops / wall / 1e9, wall


def side_by_side(policy: str) -> list[float]:
    code = CHILD.format(root=str(ROOT), solutions=str(ROOT / "solutions"))
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env) for _ in "ab"]
    return [float(p.communicate()[0]) for p in procs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=4000, help="canvases per measured epoch")
    parser.add_argument("--no-side-by-side", action="store_true", help="skip the OpenMP wait-policy comparison")
    args = parser.parse_args()
    import torch

    policy = os.environ.get("OMP_WAIT_POLICY")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY={policy}")
    sgemm = sgemm_rate()
    print(f"sgemm: {sgemm:.1f} GFLOP/s")
    for name in ("QuadrantNet", "RobustQuadrantNet"):
        for form, model in forms(name).items():
            rate = training_rate(model, args.images)
            print(f"training {name}, {form}: {rate:.1f} GFLOP/s = {rate / sgemm:.2f} x sgemm")
    pair = [forms(name)["training form"] for name in ("QuadrantNet", "RobustQuadrantNet")]
    # this machine's sgemm rate moves by up to 1.3x within minutes: the ratio is taken to the run's best
    before = sgemm_rate()
    rate, wall = side_by_side_rate(pair, args.images)
    after = sgemm_rate()
    best = max(sgemm, before, after)
    print(
        f"training both training forms side by side, one thread each (as grading does): {rate:.1f} GFLOP/s "
        f"= {rate / best:.2f} x the run's best sgemm ({wall:.2f} s; sgemm just before and after: {before:.1f}, "
        f"{after:.1f} GFLOP/s)"
    )
    if not args.no_side_by_side:
        for policy in ("ACTIVE", "PASSIVE"):
            walls = side_by_side(policy)
            print(f"two trainings at once, OMP_WAIT_POLICY={policy}: " + ", ".join(f"{w:.1f} s" for w in walls))


if __name__ == "__main__":
    main()
