"""``--seed`` reaches every input the judge generates live; stored public vectors stay as they are."""

from __future__ import annotations

from types import SimpleNamespace

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
