"""A pre-imported judge that forks one fresh judge per grading: the judge's start-up is paid once.

A judge process spends about 3 s of CPU importing torch, pytest, hypothesis and the checks
before it grades anything. :class:`JudgeTemplate` starts one process (``python -P -m
grader.judge.template``) that imports all of that and never grades; each :meth:`JudgeTemplate.spawn` forks
it into a new judge that runs ``cnn-grader ARGS`` exactly as the console script would (its own session,
working folder, environment, stdout and stderr files) and exits. No state passes between gradings: each
is a fork of the same untouched template, and the student's code still runs only in the judge's sandboxed
worker, which every forked judge starts afresh. The template runs no torch operation, so it forks with no
thread pool started (as DataLoader's workers do).

Protocol, one JSON line each way on private pipes: ``{"argv", "cwd", "env", "stdout", "stderr"}`` is answered
``{"pid": N}`` at once and ``{"exit": N, "code": C}`` when that judge has exited (C negative: killed by -C).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

PRELOAD = (
    "grader.cli",
    "grader.plugin",
    "grader.report.html",
    "grader.report.markdown",
    "grader.report.gradescope",
    "grader.judge.digits",
    "grader.trainer",
    "grader.netgraph",
    "grader.fastgraph",
    "torch._dynamo",  # what torch.optim loads on its first optimizer (about 1.2 s of every grading that trains)
)


class TemplateGone(RuntimeError):
    """The template process exited (or could not start): grade with a plain process instead."""


class ForkedJudge:
    """One judge forked from the template: ``pid`` (its own session), ``wait``, ``kill``, and its output files."""

    def __init__(self, template: JudgeTemplate, pid: int, stdout: Path, stderr: Path) -> None:
        self.template, self.pid, self.stdout_file, self.stderr_file = template, pid, stdout, stderr
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: the signal that killed it); raise ``subprocess.TimeoutExpired``."""
        if self.returncode is None:
            self.returncode = self.template._wait_exit(self.pid, timeout)
        return self.returncode

    def poll(self) -> int | None:
        """The exit code if it has exited, else None (as ``Popen.poll``)."""
        try:
            return self.wait(0)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def output(self) -> tuple[str, str]:
        read = lambda p: p.read_text(errors="replace") if p.exists() else ""  # noqa: E731
        return read(self.stdout_file), read(self.stderr_file)


class JudgeTemplate:
    """The client side: start the template once, then :meth:`spawn` a judge per grading (thread-safe)."""

    def __init__(self, python: str = sys.executable) -> None:
        self._proc = subprocess.Popen(
            [python, "-P", "-m", "grader.judge.template"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._spawned: list[int] = []
        self._exits: dict[int, int] = {}
        self._gone = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            message = json.loads(line)
            with self._cond:
                if "exit" in message:
                    self._exits[message["exit"]] = message["code"]
                elif "pid" in message:
                    self._spawned.append(message["pid"])
                self._cond.notify_all()
        with self._cond:
            self._gone = True
            self._cond.notify_all()

    def spawn(self, argv: list[str], cwd: Path, env: dict[str, str], stdout: Path, stderr: Path) -> ForkedJudge:
        """A new judge running ``cnn-grader *argv`` in ``cwd`` with ``env``; output goes to the two files."""
        request = {"argv": argv, "cwd": str(cwd), "env": env, "stdout": str(stdout), "stderr": str(stderr)}
        with self._lock:
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write((json.dumps(request) + "\n").encode())
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError):
                raise TemplateGone("the judge template has exited") from None
            with self._cond:
                while not self._spawned and not self._gone:
                    self._cond.wait()
                if not self._spawned:
                    raise TemplateGone("the judge template has exited")
                pid = self._spawned.pop(0)
        return ForkedJudge(self, pid, stdout, stderr)

    def _wait_exit(self, pid: int, timeout: float | None) -> int:
        with self._cond:
            if not self._cond.wait_for(lambda: pid in self._exits or self._gone, timeout):
                raise subprocess.TimeoutExpired(f"judge {pid}", timeout or 0)
            if pid not in self._exits:
                raise TemplateGone("the judge template exited while a judge ran")
            return self._exits.pop(pid)

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()  # the template kills its judges and exits
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()


_shared: JudgeTemplate | None = None
_shared_lock = threading.Lock()


def shared() -> JudgeTemplate:
    """This process's template (for every thread of it), started on first use and closed at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            import atexit

            _shared = JudgeTemplate()
            atexit.register(_shared.close)
        return _shared


# --- the template process ------------------------------------------------------------------------------


def _child(request: dict[str, Any], channels: tuple[int, int]) -> None:
    """In the fork: become ``cnn-grader *argv`` in its own session, then exit with its code."""
    code = 1
    try:
        for fd in channels:
            os.close(fd)
        os.setsid()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        same = request["stderr"] == request["stdout"]  # one file for both, as stderr=STDOUT
        err = os.dup(out) if same else os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(err, 2)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        for fd in (out, err, devnull):
            os.close(fd)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.argv = ["cnn-grader", *request["argv"]]
        from grader.cli import main

        try:
            code = main(request["argv"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - whatever happened, this process exits here
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if isinstance(code, int) else 1)


def serve() -> None:
    """The template: import everything a judge needs, then fork a judge for each request on stdin."""
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # nothing printed by an import can corrupt the protocol
    import importlib

    from grader import collector

    with collector.paused():  # and frozen after: each forked judge's collections skip these imports
        for name in PRELOAD:
            importlib.import_module(name)
        from grader.checks.registry import all_specs

        all_specs()  # imports every installed check module, the hidden tier's where it is installed
    children: set[int] = set()
    reader = os.fdopen(proto_in, "rb", buffering=0)
    buffer = b""

    def send(message: dict) -> None:
        os.write(proto_out, (json.dumps(message) + "\n").encode())

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            send({"exit": pid, "code": os.waitstatus_to_exitcode(status)})

    try:
        while True:
            ready, _, _ = select.select([proto_in], [], [], 0.05)
            reap()
            if not ready:
                continue
            chunk = reader.read(65536)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _child(request, (proto_in, proto_out))
                children.add(pid)
                send({"pid": pid})
    finally:
        for pid in children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


if __name__ == "__main__":
    serve()
