"""Hypothesis-driven checks that report the smallest failing case in the student's terms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.judge.faults import CheckFailure, SubmissionFault, WorkerFault

SETTINGS = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


def call_repr(name: str, kwargs: dict[str, Any]) -> str:
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def run_property(strategy: st.SearchStrategy[Any], test: Callable[[Any], None]) -> None:
    """Run ``test`` on cases drawn from ``strategy``; raise the minimal case's failure.

    After a worker fault (timeout or crash) every further case fails at once with the same fault,
    so shrinking does not restart the worker again and again.
    """
    poisoned: list[WorkerFault] = []

    @SETTINGS
    @given(strategy)
    def prop(case: Any) -> None:
        if poisoned:
            raise poisoned[0]
        try:
            test(case)
        except WorkerFault as exc:
            poisoned.append(exc)
            raise

    try:
        prop()
    except (CheckFailure, SubmissionFault):
        raise
    except BaseExceptionGroup as group:  # hypothesis wraps distinct failures in a group
        first = group.exceptions[0]
        if isinstance(first, CheckFailure | SubmissionFault):
            raise first from None
        raise
