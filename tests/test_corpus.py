"""The grader proven against a corpus of realistic bugs: each loses exactly the checks meant to catch it.

Speed: the robustness checks train two CNNs (most of a grading's time; the grader's observation cache
keys them on quadrant.py *and* every module the worker had imported, so a shapes bug retrains) and only
ever run ``quadrant.QuadrantNet`` and ``quadrant.RobustQuadrantNet`` with the grader's own trainer. A bug
planted in another module cannot reach them, so those bugs are graded with ``-k "not robustness"`` and
the test asserts that exactly the robustness checks were left out. Set ``CNN_CORPUS_FULL=1`` to grade
every bug with every check.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from conftest import ROOT, grade
from corpus import BUGS, SOLUTIONS, Bug, apply

CHECKS_DIR = ROOT / "grader" / "checks"
HIDDEN_DIR = ROOT / "hidden_checks"
FULL = os.environ.get("CNN_CORPUS_FULL") == "1"
TRAINING_GROUP = "robustness"  # the only checks that train, and they use quadrant.py alone


def check_names() -> set[str]:
    """Every check name: the first argument of each ``@check(...)`` decorator of both tiers' check files."""
    names = set()
    for path in sorted([*CHECKS_DIR.glob("check_*.py"), *HIDDEN_DIR.glob("hidden_*.py")]):
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
    unproven = names - set().union(*(bug.fails for bug in BUGS))
    assert not unproven, f"no bug in the corpus fails these checks: {sorted(unproven)}"


def _grade_args(bug: Bug) -> tuple[str, ...]:
    if FULL or bug.module == "quadrant":
        return ()
    return ("-k", f"not {TRAINING_GROUP}")


def _graded(bug: Bug, tmp_path: Path):
    return grade(apply(bug, tmp_path / "submission"), tmp_path / "out", *_grade_args(bug))


@pytest.mark.slow
@pytest.mark.parametrize("bug", BUGS, ids=lambda bug: bug.name)
def test_bug_fails_exactly_its_checks(bug: Bug, tmp_path: Path) -> None:
    graded = _graded(bug, tmp_path)

    names = check_names()
    expected_graded = names if not _grade_args(bug) else {n for n in names if not n.startswith(f"{TRAINING_GROUP}/")}
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
