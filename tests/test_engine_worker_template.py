"""Workers forked from the pre-imported template in the sandbox (grader/worker/template.py,
grader/judge/worker_template.py): a stopped worker is replaced by a fork, not a new interpreter; stopping
it stops everything it started, also processes in a session of their own; a lost template is replaced;
and the template never runs outside bubblewrap's PID namespace (its kill(-1) would reach the user's
processes there)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, engine_submission

from grader.judge import expect, sandbox
from grader.judge.faults import WorkerStartFailed, WorkerTimeout
from grader.judge.session import GradeOptions, GradingSession
from grader.judge.worker_process import WorkerProcess
from grader.judge.worker_template import TemplateLauncher

pytestmark = [
    pytest.mark.skipif(not sandbox.bwrap_works(), reason="bubblewrap cannot run here"),
    pytest.mark.usefixtures("engine_course"),
]

BASICS = '''
import os, time


def double(x):
    if x == 7:
        while True:  # a hang: the judge stops this worker
            pass
    return 2 * x


def pid():
    return os.getpid()


def spawn():
    """Starts a grandchild in a session of its own (a killpg does not reach it) that touches heartbeat.txt."""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while True:
                with open("heartbeat.txt", "w") as f:
                    f.write(str(time.monotonic()))
                time.sleep(0.02)
        os._exit(0)
    return 1
'''


def session_for(tmp_path: Path, timeout: float = 3.0) -> GradingSession:
    folder = engine_submission(tmp_path / "submission", basics=BASICS)
    session = GradingSession(folder, GradeOptions(sandbox="bwrap", tamper_scan=False, timeout=timeout))
    session.start()
    return session


def call(session: GradingSession, name: str, **kwargs: int) -> int:
    reply = session.ask("call", name, needs=(f"basics.{name}",), target=f"basics.{name}", kwargs=kwargs)
    return expect.as_int(reply["result"], name)


def pool_pid(session: GradingSession) -> int:
    """The worker's pid, in the sandbox's PID namespace."""
    return call(session, "pid")


def test_a_stopped_worker_is_replaced_by_a_fork_of_the_same_template(tmp_path: Path) -> None:
    session = session_for(tmp_path)
    try:
        launcher = session.worker.launcher
        assert isinstance(launcher, TemplateLauncher)
        first = pool_pid(session)
        with pytest.raises(WorkerTimeout):
            call(session, "double", x=7)
        assert call(session, "double", x=8) == 16  # a new worker answers
        second = pool_pid(session)
        assert second != first
        assert launcher.templates_started == 1  # forked again, no new sandbox or interpreter
    finally:
        session.close()


def test_stopping_a_worker_stops_what_left_its_session_and_spares_the_template(tmp_path: Path) -> None:
    session = session_for(tmp_path)
    heartbeat = session.scratch / "heartbeat.txt"
    try:
        call(session, "spawn")  # starts the heartbeat
        for _ in range(200):
            if heartbeat.exists() and heartbeat.read_text():
                break
            time.sleep(0.02)
        assert heartbeat.read_text()
        session.worker.kill()
        time.sleep(0.2)  # a beat already under way may land
        last = heartbeat.read_text()
        time.sleep(0.3)
        assert heartbeat.read_text() == last  # the grandchild is gone with its worker
        assert pool_pid(session) > 0
        assert session.worker.launcher.templates_started == 1
    finally:
        session.close()


def test_a_lost_template_is_replaced_and_the_grading_goes_on(tmp_path: Path) -> None:
    session = session_for(tmp_path)
    try:
        launcher = session.worker.launcher
        pool_pid(session)
        launcher.template.close()  # as if the sandbox had died
        session.worker.kill()
        assert call(session, "double", x=8) == 16
        assert launcher.templates_started == 2
    finally:
        session.close()
    assert launcher.template is None


def test_the_template_refuses_to_run_outside_the_sandbox() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "grader.worker.template"],
        env={**os.environ, "CNN_GRADER_SANDBOXED": "1"},  # claimed, but its parent is not a namespace's init
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode != 0 and "only inside the judge's bubblewrap sandbox" in proc.stderr


def test_a_template_that_cannot_start_is_a_grader_fault_that_shows_its_words(tmp_path: Path) -> None:
    broken = [sys.executable, "-c", "import sys; sys.exit('no torch here')"]
    launcher = TemplateLauncher(broken, tmp_path, tmp_path, dict(os.environ), None)
    worker = WorkerProcess(launcher)
    try:
        with pytest.raises(WorkerStartFailed, match="could not start its worker(.|\\n)*no torch here"):
            worker.ready()
    finally:
        worker.close()
