"""The ``@check`` decorator: a pytest test becomes a graded check with a name, points and a hint."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

CHECK_FILES = (
    "check_shapes.py",
    "check_quadrant.py",
    "check_robustness.py",
    "check_gradcam.py",
    "check_training.py",
)


@dataclass(frozen=True)
class CheckSpec:
    name: str
    points: float
    hint: str | None = None
    tier: str = "public"


def check(name: str, points: float, hint: str | None = None, tier: str = "public") -> Callable[[Any], Any]:
    """Mark a test function as the check ``name`` (``group/what``) worth ``points``."""
    spec = CheckSpec(name, points, hint, tier)

    def decorate(fn: Any) -> Any:
        return pytest.mark.cnn_check(spec)(fn)

    return decorate


def spec_of(item: pytest.Item) -> CheckSpec | None:
    marker = item.get_closest_marker("cnn_check")
    return marker.args[0] if marker else None
