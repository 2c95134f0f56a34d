"""The course the engine grades, read through one manifest: ``course.toml`` in the course's folder.

The engine (``grader/``) knows no exercise, group or data set: it learns them here. The course folder is
``$CNN_GRADER_COURSE`` (a folder holding ``course.toml``), else the installed package ``course``. Its manifest::

    [course]
    title = "Convolutional neural networks"
    groups = ["shapes", "quadrant", "robustness", "gradcam", "training"]  # folders here, in report order
    graded_last = ["robustness"]        # groups whose networks train while the others are graded
    notebook = "cnn_exercises.ipynb"    # the course notebook, preferred where a submission holds several
    hidden_package = "hidden_checks"    # the instructor-only package of hidden checks: hidden_<group>.py
    student_imports = ["grader.quadrants"]  # modules of the grader a submission may import (besides the engine's)

    [data]                              # the data set gradings use; an instructor's configuration may pick another
    set = "mnist"
    [data.sets.mnist]
    name = "MNIST"                      # what reports say
    folder = "MNIST"                    # torchvision's class and folder: DATA_ROOT/MNIST/raw
    item = "digit"                      # what reports call one image (default "image")
    [data.sets.mnist.settings.robustness]   # values calibrated on this data set (docs/calibration.md)
    learns_top_left = 0.60

    [settings.robustness]               # a group's settings: their defaults; an instructor's file retunes them
    images = 16000
    [calibrated.robustness]             # where the calibration measured each value (a warning outside)
    images = [16000, 19200]

Each group's folder holds ``check_<group>.py`` (its public checks, pytest tests marked with
:func:`grader.checks.registry.check`) and, for a group students implement, ``contract.py`` (``MODULE``: a
:class:`grader.contract.Module`). Hidden checks live apart, in the instructor-only package the manifest names,
which is never shipped to students.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from grader.data import DataSet

if TYPE_CHECKING:
    from grader.contract import Exercise, Module

COURSE_ENV = "CNN_GRADER_COURSE"
MANIFEST = "course.toml"
DEFAULT_PACKAGE = "course"


class CourseError(ValueError):
    """The course's manifest or one of its folders cannot be used: the message names the file and the fix."""


@dataclass(frozen=True)
class Group:
    """One folder of the course: its public check files and, if students implement it, its contract module."""

    name: str
    folder: Path
    checks: tuple[Path, ...]
    contract: Module | None


@dataclass(frozen=True)
class Course:
    """A course as its manifest describes it (see the module's docstring)."""

    root: Path
    title: str
    groups: tuple[Group, ...]
    graded_last: tuple[str, ...]
    hidden_package: str | None
    student_imports: tuple[str, ...]
    notebook: str | None  # the course notebook's file name (exercises/, solutions/), None: the course has none
    datasets: dict[str, DataSet]
    default_dataset: str
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    calibrated: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    dataset_settings: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    dataset_calibrated: dict[str, dict[str, dict[str, tuple[float, float]]]] = field(default_factory=dict)

    @property
    def dataset(self) -> DataSet:
        """The data set of the manifest's ``[data] set`` (an instructor's configuration may choose another)."""
        return self.datasets[self.default_dataset]

    @property
    def modules(self) -> tuple[Module, ...]:
        """The student modules, in the groups' order."""
        return tuple(g.contract for g in self.groups if g.contract is not None)

    @functools.cached_property
    def exercises(self) -> dict[str, Exercise]:
        """Every contract entry by its qualified name (``"gradcam.grad_cam"``)."""
        return {ex.qualname: ex for m in self.modules for ex in m.exercises}

    def check_files(self) -> list[Path]:
        return [path for group in self.groups for path in group.checks]

    def hidden_files(self, hidden_dir: Path) -> list[Path]:
        """The hidden check files of this course's groups inside the installed hidden package ``hidden_dir``."""
        return [path for g in self.groups if (path := hidden_dir / f"hidden_{g.name}.py").is_file()]

    def settings_for(self, dataset: str) -> dict[str, dict[str, Any]]:
        """Each group's settings on ``dataset``: the defaults with the data set's calibrated values."""
        return _overlay(self.settings, self.dataset_settings.get(dataset, {}))

    def calibrated_for(self, dataset: str) -> dict[str, dict[str, tuple[float, float]]]:
        """Each group's calibrated ranges on ``dataset``: the defaults with the data set's own."""
        return _overlay(self.calibrated, self.dataset_calibrated.get(dataset, {}))


def _overlay(base: dict[str, dict[str, Any]], over: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A copy of ``base`` (group -> key -> value) with ``over``'s values in place of its own."""
    merged = {group: dict(values) for group, values in base.items()}
    for group, values in over.items():
        merged.setdefault(group, {}).update(values)
    return merged


def course_root() -> Path:
    """The folder of the course to grade: ``$CNN_GRADER_COURSE``, else the installed package ``course``."""
    if os.environ.get(COURSE_ENV):
        return Path(os.environ[COURSE_ENV]).expanduser().resolve()
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CourseError(f"no course: set {COURSE_ENV}=DIR (a folder holding {MANIFEST}) or install the course")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def load_file(path: Path, name: str) -> ModuleType:
    """Import the Python file ``path`` as the module ``name`` (once per process)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CourseError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def import_course_file(path: Path) -> ModuleType:
    """Import a file of the course under the name pytest's default import mode gives it (so that a process
    imports each once): the dotted path from the outermost folder with an ``__init__.py`` (``course.gradcam.ops``),
    that folder's parent put on sys.path. In a plain folder (no ``__init__.py``) a check file is imported by its
    own name, as pytest does (check files are named for their group), any other by a name of its group's."""
    base, parts = path.parent, [path.stem]
    while (base / "__init__.py").is_file():
        parts.insert(0, base.name)
        base = base.parent
    if len(parts) == 1 and not path.stem.startswith("check_"):
        return load_file(path, f"_cnn_course_{path.parent.name}_{path.stem}")
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))
    return importlib.import_module(".".join(parts))


def _contract(folder: Path, group: str) -> Module | None:
    path = folder / "contract.py"
    if not path.is_file():
        return None
    module = load_file(path, f"_cnn_course_contract_{group}")
    found = getattr(module, "MODULE", None)
    if found is None or getattr(found, "name", None) != group:
        raise CourseError(f"{path}: defines no MODULE = Module(name={group!r}, ...)")
    return found


def _ranges(table: dict[str, Any], where: str) -> dict[str, dict[str, tuple[float, float]]]:
    ranges: dict[str, dict[str, tuple[float, float]]] = {}
    for group, values in table.items():
        for key, pair in values.items():
            if not (isinstance(pair, list) and len(pair) == 2):
                raise CourseError(f"{where}: calibrated.{group}.{key} must be [low, high]")
            ranges.setdefault(group, {})[key] = (float(pair[0]), float(pair[1]))
    return ranges


def parse_manifest(root: Path) -> Course:
    """The course in folder ``root`` (raises :class:`CourseError`)."""
    path = root / MANIFEST
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CourseError(f"cannot read the course manifest {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(f"{path} is not valid TOML: {exc}") from None
    head = data.get("course", {})
    groups = []
    for name in head.get("groups", []):
        folder = root / name
        if not folder.is_dir():
            raise CourseError(f"{path}: group {name!r} has no folder {folder}")
        checks = tuple(sorted(folder.glob("check_*.py")))
        groups.append(Group(name, folder, checks, _contract(folder, name)))
    if not groups:
        raise CourseError(f"{path}: [course] groups lists no folder")
    sets = data.get("data", {}).get("sets", {})
    datasets = {
        key: DataSet(str(s["name"]), str(s["folder"]), s.get("raw"), str(s.get("item", "image")))
        for key, s in sets.items()
    }
    default = data.get("data", {}).get("set")
    if default not in datasets:
        raise CourseError(f"{path}: [data] set = {default!r} is not one of [data.sets]: {sorted(datasets)}")
    return Course(
        root=root,
        title=str(head.get("title", root.name)),
        groups=tuple(groups),
        graded_last=tuple(head.get("graded_last", ())),
        hidden_package=head.get("hidden_package"),
        student_imports=tuple(head.get("student_imports", ())),
        notebook=head.get("notebook"),
        datasets=datasets,
        default_dataset=default,
        settings={group: dict(values) for group, values in data.get("settings", {}).items()},
        calibrated=_ranges(data.get("calibrated", {}), str(path)),
        dataset_settings={key: s.get("settings", {}) for key, s in sets.items()},
        dataset_calibrated={key: _ranges(s.get("calibrated", {}), str(path)) for key, s in sets.items()},
    )


@functools.cache
def _load(root: Path) -> Course:
    return parse_manifest(root)


def current() -> Course:
    """The course of this process (:func:`course_root`), read once."""
    return _load(course_root())


def notebook_name() -> str:
    """The course notebook's file name (``exercises.ipynb`` for a course that names none)."""
    return current().notebook or "exercises.ipynb"
