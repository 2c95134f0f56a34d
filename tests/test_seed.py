"""``--seed`` reaches every input the judge generates live; stored public vectors stay as they are."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import ROOT, grade
from hypothesis import strategies as st

from grader.checks import properties
from hidden_checks import hidden_gradcam, hidden_training


def drawn(seed: int) -> list[int]:
    cases: list[int] = []
    properties.run_property(st.integers(0, 10**9), cases.append, seed)
    return cases


def test_seed_zero_draws_the_fixed_cases_every_time() -> None:
    assert drawn(0) == drawn(0)


def test_another_seed_draws_other_cases_reproducibly() -> None:
    assert drawn(1) == drawn(1)
    assert drawn(1) != drawn(0)
    assert drawn(2) != drawn(1)


def test_hidden_inputs_follow_the_grading_seed() -> None:
    grading = SimpleNamespace(options=SimpleNamespace(seed=0))
    case = hidden_gradcam.UNSEEN_CASES[0]
    assert hidden_gradcam.live(case, grading) == case
    assert hidden_training.live(7, grading) == 7
    grading.options.seed = 3
    assert hidden_gradcam.live(case, grading).seed != case.seed
    assert hidden_training.live(7, grading) != 7


WEAK_ROBUST_NET = '''

class RobustQuadrantNet(nn.Module):
    """Zero padding and global average pooling over two feature maps: invariant, and far too small to learn
    MNIST within the grading budget (its top-left accuracy depends on the seed, well below the bar)."""

    def __init__(self, num_channel: int = 8, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 1, 5, padding=2, bias=False)
        self.conv2 = nn.Conv2d(1, 2, 5, padding=2)
        self.fc = nn.Linear(2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(x.mean(dim=(2, 3)))
'''


@pytest.mark.slow
def test_the_seed_reaches_the_robustness_training_end_to_end(tmp_path: Path) -> None:
    """Two seeds train the same network to other accuracies; the results name the seed each used."""
    folder = tmp_path / "submission"
    shutil.copytree(ROOT / "solutions", folder, ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"))
    quadrant = folder / "quadrant.py"
    quadrant.write_text(quadrant.read_text() + WEAK_ROBUST_NET)
    runs = {}
    for seed in (0, 1):
        graded = grade(folder, tmp_path / f"out{seed}", "-k", "robust_net_learns_top_left", "--seed", str(seed))
        check = graded.checks["robustness/robust_net_learns_top_left"]
        assert f"Graded with seed {seed}" in graded.results["output"]
        assert check["status"] == "failed" and f"seed {seed})" in check["output"], check["output"]
        runs[seed] = re.search(r"top-left accuracy (0\.\d+)", check["output"]).group(1)
    assert runs[0] != runs[1], "another seed trained the network to the very same accuracy"
