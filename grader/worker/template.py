"""The worker template: ``python -m grader.worker.template``, started inside the grading's sandbox.

It makes the imports every worker makes (:func:`grader.worker.serve.preload`: torch, torch._dynamo, the
worker's ops, about 3 s of CPU), runs no student code and no torch operation, and forks one worker per
request of the judge: a worker that the judge had to stop (a hang, a crash, an exit) is replaced in
milliseconds, not seconds. The template and its workers share the sandbox the judge started (its mounts,
namespaces, rlimits and per-session uid); nothing else is ever in it, so no state can pass between students.
Started as root (bubblewrap keeps only the capabilities to change user), the template stays root and each
worker drops to the grading's user before it runs anything else, so no worker can signal or trace the
template or forge what it reports.

Protocol on fd 0, a Unix ``SOCK_SEQPACKET`` socket from the judge, one JSON message per packet:

- ``{"op": "fork", "tag": N, "submission": PATH}`` with four descriptors attached (the worker's stdin, stdout
  and stderr, and its audit pipe's write end) forks a worker that serves on them
  (:func:`grader.worker.serve.serve`) in a session of its own, as the grading's user
  (:mod:`grader.worker.privileges`); ``{"exit": N, "code": C, "killed": K}`` is sent when it has exited (C
  negative: killed by signal -C; K: by the template, at the judge's request).
- ``{"op": "kill"}``: every other process in the sandbox is killed (``kill(-1)``: the workers and
  whatever they started, also in other sessions; the sandbox's own PID 1 and the template are spared), and
  answered ``{"killed": true}`` once the template's children are reaped.

The judge closing the socket ends the template and everything in the sandbox.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import tempfile
import traceback
from pathlib import Path

MAX_MESSAGE = 65536
DESCRIPTORS = 4  # stdin, stdout, stderr, audit
SANDBOXED_ENV = "CNN_GRADER_SANDBOXED"  # set by the judge's bubblewrap command line only
USER_ENV = "CNN_GRADER_WORKER_UID"  # the grading's user, where the template starts as the sandbox's root
AUDIT_FD = 63  # each worker's audit pipe, named by the template's $CNN_GRADER_AUDIT_FD (grader/judge/launch.py)


def confined() -> bool:
    """Whether ``kill(-1)`` reaches this sandbox only: bubblewrap started this process in a PID namespace of its
    own (the judge marks its command line; bubblewrap's init, PID 1 there, is the parent). Elsewhere it would
    reach every process of the user: the template then refuses to run."""
    return os.environ.get(SANDBOXED_ENV) == "1" and os.getppid() == 1


def send(control: socket.socket, message: dict) -> None:
    control.send(json.dumps(message).encode())


def receive(control: socket.socket) -> tuple[dict | None, list[int]]:
    """One packet and the descriptors it carries; (None, []) when the judge has closed the socket."""
    data, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE, DESCRIPTORS)
    if not data:
        return None, list(fds)
    return json.loads(data), list(fds)


def become_worker(control: socket.socket, fds: list[int], submission: str) -> None:
    """In the forked child: take the descriptors as fds 0-2 and the audit pipe, become the grading's user (where
    the template runs as the sandbox's root), then serve as a fresh worker would; never returns."""
    code = 1
    try:
        os.setsid()
        control.close()
        moved = [os.dup(fd) for fd in fds]  # above every descriptor in use, so no target below is overwritten
        for fd in fds:
            os.close(fd)
        for fd, target in zip(moved, (0, 1, 2, AUDIT_FD), strict=True):
            os.dup2(fd, target, inheritable=target != AUDIT_FD)
            os.close(fd)
        if USER_ENV in os.environ:
            from grader.worker.privileges import drop_to

            drop_to(int(os.environ.pop(USER_ENV)))
            os.environb.pop(USER_ENV.encode(), None)
            tempfile.tempdir = None  # chosen by the imports as root: the worker chooses its own, as a fresh one does
        from grader.worker.serve import serve

        serve(Path(submission))  # the audit hook finds its pipe at $CNN_GRADER_AUDIT_FD = AUDIT_FD
        code = 0
    except BaseException:  # noqa: BLE001 - on the worker's stderr, whose tail the judge reports
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(code)


def reap(control: socket.socket, children: dict[int, int], block: bool = False, killed: bool = False) -> None:
    """Report each exited child (``children``: pid -> the judge's tag); ``block``: until none is left;
    ``killed``: these were killed by the template (the judge's kill request), not by their own doing."""
    while children:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid in children:
            code = os.waitstatus_to_exitcode(status)
            send(control, {"exit": children.pop(pid), "code": code, "killed": killed})


def kill_all() -> None:
    """Kill every other process of the sandbox: kill(-1) spares the caller and PID 1 and stops at the namespace."""
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass


def main() -> None:
    if not confined():
        sys.exit("grader.worker.template runs only inside the judge's bubblewrap sandbox")
    control = socket.socket(fileno=os.dup(0))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)

    from grader.worker.serve import preload

    preload()
    send(control, {"ready": True})
    children: dict[int, int] = {}
    while True:
        ready, _, _ = select.select([control], [], [], 0.1)
        reap(control, children)
        if not ready:
            continue
        message, fds = receive(control)
        if message is None:
            break
        if message.get("op") == "fork" and len(fds) == DESCRIPTORS:
            pid = os.fork()
            if pid == 0:
                become_worker(control, fds, str(message["submission"]))
            children[pid] = int(message["tag"])
        elif message.get("op") == "kill":
            reap(control, children)  # those that ended by themselves are reported as such
            kill_all()
            reap(control, children, block=True, killed=True)
            send(control, {"killed": True})
        for fd in fds:
            os.close(fd)
    kill_all()
    sys.exit(0)


if __name__ == "__main__":
    main()
