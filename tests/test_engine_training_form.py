"""The judge's training form (grader/fastgraph.py), its initial weights (grader/netinit.py) and side-by-side
trainings (grader/trainer.py).

The form must compute what the rebuilt network computes (up to the rounding of another memory layout) and draw
exactly the random numbers the module draws after ``torch.manual_seed`` with the same seed; the judge's initial
weights keep each tensor's scale and family and nothing else; trainings run side by side must give exactly what
they give one at a time.
"""

from __future__ import annotations

import copy
import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from grader import netinit, netops
from grader.fastgraph import training_form
from grader.netexport import export_network
from grader.netgraph import GraphNet
from grader.trainer import Budget, SideBySide, TrainingStopped, train_classifier
from reference.quadrant import QuadrantNet, RobustQuadrantNet

pytestmark = pytest.mark.usefixtures("engine_course")  # the engine's own course


class RandomNet(nn.Module):
    """Every random operation the judge runs, while training: noise, a shuffle, masks, both dropouts."""

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
            x = x * torch.bernoulli(torch.ones_like(x), 0.9) * torch.bernoulli(torch.full_like(x, 0.95))
            x = x + 0.01 * torch.randint(0, 3, (1,)) + 0.01 * torch.randint(3, (1,))
            x = x + 0.01 * torch.normal(torch.zeros_like(x), 1.0) + 0.01 * torch.normal(0.0, torch.ones_like(x))
            x = x + 0.01 * torch.normal(torch.zeros_like(x), torch.ones_like(x))
        x = self.feature_dropout(F.relu(self.conv(x)))
        return self.head(self.dropout(x.amax((2, 3))))


def rebuilt(model: nn.Module, size: int = 12) -> GraphNet:
    return GraphNet.from_export(export_network(model, torch.zeros(2, 1, size, size), True))


def test_only_seeded_random_operations_are_allowed():
    """A Core ATen operation that draws random numbers runs only through a form that takes a generator."""
    for name, op in netops.ALLOWED.items():
        if isinstance(op, torch._ops.OpOverload):
            assert torch.Tag.nondeterministic_seeded not in op.tags, name
    for name in netops.RANDOM:
        packet, overload = name.split(".")
        assert torch.Tag.nondeterministic_seeded in getattr(getattr(torch.ops.aten, packet), overload).tags, name


def test_random_operations_draw_what_the_module_draws():
    torch.manual_seed(0)
    module = RandomNet().train()
    graph = rebuilt(module).train()
    used = {c.op.removeprefix("aten.") for g in graph.graphs.values() for c in g.calls}
    assert set(netops.RANDOM) - used <= {"bernoulli.default"}, "the test model uses every random operation"
    x = torch.rand(6, 1, 12, 12)
    for seed in (0, 5):
        torch.manual_seed(seed)
        expected = [module(x), module(x)]
        form = training_form(graph, seed).train()
        got = [form(x), form(x)]
        for a, b in zip(expected, got, strict=True):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(training_form(graph, seed + 1).train()(x), expected[0]), "another seed, other draws"


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


@pytest.mark.parametrize(
    "init",
    [
        lambda t: nn.init.kaiming_uniform_(t, a=5**0.5),  # PyTorch's default for conv and linear weights
        lambda t: nn.init.kaiming_normal_(t),
        lambda t: nn.init.trunc_normal_(t, std=0.02),
        lambda t: nn.init.uniform_(t, 0.5, 1.5),
        lambda t: nn.init.constant_(t, 0.1),
    ],
    ids=["kaiming_uniform", "kaiming_normal", "trunc_normal", "uniform_shifted", "constant"],
)
def test_the_judges_initial_weights_keep_scale_and_family_and_nothing_else(init):
    torch.manual_seed(0)
    student = init(torch.empty(64, 32, 3, 3))
    drawn = netinit.redraw(student, torch.Generator().manual_seed(1))
    assert drawn.shape == student.shape and drawn.dtype == student.dtype
    torch.testing.assert_close(drawn.mean(), student.mean(), atol=0.01 * float(student.std()) + 1e-6, rtol=0.01)
    torch.testing.assert_close(drawn.std(), student.std(), rtol=0.02, atol=1e-7)
    if not torch.all(student == student.flatten()[0]):
        assert not torch.equal(drawn, student)
        assert abs(float(torch.corrcoef(torch.stack([drawn.flatten(), student.flatten()]))[0, 1])) < 0.05
        bounded = lambda t: float((t - t.mean()).abs().max() / t.std())  # noqa: E731 - about 1.73 for a uniform
        assert (bounded(drawn) < 1.8) == (bounded(student) < 1.8), "a uniform stays uniform, a normal normal"
    else:
        assert torch.equal(drawn, student), "a constant stays that constant"


def test_pretrained_weights_do_not_reach_the_judged_training():
    """What a network's weights hold beyond each tensor's mean and spread does not reach the judged training: a
    network and the same network with every tensor's values shuffled start from the same weights."""
    torch.manual_seed(0)
    trained = RobustQuadrantNet()
    with torch.no_grad():
        for p in trained.parameters():
            p.mul_(3.0).add_(0.1 * torch.randn_like(p))  # "pretrained": values of their own
    shuffled = copy.deepcopy(trained)
    with torch.no_grad():
        for p in shuffled.parameters():
            p.copy_(p.flatten()[torch.randperm(p.numel())].view_as(p))
    first, second = (training_form(rebuilt(m, 56), seed=7, initialise=True) for m in (trained, shuffled))
    for key in first.weights:
        torch.testing.assert_close(first.weights[key], second.weights[key], rtol=1e-4, atol=1e-6)
    for key, p in first.weights.items():
        assert not torch.allclose(p.flatten(), rebuilt(trained, 56).weights[key].flatten()), key
