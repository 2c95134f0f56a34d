"""The grading's CPU group (grader/judge/cpugroup.py): it holds the worker and everything it starts, also
processes that made a session of their own, and kills them at the end."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest
from conftest import BASICS, engine_submission

from grader.judge import cpugroup
from grader.judge.session import GradeOptions, GradingSession

SLEEPER = """

import os as _os, time as _time
if _os.fork() == 0:  # a child that leaves the worker's process group and session
    _os.setsid()
    with open("sleeper.pid", "w") as _f:
        _f.write(str(_os.getpid()))
    _time.sleep(300)
    _os._exit(0)
"""


@pytest.mark.usefixtures("engine_course")
@pytest.mark.skipif(not cpugroup.available(), reason="no writable cgroup file system here")
def test_the_worker_and_a_process_that_left_its_session_share_one_cpu_group(tmp_path: Path) -> None:
    folder = engine_submission(tmp_path / "submission", basics=BASICS + textwrap.dedent(SLEEPER))
    session = GradingSession(folder, GradeOptions(sandbox="none", tamper_scan=False))
    group = session.cpu_group
    assert group is not None
    try:
        session.start()
        session.require("basics.double")
        pid_file = session.scratch / "sleeper.pid"
        for _ in range(100):
            if pid_file.exists() and pid_file.read_text():
                break
            time.sleep(0.05)
        sleeper = int(pid_file.read_text())
        assert os.getsid(sleeper) == sleeper  # its own session: a process group kill does not reach it
        assert sleeper in group.members() and len(group.members()) >= 2
    finally:
        session.close()
    assert not group.path.exists()
    with pytest.raises(ProcessLookupError):
        for _ in range(100):  # killed with the group; gone once its parent (init) has reaped it
            os.kill(sleeper, 0)
            time.sleep(0.05)
