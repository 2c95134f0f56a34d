"""The course configuration (grader/course.py): every key does what it says, every mistake names the fix,
and the defaults grade exactly like no file at all."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from dataclasses import fields, replace
from pathlib import Path

import pytest
from conftest import ROOT, grade

from course.robustness import check_robustness as rules
from grader import course
from grader.batch.summary import group_maxima
from grader.batch.task import GradeSettings
from grader.checks.registry import CheckSpec
from grader.report import gradescope
from grader.results import CheckResult, GradeReport

KNOWN = course.known_checks()
CONV = "shapes/conv_output_size"


def parse(text: str) -> course.CourseConfig:
    return course.parse(text, KNOWN, origin="course.toml")


def test_no_file_and_an_empty_file_are_the_defaults() -> None:
    assert parse("") == course.CourseConfig(source="course.toml")
    assert course.load(None) == course.CourseConfig() or course.BESIDE_CHECKS.is_file()
    defaults = rules.Robustness(**course.CourseConfig().group_settings()["robustness"])
    assert (defaults.learns_top_left, defaults.keeps_fraction, defaults.images) == (
        rules.LEARNS_TOP_LEFT,
        rules.KEEPS_FRACTION,
        rules.BUDGET.images,
    )
    assert rules.BUDGET == rules.budget_of(defaults)


@pytest.mark.parametrize("section", sorted(course.SECTIONS))
def test_every_key_of_every_section_is_read(section: str) -> None:
    cls = course.SECTIONS[section]
    for f in fields(cls):
        default = getattr(cls(), f.name)
        value = {bool: True, int: 3, float: 0.5, str: "hidden"}[type(default)]
        if section == "late" and f.name == "max_penalty":
            value = 0.5
        if section == "data" and f.name == "set":
            value = "fashion-mnist"  # one of the course's data sets
        config = parse(f"[{section}]\n{f.name} = {json.dumps(value)}\n")
        assert getattr(getattr(config, section), f.name) == value, (section, f.name)


def test_check_keys_change_points_hint_visibility_and_tier() -> None:
    config = parse(f'[checks."{CONV}"]\npoints = 8\nhint = false\nvisibility = "after_due_date"\ntier = "hidden"\n')
    spec = config.apply(CheckSpec(CONV, 4, "count the positions", "public"))
    assert spec == CheckSpec(CONV, 8, None, "hidden", "after_due_date")
    untouched = CheckSpec("shapes/conv_params", 2, "a hint")
    assert config.apply(untouched) == untouched
    assert sum(s.points for s in course.specs(config)) == sum(s.points for s in course.specs()) + 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[checks."shapes/conv_output_sise"]\npoints = 8\n', "did you mean 'shapes/conv_output_size'"),
        ("[robustnes]\nimages = 19200\n", "did you mean 'robustness'"),
        ("[robustness]\nimage = 19200\n", "did you mean 'images'"),
        ("[timeouts]\ntimout = 3\n", "did you mean 'timeout'"),
        (f'[checks."{CONV}"]\npoint = 8\n', "did you mean 'points'"),
        (f'[checks."{CONV}"]\nvisibility = "publish"\n', "did you mean"),
        (f'[checks."{CONV}"]\npoints = "eight"\n', "must be a number"),
        (f'[checks."{CONV}"]\npoints = -1\n', "must be 0 or more"),
        (f'[checks."{CONV}"]\nhint = "no"\n', "must be true or false"),
        (f'[checks."{CONV}"]\ntier = "secret"\n', 'must be "public" or "hidden"'),
        ("[robustness]\nimages = 2.5\n", "must be a whole number"),
        ("[timeouts]\ntimeout = 0\n", "must be positive"),
        ("[late]\npenalty = 1.5\n", "between 0 and 1"),
        ('[gradescope]\nhidden_visibility = "after_publish"\n', "did you mean 'after_published'"),
        ("[checks\n", "not valid TOML"),
        ("checks = 3\n", "must be tables"),
    ],
)
def test_mistakes_are_errors_that_name_the_fix(text: str, expected: str) -> None:
    with pytest.raises(course.ConfigError) as caught:
        parse(text)
    assert expected in str(caught.value) and "course.toml" in str(caught.value)


def test_a_hidden_check_cannot_be_made_public() -> None:
    hidden = next((name for name, tier in KNOWN.items() if tier == "hidden"), None)
    if hidden is None:
        pytest.skip("the hidden tier is not installed here")
    with pytest.raises(course.ConfigError, match="hidden check"):
        parse(f'[checks."{hidden}"]\ntier = "public"\n')


def test_the_shown_configuration_reads_back_the_same() -> None:
    config = parse(
        f'[checks."{CONV}"]\npoints = 8\nhint = false\n[robustness]\nimages = 19200\n[late]\npenalty = 0.1\n'
    )
    again = parse(course.render_toml(config))
    assert again.to_dict() == config.to_dict()


def test_thresholds_outside_the_calibration_warn_and_name_the_bench() -> None:
    assert parse("").warnings() == []
    warnings = parse("[robustness]\nkeeps_fraction = 0.99\nimages = 64000\n").warnings()
    assert len(warnings) == 2 and all("docs/calibration.md" in w for w in warnings)
    assert "keeps_fraction = 0.99" in warnings[0] or "keeps_fraction = 0.99" in warnings[1]


def test_robustness_rules_follow_the_configuration() -> None:
    strict = replace(rules.DEFAULT, learns_top_left=0.9, margin=0.0, extra_seeds=0)
    runs = [rules.Run(0.85, 0.85, 1.0)]
    assert rules.verdicts_from_runs(runs, "robust")["robust_net_learns_top_left"] is True
    assert rules.verdicts_from_runs(runs, "robust", strict)["robust_net_learns_top_left"] is False
    wide = replace(rules.DEFAULT, margin=0.2, extra_seeds=2)  # 0.75 lies within 0.2 of 0.60: two more runs decide
    assert rules.settle(
        rules.rules(wide)["robust_net_learns_top_left"][0],
        lambda n: [rules.Run(0.75, 0, 0), rules.Run(0.5, 0, 0), rules.Run(0.5, 0, 0)][:n],
        wide,
    )[:2] == (False, 0.5)
    assert rules.budget_of(replace(rules.DEFAULT, images=19200), seed=7).images == 19200


def test_gradescope_visibility_per_check_and_for_the_hidden_tier() -> None:
    report = GradeReport("s")
    report.checks = [
        CheckResult(CONV, 4, 4, "passed", visibility="after_due_date"),
        CheckResult("shapes/conv_params", 2, 2, "passed"),
        CheckResult("shapes/hidden_thing", 1, 1, "passed", tier="hidden"),
    ]
    tests = gradescope.to_results(report, "hidden")["tests"]
    assert [t["visibility"] for t in tests] == ["after_due_date", "visible", "hidden"]
    assert gradescope.to_results(report)["tests"][2]["visibility"] == "after_published"


def test_batch_settings_carry_the_file_and_its_points() -> None:
    text = f'[checks."{CONV}"]\npoints = 8\n'
    settings = GradeSettings(course_config=text)
    assert settings.course().settings(CONV).points == 8
    assert settings.fingerprint() != GradeSettings().fingerprint()  # another course: graded again
    assert group_maxima(settings.course())["shapes"] == group_maxima()["shapes"] + 4


def test_release_and_gradescope_carry_the_file(tmp_path: Path) -> None:
    from grader.packaging.gradescope import build_autograder
    from grader.packaging.release import build_release

    text = f'[checks."{CONV}"]\npoints = 8\n'
    bundle = build_release(tmp_path / "bundle", text)
    assert (bundle / "grader" / "checks" / "course.toml").read_text() == text
    try:
        archive = build_autograder(tmp_path / "autograder.zip", text)
    except LookupError:
        pytest.skip("the hidden tier is not installed here")
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.read("grader-src/grader/checks/course.toml").decode() == text


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True, timeout=120)


def test_config_show_and_list_use_the_file(tmp_path: Path) -> None:
    config = tmp_path / "course.toml"
    config.write_text(f'[checks."{CONV}"]\npoints = 8\n[robustness]\nkeeps_fraction = 0.99\n')
    shown = cli("config", "--show", "--config", str(config))
    assert shown.returncode == 0 and "keeps_fraction = 0.99" in shown.stdout and "warning:" in shown.stderr
    listed = cli("check", "--list", "--config", str(config))
    assert any(line.startswith(CONV) and " 8 points" in line for line in listed.stdout.splitlines())
    config.write_text('[checks."shapes/conv_output_sise"]\npoints = 8\n')
    refused = cli("check", "--list", "--config", str(config))
    assert refused.returncode == 2 and "did you mean 'shapes/conv_output_size'" in refused.stderr


def _comparable(results: dict) -> dict:
    results = {k: v for k, v in results.items() if k != "execution_time"}
    results["tests"] = [{k: v for k, v in t.items() if k != "extra_data"} for t in results["tests"]]
    return results


@pytest.mark.slow
def test_points_from_the_file_change_the_grade_and_the_defaults_change_nothing(tmp_path: Path) -> None:
    plain = grade(ROOT / "solutions", tmp_path / "plain", "--tiers", "public", "-k", "shapes")
    defaults = tmp_path / "defaults.toml"
    defaults.write_text(course.render_toml(course.CourseConfig()))
    same = grade(ROOT / "solutions", tmp_path / "same", "--tiers", "public", "-k", "shapes", "--config", str(defaults))
    assert _comparable(same.results) == _comparable(plain.results)

    eight = tmp_path / "eight.toml"
    eight.write_text(f'[checks."{CONV}"]\npoints = 8\nvisibility = "after_due_date"\n')
    graded = grade(ROOT / "solutions", tmp_path / "eight", "--tiers", "public", "-k", "shapes", "--config", str(eight))
    assert graded.checks[CONV]["max_score"] == 8 and graded.checks[CONV]["visibility"] == "after_due_date"
    assert graded.results["max_score"] == plain.results["max_score"] + 4 == graded.results["score"]


def test_timeouts_reach_the_grading_and_the_command_line_wins() -> None:
    from grader.plugin import grade_options

    config = parse(
        "[timeouts]\ntimeout = 7\ntrain_timeout = 120\ncell_timeout = 9\nnotebook_timeout = 60\n"
        "check_budget = 30\ngrading_budget = 600\n[robustness]\nimages = 19200\n"
    )
    given = {
        "device": "cpu",
        "seed": 0,
        "data_root": None,
        "no_tamper_scan": False,
        "sandbox": "auto",
        "no_cache": False,
        "check_timeout": None,
        "cell_timeout": None,
        "check_budget": None,
        "grading_budget": 100.0,
    }
    options = grade_options(given.get, config)
    assert (options.timeout, options.train_timeout, options.cell_timeout, options.notebook_timeout) == (7, 120, 9, 60)
    assert (options.check_budget, options.grading_budget) == (30, 100.0), "--grading-budget 100 wins over 600"
    assert options.settings["robustness"]["images"] == 19200
    defaults = grade_options({**given, "grading_budget": None}.get, course.CourseConfig())
    assert (defaults.timeout, defaults.check_budget, defaults.grading_budget) == (20, 90, 1200)


def test_the_late_policy_comes_from_the_file_unless_the_flags_say_otherwise() -> None:
    from argparse import Namespace

    from grader.cli import late_policy

    config = parse("[late]\npenalty = 0.1\nper_day = 0.05\nmax_penalty = 0.3\n")
    policy = late_policy(Namespace(late_penalty=None, late_penalty_per_day=None), config)
    assert (policy.penalty, policy.per_day, policy.max_penalty) == (0.1, 0.05, 0.3)
    assert policy.fraction(True, 10) == 0.3
    flags = late_policy(Namespace(late_penalty=0.2, late_penalty_per_day=None), config)
    assert (flags.penalty, flags.per_day) == (0.2, 0.05)
    assert not late_policy(Namespace(late_penalty=None, late_penalty_per_day=None), course.CourseConfig()).active


@pytest.mark.slow
def test_hint_false_hides_a_failures_own_hint_too(tmp_path: Path) -> None:
    """``hint = false`` hides every hint of the check, the one a failing case carries included."""
    from corpus import BUGS, apply

    bug = next(b for b in BUGS if b.name == "pool_ceil_without_drop_rule")
    submission = apply(bug, tmp_path / "submission")
    shown = grade(submission, tmp_path / "shown", "-k", "pool_output_size")
    assert "Hint:" in shown.checks["shapes/pool_output_size"]["output"], "the check gives a hint by default"
    config = tmp_path / "course.toml"
    config.write_text('[checks."shapes/pool_output_size"]\nhint = false\n')
    hidden = grade(submission, tmp_path / "hidden", "-k", "pool_output_size", "--config", str(config))
    assert hidden.checks["shapes/pool_output_size"]["status"] == "failed"
    assert "Hint:" not in hidden.checks["shapes/pool_output_size"]["output"]
    assert "Hint" not in hidden.feedback.split("pool_output_size", 1)[1].split("\n## ", 1)[0]


def test_a_file_beside_the_checks_is_not_read_with_the_defaults_asked_for(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CNN_GRADER_CONFIG", "defaults")
    assert course.find(None) is None and course.load(None) == course.CourseConfig()
    config = tmp_path / "course.toml"
    config.write_text('[checks."shapes/conv_params"]\npoints = 5\n')
    monkeypatch.setenv("CNN_GRADER_CONFIG", str(config))
    assert course.load(None).checks["shapes/conv_params"].points == 5


def test_every_mistake_of_a_file_is_reported_at_once() -> None:
    text = (
        '[checks."shapes/conv_outputsize"]\npoints = 8\n[checks."shapes/conv_params"]\npoint = 2\n'
        "[robustness]\nimage = 19200\nlearns_top_left = 'high'\n[timeout]\ntimeout = 3\n"
    )
    with pytest.raises(course.ConfigError) as caught:
        parse(text)
    message = str(caught.value)
    for mistake in (
        "shapes/conv_outputsize",
        'checks."shapes/conv_params".point',
        "robustness.image",
        "learns_top_left",
        "[timeout]",
    ):
        assert mistake in message, (mistake, message)
    assert len(message.splitlines()) == 5


def test_the_data_set_is_a_choice_of_the_course_with_its_own_calibrated_settings() -> None:
    """``[data] set`` picks one of the manifest's data sets; its calibrated settings replace the defaults, the
    file's own values still win, and a warning names the data set whose calibration a value leaves."""
    mnist, fashion = parse(""), parse('[data]\nset = "fashion-mnist"\nraw = "/usr/share/datasets/fashion-mnist"\n')
    assert (mnist.dataset.name, fashion.dataset.name) == ("MNIST", "Fashion-MNIST")
    assert fashion.dataset.raw == "/usr/share/datasets/fashion-mnist" and fashion.dataset.folder == "FashionMNIST"
    assert mnist.group_settings()["robustness"]["keeps_fraction"] == 0.87
    assert fashion.group_settings()["robustness"]["keeps_fraction"] == 0.32
    assert (
        mnist.group_settings()["gradcam"]["peak_fraction"],
        fashion.group_settings()["gradcam"]["peak_fraction"],
    ) == (
        0.9,
        0.75,
    )
    assert fashion.warnings() == []
    tuned = parse('[data]\nset = "fashion-mnist"\n[robustness]\nkeeps_fraction = 0.87\n')
    assert tuned.group_settings()["robustness"]["keeps_fraction"] == 0.87
    (warning,) = tuned.warnings()
    assert "on Fashion-MNIST (0.25 to 0.35)" in warning
    with pytest.raises(course.ConfigError, match="did you mean 'fashion-mnist'"):
        parse('[data]\nset = "fashion"\n')
    again = parse(course.render_toml(fashion))
    assert again.to_dict() == fashion.to_dict()
