"""How the worker is confined: bubblewrap (Linux), resource limits, or nothing but limits.

Under bubblewrap the worker sees a whitelist: ``/usr`` and the few ``/etc`` files the loader needs, the
Python installation and the worker's own package (read-only; ``reference/``, ``solutions/`` and
``hidden_checks/`` are not there), the submission copy and the judge's inputs (read-only), a scratch
folder (read-write), and sized private ``/tmp`` and ``/dev/shm``. It gets no network, its own
PID/IPC/UTS namespaces, and dies with the judge. Started as root, bubblewrap keeps only the capabilities
to change user, and ``setpriv`` drops to an unprivileged user with no capabilities before any student
code runs; started as an ordinary user, an unprivileged user namespace is used instead. ``prlimit`` then
sets the rlimits in every mode.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import grader

SANDBOX_UIDS = range(200_000, 300_000)  # no passwd entries; one per grading session (see sandbox_uid)
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf", "/etc/ssl/certs/ca-certificates.crt")


class SandboxUnavailable(Exception):
    """``--sandbox bwrap`` was asked for and cannot work here."""


@dataclass(frozen=True)
class Limits:
    """rlimits of the worker process tree, and the size of its private tmpfs mounts."""

    address_space: int = 24 * 2**30  # a CUDA build of torch maps several GiB of libraries
    cpu_seconds: int = 1800
    processes: int = 1024  # counts threads of the sandbox user; torch and a Jupyter kernel start dozens
    file_size: int = 256 * 2**20
    open_files: int = 1024
    tmpfs_size: int = 256 * 2**20

    def prlimit(self, count_processes: bool) -> list[str]:
        """``prlimit`` arguments; RLIMIT_NPROC only where the worker runs as its own user (it counts per user)."""
        if shutil.which("prlimit") is None:
            return []
        nproc = [f"--nproc={self.processes}"] if count_processes else []
        return [
            "prlimit",
            f"--as={self.address_space}",
            f"--cpu={self.cpu_seconds}",
            f"--fsize={self.file_size}",
            f"--nofile={self.open_files}",
            "--core=0",
            *nproc,
            "--",
        ]


@functools.lru_cache(maxsize=1)
def bwrap_works() -> bool:
    """Whether bubblewrap is installed and can create its namespaces here (cached per process)."""
    if sys.platform != "linux" or shutil.which("bwrap") is None:
        return False
    probe = ["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--die-with-parent"]
    if os.geteuid() != 0:
        probe.append("--unshare-user")
    try:
        return subprocess.run([*probe, "true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def resolve_mode(requested: str) -> str:
    """``auto`` becomes ``bwrap`` where it works, else ``none``; ``bwrap`` must work."""
    if requested == "auto":
        return "bwrap" if bwrap_works() else "none"
    if requested == "bwrap" and not bwrap_works():
        raise SandboxUnavailable(
            "bubblewrap is not installed or cannot create namespaces here (apt-get install bubblewrap)"
        )
    return requested


def sandbox_uid(scratch: Path) -> int:
    """The unprivileged uid of one grading session.

    RLIMIT_NPROC counts every process of a uid on the machine, across namespaces: with one shared uid, a
    fork bomb in one submission would stop the other submissions graded at the same time.
    """
    digest = int.from_bytes(hashlib.sha256(f"{scratch}:{os.getpid()}".encode()).digest()[:8], "big")
    return SANDBOX_UIDS[digest % len(SANDBOX_UIDS)]


def _hidden_packages() -> list[Path]:
    """Trusted code that a regular (non-editable) install puts beside the worker's package."""
    found = []
    for name in ("reference", "solutions", "hidden_checks"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        if getattr(module, "__file__", None):
            found.append(Path(module.__file__).resolve().parent)
    return found


def _ancestors(path: Path) -> list[Path]:
    return [p for p in reversed(path.parents) if p != Path("/")]


def _readonly_roots() -> list[Path]:
    """The Python installation, the worker's package and the course's folder (its contract: public, as the
    checks are), nothing else of the grader's tree."""
    from grader import coursepkg

    package = Path(grader.__file__).resolve().parent
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), package, coursepkg.course_root()}
    return sorted(r for r in roots if not r.is_relative_to("/usr"))


def bwrap_command(
    worker: list[str],
    *,
    submission: Path,
    inputs: Path,
    scratch: Path,
    env: dict[str, str],
    limits: Limits,
    switch_user: bool = True,
) -> list[str]:
    """The bubblewrap command line that runs ``worker`` confined (``worker[0]`` is the Python binary).

    Started as root, ``worker`` runs as the grading's user (:func:`sandbox_uid`), or, with ``switch_user``
    False (the worker template, which switches each worker it forks itself), as the sandbox's root with only
    the capabilities to change user and to stop those workers (``kill`` reaches the sandbox's PID namespace only).
    """
    args = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    args += ["--die-with-parent", "--new-session", "--clearenv"]
    args += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "sbin"):
        link = Path("/") / name
        if link.is_symlink():
            args += ["--symlink", os.readlink(link), str(link)]
        elif link.is_dir():
            args += ["--ro-bind", str(link), str(link)]
    for file in ETC_FILES:
        if Path(file).exists():
            args += ["--ro-bind", file, file]
    made: set[Path] = set()

    def mount(source: Path, how: str) -> None:
        for parent in _ancestors(source):
            if parent not in made:
                args.extend(["--perms", "0755", "--dir", str(parent)])
                made.add(parent)
        args.extend([how, str(source), str(source)])
        made.add(source)

    # The private /tmp first: binds below it (a checkout or venv under /tmp) must land on top of it.
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--perms", "1777", "--size", str(limits.tmpfs_size), "--tmpfs", "/tmp"]
    args += ["--perms", "1777", "--size", str(limits.tmpfs_size), "--tmpfs", "/dev/shm"]
    made.update({Path("/tmp"), Path("/dev")})
    for root in _readonly_roots():
        mount(root, "--ro-bind")
    for hidden in _hidden_packages():
        if any(hidden.is_relative_to(root) for root in _readonly_roots()):
            args += ["--tmpfs", str(hidden)]  # an empty folder over reference/ in site-packages
    mount(submission, "--ro-bind")
    mount(inputs, "--ro-bind")
    mount(scratch, "--bind")
    args += ["--chdir", str(scratch)]
    for key, value in env.items():
        args += ["--setenv", key, value]
    if os.geteuid() == 0:
        uid = sandbox_uid(scratch)
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
        if switch_user:
            args += ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
            args += ["--inh-caps=-all", "--bounding-set=-all"]
        else:
            args += ["--cap-add", "CAP_KILL"]  # the template stops its workers, which run as another user
    else:
        args += ["--unshare-user", "--cap-drop", "ALL"]
    return [*args, "--", *limits.prlimit(count_processes=os.geteuid() == 0), *worker]


def worker_command(worker: list[str], mode: str, **where) -> list[str]:
    """The full command: confined by bubblewrap, or under rlimits alone (``mode == "none"``)."""
    limits = where.pop("limits", Limits())
    if mode == "bwrap":
        return bwrap_command(worker, limits=limits, **where)
    return [*limits.prlimit(count_processes=False), *worker]


def prepare_scratch(scratch: Path, mode: str) -> None:
    """Give the scratch folder to the sandbox user (only needed when root drops to it)."""
    if mode == "bwrap" and os.geteuid() == 0:
        uid = sandbox_uid(scratch)
        for path in [scratch, *scratch.rglob("*")]:
            os.chown(path, uid, uid, follow_symlinks=False)
