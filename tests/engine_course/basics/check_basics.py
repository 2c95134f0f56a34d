"""basics/...: the one check of the engine course's second module."""

from __future__ import annotations

from grader.checks.registry import check
from grader.judge import expect
from grader.judge.faults import CheckFailure
from grader.judge.session import GradingSession


@check("basics/double", 1, hint="multiply by two")
def test_double(grading: GradingSession) -> None:
    for x in (0, 3, -4):
        what = f"double({x})"
        reply = grading.ask("call", what, needs=("basics.double",), target="basics.double", kwargs={"x": x})
        value = expect.as_int(reply["result"], what)
        if value != 2 * x:
            raise CheckFailure(f"{what} returned {value}, expected {2 * x}.")
