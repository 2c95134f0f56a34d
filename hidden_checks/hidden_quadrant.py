"""Hidden quadrant checks: QuadrantNet at widths the public checks never build."""

from __future__ import annotations

from course.quadrant.check_quadrant import Row, compare_layers
from course.vectors.generate import reference_rows
from grader.checks.registry import check
from grader.judge.session import GradingSession

WIDTHS = (1, 3)


def expected_rows(num_channel: int) -> list[Row]:
    return [(kind, tuple(shape), params) for kind, shape, params in reference_rows(num_channel)]


def expected_values() -> list[object]:
    return [expected_rows(width) for width in WIDTHS]


@check("quadrant/other_widths", 2, tier="hidden", evidence="judge")
def test_other_widths(grading: GradingSession) -> None:
    for width in WIDTHS:
        compare_layers(grading, width, with_params=True, expected=expected_rows(width))
