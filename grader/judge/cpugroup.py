"""Each grading's worker in a CPU control group of its own: CPU is shared per grading, not per process.

Linux shares CPU between *sessions* (autogroups): a submission whose processes each call ``os.setsid()``
gets one share per process, and 16 such spinners left a neighbouring grading 0.12 of a core on two cores
(0.99 with a group each; docs/security.md). A cgroup holds a process and everything it starts,
whatever session they make, and all gradings' groups weigh the same. The worker is placed in its group
before it starts (a shell writes its own pid, then execs the worker), so nothing it forks escapes.

Needs a writable cgroup file system (root, or a delegated subtree); elsewhere :func:`create` returns None
and gradings share CPU as plain processes do. cgroup v1 (the ``cpu`` controller) and v2 are handled.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_FS = Path("/sys/fs/cgroup")
PLACE = 'echo $$ > "$0" && exec "$@"'  # sh -c PLACE PROCS_FILE COMMAND...: join the group, then become COMMAND


def _own_group(version: int) -> Path | None:
    """This process's group in the CPU hierarchy, from /proc/self/cgroup."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if version == 2 and controllers == "":
            return CGROUP_FS / path.lstrip("/")
        if version == 1 and "cpu" in controllers.split(","):
            return CGROUP_FS / controllers / path.lstrip("/")
    return None


@dataclass(frozen=True)
class CpuGroup:
    """One grading's group: :meth:`wrap` a command to start it inside, :meth:`kill` and :meth:`remove` at the end."""

    path: Path

    @property
    def procs(self) -> Path:
        return self.path / "cgroup.procs"

    def wrap(self, command: list[str]) -> list[str]:
        return ["/bin/sh", "-c", PLACE, str(self.procs), *command]

    def members(self) -> list[int]:
        try:
            return [int(pid) for pid in self.procs.read_text().split()]
        except (OSError, ValueError):
            return []

    def kill(self) -> None:
        """Kill every process in the group, also those that left the worker's process group or session."""
        for _ in range(3):
            pids = self.members()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def remove(self, wait: float = 2.0) -> None:
        """Kill what is left and delete the group (waiting up to ``wait`` s for the killed to exit)."""
        deadline = time.monotonic() + wait
        while True:
            self.kill()
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return  # still busy: left for the kernel to free once its last process is gone
                time.sleep(0.02)


def _remove_stale(parent: Path, name: str) -> None:
    """Delete the empty groups of judges that ended without :meth:`CpuGroup.remove` (killed, say)."""
    for path in parent.glob(f"{name}-*-*"):
        pid = path.name[len(name) + 1 :].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            try:
                path.rmdir()  # fails, and is left, while a process is still in it
            except OSError:
                pass


def create(name: str = "cnn-grader") -> CpuGroup | None:
    """A new group for one grading beside this process's own, or None where cgroups cannot be written."""
    version = 2 if (CGROUP_FS / "cgroup.controllers").exists() else 1
    parent = _own_group(version)
    if parent is None or not parent.is_dir():
        return None
    if version == 2:
        try:
            if "cpu" not in (parent / "cgroup.subtree_control").read_text().split():
                return None  # enabling it would move this process: leave the hierarchy as it is
        except OSError:
            return None
    _remove_stale(parent, name)
    path = parent / f"{name}-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        path.mkdir()
    except OSError:
        return None
    group = CpuGroup(path)
    if not os.access(group.procs, os.W_OK):
        group.remove()
        return None
    return group


def available() -> bool:
    """Whether :func:`create` works here (tries, and removes what it made)."""
    group = create()
    if group is None:
        return False
    group.remove()
    return True
