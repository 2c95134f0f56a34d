"""Where a batch's gradings run: threads on this machine (``-j N``) or a Dask cluster (``--cluster``).

Both take :class:`~grader.batch.task.GradeTask` objects and yield ``(entry, outcome)`` as gradings
finish. Each grading is a separate judge process with its own sandboxed worker in both cases; Dask only
decides which machine starts it.

On Dask, when any worker advertises a ``GPU`` resource (``dask worker ... --resources GPU=1``), every
task asks for one and trains with ``--device cuda``, so a class is graded on one kind of device and a
GPU is never shared by two gradings; otherwise tasks go to any worker and train on its CPU.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed

from grader.batch import task, warm
from grader.batch.discover import Entry
from grader.batch.task import GradeSettings, GradeTask, Outcome


def _task(entry: Entry, settings: GradeSettings) -> GradeTask:
    return GradeTask(entry.student, entry.filename, entry.data, settings)


def device_plan(workers: list[dict], settings: GradeSettings) -> tuple[dict[str, int] | None, GradeSettings]:
    """The resources every task asks for, and its settings, given the scheduler's view of its workers.

    A GPU anywhere means GPU for every task (one device kind per class, one grading per GPU), unless
    the instructor asked for ``--device cpu``.
    """
    gpus = sum(w.get("resources", {}).get("GPU", 0) for w in workers)
    if gpus and settings.device != "cpu":
        return {"GPU": 1}, dataclasses.replace(settings, device="cuda")
    return None, settings


class LocalExecutor:
    """``jobs`` gradings at a time on this machine."""

    def __init__(self, jobs: int, settings: GradeSettings) -> None:
        self.jobs = max(1, jobs)
        self.settings = settings
        self.description = f"{self.jobs} at a time on this machine"

    def prepare(self) -> list[str]:
        return [warm.warm(self.settings.data_root, self.settings.course().dataset)]

    def grade(self, entries: list[Entry]) -> Iterator[tuple[Entry, Outcome]]:
        pool = ThreadPoolExecutor(self.jobs)
        futures: dict[Future, Entry] = {pool.submit(task.run, _task(e, self.settings)): e for e in entries}
        finished = False
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
            finished = True
        finally:
            if not finished:  # interrupted: kill the running gradings instead of waiting for them
                pool.shutdown(wait=False, cancel_futures=True)
                task.stop_all()
            pool.shutdown(wait=True)

    def stop(self) -> None:
        task.stop_all()


class DaskExecutor:
    """Gradings as tasks of a Dask distributed cluster (``tcp://HOST:PORT`` of its scheduler)."""

    def __init__(self, address: str, settings: GradeSettings) -> None:
        from distributed import Client

        self.client = Client(address, timeout="30s")
        workers = list(self.client.scheduler_info()["workers"].values())
        self.resources, self.settings = device_plan(workers, settings)
        gpus = sum(w.get("resources", {}).get("GPU", 0) for w in workers)
        where = f"{len(workers)} Dask workers" + (f" ({gpus:g} GPUs)" if gpus else "")
        self.description = f"on {where} at {address}"
        self._futures: list = []

    def prepare(self) -> list[str]:
        return [
            f"{host}: {line}"
            for host, line in self.client.run(
                warm.warm, self.settings.data_root, self.settings.course().dataset
            ).items()
        ]

    def grade(self, entries: list[Entry]) -> Iterator[tuple[Entry, Outcome]]:
        from distributed import as_completed as dask_completed

        owners = {}
        for entry in entries:
            future = self.client.submit(
                task.run,
                _task(entry, self.settings),
                pure=False,
                resources=self.resources,
                key=f"grade-{entry.student}-{uuid.uuid4().hex[:8]}",
            )
            owners[future.key] = entry
            self._futures.append(future)
        for future in dask_completed(self._futures):
            entry = owners[future.key]
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker costs this student's row only
                outcome = Outcome(entry.student, "crashed", f"the Dask task failed: {type(exc).__name__}: {exc}")
            yield entry, outcome

    def stop(self) -> None:
        self.client.cancel(self._futures, force=True)

    def close(self) -> None:
        self.client.close()
