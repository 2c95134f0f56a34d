"""The robustness experiment's digits for one measurement: training digits, and a secret sample to test on.

MNIST is public, so a network could carry a table of the public digits and look their labels up instead of
recognising them. The judge therefore tests on a secret sample from a pool far larger than any table a judged
network can carry (grader/netgraph.py bounds its fixed values to :data:`grader.netgraph.MAX_FIXED`):

- **Full MNIST** (:func:`grader.data.load_pools`): :data:`TEST_DIGITS` test digits drawn in secret from 40,000
  never trained on (30,000 training digits and the 10,000 test digits); a network trains on a seeded order of
  the other 30,000 training digits. A table of 4,096 values indexes at most a tenth of the pool.
- **The test file only**: its 10,000 digits are split in secret into 8,000 to train on and 2,000 to test on.
  A table of 4,096 values could still index up to two fifths of them: the results say so.

The sample is drawn from an HMAC of the grading secret and the measurement seed: reproducible on one
installation, unknown to the submission. The secret is ``$CNN_GRADER_SECRET``, else a random key kept in the
grader's cache folder (``secret.key``, created once, never inside the sandbox). A test digit sits exactly in its
corner, as the course's experiment places it, and the same digits are tested in both corners.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

import numpy as np
import torch

from grader.data import DigitPools, cache_dir
from grader.quadrants import digits_to_canvas

SECRET_ENV = "CNN_GRADER_SECRET"
TEST_DIGITS = 5000  # with the full MNIST; binomial standard error at accuracy 0.85: 0.005
FALLBACK_TEST_DIGITS = 2000


def grading_secret() -> bytes:
    """The installation's grading secret (see the module docstring)."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV].encode()
    path = cache_dir() / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path.with_suffix(f".tmp{os.getpid()}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(secrets.token_bytes(32))
            os.link(path.with_suffix(f".tmp{os.getpid()}"), path)  # fails if a concurrent grading won
        except FileExistsError:
            pass
        finally:
            path.with_suffix(f".tmp{os.getpid()}").unlink(missing_ok=True)
    return path.read_bytes()


def secret_seed(purpose: str, seed: int) -> int:
    """A 64-bit seed for ``purpose`` from the secret and the measurement seed."""
    digest = hmac.new(grading_secret(), f"{purpose}:{seed}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big")


def identity(seed: int) -> str:
    """A public fingerprint of a measurement's secret sample (for cache keys): it reveals nothing of the secret."""
    return hashlib.sha256(str(secret_seed("test-digits", seed)).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Measured:
    """One measurement's digits: ``train`` in the order the trainer takes them, ``test`` the secret sample."""

    train_digits: np.ndarray
    train_labels: np.ndarray
    test_digits: np.ndarray
    test_labels: np.ndarray

    def test_canvases(self) -> dict[str, torch.Tensor]:
        """The test digits as top-left and bottom-right canvases."""
        return {corner: digits_to_canvas(self.test_digits, corner) for corner in ("top_left", "bottom_right")}


def measured(pools: DigitPools, seed: int) -> Measured:
    """The digits of the measurement with ``seed`` (see the module docstring)."""
    rng = np.random.default_rng(secret_seed("test-digits", seed))
    if pools.full:
        test = np.sort(rng.choice(len(pools.pool_digits), TEST_DIGITS, replace=False))
        return Measured(pools.train_digits, pools.train_labels, pools.pool_digits[test], pools.pool_labels[test])
    order = rng.permutation(len(pools.pool_digits))
    test, train = np.sort(order[:FALLBACK_TEST_DIGITS]), np.sort(order[FALLBACK_TEST_DIGITS:])
    return Measured(
        pools.train_digits[train], pools.train_labels[train], pools.pool_digits[test], pools.pool_labels[test]
    )
