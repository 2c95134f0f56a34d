"""Bad input costs only what it touches: broken, hanging, exiting and lying submissions.

Each submission is ``solutions/`` with one module broken; the grader must finish, give the broken
module's checks zero with a specific message, and give every other check its points.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT, course_points, grade

pytestmark = pytest.mark.slow


def submission(tmp_path: Path, module: str, source: str | None) -> Path:
    """solutions/ with ``module`` replaced by ``source`` (or removed when None)."""
    target = tmp_path / "submission"
    shutil.copytree(ROOT / "solutions", target, ignore=shutil.ignore_patterns("*.ipynb"))  # the modules only
    if source is None:
        (target / f"{module}.py").unlink()
    else:
        (target / f"{module}.py").write_text(source)
    return target


def group_failed(graded, group: str) -> None:
    """Exactly the checks of ``group`` failed, and the rest of the submission kept its points."""
    in_group = {name for name in graded.checks if name.startswith(f"{group}/")}
    assert in_group, group
    assert graded.failed == in_group, graded.failed ^ in_group
    assert graded.results["score"] == course_points() - sum(graded.checks[n]["max_score"] for n in in_group)


def test_syntax_error_costs_only_its_module(tmp_path: Path) -> None:
    source = (ROOT / "solutions" / "gradcam.py").read_text().replace("def grad_cam(", "def grad_cam(:", 1)
    graded = grade(submission(tmp_path, "gradcam", source), tmp_path / "out")
    group_failed(graded, "gradcam")
    output = graded.explanation("gradcam/matches_reference")
    assert "gradcam.py could not be imported" in output and "SyntaxError" in output


def test_hang_at_import_costs_one_timeout(tmp_path: Path) -> None:
    source = (ROOT / "solutions" / "training.py").read_text() + "\nwhile True:\n    pass\n"
    graded = grade(submission(tmp_path, "training", source), tmp_path / "out", "--timeout", "4")
    group_failed(graded, "training")
    assert "no answer within 4 s" in graded.explanation("training/evaluate")
    # one timeout, not one per check: the import is tried once and its fault reported once for all checks
    assert graded.feedback.count("no answer within 4 s") == 1, graded.feedback


def test_os_exit_at_import_is_not_success(tmp_path: Path) -> None:
    source = (ROOT / "solutions" / "shapes.py").read_text() + "\nimport os\n\nos._exit(0)\n"
    graded = grade(submission(tmp_path, "shapes", source), tmp_path / "out")
    group_failed(graded, "shapes")
    assert "exited with code 0 while importing shapes.py" in graded.explanation("shapes/conv_output_size")


ALWAYS_EQUAL = """

class _Yes(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


class _AlwaysEqual:
    def __eq__(self, other):
        return True

    def __lt__(self, other):
        return False

    __gt__ = __le__ = __ge__ = __eq__


def conv_output_size(*args, **kwargs):
    return _Yes(0)


def pool_output_size(*args, **kwargs):
    return _AlwaysEqual()


def conv_params(*args, **kwargs):
    return _AlwaysEqual()


def linear_params(*args, **kwargs):
    return _Yes(-1)


def count_parameters(*args, **kwargs):
    return _AlwaysEqual()


def quadrant_net_shapes(*args, **kwargs):
    return _AlwaysEqual()
"""


def test_objects_that_equal_everything_earn_nothing(tmp_path: Path) -> None:
    graded = grade(submission(tmp_path, "shapes", ALWAYS_EQUAL), tmp_path / "out")
    group_failed(graded, "shapes")
    assert "returned 0, expected" in graded.explanation("shapes/conv_output_size")
    assert "_AlwaysEqual object" in graded.explanation("shapes/pool_output_size")


HANG_AND_EXIT = """
import sys
print("x" * 50_000_000)  # 50 MB of output at import


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    while True:
        pass


def pool_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    sys.exit(3)


def conv_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    import os
    os.kill(os.getpid(), 9)


def linear_params(in_features, out_features, bias=True):
    return float("nan")
"""


def test_hang_exit_crash_and_nan_inside_functions(tmp_path: Path) -> None:
    graded = grade(submission(tmp_path, "shapes", HANG_AND_EXIT), tmp_path / "out", "--timeout", "3")
    group_failed(graded, "shapes")
    assert "no answer within 3 s" in graded.explanation("shapes/conv_output_size")
    assert "called sys.exit(3)" in graded.explanation("shapes/pool_output_size")
    assert "killed by signal 9" in graded.explanation("shapes/conv_params")
    assert "expected an int" in graded.explanation("shapes/linear_params")
    assert "defines no count_parameters" in graded.explanation("shapes/count_parameters")


def test_missing_module_is_named(tmp_path: Path) -> None:
    graded = grade(submission(tmp_path, "quadrant", None), tmp_path / "out")
    failed = {name for name in graded.checks if name.startswith(("quadrant/", "robustness/"))}
    assert graded.failed == failed
    assert "the submission has no quadrant.py" in graded.explanation("quadrant/logits")
