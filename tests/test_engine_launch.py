"""Where a grading's worker runs (grader/judge/launch.py): the sandbox `cnn-grader` starts before its own
imports is the one the grading uses, one that no grading adopts leaves nothing behind, and the workspaces of
killed judges are removed by the next grading."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import engine_submission

from grader.judge import launch, sandbox
from grader.judge.session import GradeOptions, GradingSession

needs_bwrap = pytest.mark.skipif(not sandbox.bwrap_works(), reason="bubblewrap cannot run here")
pytestmark = pytest.mark.usefixtures("engine_course")


@needs_bwrap
def test_the_grading_adopts_the_sandbox_started_before_it(tmp_path: Path) -> None:
    folder = engine_submission(tmp_path / "submission")
    launch.prestart("bwrap", networks=False)
    early = launch._prestarted[0]
    session = GradingSession(folder, GradeOptions(sandbox="bwrap", whole=False))
    try:
        assert not launch._prestarted and session.workdir == early.space.root
        assert session.worker.launcher is early.launcher
        session.start()
        assert session.require("basics.double")  # the worker sees the files copied in after it started
    finally:
        session.close()
    assert not early.space.root.exists()


@needs_bwrap
def test_a_sandbox_no_grading_adopts_is_removed_at_exit() -> None:
    launch.prestart("bwrap", networks=False)
    early = launch._prestarted[0]
    early.launcher.start_template()
    template = early.launcher.template
    assert launch.adopt("none") is None  # another mode: not this sandbox
    launch._discard_unadopted()
    assert not early.space.root.exists() and template.proc.poll() is not None


def test_workspaces_of_judges_that_are_gone_are_removed_and_others_kept(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"{launch.WORKSPACE_PREFIX}{gone.stdout.strip()}-abc"
    live = tmp_path / f"{launch.WORKSPACE_PREFIX}{os.getpid()}-def"  # this test's own
    other = tmp_path / "cnn-grader-check-xyz"  # not a grading's workspace
    for folder in (stale / "submission", live / "submission", other):
        folder.mkdir(parents=True)
    space = launch.Workspace.create("none")
    try:
        assert not stale.exists() and live.exists() and other.exists()
        assert space.root.parent == tmp_path and space.root.name.startswith(launch.WORKSPACE_PREFIX)
    finally:
        space.remove()
