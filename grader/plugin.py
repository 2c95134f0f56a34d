"""The pytest plugin (entry point ``cnn_grader``): pytest is the judge.

``pytest --submission PATH`` collects the checks in ``grader/checks`` and runs them against PATH through
a worker process. One small class per concern, after okpy's pytest-grader:

- :class:`SubmissionSession` owns the grading session (the worker) and the shared fixtures;
- :class:`PointsRecorder` turns test outcomes into :class:`~grader.results.CheckResult` records and
  prints the points;
- :class:`ReportWriter` writes Gradescope ``results.json``, ``feedback.md`` and ``feedback.html`` when asked.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from grader.checks.registry import TIER_CHOICES, HiddenTierMissing, check_paths, hidden_dir, spec_of
from grader.judge.faults import CheckFailure, SubmissionFault
from grader.judge.sandbox import SandboxUnavailable
from grader.judge.session import GradeOptions, GradingSession
from grader.judge.submission import BadSubmission
from grader.results import CheckResult, GradeReport, write_json

CHECKS_DIR = Path(__file__).parent / "checks"
PUBLIC_ONLY_NOTE = "public checks only: the final grade also runs hidden checks (the same functions, other inputs)"


REFUSAL = "cannot grade"


def refusal(output: str) -> str | None:
    """Why a grading run refused its submission (from its last ``cannot grade PATH: reason`` line), or None."""
    lines = [line for line in output.splitlines() if REFUSAL in line]
    return lines[-1].split(REFUSAL, 1)[1].split(": ", 1)[-1].strip() if lines else None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cnn-grader")
    group.addoption("--submission", help="grade this folder of modules or zip (runs the cnn-grader checks)")
    group.addoption("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where to train networks")
    group.addoption("--seed", type=int, default=0, help="seed for generated inputs and training")
    group.addoption("--data-root", default=None, help="folder holding MNIST/raw (default $CNN_GRADER_DATA)")
    group.addoption("--check-timeout", type=float, default=20.0, help="seconds one request to the worker may take")
    group.addoption("--sandbox", default="auto", choices=("auto", "bwrap", "none"), help="how to confine the worker")
    group.addoption("--no-cache", action="store_true", help="train networks again even if cached")
    group.addoption("--cell-timeout", type=float, default=15.0, help="seconds one notebook cell may run")
    group.addoption("--results-json", default=None, help="write Gradescope results.json here")
    group.addoption("--feedback-md", default=None, help="write the Markdown feedback report here")
    group.addoption("--feedback-html", default=None, help="write the HTML feedback page (with figures) here")
    group.addoption("--report-json", default=None, help="write the full report (every message) as JSON here")
    group.addoption("--evidence", default=None, help="write the arrays behind the HTML feedback's figures here")
    group.addoption("--tiers", default=None, choices=TIER_CHOICES, help="public, or all (default: all if installed)")
    parser.addini("cnn_grader_submission", "default --submission (relative to this ini file)", default=None)


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
    options = GradeOptions(
        device=config.getoption("device"),
        seed=config.getoption("seed"),
        data_root=config.getoption("data_root"),
        timeout=config.getoption("check_timeout"),
        cell_timeout=config.getoption("cell_timeout"),
        sandbox=config.getoption("sandbox"),
        use_cache=not config.getoption("no_cache"),
    )
    recorder = PointsRecorder(str(submission), verbose_failures=config.getoption("tbstyle") == "no")
    if hidden_dir() is None:
        recorder.report.notes.append(PUBLIC_ONLY_NOTE)
    config.pluginmanager.register(SubmissionSession(Path(submission), options, recorder), "cnn-grader-session")
    config.pluginmanager.register(recorder, "cnn-grader-points")
    config.pluginmanager.register(ReportWriter(recorder, config), "cnn-grader-report")


class SubmissionSession:
    """Starts the worker as early as possible and hands the session to checks as a fixture."""

    def __init__(self, source: Path, options: GradeOptions, recorder: PointsRecorder) -> None:
        self.source = source
        self.options = options
        self.recorder = recorder
        self.session: GradingSession | None = None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        try:
            self.session = GradingSession(self.source, self.options)
        except (BadSubmission, SandboxUnavailable) as exc:
            raise pytest.UsageError(f"{REFUSAL} {self.source}: {exc}") from None
        self.session.start()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.session is not None:
            self.recorder.report.notes.extend(self.session.notes)
            self.session.close()


def _session_plugin(config: pytest.Config) -> SubmissionSession:
    plugin = config.pluginmanager.get_plugin("cnn-grader-session")
    if plugin is None or plugin.session is None:
        pytest.skip("cnn-grader checks need --submission PATH")
    return plugin


@pytest.fixture(scope="session")
def grading(request: pytest.FixtureRequest) -> GradingSession:
    """The grading session of ``--submission`` (worker started at session start)."""
    return _session_plugin(request.config).session


@pytest.fixture(scope="session")
def digits(request: pytest.FixtureRequest, grading: GradingSession):
    """The quadrant digits (judge only: labels of the test digits never leave this process)."""
    from grader.judge.digits import prepare_digits

    prepared = prepare_digits(grading)
    _session_plugin(request.config).recorder.report.notes.append(prepared.split.source)
    return prepared


class PointsRecorder:
    """Records every check's outcome and prints a points table at the end."""

    def __init__(self, submission: str, verbose_failures: bool = False) -> None:
        self.report = GradeReport(submission)
        self.verbose_failures = verbose_failures
        self._started = time.perf_counter()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        spec = spec_of(item)
        if spec is None:
            return
        excinfo = call.excinfo
        if excinfo is not None and isinstance(excinfo.value, CheckFailure | SubmissionFault):
            report.longrepr = excinfo.value.message
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self._record(spec, report, excinfo)

    def _record(self, spec, report: pytest.TestReport, excinfo) -> None:
        if report.passed:
            result = CheckResult(spec.name, spec.points, spec.points, "passed", hint=spec.hint, tier=spec.tier)
        else:
            value = excinfo.value if excinfo else None
            known = isinstance(value, CheckFailure | SubmissionFault)
            message = value.message if known else f"grader error: {type(value).__name__}: {value}"
            hint = getattr(value, "hint", None) or spec.hint
            result = CheckResult(spec.name, 0.0, spec.points, "failed" if known else "error", message, hint, spec.tier)
        result.seconds = round(report.duration, 3)
        self.report.checks.append(result)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.report.seconds = round(time.perf_counter() - self._started, 2)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        tr = terminalreporter
        tr.section("cnn-grader points")
        for group, checks in self.report.groups().items():
            got, total = sum(c.points for c in checks), sum(c.max_points for c in checks)
            tr.write_line(f"{group:<12} {got:5.1f} / {total:5.1f}")
        tr.write_line(f"{'total':<12} {self.report.score:5.1f} / {self.report.max_score:5.1f}")
        for note in self.report.notes:
            tr.write_line(f"note: {note}")
        if self.verbose_failures:
            for check in self.report.checks:
                if check.status == "passed":
                    continue
                tr.write_line("")
                if check.tier == "hidden":  # name and result only
                    tr.write_line(f"{check.name} (0 / {check.max_points:g}): failed (hidden check)", red=True)
                    continue
                tr.write_line(f"{check.name} (0 / {check.max_points:g}): {check.message}", red=True)
                if check.hint:
                    tr.write_line(f"  hint: {check.hint}")


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

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from grader.report import gradescope, markdown

        if self.results_json:
            gradescope.write(self.recorder.report, Path(self.results_json))
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
