"""The judge's training form (grader/fastgraph.py) and side-by-side trainings (grader/trainer.py).

The form must compute what the rebuilt network computes (up to the rounding of another memory layout) and
draw exactly the random numbers the global generator would; trainings run side by side must give exactly
what they give one at a time.
"""

from __future__ import annotations

import copy
import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from grader import netgraph
from grader.fastgraph import RANDOM_OPS, training_form
from grader.netgraph import GraphNet, export_network
from grader.trainer import Budget, SideBySide, TrainingStopped, train_classifier
from reference.quadrant import QuadrantNet, RobustQuadrantNet


class RandomNet(nn.Module):
    """Every random operation the judge runs, while training: noise, a shuffle, a mask, both dropouts."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.feature_dropout = nn.Dropout2d(0.2)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            x = x + 0.1 * torch.randn_like(x) + 0.01 * torch.rand(x.shape[0], 1, 1, 1) + 0.0 * torch.rand_like(x)
            x = x[torch.randperm(x.shape[0])] + 0.0 * torch.randn(1)
            x = x * torch.bernoulli(torch.ones_like(x), 0.9)
            x = x + 0.01 * torch.randint(0, 3, (1,)) + 0.01 * torch.randint(3, (1,))
        x = self.feature_dropout(F.relu(self.conv(x)))
        return self.head(self.dropout(x.amax((2, 3))))


def rebuilt(model: nn.Module, size: int = 12) -> GraphNet:
    return GraphNet.from_export(export_network(model, torch.zeros(2, 1, size, size), True))


def test_every_random_operation_has_a_seeded_form():
    random = {f"aten.{name}" for name, kind in netgraph._ATEN.items() if kind in ("Random", "Dropout")}
    assert set(RANDOM_OPS) == random - {"aten.arange.default", "aten.arange.start"}


def test_random_operations_draw_what_the_global_generator_would():
    torch.manual_seed(0)
    graph = rebuilt(RandomNet()).train()
    assert {c.op for c in graph.modes["train_graph"].calls} >= set(RANDOM_OPS)
    x = torch.rand(6, 1, 12, 12)
    for seed in (0, 5):
        torch.manual_seed(seed)
        expected = [graph(x), graph(x)]
        form = training_form(graph, seed).train()
        got = [form(x), form(x)]
        for a, b in zip(expected, got, strict=True):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
        torch.manual_seed(seed + 1)
        assert not torch.allclose(graph(x), expected[0]), "another seed draws other numbers"


@pytest.mark.parametrize("model", [QuadrantNet, RobustQuadrantNet])
def test_training_form_computes_what_the_graph_computes(model):
    torch.manual_seed(0)
    graph = rebuilt(model(), 56)
    form = training_form(graph)
    x, y = torch.rand(8, 1, 56, 56), torch.randint(10, (8,))
    torch.testing.assert_close(form.eval()(x), graph.eval()(x), rtol=1e-4, atol=1e-5)
    for net in (graph.train(), form.train()):
        F.cross_entropy(net(x), y).backward()
    for key, parameter in graph.weights.items():
        torch.testing.assert_close(form.weights[key].grad, parameter.grad, rtol=1e-3, atol=1e-5)


def _training(seed: int) -> tuple[GraphNet, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    net = training_form(rebuilt(RandomNet(), 16), seed)
    generator = torch.Generator().manual_seed(seed)
    return net, torch.rand(256, 1, 16, 16, generator=generator), torch.randint(10, (256,), generator=generator)


def _train(net, images, labels) -> list[float]:
    return train_classifier(net, images, labels, Budget(epochs=2, batch_size=32), "cpu")


def test_side_by_side_trainings_equal_one_at_a_time():
    jobs = [_training(seed) for seed in (0, 1, 2)]
    alone, together = SideBySide(1), SideBySide(2)
    nets = [copy.deepcopy(job[0]) for job in jobs]
    first = [alone.result(alone.submit(lambda job=job: _train(*job))) for job in jobs]
    futures = [
        together.submit(lambda net=net, job=job: _train(net, *job[1:])) for net, job in zip(nets, jobs, strict=True)
    ]
    second = [together.result(future) for future in futures]
    assert first == second
    for (a, *_), b in zip(jobs, nets, strict=True):
        for key in a.weights:
            assert torch.equal(a.weights[key], b.weights[key])


def test_side_by_side_restores_the_thread_count_and_stops_at_close():
    before = torch.get_num_threads()
    pool = SideBySide(2)
    net, images, labels = _training(0)
    many = images.repeat(200, 1, 1, 1), labels.repeat(200)
    future = pool.submit(
        lambda: train_classifier(net, *many, Budget(epochs=50, batch_size=32), "cpu", stop=pool.stopping)
    )
    time.sleep(0.2)
    started = time.monotonic()
    pool.close()
    assert time.monotonic() - started < 10, "a running training stops at its next batch"
    with pytest.raises(TrainingStopped):
        future.result()
    assert torch.get_num_threads() == before
