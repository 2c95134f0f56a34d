"""The judge's handle on one worker process: start, request with a deadline, kill.

Reads are non-blocking with a deadline (``select``), replies are size-capped and parsed by
:class:`grader.protocol.FrameReader`; the worker's stderr is drained by a thread into a bounded tail,
so a submission that prints gigabytes costs memory of a few kilobytes. A third pipe carries the worker's
audit findings (:mod:`grader.worker.audit`), read by another thread into :attr:`WorkerProcess.audit`.
"""

from __future__ import annotations

import collections
import json
import os
import secrets
import select
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from grader import protocol
from grader.judge.cpugroup import CpuGroup
from grader.judge.faults import WorkerFault, WorkerStartFailed, WorkerTimeout

STDERR_TAIL_BYTES = 8192
STARTUP_TIMEOUT = 120.0
AUDIT_FD = "{audit_fd}"  # in the command or environment: replaced by the audit pipe's number at each start
AUDIT_LINE_BYTES = 65536  # a finding with the source of code compiled at run time (grader/worker/audit.py)
AUDIT_SOURCE_CHARS = 20_000
AUDIT_FINDINGS = 64
CLOSED_AUDIT = {"event": "audit channel closed", "file": "", "line": 0}


class _AuditReader:
    """Reads one worker's audit pipe; notices when it closes while that worker goes on running."""

    def __init__(self, fd: int, proc: Any, findings: list[dict[str, Any]]) -> None:
        self.fd, self.proc, self.findings = fd, proc, findings
        self.stopped = False  # set when the judge kills the worker: the pipe closing then is expected
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        pending = b""
        with os.fdopen(self.fd, "rb", buffering=0) as pipe:
            for chunk in iter(lambda: pipe.read(65536), b""):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                pending = pending[-AUDIT_LINE_BYTES:]
                for line in lines:
                    self._add(line[:AUDIT_LINE_BYTES])
        if self.stopped:
            return
        # A worker that exits closes the pipe a moment before it is gone; one still running 2 s later, or one
        # the judge had to kill after the pipe closed, closed it itself.
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        if code is None or (self.stopped and _killed_by_judge(self.proc, code)):
            self._add(json.dumps(CLOSED_AUDIT).encode())

    def _add(self, line: bytes) -> None:
        try:
            finding = json.loads(line)
        except ValueError:
            finding = {"event": "unreadable audit line", "file": "", "line": 0}
        if not isinstance(finding, dict):
            finding = {"event": "unreadable audit line", "file": "", "line": 0}
        source = finding.get("source")
        finding = {"event": str(finding.get("event", ""))[:100], "file": str(finding.get("file", ""))[:500],
                   "line": finding.get("line") if isinstance(finding.get("line"), int) else 0}  # fmt: skip
        if isinstance(source, str):  # code the submission compiled at run time: the judge scans it
            finding["source"] = source[:AUDIT_SOURCE_CHARS]
        if finding not in self.findings and len(self.findings) < AUDIT_FINDINGS:
            self.findings.append(finding)


class PlainLauncher:
    """Starts each worker as a new process: ``command`` (``python -m grader.worker ...``, maybe sandboxed)."""

    def __init__(self, command: list[str], workdir: Path, env: dict[str, str], cpu_group: CpuGroup | None = None):
        self.command = command
        self.cpu_group = cpu_group  # the grading's own CPU share (grader/judge/cpugroup.py), where there is one
        self.workdir = workdir
        self.env = env
        self.bwrap = command[:1] == ["bwrap"]  # bubblewrap reports a signal death as 128 + signal

    def launch(self, audit_fd: int) -> subprocess.Popen[bytes]:
        """Start a worker whose audit findings go to ``audit_fd`` (the launcher closes it)."""
        number = str(audit_fd)
        command = [number if arg == AUDIT_FD else arg for arg in self.command]
        try:
            return subprocess.Popen(
                self.cpu_group.wrap(command) if self.cpu_group is not None else command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self.workdir,
                env={key: number if value == AUDIT_FD else value for key, value in self.env.items()},
                start_new_session=True,
                pass_fds=(audit_fd,),
            )
        finally:
            os.close(audit_fd)

    def kill(self, proc: Any) -> None:
        """Kill the worker and everything it started (it leads its own process group; the CPU group has the rest)."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.cpu_group is not None:
            self.cpu_group.kill()  # also what left the process group (os.setsid)

    def close(self) -> None:
        """Nothing outlives a worker here."""

    def diagnostics(self) -> str:
        """What the launcher itself reported (none: the worker's own output says it all)."""
        return ""


class Launcher(Protocol):
    """How workers are started and stopped: :class:`PlainLauncher`, or forked from a template in the sandbox
    (:class:`grader.judge.worker_template.TemplateLauncher`). A launched worker offers the parts of
    ``subprocess.Popen`` used here: ``stdin``, ``stdout``, ``stderr``, ``poll()`` and ``wait(timeout)``."""

    bwrap: bool  # whether exit statuses are bubblewrap's (a death by a signal shows as 128 + signal)

    def launch(self, audit_fd: int) -> Any: ...

    def kill(self, proc: Any) -> None: ...

    def close(self) -> None: ...

    def diagnostics(self) -> str: ...


def _killed_by_judge(proc: Any, code: int) -> bool:
    """Whether the judge's kill ended a worker: a forked worker's template says so; a plain process's status is
    SIGKILL (which a worker that kills itself gives too: the template tells the two apart)."""
    told = getattr(proc, "killed_by_judge", None)
    return told if isinstance(told, bool) else code == -signal.SIGKILL


class WorkerProcess:
    """One worker at a time, started by ``launcher`` (again after it was stopped), and the requests to it."""

    def __init__(self, launcher: Launcher):
        self.launcher = launcher
        self._proc: Any = None
        self._stderr: collections.deque[bytes] = collections.deque()
        self._stderr_size = 0
        self._ready = False
        self._next_id = 0
        self.setup: tuple[dict[str, Any], float] | None = None  # replayed after every start (see request)
        self._set_up = False
        self.audit: list[dict[str, Any]] = []  # every start's audit findings (event, file, line), in order
        self._audit: _AuditReader | None = None

    def start(self) -> None:
        """Start a worker (its imports overlap the judge's own start-up)."""
        read_end, write_end = os.pipe()
        try:
            self._proc = self.launcher.launch(write_end)
        except BaseException:
            os.close(read_end)
            raise
        self._audit = _AuditReader(read_end, self._proc, self.audit)
        self._ready = False
        self._set_up = False
        threading.Thread(target=self._drain_stderr, args=(self._proc,), daemon=True).start()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _drain_stderr(self, proc: Any) -> None:
        assert proc.stderr is not None
        for chunk in iter(lambda: proc.stderr.read1(65536), b""):
            self._stderr.append(chunk)
            self._stderr_size += len(chunk)
            while self._stderr_size > STDERR_TAIL_BYTES and len(self._stderr) > 1:
                self._stderr_size -= len(self._stderr.popleft())

    def stderr_tail(self, limit: int = 1500) -> str:
        return b"".join(self._stderr).decode(errors="replace")[-limit:]

    def ready(self) -> float:
        """Start the worker if it is not running and wait for its greeting; the seconds this took.

        No student code runs before the greeting: a worker that cannot get there is the grader's fault.
        """
        started = time.monotonic()
        if not self.alive:
            self.start()
        if not self._ready:
            try:
                hello = self._receive(STARTUP_TIMEOUT, "starting the worker")
            except WorkerFault as exc:  # no student code has run yet: the grader's own fault
                diagnostics = self.launcher.diagnostics()
                detail = f"\n{diagnostics}" if diagnostics.strip() else ""
                raise WorkerStartFailed(f"the grader could not start its worker: {exc.message}{detail}") from None
            if not hello.get("ready"):
                self.kill()
                raise WorkerFault("the worker sent a malformed greeting")
            self._ready = True
        return time.monotonic() - started

    def request(self, message: dict[str, Any], timeout: float, doing: str | None = None) -> dict[str, Any]:
        """Send one request and wait for its reply; raise :class:`WorkerFault` on timeout, exit or garbage.

        After every (re)start the :attr:`setup` request (the submission's preparation) goes first; a setup
        that fails is answered instead of ``message``.
        """
        self.ready()
        if self.setup is not None and not self._set_up:
            self._set_up = True
            setup, setup_timeout = self.setup
            reply = self._exchange(setup, setup_timeout, "preparing the submission")
            if not reply.get("ok"):
                return reply
        return self._exchange(message, timeout, doing)

    def _exchange(self, message: dict[str, Any], timeout: float, doing: str | None) -> dict[str, Any]:
        self._next_id += 1
        nonce = secrets.token_hex(16)  # a reply must echo it: bytes written ahead of the request cannot pass
        message = {**message, "id": self._next_id, "nonce": nonce}
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(protocol.pack(message))
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died("receiving a request") from None
        reply = self._receive(timeout, doing or str(message.get("op", "a request")))
        if reply.get("id") != self._next_id or reply.get("nonce") != nonce:
            self.kill()
            raise WorkerFault("the worker answered out of turn (protocol violation)")
        return reply

    def _receive(self, timeout: float, doing: str) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        reader = protocol.FrameReader()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise WorkerTimeout(f"no answer within {timeout:g} s while {doing}; the worker was stopped")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise self._died(doing)
            try:
                message = reader.feed(chunk)
            except (protocol.ProtocolError, ValueError, MemoryError) as exc:
                self.kill()
                raise WorkerFault(f"the worker broke the protocol while {doing}: {exc}") from None
            if message is not None:
                return message

    def _died(self, doing: str) -> WorkerFault:
        proc = self._proc
        assert proc is not None
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self.kill()
        if code is not None and code < 0:
            how = f"was killed by signal {-code}"
        elif code is not None and 128 < code <= 128 + 64 and self.launcher.bwrap:
            how = f"was killed by signal {code - 128}"
        else:
            how = f"exited with code {code}"
        tail = self.stderr_tail()
        detail = f"\nlast output:\n{tail}" if tail.strip() else ""
        return WorkerFault(
            f"the worker process {how} while {doing} (does the code call os._exit, sys.exit or crash?){detail}"
        )

    def kill(self) -> None:
        """Kill the worker and everything it started."""
        proc, self._proc = self._proc, None
        self._ready = False
        if self._audit is not None:
            self._audit.stopped = True
        if proc is None:
            return
        self.launcher.kill(proc)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass

    def close(self) -> None:
        """Kill the worker and release what the launcher holds (the template, where there is one)."""
        self.kill()
        self.launcher.close()

    def audit_findings(self, wait: float = 2.0) -> list[dict[str, Any]]:
        """The findings so far; after :meth:`kill`, wait up to ``wait`` s for the last lines in the pipe."""
        if self._audit is not None and self._proc is None:
            self._audit.thread.join(wait)
        return list(self.audit)
