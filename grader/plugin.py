"""The pytest plugin (entry point ``cnn_grader``): pytest is the judge.

``pytest --submission PATH`` collects the checks in ``grader/checks`` and runs them against PATH through
a worker process. One small class per concern, after okpy's pytest-grader:

- :class:`SubmissionSession` owns the grading session (the worker) and the shared fixtures;
- :class:`PointsRecorder` turns test outcomes into :class:`~grader.results.CheckResult` records;
- :class:`ConsoleReporter` replaces pytest's terminal output: progress while grading, then the report
  (:mod:`grader.report.console`) with the points last;
- :class:`ReportWriter` writes Gradescope ``results.json``, ``feedback.md`` and ``feedback.html`` when asked.

Checks can be selected with ``-k`` by their names (``-k shapes/conv_output_size``, ``-k
robust_net_keeps_bottom_right``) and group names (``-k gradcam``), as the reports print them.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader import collector, coursepkg
from grader.checks.registry import (
    TIER_CHOICES,
    HiddenTierMissing,
    check_paths,
    examples,
    graded_last,
    hidden_dir,
    spec_of,
)
from grader.course import ConfigError, CourseConfig
from grader.course import load as load_course
from grader.device import device_problem
from grader.judge import launch
from grader.judge.faults import (
    GRADER_FAULT_EXIT,
    REFUSAL,
    CheckFailure,
    GraderFault,
    StudentError,
    SubmissionFault,
)
from grader.judge.sandbox import SandboxUnavailable
from grader.judge.session import GradeOptions, GradingSession, tampering_message
from grader.judge.submission import BadSubmission
from grader.results import TAMPERING, CheckResult, GradeReport, write_json

CHECKS_DIR = Path(__file__).parent / "checks"
PUBLIC_ONLY_NOTE = "public checks only: the final grade also runs hidden checks (the same functions, other inputs)"
DATA_FIXTURES = ("digits", "pools")  # the checks that need the course's data set
REPORT_ORDER = pytest.StashKey[dict[str, int]]()  # check name -> its place in the reports (the files' order)
GRADER_FAULT = "grader fault"  # the grader cannot grade at all (exit 3): never the student's 0


def refusal(output: str) -> str | None:
    """Why a grading run refused its submission (from its last ``cannot grade PATH: reason`` line), or None."""
    lines = [line for line in output.splitlines() if REFUSAL in line]
    return lines[-1].split(REFUSAL, 1)[1].split(": ", 1)[-1].strip() if lines else None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cnn-grader")
    group.addoption("--submission", help="grade this folder of modules or zip (runs the cnn-grader checks)")
    group.addoption("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where to train networks")
    group.addoption("--seed", type=int, default=0, help="seed for generated inputs and training")
    group.addoption(
        "--data-root",
        default=None,
        help="folder holding the data set in torchvision's layout (default $CNN_GRADER_DATA)",
    )
    group.addoption("--course-config", default=None, help="the course configuration (TOML, grader/course.py)")
    group.addoption("--check-timeout", type=float, default=None, help="seconds one request to the worker may take")
    group.addoption("--no-tamper-scan", action="store_true", help="test the defences beneath the scan; not for credit")
    group.addoption("--check-budget", type=float, default=None, help="seconds of worker time one check may use")
    group.addoption("--grading-budget", type=float, default=None, help="seconds one whole grading may take")
    group.addoption("--sandbox", default="auto", choices=("auto", "bwrap", "none"), help="how to confine the worker")
    group.addoption("--no-cache", action="store_true", help="train networks again even if cached")
    group.addoption("--cell-timeout", type=float, default=None, help="seconds one notebook cell may run")
    group.addoption("--results-json", default=None, help="write Gradescope results.json here")
    group.addoption("--feedback-md", default=None, help="write the Markdown feedback report here")
    group.addoption("--feedback-html", default=None, help="write the HTML feedback page (with figures) here")
    group.addoption("--report-json", default=None, help="write the full report (every message) as JSON here")
    group.addoption("--evidence", default=None, help="write the arrays behind the HTML feedback's figures here")
    group.addoption("--tiers", default=None, choices=TIER_CHOICES, help="public, or all (default: all if installed)")
    group.addoption("--rerun-command", default="pytest", help="how the report tells students to re-run one check")
    group.addoption("--only", default=None, help="exactly this check or group (a name of `cnn-grader check --list`)")
    group.addoption("--pytest-output", action="store_true", help="keep pytest's own terminal output")
    parser.addini("cnn_grader_submission", "default --submission (relative to this ini file)", default=None)


def grade_options(option: Callable[[str], Any], course: CourseConfig) -> GradeOptions:
    """The grading's options from the command line (``option(name)``) and the course's file: an option given
    on the command line wins over the file, the file over the defaults."""
    times = course.timeouts

    def chosen(name: str, configured: float) -> float:
        value = option(name)
        return configured if value is None else value

    return GradeOptions(
        device=option("device"),
        seed=option("seed"),
        data_root=option("data_root"),
        timeout=chosen("check_timeout", times.timeout),
        train_timeout=times.train_timeout,
        cell_timeout=chosen("cell_timeout", times.cell_timeout),
        notebook_timeout=times.notebook_timeout,
        check_budget=chosen("check_budget", times.check_budget),
        grading_budget=chosen("grading_budget", times.grading_budget),
        tamper_scan=not option("no_tamper_scan"),
        sandbox=option("sandbox"),
        use_cache=not option("no_cache"),
        whole=launch.whole_grading(option("keyword"), option("only")),
        settings=course.group_settings(),
        dataset=course.dataset,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """A grading is one session with one worker: never split over pytest-xdist's processes (this project's
    own test suite runs with ``-n auto``; ``pytest --submission exercises`` in it grades in one process)."""
    if (config.getoption("submission") or config.getini("cnn_grader_submission")) and hasattr(
        config.option, "numprocesses"
    ):
        config.option.numprocesses, config.option.dist, config.option.tx = 0, "no", []


@pytest.hookimpl(trylast=True)  # after pytest's terminal reporter exists: the console replaces it
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cnn_check(spec): a graded cnn-grader check")
    submission = config.getoption("submission")
    if not submission and config.getini("cnn_grader_submission"):
        base = config.inipath.parent if config.inipath else Path.cwd()
        submission = str(base / config.getini("cnn_grader_submission"))
    if not submission:
        return
    if config.args_source != pytest.Config.ArgsSource.ARGS:  # no paths given: grade with every check
        try:
            config.args[:] = [str(path) for path in check_paths(config.getoption("tiers"))]
        except HiddenTierMissing as exc:
            raise pytest.UsageError(f"--tiers all: {exc}") from None
    try:
        course = load_course(config.getoption("course_config"))
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    options = grade_options(config.getoption, course)
    recorder = PointsRecorder(str(submission), course)
    if hidden_dir() is None or config.getoption("tiers") == "public":
        recorder.report.notes.append(PUBLIC_ONLY_NOTE)
    session = SubmissionSession(Path(submission), options, recorder)
    config.pluginmanager.register(session, "cnn-grader-session")
    config.pluginmanager.register(recorder, "cnn-grader-points")
    config.pluginmanager.register(ReportWriter(recorder, config), "cnn-grader-report")
    if not config.getoption("pytest_output"):
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            config.pluginmanager.unregister(terminal)
        config.pluginmanager.register(ConsoleReporter(recorder, session, config), "cnn-grader-console")


@pytest.hookimpl(tryfirst=True)  # before -k deselects: check and group names become keywords
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check names, their short names and group names become ``-k`` keywords; each group's hidden checks
    run right after its public ones, so every report lists a group in one piece, and the groups of
    :func:`~grader.checks.registry.graded_last` run after the others (reports keep the files' order:
    :data:`REPORT_ORDER`). ``--only NAME`` keeps exactly the check or the group called NAME (``-k shapes``
    also matches ``quadrant/layer_shapes``)."""
    only = config.getoption("only", None)
    if only:
        kept = [i for i in items if (s := spec_of(i)) is not None and only in (s.name, s.name.split("/", 1)[0])]
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
    groups: list[str] = []
    for item in items:
        spec = spec_of(item)
        if spec is not None:
            group = spec.name.split("/", 1)[0]
            item.extra_keyword_matches.update({spec.name, spec.name.split("/", 1)[-1], group})
            if group not in groups:
                groups.append(group)

    def order(item: pytest.Item) -> tuple[int, bool]:
        spec = spec_of(item)
        return (groups.index(spec.name.split("/", 1)[0]), spec.tier == "hidden") if spec else (len(groups), False)

    items.sort(key=order)
    config.stash[REPORT_ORDER] = {spec.name: i for i, item in enumerate(items) if (spec := spec_of(item))}
    last = graded_last()
    items.sort(key=lambda item: (s := spec_of(item)) is not None and s.name.split("/", 1)[0] in last)


class SubmissionSession:
    """Starts the worker as early as possible and hands the session to checks as a fixture."""

    def __init__(self, source: Path, options: GradeOptions, recorder: PointsRecorder) -> None:
        self.source = source
        self.options = options
        self.recorder = recorder
        self.session: GradingSession | None = None
        self.data_missing: str | None = None  # why the data the selected checks need cannot be read

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        try:
            self.session = GradingSession(self.source, self.options)
        except BadSubmission as exc:
            name = Path(self.source).name  # the student's name for it, not the grading machine's path
            self.recorder.report.notes.append(f"{REFUSAL} {name}: {str(exc).replace(str(self.source), name)}")
            writer = session.config.pluginmanager.get_plugin("cnn-grader-report")
            if writer is not None:  # every submission gets its results.json, a refused one too (score 0)
                writer.write_refusal()
            raise pytest.UsageError(f"{REFUSAL} {self.source}: {exc}") from None
        except SandboxUnavailable as exc:
            pytest.exit(f"{GRADER_FAULT}: the sandbox cannot run here: {exc}", returncode=GRADER_FAULT_EXIT)
        self.recorder.session = self.session
        self.recorder.report.graded_files = self.session.graded_files()
        self.recorder.report.flags = [str(signal) for signal in self.session.tamper_signals]
        self.session.start()
        if self._trains():  # imported while the judge waits on the worker: what torch.optim loads on its first
            # optimizer (torch._dynamo, 1.2 s), which the training would otherwise wait for
            threading.Thread(target=importlib.import_module, args=("torch._dynamo",), daemon=True).start()

    def _trains(self) -> bool:
        """Whether this grading will probably train networks: a whole grading (no ``-k``) of files not graded
        before. A repeated grading's trained accuracies come from the cache, and importing what training needs
        would only slow its checks (0.5 s measured); a wrong guess costs that import when the training starts."""
        assert self.session is not None
        # the groups that train in the background (the manifest's graded_last) say, by their check file's
        # ``will_train(grading)``, whether these files were graded before
        if not self.options.whole:
            return False
        for group in coursepkg.current().groups:
            if group.name in graded_last():
                for path in group.checks:
                    will_train = getattr(coursepkg.import_course_file(path), "will_train", None)
                    if will_train is not None and will_train(self.session):
                        return True
        return False

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self.session is not None:
            self.session.begin_check()
            spec = spec_of(item)
            if spec is not None:
                self.session.check_untampered(spec.evidence)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Stop before grading when the device asked for cannot be used or the data the selected checks need is
        missing (a grader fault, not the student's)."""
        collector.resume()  # the console script's start-up imports are done (grader.cli.run)
        if self.session is None:
            return
        self.session.selected = frozenset(spec.name for item in session.items if (spec := spec_of(item)))
        problem = device_problem(self.options.device)
        if problem is not None:
            self.session.close()
            self.session = None
            pytest.exit(f"{GRADER_FAULT}: {problem}", returncode=GRADER_FAULT_EXIT)
        needs = {f for i in session.items for f in getattr(i, "fixturenames", ()) if f in DATA_FIXTURES}
        if not needs:
            return
        from grader.data import DataUnavailable
        from grader.judge.digits import load_digits, load_experiment

        try:
            if "digits" in needs:
                load_digits(self.options.data_root, self.options.dataset)
            if "pools" in needs:
                load_experiment(self.options.data_root, self.options.dataset)
        except DataUnavailable as exc:  # the checks that need no data are graded; those that do are grader errors
            self.data_missing = f"the grader's data is missing. {exc}"
            sys.stderr.write(f"{GRADER_FAULT}: {self.data_missing}\n")

    @pytest.hookimpl(tryfirst=True)  # before pytest's own loop, which runs the checks
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        """Call each collected check module's ``prefetch(grading)``, once, before the first check (not when the
        checks will not run: collection errors, ``--collect-only``): work that overlaps the checks (a training).

        Nothing it meets is reported here: the checks that need the same thing meet it again (a submission's
        fault from the session's memo, anything else afresh) and report it as their own.
        """
        if self.session is None or session.testsfailed or session.config.option.collectonly:
            return
        modules = {id(m): m for item in session.items if (m := getattr(item, "module", None)) is not None}
        for module in modules.values():
            start = getattr(module, "prefetch", None)
            if callable(start):
                try:
                    start(self.session)
                except Exception:  # noqa: BLE001,S112 - see the docstring
                    continue

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.session is not None:
            signals = self.session.runtime_signals() if self.options.tamper_scan else []
            if signals:  # seen at run time, after some checks may have passed: the worker's evidence is withheld
                report = self.recorder.report
                report.flags += [str(signal) for signal in signals]
                observed = {
                    spec.name for item in session.items if (spec := spec_of(item)) and spec.evidence == "worker"
                }
                report.withhold(TAMPERING, tampering_message(self.session.tamper_signals + signals), only=observed)
            self.recorder.report.notes.append(
                f"Graded with seed {self.options.seed} (--seed): the networks' training, the generated cases and "
                "the hidden test models follow it."
            )
            self.recorder.report.notes.extend(self.session.redact(n) for n in self.session.notes)
            self.session.close()


def _nearest(name: str) -> str:
    """``: did you mean ...?`` with the check and group names closest to ``name``, or a pointer to the list."""
    import difflib

    from grader.checks.registry import all_specs

    names = {spec.name for spec in all_specs()}
    names |= {n.split("/", 1)[0] for n in names}
    close = sorted(n for n in names if n.split("/", 1)[-1] == name or name in n)
    close = close or difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.5)
    where = "; every check: cnn-grader check --list"
    return f": did you mean {' or '.join(close[:3])}?{where}" if close else where


def _session_plugin(config: pytest.Config) -> SubmissionSession:
    plugin = config.pluginmanager.get_plugin("cnn-grader-session")
    if plugin is None or plugin.session is None:
        pytest.skip("cnn-grader checks need --submission PATH")
    return plugin


@pytest.fixture(scope="session")
def grading(request: pytest.FixtureRequest) -> GradingSession:
    """The grading session of ``--submission`` (worker started at session start). The checks whose evidence the
    worker observes are withheld from a submission flagged for tampering (in ``pytest_runtest_setup``)."""
    return _session_plugin(request.config).session


def _data_present(config: pytest.Config) -> None:
    """Raise the grader fault (never the student's failure) when the data the checks need is missing."""
    missing = getattr(_session_plugin(config), "data_missing", None)
    if missing:
        raise GraderFault(missing)


@pytest.fixture(scope="session")
def digits(request: pytest.FixtureRequest, grading: GradingSession):
    """The quadrant digits (judge only: labels of the test digits never leave this process)."""
    from grader.judge.digits import prepare_digits

    _data_present(request.config)
    prepared = prepare_digits(grading)
    notes = _session_plugin(request.config).recorder.report.notes
    name = grading.options.dataset.name
    if not any(note.startswith(name) for note in notes):  # the robustness experiment's note says more
        notes.append(prepared.split.source)
    return prepared


@pytest.fixture(scope="session")
def pools(request: pytest.FixtureRequest, grading: GradingSession):
    """The robustness experiment's digits (judge only: the test sample and its labels never leave this process)."""
    from grader.judge.digits import prepare_pools

    _data_present(request.config)
    prepared = prepare_pools(grading)
    notes = _session_plugin(request.config).recorder.report.notes
    name = grading.options.dataset.name
    notes[:] = [note for note in notes if not note.startswith(name)] + [prepared.pools.source]
    return prepared


class PointsRecorder:
    """Records every check's outcome: points, status, the message (without host paths) and shared problems."""

    def __init__(self, submission: str, course: CourseConfig | None = None) -> None:
        self.course = course or CourseConfig()
        self.report = GradeReport(submission)
        self.session: GradingSession | None = None
        self._started = time.perf_counter()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        spec = spec_of(item)
        if spec is None:
            return
        excinfo = call.excinfo
        if excinfo is not None and isinstance(excinfo.value, CheckFailure | SubmissionFault | GraderFault):
            report.longrepr = excinfo.value.message
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self._record(spec, report, excinfo)

    def _redact(self, text: str) -> str:
        return self.session.redact(text) if self.session is not None else text

    def _record(self, spec, report: pytest.TestReport, excinfo) -> None:
        spec = self.course.apply(spec)
        if report.passed:
            result = CheckResult(spec.name, spec.points, spec.points, "passed", hint=spec.hint, tier=spec.tier)
        else:
            value = excinfo.value if excinfo else None
            if isinstance(value, CheckFailure | SubmissionFault):
                message = self._redact(value.message)
                # a failure's own hint is the check's too: a course that turned the check's hint off hides both
                hint = (getattr(value, "hint", None) or spec.hint) if self.course.settings(spec.name).hint else None
                result = CheckResult(spec.name, 0.0, spec.points, "failed", message, hint, spec.tier)
                problem = getattr(value, "problem", None)
                if problem:  # one cause, many checks: its message once, a pointer here
                    self.report.problems.setdefault(problem, message)
                    result.problem, result.hint = problem, None
                    result.message = f"not graded: {problem} (see the problem reported once above)"
                if isinstance(value, StudentError) and value.not_implemented:
                    result.not_implemented, result.hint = value.not_implemented, None
            else:  # the grader's own fault: no hint blames the student
                why = value.message if isinstance(value, GraderFault) else f"{type(value).__name__}: {value}"
                result = CheckResult(spec.name, 0.0, spec.points, "error", f"grader error: {self._redact(why)}")
                result.tier = spec.tier
        result.seconds = round(report.duration, 3)
        result.visibility = spec.visibility
        self.report.checks.append(result)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.report.seconds = round(time.perf_counter() - self._started, 2)
        order = session.config.stash.get(REPORT_ORDER, {})
        self.report.checks.sort(key=lambda check: order.get(check.name, len(order)))  # as run where unknown
        first = {}  # each shared problem where the reports first show a check it blocked
        for check in self.report.checks:
            if check.problem:
                first.setdefault(check.problem, len(first))
        problems = sorted(self.report.problems.items(), key=lambda item: first.get(item[0], len(first)))
        self.report.problems = dict(problems)
        if self.report.grader_faults and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = GRADER_FAULT_EXIT


class ConsoleReporter:
    """What a student sees in the terminal: progress while grading, then the report with the points last."""

    def __init__(self, recorder: PointsRecorder, session: SubmissionSession, config: pytest.Config) -> None:
        self.recorder = recorder
        self.session = session
        self.rerun = config.getoption("rerun_command")
        self.keyword = config.getoption("keyword")
        self._group: str | None = None
        self._capture = config.pluginmanager.get_plugin("capturemanager")

    def _write(self, text: str) -> None:
        """Write to the terminal, also from inside a running check (where pytest captures output)."""
        if self._capture is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        with self._capture.global_and_fixture_disabled():
            sys.stdout.write(text)
            sys.stdout.flush()

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.session.session is not None:
            self.session.session.progress = self._progress
            self._write(f"cnn-grader: grading {self.session.source} ({len(session.items)} checks)\n")
        if not session.items and self.keyword:
            check, part, group = examples()
            self._write(
                f"no check matches -k {self.keyword!r}: give a check name ({check}), part of "
                f"one ({part}), or a group ({group}); every check: cnn-grader check --list\n"
            )
        only = session.config.getoption("only", None)
        if not session.items and only:
            self._write(f"no check or group is called {only!r} (--only takes a whole name){_nearest(only)}\n")

    def _progress(self, line: str) -> None:
        self._group = None
        self._write(f"\n    {line}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and not (report.when == "setup" and not report.passed):
            return
        checks = self.recorder.report.checks
        if not checks:
            return
        check = checks[-1]
        if check.group != self._group:
            self._group = check.group
            self._write(f"\n  {check.group:<12} ")
        self._write({"passed": ".", "failed": "F", "error": "E"}[check.status])

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._write(f"\ngrader error while collecting the checks:\n{report.longreprtext}\n")

    def pytest_keyboard_interrupt(self, excinfo) -> None:
        message = getattr(excinfo.value, "msg", None) or "interrupted"
        sys.stderr.write(f"\n{message}\n")

    def pytest_internalerror(self, excrepr) -> bool:
        sys.stderr.write(f"INTERNALERROR (a grader bug, not your code):\n{excrepr}\n")
        return True

    @pytest.hookimpl(trylast=True)  # after the session's notes are in the report
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from grader.report import console

        if self.recorder.report.checks:
            self._write("\n" + console.render(self.recorder.report, self.rerun))


class ReportWriter:
    """Writes the report files named on the command line once the session is over."""

    def __init__(self, recorder: PointsRecorder, config: pytest.Config) -> None:
        self.recorder = recorder
        self.config = config
        self.results_json = config.getoption("results_json")
        self.feedback_md = config.getoption("feedback_md")
        self.report_json = config.getoption("report_json")
        self.evidence = config.getoption("evidence")
        self.feedback_html = config.getoption("feedback_html")
        self.hidden_visibility = recorder.course.gradescope.hidden_visibility

    def write_refusal(self) -> None:
        """results.json and feedback.md of a submission that could not be read (its notes say why)."""
        from grader.report import gradescope, markdown

        if self.results_json:
            gradescope.write(self.recorder.report, Path(self.results_json), self.hidden_visibility)
        if self.feedback_md:
            markdown.write(self.recorder.report, Path(self.feedback_md))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from grader.report import gradescope, markdown

        if not self.recorder.report.checks and session.exitstatus == GRADER_FAULT_EXIT:
            return  # stopped before grading (no data, no sandbox): no report that could read as a grade
        if self.results_json:
            gradescope.write(self.recorder.report, Path(self.results_json), self.hidden_visibility)
        if self.feedback_md:
            markdown.write(self.recorder.report, Path(self.feedback_md))
        if self.report_json:
            write_json(self.recorder.report.to_json(), Path(self.report_json))
        plugin = self.config.pluginmanager.get_plugin("cnn-grader-session")
        evidence = plugin.session.evidence if plugin is not None and plugin.session is not None else None
        if self.evidence and evidence is not None:
            evidence.save(Path(self.evidence))
        if self.feedback_html:
            from grader.report import html

            html.write(self.recorder.report, evidence, Path(self.feedback_html))
