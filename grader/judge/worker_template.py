"""Workers forked from a pre-imported template inside the grading's sandbox (:mod:`grader.worker.template`).

A worker started as a new process spends about 3 s of CPU importing torch, torch._dynamo and its own ops
before it can answer. :class:`TemplateLauncher` starts the template once per grading, in the same bubblewrap
sandbox and CPU group as a plain worker would run (as the sandbox's root where the judge is root: each worker
it forks becomes the per-session user, :mod:`grader.worker.privileges`), and has it fork each worker: the
first one as soon as the template's imports are done, and any later one (after a hang, a crash or an exit) in
milliseconds. Stopping a worker kills every process in the sandbox but the template (``kill(-1)`` inside its
PID namespace, so processes that left the worker's session go too); where the template does not answer, the
whole sandbox is killed and the next worker starts a new one.

Only under bubblewrap: ``kill(-1)`` must stop at the sandbox's PID namespace (:func:`grader.judge.session`
uses :class:`~grader.judge.worker_process.PlainLauncher` otherwise).
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

from grader.judge.cpugroup import CpuGroup
from grader.worker.template import MAX_MESSAGE

KILL_TIMEOUT = 10.0  # s for the template to kill and reap the workers before the sandbox is killed instead
STDERR_TAIL_BYTES = 4096


class TemplateGone(OSError):
    """The template cannot be reached (it exited, or was killed)."""


class ForkedWorker:
    """A worker the template forked: the parts of ``subprocess.Popen`` that :class:`WorkerProcess` uses."""

    def __init__(self, template: _Template, tag: int, stdin: Any, stdout: Any, stderr: Any) -> None:
        self.template, self.tag = template, tag
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        try:
            return self.wait(0)
        except subprocess.TimeoutExpired:
            return None

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: killed by that signal); ``subprocess.TimeoutExpired`` if still running."""
        if self.returncode is None:
            self.returncode = self.template.wait_exit(self.tag, timeout)
        return self.returncode

    @property
    def killed_by_judge(self) -> bool:
        """Whether it ended because the judge stopped it (else by itself, or with its sandbox), once it has exited."""
        return self.tag in self.template.killed_tags


class _Template:
    """One template process and its control socket; a reader thread keeps what it reports."""

    def __init__(self, command: list[str], workdir: Path, env: dict[str, str], cpu_group: CpuGroup | None) -> None:
        judge_end, template_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                cpu_group.wrap(command) if cpu_group is not None else command,
                stdin=template_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                cwd=workdir,
                env=env,
                start_new_session=True,
            )
        except BaseException:
            judge_end.close()
            raise
        finally:
            template_end.close()
        self.control = judge_end
        self.tags = itertools.count(1)
        self.exits: dict[int, int] = {}
        self.killed_tags: set[int] = set()  # workers the template killed at the judge's request
        self.killed = 0  # kill requests answered so far
        self.gone = False
        self.changed = threading.Condition()
        self.stderr: collections.deque[bytes] = collections.deque(maxlen=64)
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = self.control.recv(MAX_MESSAGE)
                message = json.loads(data) if data else None
            except (OSError, ValueError):
                message = None
            with self.changed:
                if not isinstance(message, dict):
                    self.gone = True
                    self.changed.notify_all()
                    return
                if "exit" in message:
                    tag = int(message["exit"])
                    self.exits[tag] = int(message.get("code", -signal.SIGKILL))
                    if message.get("killed"):
                        self.killed_tags.add(tag)
                elif message.get("killed"):
                    self.killed += 1
                self.changed.notify_all()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):
            self.stderr.append(chunk)

    def fork(self, submission: Path, audit_fd: int) -> ForkedWorker:
        """Ask for a worker serving ``submission`` (``audit_fd`` is sent, not closed); it answers on the pipes
        returned (it may still be starting). Raise :class:`TemplateGone` when the request cannot be sent."""
        tag = next(self.tags)
        pipes = [os.pipe() for _ in range(3)]  # stdin, stdout, stderr
        theirs = [pipes[0][0], pipes[1][1], pipes[2][1]]
        try:
            message = json.dumps({"op": "fork", "tag": tag, "submission": str(submission)}).encode()
            socket.send_fds(self.control, [message], [*theirs, audit_fd])
        except OSError:
            with self.changed:
                self.gone = True
            for fd in (pipes[0][1], pipes[1][0], pipes[2][0]):
                os.close(fd)
            raise TemplateGone("the worker template is gone") from None
        finally:
            for fd in theirs:
                os.close(fd)
        return ForkedWorker(
            self,
            tag,
            os.fdopen(pipes[0][1], "wb"),
            os.fdopen(pipes[1][0], "rb", buffering=0),
            os.fdopen(pipes[2][0], "rb"),
        )

    def wait_exit(self, tag: int, timeout: float | None) -> int:
        """The exit code of worker ``tag``; a template that is gone took its workers with it (SIGKILL)."""
        with self.changed:
            if not self.changed.wait_for(lambda: tag in self.exits or self.gone, timeout):
                raise subprocess.TimeoutExpired("worker", timeout or 0)
            return self.exits.get(tag, -signal.SIGKILL)

    def kill_workers(self, timeout: float = KILL_TIMEOUT) -> bool:
        """Kill every process in the sandbox but the template; False if it did not answer in time."""
        with self.changed:
            asked = self.killed + 1
            try:
                self.control.send(json.dumps({"op": "kill"}).encode())
            except OSError:
                return False
            self.changed.wait_for(lambda: self.killed >= asked or self.gone, timeout)
            return self.killed >= asked

    def close(self) -> None:
        """End the template and everything in its sandbox."""
        try:
            self.control.close()
        except OSError:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


class TemplateLauncher:
    """Forks workers from one template per grading (started on first use, again if it was lost)."""

    bwrap = False  # workers' exit codes come from the template's waitpid, not from bubblewrap

    def __init__(
        self, command: list[str], submission: Path, workdir: Path, env: dict[str, str], cpu_group: CpuGroup | None
    ) -> None:
        self.command, self.submission, self.workdir, self.env = command, submission, workdir, env
        self.cpu_group = cpu_group
        self.template: _Template | None = None
        self.templates_started = 0
        self.lost_stderr = b""  # what the last template that was discarded wrote

    def start_template(self) -> None:
        """Start the template now (its imports then overlap whatever the judge does next)."""
        if self.template is None or self.template.gone or self.template.proc.poll() is not None:
            if self.template is not None:
                self._discard()
            self.template = _Template(self.command, self.workdir, self.env, self.cpu_group)
            self.templates_started += 1

    def launch(self, audit_fd: int) -> ForkedWorker:
        """Fork a worker (``audit_fd``, closed here, becomes its audit pipe); a template found gone is replaced once
        (a worker may have killed it: it runs as the same user)."""
        try:
            try:
                return self._started().fork(self.submission, audit_fd)
            except TemplateGone:
                return self._started().fork(self.submission, audit_fd)
        finally:
            os.close(audit_fd)

    def _started(self) -> _Template:
        self.start_template()
        assert self.template is not None
        return self.template

    def kill(self, proc: Any) -> None:
        """Kill the worker and all it started; a template that does not do so in time goes, with its sandbox."""
        template = proc.template
        if template is self.template and template.kill_workers():
            return
        if template is self.template:
            self._discard()
        else:
            template.close()

    def _discard(self) -> None:
        assert self.template is not None
        self.template.close()
        if self.cpu_group is not None:
            self.cpu_group.kill()
        self.lost_stderr = b"".join(self.template.stderr)
        self.template = None

    def close(self) -> None:
        if self.template is not None:
            self._discard()

    def diagnostics(self) -> str:
        """What the template itself wrote (its start-up errors), for a worker that could not start."""
        written = b"".join(self.template.stderr) if self.template is not None else self.lost_stderr
        text = written.decode(errors="replace")[-STDERR_TAIL_BYTES:]
        return f"the worker template wrote:\n{text}" if text.strip() else ""
