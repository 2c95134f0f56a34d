"""The grader's own trainer for the robustness checks: every network gets the same seeded budget.

It runs in the judge, on networks rebuilt from their exported graphs (:mod:`grader.netgraph`): no student
code runs while a network trains or predicts, and the test labels never leave the judge. :class:`SideBySide`
runs trainings on threads of the judge, each computing on one thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from grader.budget import Budget

T = TypeVar("T")
THREADS = 1  # each training's own compute threads: the same sums whatever runs beside it, on any machine


class TrainingTooLong(Exception):
    """Training went past its deadline (a network far larger or slower than the exercise needs)."""


class TrainingStopped(Exception):
    """Training was stopped because its grading is over."""


class SideBySide:
    """Trainings on threads of this process, ``slots`` at a time, each computing on :data:`THREADS` thread.

    Why: a training's operations release the GIL, and small convolutions gain little from a second thread, so
    two single-threaded trainings on two cores finish about 1.5x sooner than the same two one after the other
    on two threads each (bench/train_speed.py). Why threads, not processes: autograd cannot run in a process
    forked after it ran, and in-process the rebuilt network is neither pickled nor sent anywhere.

    A training that draws only from its own generators (the trainer's batch order, the network's
    :class:`~grader.fastgraph.RandomSource`) computes the same numbers whatever runs beside it. The thread
    count is global to MKL: while trainings run, the process's other work computes on one thread too; the
    caller's setting comes back when the last training is collected (or at :meth:`close`).
    """

    def __init__(self, slots: int = 2) -> None:
        self.slots = slots
        self.stopping = threading.Event()  # pass to train_classifier(stop=...): close() stops a running training
        self._pool: ThreadPoolExecutor | None = None
        self._pending: set[Future] = set()
        self._threads = torch.get_num_threads()

    def submit(self, work: Callable[[], T]) -> Future[T]:
        """Start ``work`` on a training thread (queued while every slot is busy)."""
        if self._pool is None:
            self._threads = torch.get_num_threads()
            self._pool = ThreadPoolExecutor(self.slots, "training", torch.set_num_threads, (THREADS,))
        future = self._pool.submit(work)
        self._pending.add(future)
        return future

    def result(self, future: Future[T]) -> T:
        """``work``'s result, or the exception it raised."""
        try:
            return future.result()
        finally:
            self._pending.discard(future)
            if not self._pending:
                self._drain()

    def close(self) -> None:
        """Stop what still runs (at its next batch), drop what has not started, restore the thread count."""
        self.stopping.set()
        self._pending.clear()
        self._drain()

    def _drain(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            torch.set_num_threads(self._threads)


def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    budget: Budget,
    device: str,
    deadline: float | None = None,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> list[float]:
    """Adam on cross-entropy over shuffled mini-batches until ``budget`` is spent; returns the mean loss of each
    pass over the digits (see :class:`~grader.budget.Budget`).

    ``deadline`` (a ``time.monotonic()`` value) stops training with :class:`TrainingTooLong`, ``stop`` (once
    set) with :class:`TrainingStopped`; ``progress(seen)`` is called after every ``budget.batch_size * 25``
    images and at the end, with the number of images seen so far. ``prepare`` turns a batch of ``images`` into
    the network's input (the robustness checks keep digits and paste each batch into its canvases).
    """
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=budget.lr)
    generator = torch.Generator().manual_seed(budget.seed)
    images, labels = images.to(device), labels.to(device)
    total_images = budget.images if budget.images is not None else budget.epochs * len(images)
    history, seen = [], 0
    for _ in range(budget.passes(len(images))):
        order = torch.randperm(len(images), generator=generator).to(device)
        total = 0.0
        count = min(len(images), total_images - seen)
        for start in range(0, count, budget.batch_size):
            if deadline is not None and time.monotonic() > deadline:
                raise TrainingTooLong(f"training was stopped after {seen:,} images")
            if stop is not None and stop.is_set():
                raise TrainingStopped("the grading is over")
            batch = order[start : min(start + budget.batch_size, count)]
            optimizer.zero_grad(set_to_none=True)
            inputs = images[batch] if prepare is None else prepare(images[batch])
            loss = F.cross_entropy(model(inputs), labels[batch])
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss.item()}")
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
            seen += len(batch)
            if progress is not None and (seen % (budget.batch_size * 25) == 0 or seen == total_images):
                progress(seen)
        history.append(total / max(count, 1))
    return history


@torch.no_grad()
def predict(
    model: nn.Module,
    images: torch.Tensor,
    device: str,
    batch_size: int = 64,
    prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> np.ndarray:
    """Argmax predictions in eval mode, as int64, in batches of ``batch_size``: the last one padded with blank
    images (a network traced for fixed batch sizes runs at the training's), each batch a copy of its images
    (``prepare``, as in :func:`train_classifier`, makes the input)."""
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        batch = images[i : i + batch_size]
        batch = (batch.clone() if prepare is None else prepare(batch)).to(device)
        real = len(batch)
        if real < batch_size:
            batch = torch.cat([batch, batch.new_zeros((batch_size - real, *batch.shape[1:]))])
        out.append(model(batch)[:real].argmax(1).cpu())
    return torch.cat(out).numpy().astype(np.int64)
