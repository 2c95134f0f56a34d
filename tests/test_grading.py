"""The grader proven both ways on the shipped code: solutions score full marks, stubs score zero."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, course_points, grade, run_cli

from grader import contract, coursepkg

pytestmark = pytest.mark.slow

GROUPS = [group.name for group in coursepkg.current().groups]


def test_solutions_get_full_marks(solutions_graded) -> None:
    results = solutions_graded.results
    failing = {name: t["output"] for name, t in solutions_graded.checks.items() if t["status"] != "passed"}
    assert not failing
    assert results["score"] == results["max_score"] == course_points()
    assert solutions_graded.returncode == 0


def test_every_group_is_graded(solutions_graded) -> None:
    assert {name.split("/")[0] for name in solutions_graded.checks} == set(GROUPS)
    assert all(len(group.checks) == 1 for group in coursepkg.current().groups)


def test_robustness_is_graded_last_and_reported_third(solutions_graded) -> None:
    """Its networks train while the other groups are graded (the manifest's graded_last); the reports keep the
    course's group order, with each group in one piece."""
    reported = [t["name"].split("/")[0] for t in solutions_graded.results["tests"]]
    files = GROUPS
    assert list(dict.fromkeys(reported)) == files
    assert reported == sorted(reported, key=files.index), "a group in one piece"
    progress = re.findall(r"^  ([a-z]+) +[.FE]+$", solutions_graded.stdout, flags=re.MULTILINE)
    assert progress[-1] == "robustness" and progress.index("robustness") > progress.index("training"), progress


def test_every_public_check_has_a_hint_that_does_not_print_the_answer() -> None:
    """Hidden checks report name and result only; a public one points the way on failure, without formulas."""
    from grader.checks.registry import all_specs

    for spec in all_specs("public"):
        assert spec.hint and len(spec.hint) > 20, spec.name
        assert "//" not in spec.hint and "floor(" not in spec.hint, spec.name  # no output-size formula


def test_both_tiers_are_graded_and_hidden_checks_say_only_whether_they_passed(solutions_graded) -> None:
    tags = {name: test["tags"] for name, test in solutions_graded.checks.items()}
    assert all(("public" in t) != ("hidden" in t) for t in tags.values()), "every check has exactly one tier"
    hidden = {name for name, t in tags.items() if "hidden" in t}
    assert 6 <= len(hidden) <= 10 and len({name.split("/")[0] for name in hidden}) >= 3
    for name in hidden:
        test = solutions_graded.checks[name]
        assert test["output"] == "" and test["extra_data"] == {}, (name, test)
    assert "public checks only" not in solutions_graded.results["output"]


def test_stubs_get_zero_with_a_clear_message_per_check(stubs_graded) -> None:
    assert stubs_graded.returncode == 0, "grading completed, so the exit code is 0 whatever the score"
    assert stubs_graded.results["score"] == 0
    for name, test in stubs_graded.checks.items():
        assert test["status"] == "failed", name
        if "hidden" in test["tags"]:  # name and result only
            assert test["output"] == "failed" and not test["extra_data"], (name, test)
            assert f"**{name}** (0/{test['max_score']:g}): failed\n" in stubs_graded.feedback, name
            continue
        assert "is not implemented yet" in test["output"], (name, test["output"])
        assert "grader error" not in test["output"]


def test_results_json_follows_gradescope_schema(solutions_graded) -> None:
    results = solutions_graded.results
    assert isinstance(results["execution_time"], float | int) and results["execution_time"] > 0
    assert results["visibility"] == "visible"
    for number, test in enumerate(results["tests"], start=1):
        assert set(test) >= {"name", "number", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed")
        assert test["number"] == str(number)
    assert sum(t["score"] for t in results["tests"]) == results["score"]


def test_data_source_is_stated(solutions_graded) -> None:
    assert "MNIST" in solutions_graded.results["output"]


def test_feedback_lists_each_unimplemented_function_once_without_hints(stubs_graded) -> None:
    feedback = stubs_graded.feedback
    assert f"**Score: 0 / {course_points():g}**" in feedback and "## gradcam" in feedback
    assert "## Not implemented yet" in feedback
    for function in ("conv_output_size", "QuadrantNet.__init__", "grad_cam", "fit"):
        assert feedback.count(f"- `{function}`: ") == 1, function
    assert "Hint:" not in feedback, "a stub's failure gets no hint about a formula it has not tried"
    graded = stubs_graded.results["extra_data"]["graded_files"]
    assert graded == {m.name: f"{m.name}.py" for m in contract.MODULES}


def test_html_feedback_shows_the_students_networks_and_heatmaps(solutions_graded, stubs_graded) -> None:
    page = (solutions_graded.out / "feedback.html").read_text()
    assert page.count("data:image/png;base64,") == 12, "six digits' Grad-CAM maps, the student's and the reference's"
    assert page.count("<table class='cams'>") == 1 and "alt='reference: Grad-CAM of digit" in page
    assert page.count("<table class='accuracy'>") == 1 and "<th scope='row'>RobustQuadrantNet</th>" in page
    assert page.count("<table class='confusion'>") == 2, "a confusion matrix per network"
    stub_page = (stubs_graded.out / "feedback.html").read_text()
    assert "data:image/png" not in stub_page, "nothing was observed, so nothing is pictured"
    assert "class='confusion'" not in stub_page and "class='accuracy'" not in stub_page
    assert "not implemented yet" in stub_page


def _test_only_root(tmp: Path) -> Path:
    """A data root holding MNIST's two test files only: the fallback the grader supports."""
    raw = tmp / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    source = Path(os.environ["CNN_GRADER_DATA"]) / "MNIST" / "raw"
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        for candidate in (source / name, source / f"{name}.gz"):
            if candidate.exists():
                shutil.copyfile(candidate, raw / candidate.name)
    return raw.parents[1]


def test_the_test_only_fallback_grades_the_solutions_and_says_so(tmp_path: Path) -> None:
    """Where only MNIST's test file is at hand the experiment splits it in secret, and the results say so."""
    graded = grade(ROOT / "solutions", tmp_path / "out", "--data-root", str(_test_only_root(tmp_path)))
    assert graded.returncode == 0
    assert graded.results["score"] == graded.results["max_score"] == course_points(), graded.failed
    assert "MNIST test set only" in graded.results["output"]


def test_a_device_the_grader_cannot_use_is_a_grader_fault(tmp_path: Path) -> None:
    """``--device cuda`` without CUDA is refused before grading: exit 3, one message, never a student's 0."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: --device cuda grades (tests/test_gpu.py)")
    code, stdout, stderr = run_cli(
        ["grade", str(ROOT / "solutions"), "--out", str(tmp_path / "out"), "--device", "cuda"], tmp_path
    )
    assert code == 3, (code, stdout, stderr)
    assert "grader fault" in stdout + stderr and "--device cuda" in stdout + stderr
    assert (stdout + stderr).count("grader fault") == 1
    assert (
        not (tmp_path / "out" / "results.json").exists()
        or "score" not in (tmp_path / "out" / "results.json").read_text()
    )
