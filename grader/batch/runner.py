"""``cnn-grader batch``: grade every student of a class, resumably, and rebuild the class summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from grader.batch import store, summary
from grader.batch.discover import Entry, discover
from grader.batch.executors import DaskExecutor, LocalExecutor
from grader.batch.task import GradeSettings, Outcome


@dataclass
class BatchResult:
    students: int
    graded_now: int
    already_done: int
    seconds: float
    rows: list[summary.Row]


def _log(line: str) -> None:
    tqdm.write(line, file=sys.stderr)


def run_batch(
    submissions: Path,
    out: Path,
    settings: GradeSettings,
    *,
    jobs: int = 1,
    cluster: str | None = None,
    regrade: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = _log,
) -> BatchResult:
    """Grade the students in ``submissions`` into ``out``; students already graded (same submission,
    same settings) are kept unless ``regrade``. An interrupt stops the gradings, keeps every finished
    student, rebuilds the summary, and re-raises."""
    started = time.perf_counter()
    entries = discover(submissions)
    out.mkdir(parents=True, exist_ok=True)
    store.clean_staging(out)
    todo: list[Entry] = []
    done_before = 0
    for entry in entries:
        if not regrade and store.is_done(out, entry, settings):
            done_before += 1
        elif entry.problem:  # nothing to grade: the row says why, at once
            store.publish(out, entry, settings, Outcome(entry.student, "unreadable", entry.problem))
        else:
            todo.append(entry)
    unreadable = len(entries) - len(todo) - done_before
    log(
        f"{len(entries)} students in {submissions}: {done_before} already graded, {unreadable} unreadable, "
        f"{len(todo)} to grade"
    )
    if todo:
        executor = DaskExecutor(cluster, settings) if cluster else LocalExecutor(jobs, settings)
        log(f"grading {executor.description}")
        for line in executor.prepare():
            log(line)
        bar = tqdm(total=len(todo), unit="student", disable=not progress, file=sys.stderr)
        try:
            for entry, outcome in executor.grade(todo):
                store.publish(out, entry, settings, outcome)
                bar.update(1)
                if outcome.status != "graded":
                    log(f"{entry.student}: {outcome.status}: {outcome.reason}")
        except KeyboardInterrupt:
            executor.stop()
            store.clean_staging(out)
            summary.write(out, [e.student for e in entries])
            log("interrupted: finished students are kept; run the same command again to go on")
            raise
        finally:
            bar.close()
            if isinstance(executor, DaskExecutor):
                executor.close()
    rows = summary.write(out, [e.student for e in entries])
    seconds = round(time.perf_counter() - started, 2)
    log(f"wrote {out / 'gradebook.csv'} and {out / 'summary.html'} ({seconds:.1f} s)")
    return BatchResult(len(entries), len(todo), done_before, seconds, rows)
