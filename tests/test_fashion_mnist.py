"""The data set is the course's configuration: Fashion-MNIST (Debian's dataset-fashion-mnist) graded both ways.

With ``[data] set = "fashion-mnist"`` the robustness experiment and the Grad-CAM peak check's model use
Fashion-MNIST, the thresholds are the ones calibrated on it (course/course.toml, docs/calibration.md), and the
results and feedback name it. The model answers keep every point; a flatten network posing as the robust one loses
exactly the checks the corpus says it loses on MNIST.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, course_points, grade
from corpus import BUGS, apply

FASHION = Path("/usr/share/datasets/fashion-mnist")  # apt-get install dataset-fashion-mnist (.ci/run does)
pytestmark = [
    pytest.mark.skipif(
        not (FASHION / "train-images-idx3-ubyte.gz").is_file(), reason="dataset-fashion-mnist is not installed"
    ),
    pytest.mark.xdist_group("fashion"),  # one process trains the Grad-CAM model once for both tests
]
CONFIG = f'[data]\nset = "fashion-mnist"\nraw = "{FASHION}"\n'


def _config(tmp_path: Path) -> str:
    path = tmp_path / "course.toml"
    path.write_text(CONFIG)
    return str(path)


def test_the_model_answers_keep_every_point_and_every_report_names_the_data_set(tmp_path: Path) -> None:
    graded = grade(ROOT / "solutions", tmp_path / "out", "--config", _config(tmp_path))
    assert graded.returncode == 0 and not graded.failed, graded.failed
    assert graded.results["score"] == course_points()
    source = "Fashion-MNIST: trained on its training images, tested on images drawn from 40,000 never trained on"
    assert source in graded.results["output"] and source in graded.feedback
    page = (graded.out / "feedback.html").read_text()
    assert "trained by the grader on top-left images" in page and "MNIST:" not in page.replace("Fashion-MNIST", "")


def test_a_flatten_network_posing_as_the_robust_one_loses_what_it_loses_on_mnist(tmp_path: Path) -> None:
    (bug,) = [b for b in BUGS if b.name == "robust_is_flatten_quadrant_net"]
    submission = apply(bug, tmp_path / "submission")
    graded = grade(submission, tmp_path / "out", "--config", _config(tmp_path), "--only", "robustness")
    assert graded.failed == {name for name in bug.fails if name.startswith("robustness/")}
