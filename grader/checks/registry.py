"""The ``@check`` decorator: a pytest test becomes a graded check with a name, points, a hint and a tier.

Two tiers: ``public`` checks live in the course's group folders (``course/<group>/check_<group>.py``) and ship
to students; ``hidden`` checks live in the instructor-only package the course's manifest names
(``hidden_checks/hidden_<group>.py``), installed only with the instructor's grader, and report their name and
result only. :func:`check_paths` says which files a grading runs, in the course's group order.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHECKS_DIR = Path(__file__).parent  # the engine's pytest.ini lives here
TIERS = ("public", "hidden")
TIER_CHOICES = ("public", "all")


def graded_last() -> tuple[str, ...]:
    """Groups graded after all others: their networks start training before the first check (a check module's
    ``prefetch(grading)``, called by the plugin) and train while the other groups are graded. Reports still list
    the groups in the course's order."""
    from grader import coursepkg

    return coursepkg.current().graded_last


class HiddenTierMissing(LookupError):
    """``all`` tiers were asked for where the hidden checks are not installed (a student bundle)."""


def hidden_dir() -> Path | None:
    """The folder of the installed hidden checks, or None where they are not installed."""
    from grader import coursepkg

    package = coursepkg.current().hidden_package
    spec = importlib.util.find_spec(package) if package else None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def check_paths(tiers: str | None = None) -> list[Path]:
    """The check files of a grading: ``public``, ``all`` (public and hidden), or None: all where installed.

    Raises :class:`HiddenTierMissing` for ``all`` without the hidden checks.
    """
    from grader import coursepkg

    course = coursepkg.current()
    paths = course.check_files()
    if tiers == "public":
        return paths
    hidden = hidden_dir()
    if hidden is None:
        if tiers == "all":
            raise HiddenTierMissing(f"the hidden checks (package {course.hidden_package!r}) are not installed here")
        return paths
    return paths + course.hidden_files(hidden)


EVIDENCE = ("worker", "judge")


@dataclass(frozen=True)
class CheckSpec:
    """A check: its name, points, hint and tier, and where its evidence comes from: ``worker`` (what the student's
    code returned or did, observed inside its process) or ``judge`` (computed by the judge itself, from the
    network graph the worker exported). A tamper signal withholds only ``worker`` checks (docs/security.md)."""

    name: str
    points: float
    hint: str | None = None
    tier: str = "public"
    visibility: str | None = None  # Gradescope's; None: by tier (grader/report/gradescope.py)
    evidence: str = "worker"


def check(
    name: str, points: float, hint: str | None = None, tier: str = "public", evidence: str = "worker"
) -> Callable[[Any], Any]:
    """Mark a test function as the check ``name`` (``group/what``) worth ``points``, in ``tier`` (see TIERS), whose
    evidence comes from the ``worker`` or the ``judge`` (see :class:`CheckSpec`)."""
    if tier not in TIERS:
        raise ValueError(f"check {name!r}: unknown tier {tier!r}, expected one of {TIERS}")
    if evidence not in EVIDENCE:
        raise ValueError(f"check {name!r}: unknown evidence {evidence!r}, expected one of {EVIDENCE}")
    spec = CheckSpec(name, points, hint, tier, evidence=evidence)

    def decorate(fn: Any) -> Any:
        return pytest.mark.cnn_check(spec)(fn)

    return decorate


def spec_of(item: pytest.Item) -> CheckSpec | None:
    marker = item.get_closest_marker("cnn_check")
    return marker.args[0] if marker else None


def all_specs(tiers: str | None = None) -> list[CheckSpec]:
    """Every check a grading with ``tiers`` runs (see :func:`check_paths`), in file order.

    Imports the check modules: judge side only.
    """
    import inspect

    from grader import coursepkg

    specs = []
    for path in check_paths(tiers):
        module = coursepkg.import_course_file(path)  # as pytest imports it: one module per file
        for _, fn in inspect.getmembers(module, inspect.isfunction):
            specs += [mark.args[0] for mark in getattr(fn, "pytestmark", []) if mark.name == "cnn_check"]
    return specs


def examples() -> tuple[str, str, str]:
    """A check name of this course, part of it and a group, for messages: ``("shapes/conv_output_size",
    "conv_output", "gradcam")`` in the CNN course."""
    from grader import coursepkg

    names = [spec.name for spec in all_specs("public")] or ["group/check_name"]
    check = names[0]
    part = "_".join(check.split("/", 1)[-1].split("_")[:2])
    groups = [g.name for g in coursepkg.current().groups if g.checks] or ["group"]
    return check, part, groups[-2] if len(groups) > 1 else groups[0]
