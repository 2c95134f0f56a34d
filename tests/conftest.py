"""Shared fixtures: the data root for tests and a helper that grades a submission like an autograder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.judge import template
from grader.judge.template import JudgeTemplate

ROOT = Path(__file__).resolve().parents[1]
ENGINE_COURSE = ROOT / "tests" / "engine_course"  # the engine's own small course (tests/test_engine_*.py)
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("CNN_GRADER_OFFLINE", "1")  # no network in tests: data comes from ../shared/data
# the tests grade with the defaults, whatever course.toml an instructor put beside the checks (docs/course.md)
os.environ.setdefault("CNN_GRADER_CONFIG", "defaults")
if "CNN_GRADER_DATA" not in os.environ and (SHARED_DATA / "MNIST" / "raw").is_dir():
    os.environ["CNN_GRADER_DATA"] = str(SHARED_DATA)


def course_points(tiers: str = "all", group: str | None = None) -> float:
    """The course's points for a grading with ``tiers`` (of one check group, or all), from the checks themselves:
    the tests never hard-code the course's totals, so adding or retuning a check changes no test."""
    from grader.checks.registry import all_specs

    return sum(s.points for s in all_specs(tiers) if group is None or s.name.split("/", 1)[0] == group)


def course_checks(tiers: str = "all", group: str | None = None) -> int:
    """How many checks a grading with ``tiers`` runs (of one group, or all), from the checks themselves."""
    from grader.checks.registry import all_specs

    return sum(1 for s in all_specs(tiers) if group is None or s.name.split("/", 1)[0] == group)


@dataclass
class Graded:
    """What ``cnn-grader grade`` produced for one submission."""

    results: dict
    feedback: str
    stdout: str
    returncode: int
    out: Path

    @property
    def checks(self) -> dict[str, dict]:
        return {t["name"]: t for t in self.results["tests"]}

    @property
    def failed(self) -> set[str]:
        return {name for name, t in self.checks.items() if t["status"] != "passed"}

    def explanation(self, name: str) -> str:
        """What the student reads about check ``name``: its output, and the problems reported once at the top
        when a shared problem (a module that failed to import) blocked it."""
        output = self.checks[name]["output"]
        return f"{output}\n{self.results['output']}" if output.startswith("Not graded:") else output


def _judge_template() -> JudgeTemplate | None:
    """This test process's judge template (grader/judge/template.py), or None with CNN_GRADER_TEST_FORK=0."""
    return template.shared() if os.environ.get("CNN_GRADER_TEST_FORK", "1") == "1" else None


def run_cli(argv: list[str], cwd: Path, timeout: float = 900) -> tuple[int, str, str]:
    """``cnn-grader *argv`` in ``cwd``: a judge forked from the template (as ``cnn-grader batch`` grades), or a
    plain ``python -m grader.cli`` process; (exit code, stdout, stderr)."""
    template = _judge_template()
    if template is not None:
        with tempfile.TemporaryDirectory(prefix="cnn-grader-test-judge-") as capture:
            judge = template.spawn(argv, cwd, dict(os.environ), Path(capture, "out"), Path(capture, "err"))
            try:
                code = judge.wait(timeout)
            except subprocess.TimeoutExpired:
                judge.kill()
                raise
            return (code, *judge.output())
    proc = subprocess.run(
        [sys.executable, "-m", "grader.cli", *argv], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )
    return proc.returncode, proc.stdout, proc.stderr


def grade(submission: Path, out: Path, *extra: str, timeout: float = 900) -> Graded:
    """Run ``cnn-grader grade`` in a separate judge process, exactly as an autograder would."""
    code, stdout, stderr = run_cli(["grade", str(submission), "--out", str(out), *extra], out.parent, timeout)
    results_file = out / "results.json"
    if not results_file.exists():
        raise AssertionError(f"no results.json (exit {code}):\n{stdout[-3000:]}\n{stderr[-3000:]}")
    return Graded(json.loads(results_file.read_text()), (out / "feedback.md").read_text(), stdout + stderr, code, out)


@pytest.fixture(scope="session")
def solutions_graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    return grade(ROOT / "solutions", tmp_path_factory.mktemp("solutions") / "out")


@pytest.fixture(scope="session")
def stubs_graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    return grade(ROOT / "exercises", tmp_path_factory.mktemp("stubs") / "out")


@pytest.fixture
def engine_course(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Grade against the engine's own small course (``tests/engine_course``: modules ``conv`` and ``basics``),
    not the CNN course: the engine's tests know nothing of the course they grade."""
    from grader import coursepkg

    monkeypatch.setenv(coursepkg.COURSE_ENV, str(ENGINE_COURSE))
    monkeypatch.setenv("CNN_GRADER_CONFIG", "defaults")
    return ENGINE_COURSE


def engine_submission(folder: Path, basics: str = "", conv: str = "") -> Path:
    """A submission folder of the engine course: ``basics.py`` and ``conv.py`` with the given sources."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "basics.py").write_text(basics or BASICS)
    (folder / "conv.py").write_text(
        conv or "def conv2d_manual(x, weight, stride=1, padding=0):\n    raise NotImplementedError\n"
    )
    return folder


BASICS = """
import os


def double(x):
    return 2 * x


def pid():
    return os.getpid()


def spawn():
    return 1
"""
