"""The course's lecture networks, adapted to the contract (tests/lecture/), graded as a student's quadrant.py:
the quadrant group and the robustness group give them every point."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT, grade

pytestmark = pytest.mark.slow

LECTURE = Path(__file__).parent / "lecture"


@pytest.mark.parametrize("network", sorted(p.name for p in LECTURE.glob("*_quadrant.py")))
def test_a_lecture_network_gets_every_quadrant_and_robustness_point(tmp_path: Path, network: str) -> None:
    submission = tmp_path / "submission"
    submission.mkdir()
    for module in (ROOT / "solutions").glob("*.py"):
        shutil.copyfile(module, submission / module.name)
    shutil.copyfile(LECTURE / network, submission / "quadrant.py")
    graded = grade(submission, tmp_path / "out", "-k", "quadrant or robustness")
    lost = {name: graded.checks[name]["output"] for name in graded.failed}
    assert not lost, lost
    groups = {name.split("/")[0] for name in graded.checks}
    assert {"quadrant", "robustness"} <= groups
    assert graded.results["score"] == graded.results["max_score"] > 0
