"""Hypothesis-driven checks that report the smallest failing case in the student's terms."""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from grader import atomic
from grader.data import cache_dir
from grader.judge.faults import CheckFailure, SubmissionFault, WorkerFault
from grader.judge.obscache import sources_digest

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


def run_property(
    strategy: st.SearchStrategy[Any], test: Callable[[Any], None], seed: int = 0, drawn: list[Any] | None = None
) -> None:
    """Run ``test`` on cases drawn from ``strategy``; raise the minimal case's failure.

    ``seed`` is the grading seed (``--seed``): seed 0 draws the fixed derandomized cases every grading has
    drawn so far; any other seed draws other cases, the same ones each time it is given.

    ``drawn``: the cases :func:`drawn_cases` says hypothesis draws while every case passes. ``test`` runs on
    them first; where all pass, hypothesis would draw exactly these and pass, so its engine (about 0.2 s a
    property) is not run. At the first failure hypothesis runs as usual and shrinks to the minimal case.

    After a worker fault (timeout or crash) every further case fails at once with the same fault,
    so shrinking does not restart the worker again and again.
    """
    poisoned: list[WorkerFault] = []
    if drawn is not None:
        try:
            for case in drawn:
                test(case)
            return
        except WorkerFault as exc:
            poisoned.append(exc)  # hypothesis reaches this case first: it fails with this fault, not a new one
        except Exception:  # noqa: BLE001 - hypothesis finds it again, shrinks it and reports it
            pass

    @SETTINGS if seed == 0 else settings(SETTINGS, derandomize=False)
    @given(strategy)
    def prop(case: Any) -> None:
        if poisoned:
            raise poisoned[0]
        try:
            test(case)
        except WorkerFault as exc:
            poisoned.append(exc)
            raise

    if seed != 0:
        prop = hypothesis_seed(seed)(prop)
    try:
        prop()
    except (CheckFailure, SubmissionFault):
        raise
    except BaseExceptionGroup as group:  # hypothesis wraps distinct failures in a group
        first = group.exceptions[0]
        if isinstance(first, CheckFailure | SubmissionFault):
            raise first from None
        raise


BATCH_TIMEOUT = 5.0  # s for all of a property's calls at once; slower code is asked one call at a time


def _checks_digest() -> str:
    """The checks' sources (the engine's helpers and the course's check files): a strategy built from a named
    function changes its cases, not its description."""
    from grader import coursepkg

    return sources_digest(*sorted(Path(__file__).parent.glob("*.py")), *coursepkg.current().check_files())


def drawn_cases(strategy: st.SearchStrategy[Any], seed: int = 0) -> list[Any]:
    """The cases :func:`run_property` draws from ``strategy`` at ``seed`` while every case passes (a dry run:
    nothing is asked of the worker). Drawing is deterministic, so the real run draws them again.

    A dry run costs about 0.3 s of hypothesis; its cases (plain literals) are kept in the judge's cache
    folder, keyed by the strategy's description, the seed, hypothesis' version and the checks' sources.
    """
    identity = repr((repr(strategy), seed, hypothesis.__version__, SETTINGS.max_examples, _checks_digest()))
    path = cache_dir() / "cases" / f"{hashlib.sha256(identity.encode()).hexdigest()[:40]}.txt"
    try:
        stored = ast.literal_eval(path.read_text(encoding="utf-8"))
        if isinstance(stored, list):
            return stored
    except (OSError, ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    seen: list[Any] = []
    run_property(strategy, seen.append, seed)
    text = repr(seen)
    try:
        if ast.literal_eval(text) == seen:  # only cases that read back as they were drawn
            atomic.write_text(path, text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    return seen


class Prefetched:
    """The worker's replies to ``target(**case)`` for many cases, fetched in one request.

    :meth:`reply` answers a case from the batch, or asks the worker for it alone where the batch does not
    hold it (a case only shrinking draws) or could not run (a hang, an exit, a crash: asked alone, the fault
    shows on its own case, with the request's full timeout).
    """

    def __init__(self, grading: Any, target: str, cases: list[dict[str, Any]]) -> None:
        self.grading = grading
        self.target = target
        self.replies: dict[str, dict] = {}
        unique = list({_key(case): case for case in cases}.values())
        if not unique:
            return
        try:
            reply = grading.ask(
                "call_many",
                f"{target.split('.')[1]} on {len(unique)} cases",
                needs=(target,),
                timeout=min(grading.options.timeout, BATCH_TIMEOUT),
                target=target,
                kwargs_list=unique,
            )
        except SubmissionFault:
            return  # the worker was stopped; each case is asked again alone
        replies = reply.get("replies")
        if isinstance(replies, list) and len(replies) == len(unique):
            self.replies = {_key(case): r for case, r in zip(unique, replies, strict=True) if isinstance(r, dict)}

    def reply(self, case: dict[str, Any], what: str) -> dict:
        found = self.replies.get(_key(case))
        if found is None:
            return self.grading.ask("call", what, needs=(self.target,), target=self.target, kwargs=case)
        return self.grading.answer(found, what)


def _key(case: dict[str, Any]) -> str:
    return repr(sorted(case.items()))
