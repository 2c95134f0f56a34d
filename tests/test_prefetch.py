"""What the plugin starts before the first check (a check module's ``prefetch``) and how the reports stay in the
files' order though the robustness group runs last; the grading itself is in tests/test_grading.py."""

from __future__ import annotations

import gc
from pathlib import Path
from types import SimpleNamespace

import pytest

from grader import cli, collector
from grader.judge.session import GradeOptions
from grader.plugin import REPORT_ORDER, PointsRecorder, SubmissionSession
from grader.results import CheckResult


def _loop(plugin: SubmissionSession, modules: list[object], *, failed: int = 0, collect_only: bool = False) -> None:
    items = [SimpleNamespace(module=m) for m in modules for _ in range(2)]  # two checks per module
    config = SimpleNamespace(option=SimpleNamespace(collectonly=collect_only))
    plugin.pytest_runtestloop(SimpleNamespace(items=items, testsfailed=failed, config=config))


def _plugin() -> SubmissionSession:
    plugin = SubmissionSession(Path("submission"), GradeOptions(), recorder=None)  # type: ignore[arg-type]
    plugin.session = SimpleNamespace(name="the grading")  # type: ignore[assignment]
    return plugin


def test_each_module_prefetches_once_and_what_it_raises_is_left_to_its_checks() -> None:
    calls = []

    def broken(grading: object) -> None:
        calls.append(("broken", grading.name))
        raise RuntimeError("a grader bug or a full disk: the checks that need the same thing meet it again")

    def fine(grading: object) -> None:
        calls.append(("fine", grading.name))

    _loop(_plugin(), [SimpleNamespace(prefetch=broken), SimpleNamespace(prefetch=fine), SimpleNamespace()])
    assert calls == [("broken", "the grading"), ("fine", "the grading")]


@pytest.mark.parametrize("how", [{"failed": 1}, {"collect_only": True}])
def test_nothing_is_prefetched_when_the_checks_will_not_run(how: dict) -> None:
    calls = []
    _loop(_plugin(), [SimpleNamespace(prefetch=calls.append)], **how)
    assert calls == []


def test_reports_list_checks_and_their_shared_problems_in_the_files_order() -> None:
    recorder = PointsRecorder("submission")
    ran = [  # the robustness group ran last; its problem was recorded first
        CheckResult("robustness/robust_net_learns_top_left", 0, 4, "failed", problem="RobustQuadrantNet()"),
        CheckResult("shapes/conv_output_size", 3, 3, "passed"),
        CheckResult("gradcam/properties", 0, 2, "failed", problem="gradcam.py"),
    ]
    recorder.report.checks = list(ran)
    recorder.report.problems = {"RobustQuadrantNet()": "cannot be exported", "gradcam.py": "cannot be imported"}
    order = {"shapes/conv_output_size": 0, "robustness/robust_net_learns_top_left": 1, "gradcam/properties": 2}
    config = SimpleNamespace(stash={REPORT_ORDER: order})
    recorder.pytest_sessionfinish(SimpleNamespace(config=config, exitstatus=pytest.ExitCode.TESTS_FAILED))
    assert [c.name for c in recorder.report.checks] == list(order)
    assert list(recorder.report.problems) == ["RobustQuadrantNet()", "gradcam.py"]


def test_only_a_grading_keeps_the_collector_paused(capsys: pytest.CaptureFixture[str]) -> None:
    """The console script pauses the collector for a grading's start-up (the plugin resumes it); any other
    command, a batch that runs for an hour included, turns it back on at once."""
    was_on = gc.isenabled()
    try:
        collector.pause()
        assert cli.main(["config"]) == 0
        assert gc.isenabled()
    finally:
        collector.resume()
        gc.unfreeze()  # what resume() froze belongs to this test process
        if not was_on:
            gc.disable()
    assert "[robustness]" in capsys.readouterr().out
