"""Everyday PyTorch is judged as written (tests/idioms.py): each network exported as the worker exports it and
rebuilt as the judge rebuilds it computes what the module computes at every shape a check runs it at, or is
refused with a message that names the construct, the line and what to write instead."""

from __future__ import annotations

import pytest
import torch
from idioms import IDIOMS, Idiom

from course.quadrant.networks import OTHER_SIZES
from grader.netexport import NetworkRefused, export_network, probe
from grader.netgraph import MAX_FIXED, GraphNet

pytestmark = pytest.mark.usefixtures("engine_course")  # the engine's own course

BATCH = 64  # the training's batch (grader/course.py)


def shapes(idiom: Idiom) -> list[tuple[int, int]]:
    sizes = (56, *OTHER_SIZES) if idiom.sized else (56,)
    return [(2, side) for side in sizes] + [(BATCH, 56)]


def judged(idiom: Idiom) -> tuple[torch.nn.Module, GraphNet]:
    torch.manual_seed(0)
    module = idiom.build()
    return module, GraphNet.from_export(export_network(module, probe(56), idiom.sized, shapes(idiom)))


def test_the_corpus_is_large_and_names_are_unique() -> None:
    assert len(IDIOMS) >= 60
    assert len({idiom.name for idiom in IDIOMS}) == len(IDIOMS)


@pytest.mark.parametrize("idiom", [i for i in IDIOMS if i.refused is None], ids=lambda i: i.name)
def test_an_everyday_network_is_judged_as_written(idiom: Idiom) -> None:
    module, net = judged(idiom)
    assert net.fixed_values() <= MAX_FIXED
    for batch, side in shapes(idiom):
        x = torch.rand(batch, 1, side, side, generator=torch.Generator().manual_seed(batch + side))
        with torch.no_grad():
            expected, got = module.eval()(x), net.eval()(x)
        torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-4, msg=f"{idiom.name} at {batch}x{side}")
    train = net.train()(probe(56, BATCH))
    assert train.shape == (BATCH, 10) and torch.isfinite(train).all()


@pytest.mark.parametrize("idiom", [i for i in IDIOMS if i.refused is not None], ids=lambda i: i.name)
def test_a_network_the_grader_cannot_judge_is_refused_with_its_line_and_a_fix(idiom: Idiom) -> None:
    with pytest.raises(NetworkRefused) as refused:
        judged(idiom)
    message = str(refused.value)
    assert idiom.refused in message, message
    assert "idioms.py:" in message or "changes" in message, f"names the line: {message}"
    assert any(word in message for word in ("write", "use ", "keep", "Keep", "compute")), f"says what to do: {message}"
