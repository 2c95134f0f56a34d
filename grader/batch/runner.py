"""``cnn-grader batch``: grade every student of a class, resumably, and rebuild the class summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from grader.batch import lms, similarity, store, summary
from grader.batch.discover import Entry, survey
from grader.batch.executors import DaskExecutor, LocalExecutor
from grader.batch.task import GradeSettings, Outcome
from grader.late import LatePolicy


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
    similarity_threshold: float = similarity.DEFAULT_THRESHOLD,
    late_policy: LatePolicy | None = None,
    due: str | None = None,
    lms_assignment: str = lms.DEFAULT_ASSIGNMENT,
) -> BatchResult:
    """Grade the students in ``submissions`` into ``out``; students already graded (same submission,
    same settings) are kept unless ``regrade``. An interrupt stops the gradings, keeps every finished
    student, rebuilds the summary, and re-raises. ``late_policy`` and ``due`` shape the gradebook's
    ``final`` column only (grade files are never changed by them). The LMS's import file (Canvas, Moodle) is
    written beside the gradebook, its assignment column named ``lms_assignment`` (:mod:`grader.batch.lms`)."""
    started = time.perf_counter()
    course = settings.course()
    found = survey(submissions)
    entries = found.entries
    log(found.describe())
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
            summary.write(
                out, [e.student for e in entries], left_out=found.left_out, policy=late_policy, due=due, course=course
            )
            log("interrupted: finished students are kept; run the same command again to go on")
            raise
        finally:
            bar.close()
            if isinstance(executor, DaskExecutor):
                executor.close()
    section = similarity.run(entries, out, similarity_threshold, log)  # DIR/similarity.csv (docs/batch.md)
    rows = summary.write(
        out,
        [e.student for e in entries],
        section,
        left_out=found.left_out,
        policy=late_policy,
        due=due,
        course=course,
    )
    policy = late_policy or LatePolicy()
    imports = lms.write(
        out,
        rows,
        lambda row: row.report.score - row.deduction(policy, due),
        sum(summary.group_maxima(course).values()),
        lms_assignment,
    )
    store.clean_staging(out)
    seconds = round(time.perf_counter() - started, 2)
    log(f"wrote {out / 'gradebook.csv'} and {out / 'summary.html'} ({seconds:.1f} s)")
    for path in imports:
        log(f"wrote {path}: import it into the LMS the submissions came from (docs/batch.md)")
    return BatchResult(len(entries), len(todo), done_before, seconds, rows)
