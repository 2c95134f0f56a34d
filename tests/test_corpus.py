"""The grader proven against a corpus of realistic bugs: each loses exactly the checks meant to catch it.

Speed: a bug in shapes.py, gradcam.py or training.py that fails only checks of its own group is graded in
one ``cnn-grader batch`` (two jobs) with the other bugs of its module, on that group's checks: no check of
another group calls that module. The quadrant bugs are graded one by one with the quadrant and robustness
checks, the only ones that build the student's networks (the robustness
checks train two CNNs, keyed in the observation cache by the exported graph, so an unchanged network is
trained once). Set ``CNN_CORPUS_FULL=1`` to grade every bug with every check, one by one.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest
from conftest import ROOT, Graded, grade
from corpus import BUGS, CORRECT_VARIANTS, SOLUTIONS, Bug, apply

from grader.batch import store
from grader.batch.runner import run_batch
from grader.batch.task import GradeSettings

COURSE_DIR = ROOT / "course"
HIDDEN_DIR = ROOT / "hidden_checks"
FULL = os.environ.get("CNN_CORPUS_FULL") == "1"
TRAINING_GROUP = "robustness"  # the only checks that train, and they use quadrant.py alone
BATCHED_GROUPS = ("shapes", "gradcam", "training")  # a module whose checks call that module alone


def check_names() -> set[str]:
    """Every check name: the first argument of each ``@check(...)`` decorator of both tiers' check files."""
    names = set()
    for path in sorted([*COURSE_DIR.glob("*/check_*.py"), *HIDDEN_DIR.glob("hidden_*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and isinstance(decorator.func, ast.Name)
                    and decorator.func.id == "check"
                    and decorator.args
                    and isinstance(decorator.args[0], ast.Constant)
                ):
                    names.add(decorator.args[0].value)
    return names


def test_corpus_is_well_formed() -> None:
    names = check_names()
    assert len(names) >= 30, f"found only {len(names)} check names: {sorted(names)}"
    assert len({bug.name for bug in BUGS}) == len(BUGS), "bug names must be unique"
    assert len(BUGS) >= 22
    for bug in BUGS:
        source = (SOLUTIONS / f"{bug.module}.py").read_text()
        assert source.count(bug.old) == 1, f"{bug.name}: old text occurs {source.count(bug.old)} times"
        assert bug.old != bug.new, bug.name
        assert bug.fails, f"{bug.name}: a bug must fail at least one check"
        assert bug.fails <= names, f"{bug.name}: unknown check names {sorted(bug.fails - names)}"
        assert bug.why.strip(), bug.name
        if bug.module != "quadrant":
            assert not any(n.startswith(f"{TRAINING_GROUP}/") for n in bug.fails), bug.name
    for variant in CORRECT_VARIANTS:
        source = (SOLUTIONS / f"{variant.module}.py").read_text()
        assert source.count(variant.old) == 1 and not variant.fails and variant.old != variant.new, variant.name
    unproven = names - set().union(*(bug.fails for bug in BUGS))
    assert not unproven, f"no bug in the corpus fails these checks: {sorted(unproven)}"


def _batched(bug: Bug) -> bool:
    """A bug in shapes.py, gradcam.py or training.py that fails only checks of its own group is graded in one
    batch with the other bugs of its module, on that group's checks (no other check calls that module)."""
    return not FULL and bug.module in BATCHED_GROUPS and all(n.startswith(f"{bug.module}/") for n in bug.fails)


QUADRANT_GROUPS = ("quadrant", TRAINING_GROUP)  # the only checks that build the student's networks


def _grade_args(bug: Bug) -> tuple[str, ...]:
    if FULL:
        return ()
    if bug.module == "quadrant":
        return ("-k", " or ".join(QUADRANT_GROUPS))
    return ("-k", f"not {TRAINING_GROUP}")


class ModuleBatches:
    """The batched bugs of one module graded by ``run_batch`` (two jobs, ``-k <module>``), on first use."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.graded: dict[str, Graded] = {}
        self.done: set[str] = set()

    def __getitem__(self, bug_name: str) -> Graded:
        module = next(bug.module for bug in BUGS + CORRECT_VARIANTS if bug.name == bug_name)
        if module not in self.done:
            self.done.add(module)
            bugs = [bug for bug in BUGS + CORRECT_VARIANTS if _batched(bug) and bug.module == module]
            where = self.tmp_path_factory.mktemp(f"corpus_{module}")
            for bug in bugs:
                apply(bug, where / "class" / bug.name)
            run_batch(where / "class", where / "out", GradeSettings(k=module), jobs=2, progress=False)
            for bug in bugs:
                folder = store.student_dir(where / "out", bug.name)
                results = json.loads((folder / "results.json").read_text())
                feedback = (folder / "feedback.md").read_text()
                self.graded[bug.name] = Graded(results, feedback, stdout="", returncode=0, out=folder)  # a batch row
        return self.graded[bug_name]


@pytest.fixture(scope="session")
def module_batches(tmp_path_factory: pytest.TempPathFactory) -> ModuleBatches:
    return ModuleBatches(tmp_path_factory)


def _xdist_group(bug: Bug) -> str:
    """Tests that share a batch run on one xdist worker; the others spread over all of them."""
    return f"corpus-{bug.module}" if _batched(bug) else f"corpus-{bug.name}"


def _graded(bug: Bug, tmp_path: Path):
    return grade(apply(bug, tmp_path / "submission"), tmp_path / "out", *_grade_args(bug))


@pytest.mark.slow
@pytest.mark.parametrize(
    "bug",
    [pytest.param(bug, marks=pytest.mark.xdist_group(_xdist_group(bug))) for bug in BUGS + CORRECT_VARIANTS],
    ids=lambda b: b.name,
)
def test_bug_fails_exactly_its_checks(bug: Bug, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    names = check_names()
    if _batched(bug):
        graded = request.getfixturevalue("module_batches")[bug.name]
        group = {n for n in names if n.startswith(f"{bug.module}/")}
        assert group <= set(graded.checks), "the batch left out checks of the bug's group"
        expected_graded = set(graded.checks)  # -k shapes also selects quadrant/layer_shapes: it must pass too
    else:
        graded = _graded(bug, tmp_path)
        if FULL:
            expected_graded = names
        elif bug.module == "quadrant":
            groups = {n for n in names if n.split("/")[0] in QUADRANT_GROUPS}
            assert groups <= set(graded.checks), "the grading left out checks of the networks"
            expected_graded = set(graded.checks)  # -k quadrant also selects shapes/quadrant_*: they must pass too
        else:
            expected_graded = {n for n in names if not n.startswith(f"{TRAINING_GROUP}/")}
    assert set(graded.checks) == expected_graded, "the grading ran an unexpected set of checks"

    unexpected = graded.failed - bug.fails
    missed = bug.fails - graded.failed
    details = "\n".join(f"--- {name}:\n{graded.checks[name]['output']}" for name in sorted(unexpected))
    assert graded.failed == bug.fails, (
        f"{bug.name} ({bug.why})\n"
        f"failed but not expected: {sorted(unexpected)}\n"
        f"expected but passed: {sorted(missed)}\n{details}"
    )
    for name in graded.failed:
        output = graded.checks[name]["output"]
        assert output.strip(), f"{name} failed with an empty output"
        assert "grader error" not in output.lower(), f"{name} blamed the grader:\n{output}"
        if "hidden" in graded.checks[name]["tags"]:  # its message is kept from the student: was it a real failure?
            assert f"**{name}** (0/{graded.checks[name]['max_score']:g}): failed\n" in graded.feedback, name
