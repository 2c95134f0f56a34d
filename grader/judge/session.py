"""One grading session: a submission, its worker, and what the judge has learnt about it so far.

Checks talk to the submission only through :meth:`GradingSession.ask`. Module imports are tried once
and their failure is sticky (a hanging import costs one timeout, not one per check); observations that
several checks share (a trained network) are memoised, failures included, so nothing runs twice.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from grader import contract
from grader.course import CourseConfig, Timeouts
from grader.data import DataSet
from grader.judge import cpugroup, launch, sandbox, tamper
from grader.judge import submission as submission_files
from grader.judge.evidence import Evidence
from grader.judge.faults import (
    MissingName,
    ModuleUnavailable,
    StudentError,
    SubmissionFault,
    WorkerFault,
    WorkerTimeout,
)
from grader.judge.locate import Source
from grader.judge.obscache import ObservationCache
from grader.judge.worker_process import WorkerProcess
from grader.results import TAMPERING

T = TypeVar("T")


@dataclass(frozen=True)
class GradeOptions:
    """How to grade: device, seed, data, and the time a single request may take."""

    device: str = "auto"
    seed: int = 0
    data_root: str | None = None
    timeout: float = Timeouts.timeout  # the defaults of the course configuration (grader/course.py)
    train_timeout: float = Timeouts.train_timeout
    cell_timeout: float = Timeouts.cell_timeout
    notebook_timeout: float = Timeouts.notebook_timeout
    sandbox: str = "auto"
    use_cache: bool = True
    check_budget: float = Timeouts.check_budget  # seconds of requests to the worker per check
    grading_budget: float = Timeouts.grading_budget  # seconds for one whole grading, training included
    tamper_scan: bool = True  # off only to test the defences beneath it (tests/test_redteam.py)
    whole: bool = True  # every check runs (no -k, no --only): the worker preloads what networks need
    # the course's groups' settings (budgets, thresholds) and data set, as the course configuration gives them
    settings: dict[str, dict[str, Any]] = field(default_factory=lambda: CourseConfig().group_settings())
    dataset: DataSet = field(default_factory=lambda: CourseConfig().dataset)


@dataclass
class ModuleStatus:
    present: set[str] = field(default_factory=set)
    error: SubmissionFault | None = None


def notebook_notes(preparation: dict) -> list[str]:
    """Per-cell lines for the report: errors (from execute replies) and skipped magics."""
    if preparation.get("kind") != "notebook":
        return []
    name = preparation.get("file", "notebook")
    notes = []
    for cell in (preparation.get("report") or {}).get("cells", []):
        where = f"{name}, cell {cell['index']} (`{cell['head']}`)"
        if cell["status"] != "ok":
            notes.append(f"{where}: {cell['error']}")
        if cell["skipped"]:
            notes.append(f"{where}: not run when grading: {'; '.join(cell['skipped'])}")
    notes += [f"{name}: {n} {why}" for n, why in (preparation.get("problems") or {}).items()]
    return notes


TAMPER_SCAN_LIMIT = 2_000_000  # bytes per file; larger files are data, not code a student wrote


def scan_for_tampering(folder: Path) -> list[tamper.Signal]:
    """The judge's static scan (:mod:`grader.judge.tamper`) of every Python file and notebook of the submission."""
    files = {
        str(path.relative_to(folder)): path
        for path in sorted(folder.rglob("*"))
        if path.suffix in (".py", ".ipynb") and path.is_file() and path.stat().st_size <= TAMPER_SCAN_LIMIT
    }
    return tamper.scan_files(files)


def tampering_message(signals: list[tamper.Signal]) -> str:
    """What a student reads on every check withheld for tampering."""
    found = "\n".join(f"- {signal}" for signal in signals)
    return (
        "Withheld for your instructor's review: this submission contains code that reaches into the grader "
        f"or the Python interpreter, which no exercise needs:\n{found}\nSuch code could change what the grader "
        "observes inside your code's process, so the checks that rest on those observations are withheld; the "
        "checks the grader computes itself (your networks' layers, logits and training) still count. If that is a "
        "mistake, remove it and submit again."
    )


class GradingSession:
    """Grades one submission; create, :meth:`start`, let checks :meth:`ask`, then :meth:`close`."""

    def __init__(self, source: Path, options: GradeOptions | None = None) -> None:
        self.options = options or GradeOptions()
        self.source = Path(source)
        self.notes: list[str] = []
        self.sandbox = sandbox.resolve_mode(self.options.sandbox)
        # the sandbox `cnn-grader` started while it loaded the checks, or a new one (grader/judge/launch.py)
        early = launch.adopt(self.sandbox)
        space = early.space if early is not None else launch.Workspace.create(self.sandbox)
        self.workdir = space.root
        try:
            prepared = submission_files.prepare(self.source, space.submission)
        except BaseException:
            if early is not None:
                early.discard()  # its workspace too
            else:
                space.remove()
            raise
        self.submission = prepared.folder
        self.plan = prepared.plan
        self.notes += prepared.notes
        self.tamper_signals = scan_for_tampering(self.submission) if self.options.tamper_scan else []
        if not self.options.tamper_scan:
            self.notes.append("the tamper scan was off (--no-tamper-scan): a test of the layers beneath it")
        self.inputs = space.inputs  # written by the judge only, read-only for the worker
        self.scratch = space.scratch  # the worker's working directory and HOME
        if early is not None:
            self.cpu_group, launcher = early.cpu_group, early.launcher
        else:
            self.cpu_group = cpugroup.create()
            launcher = launch.launcher(self.sandbox, space, self.cpu_group, self.options.whole)
        self.worker = WorkerProcess(launcher)
        prepare = {"op": "prepare", "cell_timeout": self.options.cell_timeout, "plan": self.plan.worker_plan()}
        self.worker.setup = (prepare, self.options.notebook_timeout)  # again after every restart
        self.cache = ObservationCache(self.submission, enabled=self.options.use_cache)
        if self.sandbox == "none":
            why = "as asked" if self.options.sandbox == "none" else "bubblewrap is not available here"
            self.notes.append(f"the worker ran without a sandbox ({why}): rlimits and a separate process only")
        self.modules: dict[str, ModuleStatus] = {}
        self.evidence = Evidence()  # pictures for the HTML feedback (grader/judge/evidence.py)
        self._preparation: dict | SubmissionFault | None = None
        self._memo: dict[Any, Any] = {}
        self.grading_deadline: float | None = None  # set by start() and begin_check()
        self.check_deadline: float | None = None
        self.progress: Callable[[str], None] = lambda line: None  # a line for the student while a step takes long
        self.selected: frozenset[str] | None = None  # the names of the checks this grading runs, once collected
        self._closing: list[Callable[[], None]] = []

    def start(self) -> None:
        self.grading_deadline = time.monotonic() + self.options.grading_budget
        self.worker.start()

    def begin_check(self) -> None:
        """A new check starts: its own time budget starts too."""
        self.check_deadline = time.monotonic() + self.options.check_budget

    def deadline(self, seconds: float, doing: str, *, per_check: bool = True) -> tuple[float, str | None]:
        """``seconds`` cut to what the check's and the grading's budgets have left, and the budget that cut it.

        Raise when nothing is left.
        """
        now = time.monotonic()
        budgets = [(self.grading_deadline, f"the grading's time budget ({self.options.grading_budget:g} s)")]
        if per_check:
            budgets.append((self.check_deadline, f"this check's time budget ({self.options.check_budget:g} s)"))
        cut_by = None
        for deadline, what in budgets:
            if deadline is not None:
                if deadline - now <= 0:
                    raise WorkerFault(f"{what} was used up before {doing}: the submission's code took too long")
                if deadline - now < seconds:
                    seconds, cut_by = deadline - now, what
        return seconds, cut_by

    def check_untampered(self, evidence: str = "worker") -> None:
        """Withhold a check whose evidence is observed inside the worker (``evidence == "worker"``) from a submission
        whose source reaches into the grader (one problem, reported once); the checks the judge verifies itself
        (``"judge"``) are graded all the same."""
        if self.tamper_signals and evidence == "worker":
            raise SubmissionFault(tampering_message(self.tamper_signals), problem=TAMPERING)

    def runtime_signals(self) -> list[tamper.Signal]:
        """What the worker's audit hook saw the submission do (:mod:`grader.worker.audit`); stops the worker."""
        self.worker.kill()
        return [
            signal for finding in self.worker.audit_findings() for signal in tamper.audit_signals(finding, self.redact)
        ]

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the grading closes (before the worker stops)."""
        self._closing.append(callback)

    def close(self) -> None:
        for callback in self._closing:
            callback()
        self.worker.close()
        if self.cpu_group is not None:
            self.cpu_group.remove()
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def device(self) -> str:
        if self.options.device != "auto":
            return self.options.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def source_of(self, module: str) -> Source:
        """Where ``module`` is graded from (the judge's plan, :mod:`grader.judge.locate`)."""
        return self.plan.sources[module]

    def graded_files(self) -> dict[str, str]:
        """Module -> the file it is graded from, relative to the submission (``"not found"`` when missing)."""
        prefix = f"{self.plan.folder}/" if self.plan.folder else ""
        return {m: (prefix + s.label() if s.kind != "missing" else s.label()) for m, s in self.plan.sources.items()}

    def require(self, qualname: str) -> contract.Exercise:
        """Make sure the contract name exists in the submission; raise a fault saying why not."""
        ex = contract.exercise(qualname)
        status = self._load(ex.module)
        if status.error is not None:
            raise status.error
        if ex.name not in status.present:
            keyword = "class" if ex.kind == "class" else "def"
            source = self.source_of(ex.module)
            where = f"the notebook {source.path}" if source.kind == "notebook" else f"{source.path}"
            raise MissingName(f"{where} defines no {ex.name}; expected `{keyword} {ex.signature}`.")
        return ex

    def _prepare(self) -> dict:
        """Ask the worker what the submission is; a notebook is executed now, under its own time budget."""
        if self._preparation is None:
            try:
                self._preparation = self._request(
                    self.worker.setup[0] if self.worker.setup else {},
                    self.options.notebook_timeout,
                    "running the notebook",
                    per_check=False,  # the notebook runs once for every check: the grading's budget only
                )
                self.notes += notebook_notes(self._preparation)
            except SubmissionFault as exc:
                self._preparation = exc
        if isinstance(self._preparation, SubmissionFault):
            raise ModuleUnavailable(
                f"the submission could not be run: {self._preparation.message}", problem="the submission"
            )
        return self._preparation

    def _load(self, module: str) -> ModuleStatus:
        if module in self.modules:
            return self.modules[module]
        status = ModuleStatus()
        source = self.source_of(module)
        name = f"{module}.py" if source.kind != "notebook" else f"the notebook {source.path}"
        try:
            if source.kind == "missing":
                raise MissingName(f"{source.why}; add {module}.py with the functions of the exercise.")
            preparation = self._prepare()
            if source.kind == "notebook" and preparation.get("error"):
                raise ModuleUnavailable(f"{name} could not be run: {preparation['error']}", problem=source.path)
            reply = self._request({"op": "load", "module": module}, self.options.timeout, f"importing {module}.py")
            status.present = set(reply["present"])
        except ModuleUnavailable as exc:
            status.error = exc
        except MissingName as exc:
            status.error = ModuleUnavailable(exc.message, problem=name)
        except (StudentError, WorkerFault) as exc:
            status.error = ModuleUnavailable(f"{name} could not be imported: {exc.message}", problem=name)
        self.modules[module] = status
        return status

    def redact(self, text: str) -> str:
        """``text`` without the grading machine's paths (the work folder, the data root): students read it."""
        for folder in (self.submission, self.scratch, self.workdir):
            text = text.replace(f"{folder}/", "").replace(str(folder), ".")
        return text

    def ask(self, op: str, what: str, *, needs: tuple[str, ...], timeout: float | None = None, **payload: Any) -> dict:
        """Run ``op`` in the worker after checking ``needs`` (contract names); return the reply.

        ``what`` describes the call for messages, e.g. ``"grad_cam(model, x, layer)"``.
        """
        for qualname in needs:
            self.require(qualname)
        return self._request({"op": op, **payload}, timeout or self.options.timeout, f"running {what}", what)

    def _request(
        self, message: dict[str, Any], timeout: float, doing: str, what: str | None = None, *, per_check: bool = True
    ) -> dict:
        waited = self.worker.ready()  # the worker's own start-up (no student code) is not the check's time
        if self.check_deadline is not None:
            self.check_deadline += waited
        seconds, cut_by = self.deadline(timeout, doing, per_check=per_check)
        try:
            reply = self.worker.request(message, seconds, doing)
        except WorkerTimeout as exc:
            if cut_by is None:
                raise
            raise WorkerTimeout(
                f"{cut_by} ran out while {doing}; the worker was stopped: the submission's code took too long"
            ) from exc
        return self.answer(reply, what or doing)

    @staticmethod
    def answer(reply: dict[str, Any], what: str) -> dict:
        """``reply`` when it succeeded; else the fault it reports (a missing name, or the student's exception)."""
        if reply.get("ok"):
            return reply
        error = reply.get("error") or {}
        if error.get("type") == "MissingName":
            raise MissingName(str(error.get("message")))
        raise StudentError(what, error)

    def memo(self, key: Any, compute: Callable[[], T]) -> T:
        """Compute once per session; a fault is remembered and raised again for every later check."""
        if key not in self._memo:
            try:
                self._memo[key] = compute()
            except SubmissionFault as exc:
                self._memo[key] = exc
        value = self._memo[key]
        if isinstance(value, SubmissionFault):
            raise value
        return value
