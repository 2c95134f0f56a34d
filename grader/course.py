"""The course configuration: one TOML file an instructor edits instead of the grader's code.

Given with ``--config FILE`` (``grade``, ``check``, ``batch``, ``release``, ``gradescope``, ``config``); without it,
``course.toml`` beside the checks (``grader/checks/course.toml``, where ``release`` and ``gradescope`` put the
file they were given, so a student bundle and an autograder grade alike); without that, the defaults, which
reproduce the grading of a grader without any file exactly. Every section and key is optional::

    [checks."shapes/conv_output_size"]   # any check name of `cnn-grader check --list`
    points = 8                          # what the check is worth
    hint = false                        # show the check's hint on failure (default true)
    visibility = "after_published"      # Gradescope: visible, hidden, after_due_date, after_published
    tier = "hidden"                     # report it as a hidden check (name and result only)

    [robustness]                        # any group's settings the course's manifest declares (course/course.toml)
    images = 16000
    learns_top_left = 0.70

    [data]                              # another of the course's data sets (its calibrated settings follow)
    set = "fashion-mnist"
    raw = "/usr/share/datasets/fashion-mnist"   # optional: a folder holding the data set's four files

    [timeouts]                          # seconds; command-line options win over the file
    timeout = 20

    [late]                              # off by default (grader/late.py)
    penalty = 0.1

    [gradescope]
    hidden_visibility = "after_published"

Unknown sections, keys and check names are errors (:class:`ConfigError`) that name the nearest valid one; a
setting outside the range the course's calibration measured is accepted with a warning
(:meth:`CourseConfig.warnings`). The groups' settings, their calibrated ranges and the data sets come from the
course's manifest (grader/coursepkg.py): the engine knows none of them.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from grader import coursepkg
from grader.checks.registry import CheckSpec
from grader.data import DataSet
from grader.late import LatePolicy

CONFIG_NAME = "course.toml"
BESIDE_CHECKS = Path(__file__).parent / "checks" / CONFIG_NAME
ENV_VAR = "CNN_GRADER_CONFIG"
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
CALIBRATION = "docs/calibration.md (its bench script measures a new choice)"


class ConfigError(ValueError):
    """The course configuration cannot be used: the message names the file, the key and the fix."""


@dataclass(frozen=True)
class CheckSettings:
    """One check's overrides; None keeps the check's own value."""

    points: float | None = None
    hint: bool = True
    visibility: str | None = None
    tier: str | None = None


@dataclass(frozen=True)
class DataChoice:
    """Which of the course's data sets gradings use, and where its files are (None: the data root's layout)."""

    set: str = ""  # "": the manifest's [data] set
    raw: str = ""  # "": DATA_ROOT/<folder>/raw


@dataclass(frozen=True)
class Timeouts:
    """Seconds (grader/judge/session.py, GradeOptions)."""

    timeout: float = 20.0
    train_timeout: float = 300.0
    cell_timeout: float = 15.0
    notebook_timeout: float = 240.0
    check_budget: float = 90.0
    grading_budget: float = 1200.0


@dataclass(frozen=True)
class Gradescope:
    hidden_visibility: str = "after_published"


@dataclass(frozen=True)
class CourseConfig:
    """The effective configuration; ``CourseConfig()`` is today's grading."""

    checks: dict[str, CheckSettings] = field(default_factory=dict)
    group_values: dict[str, dict[str, Any]] = field(default_factory=dict)  # the file's values of the groups' settings
    data: DataChoice = field(default_factory=DataChoice)
    timeouts: Timeouts = field(default_factory=Timeouts)
    late: LatePolicy = field(default_factory=LatePolicy)
    gradescope: Gradescope = field(default_factory=Gradescope)
    source: str | None = None  # the file it was read from

    def settings(self, check: str) -> CheckSettings:
        return self.checks.get(check, CheckSettings())

    def apply(self, spec: CheckSpec) -> CheckSpec:
        """``spec`` with this course's points, hint, visibility and tier."""
        settings = self.checks.get(spec.name)
        if settings is None:
            return spec
        return replace(
            spec,
            points=spec.points if settings.points is None else settings.points,
            hint=spec.hint if settings.hint else None,
            visibility=settings.visibility or spec.visibility,
            tier=settings.tier or spec.tier,
        )

    @property
    def dataset_key(self) -> str:
        return self.data.set or coursepkg.current().default_dataset

    @property
    def dataset(self) -> DataSet:
        """The data set gradings use (the course's, or the one this file picks), with the file's folder."""
        chosen = coursepkg.current().datasets[self.dataset_key]
        return replace(chosen, raw=self.data.raw) if self.data.raw else chosen

    def group_settings(self) -> dict[str, dict[str, Any]]:
        """Every group's effective settings: the course's, on the chosen data set, with this file's values."""
        merged = coursepkg.current().settings_for(self.dataset_key)
        for group, values in self.group_values.items():
            merged[group].update(values)
        return merged

    def warnings(self) -> list[str]:
        """Settings outside the course's calibrated ranges (accepted: the instructor may know better)."""
        found = []
        settings = self.group_settings()
        for group, ranges in coursepkg.current().calibrated_for(self.dataset_key).items():
            for name, (low, high) in ranges.items():
                value = settings[group][name]
                if not low <= value <= high:
                    span = f"{low:g}" if low == high else f"{low:g} to {high:g}"
                    found.append(
                        f"{group}.{name} = {value:g} is outside what the calibration measured on "
                        f"{self.dataset.name} ({span}): verdicts may be wrong for correct or wrong designs; "
                        f"see {CALIBRATION}"
                    )
        return found

    def to_dict(self) -> dict[str, Any]:
        """Every section with every key (the checks' overrides as given): ``config --show``."""
        data = {
            "checks": {name: {k: v for k, v in asdict(s).items() if v is not None} for name, s in self.checks.items()},
            **self.group_settings(),
            "data": {"set": self.dataset_key, "raw": self.data.raw},
            "timeouts": asdict(self.timeouts),
            "late": asdict(self.late),
            "gradescope": asdict(self.gradescope),
        }
        return data


SECTIONS = {"data": DataChoice, "timeouts": Timeouts, "late": LatePolicy, "gradescope": Gradescope}


def _group_section(name: str, table: Any, origin: str) -> dict[str, Any]:
    """A group's settings from the file, typed by the course's own values for them."""
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: [{name}] must be a table of keys")
    defaults = coursepkg.current().settings[name]
    values = _typed_keys(table, {key: type(value) for key, value in defaults.items()}, name, origin)
    _positive(name, values, origin)
    return values


def _positive(name: str, values: dict[str, Any], origin: str, zero: bool = True) -> None:
    """Numbers of section ``name`` may not be negative (nor zero, where ``zero`` is False)."""
    for key, value in values.items():
        if isinstance(value, int | float) and (value < 0 or (not zero and value == 0)):
            raise ConfigError(f"{origin}: {name}.{key} must be positive, not {value!r}")


def _nearest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.4)
    return f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(choices)}"


def _typed(where: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, not {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be a whole number, not {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number, not {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string, not {value!r}")
    return value


def _typed_keys(table: dict, kinds: dict[str, type], label: str, origin: str) -> dict[str, Any]:
    """``table``'s values, each checked against its key's type in ``kinds``; every mistake reported at once."""
    values, errors = {}, []
    for key, value in table.items():
        try:
            if key not in kinds:
                raise ConfigError(f"{origin}: unknown key {label}.{key}{_nearest(key, tuple(kinds))}")
            values[key] = _typed(f"{origin}: {label}.{key}", value, kinds[key])
        except ConfigError as exc:
            errors.append(str(exc))
    if errors:
        raise ConfigError("\n".join(errors))
    return values


def _section(name: str, table: Any, cls: type, origin: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: [{name}] must be a table of keys")
    defaults = cls()
    kinds = {f.name: type(getattr(defaults, f.name)) for f in fields(cls)}
    values = _typed_keys(table, kinds, name, origin)
    try:
        section = replace(defaults, **values)  # LatePolicy validates its fractions
    except ValueError as exc:
        raise ConfigError(f"{origin}: [{name}]: {exc}") from None
    if cls is DataChoice and section.set and section.set not in coursepkg.current().datasets:
        known = tuple(coursepkg.current().datasets)
        raise ConfigError(
            f"{origin}: data.set {section.set!r} is not one of the course's{_nearest(section.set, known)}"
        )
    if cls is Gradescope and section.hidden_visibility not in VISIBILITIES:
        raise ConfigError(
            f"{origin}: gradescope.hidden_visibility {section.hidden_visibility!r}"
            f"{_nearest(section.hidden_visibility, VISIBILITIES)}"
        )
    _positive(name, values, origin, zero=cls is not Timeouts)
    return section


def _check(name: str, table: Any, known: dict[str, str], origin: str) -> CheckSettings:
    if name not in known:
        raise ConfigError(f"{origin}: unknown check {name!r}{_nearest(name, tuple(known))} (cnn-grader check --list)")
    if not isinstance(table, dict):
        raise ConfigError(f'{origin}: [checks."{name}"] must be a table of keys')
    kinds = {"points": float, "hint": bool, "visibility": str, "tier": str}
    values = _typed_keys(table, kinds, f'checks."{name}"', origin)
    if values.get("points", 0) < 0:
        raise ConfigError(f'{origin}: checks."{name}".points must be 0 or more, not {values["points"]:g}')
    if "visibility" in values and values["visibility"] not in VISIBILITIES:
        visibility = values["visibility"]
        raise ConfigError(f'{origin}: checks."{name}".visibility {visibility!r}{_nearest(visibility, VISIBILITIES)}')
    if "tier" in values and values["tier"] not in ("public", "hidden"):
        raise ConfigError(f'{origin}: checks."{name}".tier must be "public" or "hidden", not {values["tier"]!r}')
    if values.get("tier") == "public" and known[name] == "hidden":
        raise ConfigError(f'{origin}: checks."{name}" is a hidden check: its messages are not for students')
    return CheckSettings(**values)


def parse(text: str, known_checks: dict[str, str], origin: str = "course configuration") -> CourseConfig:
    """The configuration in TOML ``text``; ``known_checks`` maps every check name to its tier."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin} is not valid TOML: {exc}") from None
    sections: dict[str, Any] = {}
    settings: dict[str, dict[str, Any]] = {}
    groups = tuple(coursepkg.current().settings)
    checks: dict[str, CheckSettings] = {}
    errors: list[str] = []  # every mistake of the file, not only the first
    for name, table in data.items():
        try:
            if name == "checks":
                if not isinstance(table, dict):
                    raise ConfigError(f'{origin}: checks must be tables such as [checks."{next(iter(known_checks))}"]')
                for check, value in table.items():
                    try:
                        checks[check] = _check(check, value, known_checks, origin)
                    except ConfigError as exc:
                        errors.append(str(exc))
            elif name in SECTIONS:
                sections[name] = _section(name, table, SECTIONS[name], origin)
            elif name in groups:
                settings[name] = _group_section(name, table, origin)
            else:
                raise ConfigError(f"{origin}: unknown section [{name}]{_nearest(name, ('checks', *groups, *SECTIONS))}")
        except ConfigError as exc:
            errors.append(str(exc))
    if errors:
        raise ConfigError("\n".join(errors))
    return CourseConfig(checks=checks, group_values=settings, source=origin, **sections)


def specs(course: CourseConfig | None = None, tiers: str | None = None) -> list[CheckSpec]:
    """Every check of ``tiers`` with ``course``'s points, hints, visibility and tiers (judge side only)."""
    from grader.checks.registry import all_specs

    course = course or CourseConfig()
    return [course.apply(spec) for spec in all_specs(tiers)]


def known_checks() -> dict[str, str]:
    """Every check name the installed grader has, with its tier (imports the checks: judge side only)."""
    from grader.checks.registry import all_specs

    return {spec.name: spec.tier for spec in all_specs()}


DEFAULTS = "defaults"  # $CNN_GRADER_CONFIG=defaults: no file, even where one lies beside the checks


def find(explicit: str | Path | None = None) -> Path | None:
    """The file to read: ``explicit``, else ``$CNN_GRADER_CONFIG`` (``defaults``: none), else ``course.toml``
    beside the checks; None where there is none."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR) == DEFAULTS:
        return None
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return BESIDE_CHECKS if BESIDE_CHECKS.is_file() else None


def load(explicit: str | Path | None = None) -> CourseConfig:
    """The effective configuration (see :func:`find`); the defaults where there is no file."""
    path = find(explicit)
    if path is None:
        return CourseConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the course configuration {path}: {exc.strerror or exc}") from None
    return parse(text, known_checks(), origin=str(path))


def course_text(explicit: str | Path | None = None) -> str | None:
    """The text of the file :func:`find` picks (what ``release``, ``gradescope`` and ``batch`` carry), or None."""
    path = find(explicit)
    return path.read_text(encoding="utf-8") if path is not None and path.is_file() else None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def render_toml(course: CourseConfig) -> str:
    """``course`` as a TOML file that :func:`parse` reads back to the same configuration."""
    data = course.to_dict()
    lines = [f"# effective course configuration ({course.source or 'the defaults: no file'})"]
    for section in (*course.group_settings(), *SECTIONS):
        lines += ["", f"[{section}]", *(f"{k} = {_toml_value(v)}" for k, v in data[section].items())]
    for name, settings in data["checks"].items():
        lines += ["", f'[checks."{name}"]', *(f"{k} = {_toml_value(v)}" for k, v in settings.items())]
    return "\n".join(lines) + "\n"
