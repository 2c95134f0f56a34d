"""The grader proven both ways on the shipped code: solutions score full marks, stubs score zero."""

from __future__ import annotations

import pytest

from grader.checks.registry import CHECK_FILES

pytestmark = pytest.mark.slow

GROUPS = {"shapes", "quadrant", "robustness", "gradcam", "training"}


def test_solutions_get_full_marks(solutions_graded) -> None:
    results = solutions_graded.results
    failing = {name: t["output"] for name, t in solutions_graded.checks.items() if t["status"] != "passed"}
    assert not failing
    assert results["score"] == results["max_score"] == 100
    assert solutions_graded.returncode == 0


def test_every_group_is_graded(solutions_graded) -> None:
    assert {name.split("/")[0] for name in solutions_graded.checks} == GROUPS
    assert len(CHECK_FILES) == len(GROUPS)


def test_stubs_get_zero_with_a_clear_message_per_check(stubs_graded) -> None:
    assert stubs_graded.returncode == 0, "grading completed, so the exit code is 0 whatever the score"
    assert stubs_graded.results["score"] == 0
    for name, test in stubs_graded.checks.items():
        assert test["status"] == "failed", name
        assert "is not implemented yet" in test["output"], (name, test["output"])
        assert "grader error" not in test["output"]


def test_results_json_follows_gradescope_schema(solutions_graded) -> None:
    results = solutions_graded.results
    assert isinstance(results["execution_time"], float | int) and results["execution_time"] > 0
    assert results["visibility"] == "visible"
    for number, test in enumerate(results["tests"], start=1):
        assert set(test) >= {"name", "number", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed")
        assert test["number"] == str(number)
    assert sum(t["score"] for t in results["tests"]) == results["score"]


def test_data_source_is_stated(solutions_graded) -> None:
    assert "MNIST" in solutions_graded.results["output"]


def test_feedback_names_failures_and_hints(stubs_graded) -> None:
    feedback = stubs_graded.feedback
    assert "**Score: 0 / 100**" in feedback
    assert "## gradcam" in feedback and "Hint:" in feedback
    assert "conv_output_size(size=1, kernel_size=1, stride=1, padding=0, dilation=1) is not implemented yet" in feedback
