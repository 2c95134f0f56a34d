"""One grading of one student, as a self-contained task: bytes in, report files out.

:func:`run` writes the submission to a private temporary folder and runs ``cnn-grader grade`` on it in
a fresh judge process (which starts its own sandboxed worker), under a wall-clock limit. A crash, a hang
or a runaway submission costs only this task: it comes back as an :class:`Outcome` with the reason.
Tasks and outcomes are plain data, so the same task runs in a local thread or on a Dask worker.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from grader.course import CourseConfig, known_checks, parse
from grader.judge import template
from grader.judge.faults import GRADER_FAULT_EXIT
from grader.judge.template import ForkedJudge, JudgeTemplate, TemplateGone
from grader.plugin import refusal

Status = Literal["graded", "unreadable", "crashed", "timed out", "grader error"]
REPORT_FILES = ("results.json", "report.json", "feedback.md", "feedback.html")


@dataclass(frozen=True)
class GradeSettings:
    """How every student of a batch is graded (the ``cnn-grader grade`` options)."""

    device: str = "auto"
    seed: int = 0
    data_root: str | None = None
    timeout: float | None = None  # None: the course's configuration, else the default
    cell_timeout: float | None = None
    sandbox: str = "auto"
    no_cache: bool = False
    k: str | None = None
    tiers: str | None = None
    student_timeout: float = 900.0
    course_config: str | None = None  # the course configuration's text (grader/course.py), carried to each task

    def course(self) -> CourseConfig:
        if self.course_config is None:
            return CourseConfig()
        return parse(self.course_config, known_checks(), origin="the batch's course configuration")

    def fingerprint(self) -> str:
        """What a finished grading depended on (a changed option means grading again)."""
        relevant = {k: v for k, v in asdict(self).items() if k not in ("data_root", "student_timeout")}
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]

    def arguments(self) -> list[str]:
        args = ["--device", self.device, "--seed", str(self.seed), "--sandbox", self.sandbox]
        if self.timeout is not None:
            args += ["--timeout", str(self.timeout)]
        if self.cell_timeout is not None:
            args += ["--cell-timeout", str(self.cell_timeout)]
        if self.data_root:
            args += ["--data-root", self.data_root]
        if self.no_cache:
            args.append("--no-cache")
        if self.k:
            args += ["-k", self.k]
        if self.tiers:
            args += ["--tiers", self.tiers]
        return args


@dataclass(frozen=True)
class GradeTask:
    student: str
    filename: str
    data: bytes
    settings: GradeSettings


@dataclass
class Outcome:
    """What one grading produced: the report files, or why there are none."""

    student: str
    status: Status
    reason: str = ""
    seconds: float = 0.0
    host: str = ""
    files: dict[str, bytes] = field(default_factory=dict)


_live: set[subprocess.Popen | ForkedJudge] = set()
_live_lock = threading.Lock()
USE_TEMPLATE = "CNN_GRADER_JUDGE_TEMPLATE"  # "0": a plain process per student (e.g. to compare)


def stop_all() -> None:
    """Kill every grading this process is running (an interrupted batch leaves nothing behind)."""
    with _live_lock:
        for proc in list(_live):
            _kill(proc)


def _kill(proc: subprocess.Popen | ForkedJudge) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _judge_template() -> JudgeTemplate | None:
    """This process's judge template (one for every slot of its pool), or None where turned off."""
    return template.shared() if os.environ.get(USE_TEMPLATE, "1") == "1" else None


def _judge(command: list[str], cwd: Path, tmp: Path, timeout: float) -> tuple[int, str, str]:
    """Run the judge ``command`` (``python -P -m grader.cli ...``) in its own session: forked from the template
    where there is one, else a new process; (exit code, stdout, stderr). Raises ``subprocess.TimeoutExpired``
    after killing it."""
    judges = _judge_template()
    proc: subprocess.Popen | ForkedJudge
    if judges is not None:
        try:
            proc = judges.spawn(command[4:], cwd, dict(os.environ), tmp / "judge.out", tmp / "judge.err")
        except TemplateGone:
            judges = None
    if judges is None:
        proc = subprocess.Popen(
            command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
    with _live_lock:
        _live.add(proc)
    try:
        if isinstance(proc, ForkedJudge):
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill(proc)
                raise
            return (code, *proc.output())
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.communicate()
            raise
        return proc.returncode, stdout, stderr
    finally:
        with _live_lock:
            _live.discard(proc)


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(line for line in text.strip().splitlines()[-lines:])


def _where() -> str:
    """This machine's name, and the Dask worker's address when running as a Dask task."""
    try:
        from distributed import get_worker

        return f"{socket.gethostname()} {get_worker().address}"
    except (ImportError, ValueError):
        return socket.gethostname()


def run(task: GradeTask) -> Outcome:
    """Grade ``task`` in a fresh judge process; never raises for anything the submission does."""
    started = time.perf_counter()
    host = _where()
    with tempfile.TemporaryDirectory(prefix="cnn-grader-task-") as tmp:
        inbox, out = Path(tmp, "in"), Path(tmp, "out")
        inbox.mkdir()
        out.mkdir()
        submission = inbox / Path(task.filename).name
        submission.write_bytes(task.data)
        # -P: the judge's import path never includes a folder the student's files are in
        command = [sys.executable, "-P", "-m", "grader.cli", "grade", str(submission), "--out", str(out)]
        command += ["--report-json", str(out / "report.json"), *task.settings.arguments()]
        if task.settings.course_config is not None:  # written here: a Dask worker has no instructor's files
            config = Path(tmp, "course.toml")
            config.write_text(task.settings.course_config, encoding="utf-8")
            command += ["--config", str(config)]
        try:
            returncode, stdout, stderr = _judge(command, out, Path(tmp), task.settings.student_timeout)
        except subprocess.TimeoutExpired:
            limit = task.settings.student_timeout
            return Outcome(task.student, "timed out", f"grading took longer than {limit:g} s", limit, host)
        seconds = round(time.perf_counter() - started, 2)
        if returncode < 0:
            name = signal.Signals(-returncode).name
            reason = f"the grader was killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
            return Outcome(task.student, "crashed", reason, seconds, host)
        files = {name: (out / name).read_bytes() for name in REPORT_FILES if (out / name).is_file()}
        if returncode == 0 and "results.json" in files:
            return Outcome(task.student, "graded", "", seconds, host, files)
        if returncode == GRADER_FAULT_EXIT:  # not the student's: no grade, retried by the next run
            reason = f"the grader could not grade this submission: {_tail(stderr or stdout, 3)}"
            return Outcome(task.student, "grader error", reason, seconds, host)
        reason = refusal(stdout + stderr)
        if reason is not None:
            reason = reason.replace(str(submission), submission.name)
            return Outcome(task.student, "unreadable", f"the submission could not be read: {reason}", seconds, host)
        reason = f"the grader exited with code {returncode}: {_tail(stderr or stdout)}"
        return Outcome(task.student, "crashed", reason, seconds, host)
