"""cnn-grader. In a notebook: ``import grader; grader.check("gradcam")`` (see :mod:`grader.kernel_check`)."""

from __future__ import annotations

import os
from typing import Any

# OpenMP threads that spin while they wait burn the cores a neighbouring grading needs: two trainings side
# by side took 12-13 s each instead of 4 s (bench/train_speed.py). Read once, when torch loads its OpenMP,
# so set here, before any grader module imports torch; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def check(name: str | None = None, **options: Any) -> Any:
    """The public checks ``name`` selects, run on what this notebook's kernel defines; shown inline."""
    from grader.kernel_check import _caller_globals
    from grader.kernel_check import check as run

    options.setdefault("namespace", _caller_globals())
    return run(name, **options)
