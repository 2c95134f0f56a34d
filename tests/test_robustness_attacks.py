"""Robustness points without a robust network: the attacks a red team built from the grader's source earn nothing.

Each attack is the model answers with RobustQuadrantNet replaced, graded on the robustness group like an
autograder grades it. Its baseline is the honest network it hides behind: the course's flatten head handed in as
RobustQuadrantNet, which learns top-left digits and nothing else. An attack may earn no point its baseline does
not earn.

- **Lookup** (``lookup``): the flatten head beside a table of the public MNIST test digits' pixel statistics that no
  translation changes (sums of x, x^2 and sqrt(x)), answering the stored label where a digit's statistics match.
  The red team's 12,100 fixed values are more than a judged network may carry; the largest table that fits
  (980 digits) covers a few percent of the secret test sample.
- **Pretrained** (``pretrained``): the flatten head handed in with weights trained on digits in all four corners:
  the judge trains from its own initial weights.
- **Memory** (``memory``): a network that, in eval mode, adds what it saw into an extra parameter and answers the
  bottom-right digits from it: a forward pass may not write the network's own tensors.

And the judge stays bounded: a network that does a second's extra work per forward pass in eval mode (the
contract allows eval-only work) cannot make a grading outlast its budget, and one that would need 16 GB of
memory is refused before it runs.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, Graded, grade

from grader.data import load_split
from grader.quadrants import CORNERS, digits_to_canvas

pytestmark = pytest.mark.slow

ROBUST = {
    "robustness/robust_net_learns_top_left",
    "robustness/robust_net_keeps_bottom_right",
    "robustness/robust_net_other_sizes",
}

FLATTEN_HEAD = '''

class RobustQuadrantNet(QuadrantNet):
    """The flatten head, handed in as the robust network."""
'''

LOOKUP = '''

import numpy as _np
import torch.nn.functional as _F
from pathlib import Path as _Path


class RobustQuadrantNet(QuadrantNet):
    """The flatten head, beside a table of public test digits found by statistics no translation changes."""

    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        super().__init__(num_channel, num_classes)
        table = _np.load(_Path(__file__).with_name("table.npy"))
        self.register_buffer("keys", torch.tensor(table[:, :3], dtype=torch.float32))
        self.register_buffer("labels", torch.tensor(table[:, 3], dtype=torch.int64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stats = torch.stack([x.sum((1, 2, 3)), (x * x).sum((1, 2, 3)), x.sqrt().sum((1, 2, 3))], dim=1)
        distance, index = torch.cdist(stats, self.keys).min(dim=1)
        hit = (distance < 1e-3).float()[:, None]
        return hit * 100.0 * _F.one_hot(self.labels[index], 10).float() + (1 - hit) * super().forward(x)
'''

PRETRAINED = '''

import numpy as _np
from pathlib import Path as _Path


class RobustQuadrantNet(QuadrantNet):
    """The flatten head with weights trained on digits in all four corners."""

    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        super().__init__(num_channel, num_classes)
        with _np.load(_Path(__file__).with_name("weights.npz")) as weights:
            self.load_state_dict({k: torch.from_numpy(weights[k]) for k in weights.files})
'''

MEMORY = '''

class RobustQuadrantNet(QuadrantNet):
    """Remembers, in eval mode, what it answered for each position of a batch, and repeats it."""

    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        super().__init__(num_channel, num_classes)
        self.memory = nn.Parameter(torch.zeros(64, num_classes), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = super().forward(x)
        if self.training:
            return logits
        seen = self.memory[: x.shape[0]]
        with torch.no_grad():
            self.memory[: x.shape[0]].add_(logits.softmax(1))
        return logits + 100.0 * seen
'''


def submission(tmp_path: Path, robust: str, name: str) -> Path:
    """The model answers with RobustQuadrantNet replaced by ``robust`` (appended after QuadrantNet)."""
    folder = tmp_path / name
    folder.mkdir()
    for module in (ROOT / "solutions").glob("*.py"):
        shutil.copyfile(module, folder / module.name)
    source = (folder / "quadrant.py").read_text()
    head, _, _ = source.partition("\n\nclass RobustQuadrantNet(nn.Module):")
    (folder / "quadrant.py").write_text(head + "\n" + robust)
    return folder


def robust_points(graded: Graded) -> float:
    return sum(t["score"] for t in graded.results["tests"] if t["name"] in ROBUST)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    tmp = tmp_path_factory.mktemp("flatten-head")
    graded = grade(submission(tmp, FLATTEN_HEAD, "flatten"), tmp / "out", "-k", "robust_net")
    assert graded.returncode == 0
    assert "robustness/robust_net_keeps_bottom_right" in graded.failed, "the flatten head is not robust"
    return graded


def _statistics_table(count: int) -> np.ndarray:
    """``count`` public test digits: their sums of x, x^2 and sqrt(x) on a canvas, and their labels."""
    split = load_split()
    digits = np.concatenate([split.train_digits, split.test_digits])[-count:]
    labels = np.concatenate([split.train_labels, split.test_labels])[-count:]
    x = digits_to_canvas(digits, "top_left")
    stats = torch.stack([x.sum((1, 2, 3)), (x * x).sum((1, 2, 3)), x.sqrt().sum((1, 2, 3))], dim=1)
    return np.concatenate([stats.numpy(), labels[:, None].astype(np.float32)], axis=1)


@pytest.mark.parametrize("count", [3025, 980], ids=["red_team_table_12100_values", "largest_table_that_fits"])
def test_a_lookup_of_public_digits_earns_nothing(tmp_path: Path, baseline: Graded, count: int) -> None:
    folder = submission(tmp_path, LOOKUP, "lookup")
    np.save(folder / "table.npy", _statistics_table(count))
    graded = grade(folder, tmp_path / "out", "-k", "robust_net")
    assert graded.returncode == 0
    assert robust_points(graded) <= robust_points(baseline)
    assert "robustness/robust_net_keeps_bottom_right" in graded.failed
    message = graded.explanation("robustness/robust_net_keeps_bottom_right")
    if count * 4 > 4096:
        assert "fixed values" in message, message
    else:  # judged, and a table of public digits finds almost none of the secret sample
        assert "cannot be judged" not in message and "bottom-right / top-left" in message, message


def test_weights_pretrained_on_every_corner_earn_nothing(tmp_path: Path, baseline: Graded) -> None:
    from reference.quadrant import QuadrantNet

    torch.manual_seed(0)
    split = load_split()
    digits, labels = split.train_digits[:4000], torch.from_numpy(split.train_labels[:4000])
    x = torch.cat([digits_to_canvas(digits, corner) for corner in CORNERS])
    y = labels.repeat(len(CORNERS))
    model = QuadrantNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(2):
        for batch in torch.randperm(len(x)).split(64):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        tests = [digits_to_canvas(split.test_digits[:500], c) for c in ("top_left", "bottom_right")]
        accuracy = [float((model(t).argmax(1).numpy() == split.test_labels[:500]).mean()) for t in tests]
    assert min(accuracy) > 0.7, f"the pretrained head works in every corner: {accuracy}"
    folder = submission(tmp_path, PRETRAINED, "pretrained")
    np.savez(folder / "weights.npz", **{k: v.numpy() for k, v in model.state_dict().items()})
    graded = grade(folder, tmp_path / "out", "-k", "robust_net")
    assert graded.returncode == 0
    assert robust_points(graded) <= robust_points(baseline)
    assert "robustness/robust_net_keeps_bottom_right" in graded.failed


def test_a_network_that_remembers_its_answers_is_refused(tmp_path: Path, baseline: Graded) -> None:
    graded = grade(submission(tmp_path, MEMORY, "memory"), tmp_path / "out", "-k", "robust_net")
    assert graded.returncode == 0
    assert robust_points(graded) == 0
    message = graded.explanation("robustness/robust_net_keeps_bottom_right")
    assert "changes 'memory'" in message and "may not write" in message, message


SLOW_IN_EVAL = '''

class RobustQuadrantNet(QuadrantNet):
    """Trains as the flatten head does, and does a second's extra work in every forward pass in eval mode."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = super().forward(x)
        if not self.training:
            work = torch.full((512, 512), 1e-3, device=x.device)  # computed, not stored: no fixed values to refuse
            spin = x.flatten(1)[:, :512]
            for _ in range(400):
                spin = spin @ work @ work
            logits = logits + 0 * spin.sum()
        return logits
'''

HUGE_IN_EVAL = '''

class RobustQuadrantNet(QuadrantNet):
    """Trains as the flatten head does; its exported eval graph asks for 16 GB at the training batch size (one
    number sets how much). Only while torch.export traces it: run for real in the worker it costs nothing, so
    what is tested is the judge's refusal, not how fast the worker's machine fails a 16 GB allocation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = super().forward(x)
        if not self.training and torch.compiler.is_exporting():
            logits = logits + 0 * x.unsqueeze(-1).expand(*x.shape, 20000).clone().sum()
        return logits
'''


def test_a_network_slow_in_eval_mode_cannot_outlast_the_grading_budget(tmp_path: Path) -> None:
    started = time.monotonic()
    graded = grade(
        submission(tmp_path, SLOW_IN_EVAL, "slow"), tmp_path / "out", "-k", "robust_net", "--grading-budget", "45"
    )
    seconds = time.monotonic() - started
    assert graded.returncode == 0
    assert seconds < 45 + 30, f"the grading took {seconds:.0f} s with a budget of 45 s"
    assert robust_points(graded) == 0
    assert "too slowly" in graded.explanation("robustness/robust_net_keeps_bottom_right")


def test_a_network_that_asks_for_more_memory_than_it_needs_is_refused_before_it_runs(tmp_path: Path) -> None:
    graded = grade(submission(tmp_path, HUGE_IN_EVAL, "huge"), tmp_path / "out", "-k", "robust_net")
    assert graded.returncode == 0
    assert robust_points(graded) == 0
    message = graded.explanation("robustness/robust_net_keeps_bottom_right")
    assert "GiB of memory" in message, message
