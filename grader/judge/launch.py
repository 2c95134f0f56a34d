"""Where a grading's worker runs and how it is launched: its folders, its environment, its launcher.

Under bubblewrap the workers are forked from a template in the sandbox
(:class:`~grader.judge.worker_template.TemplateLauncher`), elsewhere each is a new process
(:class:`~grader.judge.worker_process.PlainLauncher`). The folders exist before the sandbox starts, so that
``cnn-grader grade`` and ``check`` can start the sandbox and its template first (:func:`prestart`), while
the judge is still importing torch and its checks (about 2 s), and the grading adopts them (:func:`adopt`)
once it has copied the submission into the (bound, so visible) folder. This module imports no torch.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader import coursepkg
from grader.judge import cpugroup, sandbox
from grader.judge.cpugroup import CpuGroup
from grader.judge.sandbox import Limits
from grader.judge.worker_process import AUDIT_FD, Launcher, PlainLauncher
from grader.judge.worker_template import TemplateLauncher
from grader.worker.serve import NETWORKS_ENV
from grader.worker.template import AUDIT_FD as TEMPLATE_AUDIT_FD
from grader.worker.template import SANDBOXED_ENV, USER_ENV

WORKSPACE_PREFIX = "cnn-grader-grading-"  # then the judge's pid
WORKER_ENV_KEEP = (
    "PATH",
    "LANG",
    "LC_ALL",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
    "TMPDIR",
)


def whole_grading(keyword: str | None, only: str | None) -> bool:
    """Whether a grading runs every check (no ``-k``, no ``--only``): its worker will export networks and build
    optimizers, so it loads what they need while the judge starts (:func:`grader.worker.serve.preload`)."""
    return not keyword and not only


def worker_env(home: Path, networks: bool = False) -> dict[str, str]:
    """A minimal environment for the worker: no data paths, no credentials, a private HOME; ``networks``: it
    loads what exporting networks and optimizers needs before it greets the judge."""
    env = {k: os.environ[k] for k in WORKER_ENV_KEEP if k in os.environ}
    if networks:
        env[NETWORKS_ENV] = "1"
    env.update(
        HOME=str(home),
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        MPLBACKEND="Agg",
        CNN_GRADER_WORKER="1",
        CNN_GRADER_GRADING="1",  # lets a notebook skip its own long training
        CNN_GRADER_AUDIT_FD=AUDIT_FD,  # the audit pipe's number, filled in at each start (grader/worker/audit.py)
    )
    env[coursepkg.COURSE_ENV] = str(coursepkg.course_root())  # the course's contract, read-only in the sandbox
    # OpenMP threads that spin while waiting made two trainings on a busy machine 25x slower; passive
    # waits cost about 30% on a quiet one (docs/performance.md).
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


@dataclass(frozen=True)
class Workspace:
    """A grading's private folder: the submission's copy and the judge's inputs (read-only for the worker), and
    the worker's scratch folder (its working directory and HOME)."""

    root: Path

    @property
    def submission(self) -> Path:
        return self.root / "submission"

    @property
    def inputs(self) -> Path:
        return self.root / "inputs"

    @property
    def scratch(self) -> Path:
        return self.root / "scratch"

    @classmethod
    def create(cls, mode: str) -> Workspace:
        """A new workspace, its folders made (the scratch folder given to the sandbox user under ``bwrap``).

        Its name carries this judge's pid: the workspaces of judges that were killed before they could
        remove theirs (a batch's time limit kills a judge) are removed here, student files included.
        """
        _remove_stale()
        root = Path(tempfile.mkdtemp(prefix=f"{WORKSPACE_PREFIX}{os.getpid()}-"))
        root.chmod(0o755)
        space = cls(root)
        for folder in (space.submission, space.inputs, space.scratch / "home"):
            folder.mkdir(parents=True)
        sandbox.prepare_scratch(space.scratch, mode)
        return space

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _remove_stale() -> None:
    """Remove this user's workspaces of judges that are gone (a workspace of a live process is never touched)."""
    for path in Path(tempfile.gettempdir()).glob(f"{WORKSPACE_PREFIX}*-*"):
        pid = path.name[len(WORKSPACE_PREFIX) :].split("-", 1)[0]
        try:
            if pid.isdigit() and not _alive(int(pid)) and path.stat().st_uid == os.getuid():
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue  # removed by another judge meanwhile


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True


def launcher(mode: str, space: Workspace, cpu_group: CpuGroup | None, networks: bool) -> Launcher:
    """Under bubblewrap, workers forked from a template in the sandbox; else a new process per worker
    (``networks``: see :func:`worker_env`)."""
    env = worker_env(space.scratch / "home", networks)
    where = {"submission": space.submission, "inputs": space.inputs, "scratch": space.scratch}
    # -P -s: nothing a submission wrote into its working folder or HOME can run before the greeting
    python = [sys.executable, "-P", "-s", "-m"]
    if mode == "bwrap":
        # every worker it forks has its audit pipe at the same number, which the environment names from the start
        template_env = env | {"CNN_GRADER_AUDIT_FD": str(TEMPLATE_AUDIT_FD), SANDBOXED_ENV: "1"}
        if os.geteuid() == 0:  # the template stays root; each worker it forks becomes the grading's user
            template_env[USER_ENV] = str(sandbox.sandbox_uid(space.scratch))
        command = sandbox.bwrap_command(
            [*python, "grader.worker.template"], env=template_env, limits=Limits(), switch_user=False, **where
        )
        return TemplateLauncher(command, space.submission, space.scratch, template_env, cpu_group)
    command = sandbox.worker_command([*python, "grader.worker", str(space.submission)], mode, env=env, **where)
    return PlainLauncher(command, space.scratch, env, cpu_group)


@dataclass(frozen=True)
class Prestarted:
    """A sandbox started before the grading knew its submission: its workspace, CPU group and launcher."""

    mode: str
    space: Workspace
    cpu_group: CpuGroup | None
    launcher: Launcher

    def discard(self) -> None:
        self.launcher.close()
        if self.cpu_group is not None:
            self.cpu_group.remove()
        self.space.remove()


_prestarted: list[Prestarted] = []


def prestart(requested: str, networks: bool) -> None:
    """Start a grading's sandbox and worker template now (``requested``: the ``--sandbox`` option; ``networks``:
    see :func:`worker_env`), for the grading of this process to :func:`adopt`. Only under bubblewrap (a plain
    worker is started with the submission's path); a sandbox that cannot run is left for the grading to report."""
    try:
        mode = sandbox.resolve_mode(requested)
    except sandbox.SandboxUnavailable:
        return
    if mode != "bwrap" or _prestarted:
        return
    space = Workspace.create(mode)
    group = cpugroup.create()
    early = Prestarted(mode, space, group, launcher(mode, space, group, networks))
    assert isinstance(early.launcher, TemplateLauncher)  # bubblewrap's launcher
    try:
        early.launcher.start_template()
    except OSError:
        early.discard()
        return
    _prestarted.append(early)
    atexit.register(_discard_unadopted)


def adopt(mode: str) -> Prestarted | None:
    """The sandbox :func:`prestart` started for ``mode``, once; None if there is none."""
    if _prestarted and _prestarted[0].mode == mode:
        return _prestarted.pop()
    return None


def _discard_unadopted() -> None:
    """A grading that never started (a usage error, a refused submission) leaves nothing running."""
    while _prestarted:
        _prestarted.pop().discard()
