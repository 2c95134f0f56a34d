"""``cnn-grader``: check your own work (students) or grade a submission (autograders, instructors).

Exit codes of ``grade``: 0 graded (whatever the score), 2 the submission could not be read (or a usage
error), 3 a grader fault (missing data, a broken sandbox, a grader bug: the grade is incomplete). ``check``
exits 0 when every check passed, 1 when one failed, 2 and 3 as ``grade``. ``export`` exits 0 when the zip it
wrote holds complete, readable work, 1 when it wrote an incomplete one, 2 when there was nothing to write.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

import pytest

from grader import collector, quickexit
from grader.checks.registry import TIER_CHOICES, check_paths, hidden_dir
from grader.course import ConfigError, CourseConfig, course_text, render_toml
from grader.course import load as load_course
from grader.judge import launch
from grader.judge.faults import GRADER_FAULT_EXIT
from grader.judge.faults import REFUSAL as REFUSAL_PREFIX
from grader.late import LatePolicy

CHECKS_DIR = Path(__file__).parent / "checks"
COMPLETED = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
PACKAGING = importlib.util.find_spec("grader.packaging") is not None  # absent from the student bundle
BATCH = importlib.util.find_spec("grader.batch") is not None  # absent from the student bundle
REFUSED_EXIT = 2


def description() -> str:
    """What this installation's ``cnn-grader`` does (the student bundle has no instructor commands)."""
    lines = [
        "Check your own work (students) or grade a submission (autograders, instructors).",
        "",
        "  cnn-grader check [PATH]            grade exercises/ (or PATH) and print points, failures and hints",
        "  cnn-grader check -k NAME           only the checks whose name or group contains NAME",
        "  cnn-grader check --list            every check with its points",
        "  cnn-grader grade SUBMISSION --out DIR   write results.json, feedback.md and feedback.html",
    ]
    if BATCH:
        lines.append("  cnn-grader batch SUBMISSIONS --out DIR   grade a whole class (docs/batch.md)")
    if PACKAGING:
        lines.append("  cnn-grader release OUT / gradescope ZIP  student bundle / autograder (docs/packaging.md)")
    lines += ["", __doc__.split("\n\n", 1)[1].replace("``", "").strip()]
    return "\n".join(lines)


def pytest_args(submission: Path, args: argparse.Namespace) -> list[str]:
    """The pytest command line of one grading run (the checks, isolated from the caller's config)."""
    command = [
        *(str(path) for path in check_paths(getattr(args, "tiers", None))),
        "-c",
        str(CHECKS_DIR / "pytest.ini"),
        "--rootdir",
        str(CHECKS_DIR),
        "--submission",
        str(submission),
        "--device",
        args.device,
        "--seed",
        str(args.seed),
        "--sandbox",
        args.sandbox,
        "--rerun-command",
        "cnn-grader check" if getattr(args, "command", "check") == "check" else "cnn-grader grade SUBMISSION --out DIR",
        "--tb=no",
        "-rN",
        "-q",
        "-p",
        "no:randomly",
    ]
    for flag, value in (
        ("--check-timeout", args.timeout),
        ("--cell-timeout", args.cell_timeout),
        ("--check-budget", getattr(args, "check_budget", None)),
        ("--grading-budget", getattr(args, "grading_budget", None)),
        ("--course-config", getattr(args, "config", None)),
    ):
        if value is not None:  # else the course's configuration, else the defaults (grader/course.py)
            command += [flag, str(value)]
    if args.data_root:
        command += ["--data-root", str(args.data_root)]
    if args.no_cache:
        command.append("--no-cache")
    if getattr(args, "no_tamper_scan", False):
        command.append("--no-tamper-scan")
    if args.k:
        command += ["-k", args.k]
    if getattr(args, "only", None):
        command += ["--only", args.only]
    return command


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where to train")
    parser.add_argument(
        "--data-root",
        type=Path,
        help="folder with the data set in torchvision's layout (default: $CNN_GRADER_DATA)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for inputs and training (default 0)")
    parser.add_argument("--config", type=Path, help="the course configuration (TOML; docs/course.md)")
    parser.add_argument("--timeout", type=float, help="seconds per request to student code (default 20)")
    parser.add_argument(
        "--sandbox",
        default="auto",
        choices=("auto", "bwrap", "none"),
        help="confine the worker with bubblewrap (auto: where it works)",
    )
    parser.add_argument("--cell-timeout", type=float, help="seconds per notebook cell (default 15)")
    parser.add_argument(
        "--no-tamper-scan", action="store_true", help="skip the tamper scan (to test the defences beneath it)"
    )
    parser.add_argument("--check-budget", type=float, help="seconds of student code per check (default 90)")
    parser.add_argument("--grading-budget", type=float, help="seconds per grading, training included (default 1200)")
    parser.add_argument("--no-cache", action="store_true", help="train networks again even if cached")
    parser.add_argument(
        "--tiers", choices=TIER_CHOICES, help="public checks, or all (default: all where the hidden tier is installed)"
    )
    parser.add_argument("-k", help="only the checks whose name or group contains this (a pytest -k expression)")
    parser.add_argument("--only", metavar="NAME", help="exactly the check or the group called NAME")
    parser.add_argument("--list", action="store_true", help="list the checks with their points and exit")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cnn-grader", description=description(), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="grade a submission and write results.json and feedback.md")
    grade.add_argument("submission", type=Path, help="a folder of modules, a notebook, or a zip of either")
    grade.add_argument("--out", type=Path, required=True, help="folder for results.json and feedback.md")
    grade.add_argument("--junit-xml", type=Path, help="also write a JUnit XML report here")
    grade.add_argument("--report-json", type=Path, help="also write the full report (hidden checks' messages too)")
    _common(grade)
    if BATCH:  # instructor command: not in the student bundle
        batch = sub.add_parser("batch", help="grade a class: per-student reports, gradebook.csv, summary.html")
        batch.add_argument("submissions", type=Path, help="a folder (or zip), one entry per student (docs/batch.md)")
        batch.add_argument("--out", type=Path, required=True, help="folder for the reports")
        batch.add_argument("-j", "--jobs", type=int, default=1, help="gradings at a time on this machine (default 1)")
        batch.add_argument("--cluster", help="grade on a Dask cluster: the scheduler's address, tcp://HOST:PORT")
        batch.add_argument("--regrade", action="store_true", help="grade students again even if already graded")
        batch.add_argument("--student-timeout", type=float, default=900.0, help="seconds one grading may take in all")
        batch.add_argument("--no-progress", action="store_true", help="no progress bar")
        batch.add_argument(
            "--similarity-threshold",
            type=float,
            default=0.75,
            help="flag pairs whose code similarity reaches this, 0 to 1 (default 0.75; docs/batch.md)",
        )
        batch.add_argument("--late-penalty", type=float, help="fraction taken off a late submission (default 0)")
        batch.add_argument("--late-penalty-per-day", type=float, help="fraction per started day late (default 0)")
        batch.add_argument("--due", help="due date (ISO 8601) for exports without a late marker (Gradescope)")
        batch.add_argument(
            "--lms-assignment",
            default="cnn-grader",
            help="the assignment's column in canvas_import.csv: 'Name (123)' updates Canvas assignment 123",
        )
        _common(batch)
    check = sub.add_parser("check", help="check your own exercises and see points and hints")
    check.add_argument("path", type=Path, nargs="?", default=Path("exercises"), help="default: exercises/")
    _common(check)
    if PACKAGING:  # instructor commands: not in the student bundle
        release = sub.add_parser("release", help="build the student bundle: exercises, public checks, workflow")
        release.add_argument("out", type=Path, help="a new or empty folder")
        autograder = sub.add_parser("gradescope", help="build a Gradescope autograder zip that runs every tier")
        autograder.add_argument("zip", type=Path, help="where to write it, e.g. dist/autograder.zip")
        for packager in (release, autograder):
            packager.add_argument("--config", type=Path, help="the course configuration to ship (docs/course.md)")
    handin = sub.add_parser("export", help="check your work is complete and readable and write the zip to hand in")
    handin.add_argument("path", type=Path, nargs="?", default=Path("exercises"), help="default: exercises/")
    handin.add_argument("--out", type=Path, default=Path("submission.zip"), help="default: submission.zip")
    show = sub.add_parser("config", help="print the effective course configuration (docs/course.md)")
    show.add_argument("--config", type=Path, help="the course configuration (TOML)")
    show.add_argument("--show", action="store_true", help="print it (the default)")
    args = parser.parse_args(argv)
    if args.command not in ("grade", "check"):
        collector.resume()  # the pause is for a grading's start-up (run()); a batch runs on for long
    if getattr(args, "tiers", None) == "all" and hidden_dir() is None:
        parser.error("--tiers all: the hidden checks are not installed here (install the instructor's grader)")
    if args.command == "export":
        return _export(args)
    if args.command in ("release", "gradescope", "config"):
        try:
            course = load_course(getattr(args, "config", None))
        except ConfigError as exc:
            print(f"cnn-grader {args.command}: {exc}", file=sys.stderr)
            return REFUSED_EXIT
        for warning in course.warnings():
            print(f"warning: {warning}", file=sys.stderr)
        if args.command == "config":
            print(render_toml(course), end="")
            return 0
        return _package(args)
    if getattr(args, "list", False):
        return _list(args)

    if args.command == "grade":
        if not args.submission.exists() and not args.submission.is_symlink():
            print(f"cnn-grader grade: {REFUSAL_PREFIX} {args.submission}: it does not exist", file=sys.stderr)
            return REFUSED_EXIT
        args.out.mkdir(parents=True, exist_ok=True)
        extra = [
            "--results-json",
            str(args.out / "results.json"),
            "--feedback-md",
            str(args.out / "feedback.md"),
            "--feedback-html",
            str(args.out / "feedback.html"),
        ]
        if args.junit_xml:
            extra += ["--junitxml", str(args.junit_xml)]
        if args.report_json:
            extra += ["--report-json", str(args.report_json)]
        # the worker's sandbox starts while pytest loads torch and the checks
        launch.prestart(args.sandbox, launch.whole_grading(args.k, getattr(args, "only", None)))
        code = pytest.main([*pytest_args(args.submission, args), *extra])
        if code in COMPLETED:
            print(f"results: {args.out / 'results.json'}\nfeedback: {args.out / 'feedback.md'}, feedback.html")
            return 0
        if code == GRADER_FAULT_EXIT and (args.out / "results.json").exists():  # graded in part: say so, exit 3
            print(f"results, incomplete (grader errors above): {args.out / 'results.json'}")
        _remove_if_empty(args.out)
        return _exit_code(code)

    if args.command == "batch":
        return _batch(args)

    if not args.path.exists():
        parser.error(f"{args.path} does not exist; run from your course folder or pass the path to your modules")
    launch.prestart(args.sandbox, launch.whole_grading(args.k, getattr(args, "only", None)))
    code = pytest.main(pytest_args(args.path, args))
    return 1 if code == pytest.ExitCode.TESTS_FAILED else _exit_code(code)


def _exit_code(code: int) -> int:
    """pytest's exit code as this command's (see the module docstring)."""
    if code == GRADER_FAULT_EXIT:
        return GRADER_FAULT_EXIT
    if code in (pytest.ExitCode.OK,):
        return 0
    if code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED):
        return REFUSED_EXIT
    return GRADER_FAULT_EXIT  # an internal error or an interrupted run: never a grade


def _export(args: argparse.Namespace) -> int:
    from grader.handin import NothingToHandIn, export
    from grader.judge.submission import BadSubmission

    try:
        handed = export(args.path, args.out)
    except (NothingToHandIn, BadSubmission) as exc:
        print(f"cnn-grader export: {exc}", file=sys.stderr)
        return REFUSED_EXIT
    print(handed.summary())
    return 0 if handed.complete else 1


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _list(args: argparse.Namespace) -> int:
    """Print every check of the chosen tiers: name, points (the course's), tier."""
    from grader.checks.registry import all_specs

    try:
        course = load_course(args.config)
    except ConfigError as exc:
        print(f"cnn-grader {args.command}: {exc}", file=sys.stderr)
        return REFUSED_EXIT
    specs = [course.apply(spec) for spec in all_specs(getattr(args, "tiers", None))]
    width = max(len(s.name) for s in specs)
    for spec in specs:
        tier = "" if spec.tier == "public" else f"  ({spec.tier})"
        print(f"{spec.name:<{width}}  {spec.points:4g} {'point' if spec.points == 1 else 'points'}{tier}")
    print(f"{'total':<{width}}  {sum(s.points for s in specs):4g} points; select with -k NAME (a name, part, or group)")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def late_policy(args: argparse.Namespace, course: CourseConfig) -> LatePolicy:
    """The batch's late policy: ``--late-penalty``/``--late-penalty-per-day`` where given, else the course's."""
    late = course.late
    return LatePolicy(
        late.penalty if args.late_penalty is None else args.late_penalty,
        late.per_day if args.late_penalty_per_day is None else args.late_penalty_per_day,
        late.max_penalty,
    )


def _batch(args: argparse.Namespace) -> int:
    from grader.batch.runner import run_batch
    from grader.batch.task import GradeSettings
    from grader.judge.submission import BadSubmission

    try:
        course = load_course(args.config)
        policy = late_policy(args, course)
    except (ConfigError, ValueError) as exc:
        print(f"cnn-grader batch: {exc}", file=sys.stderr)
        return 2
    for warning in course.warnings():
        print(f"warning: {warning}", file=sys.stderr)

    settings = GradeSettings(
        device=args.device,
        seed=args.seed,
        data_root=str(args.data_root.resolve()) if args.data_root else None,
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        sandbox=args.sandbox,
        no_cache=args.no_cache,
        k=args.k,
        tiers=args.tiers,
        student_timeout=args.student_timeout,
        course_config=course_text(args.config),
    )
    if not args.submissions.exists():
        print(f"cnn-grader batch: {args.submissions} does not exist", file=sys.stderr)
        return 2
    if args.cluster is None:  # a cluster's workers have devices of their own
        from grader.device import device_problem

        problem = device_problem(args.device)
        if problem is not None:
            print(f"cnn-grader batch: grader fault: {problem}", file=sys.stderr)
            return GRADER_FAULT_EXIT
    signal.signal(signal.SIGTERM, _interrupt)  # a cancelled job stops like Ctrl-C: finished students kept
    try:
        run_batch(
            args.submissions,
            args.out,
            settings,
            jobs=args.jobs,
            cluster=args.cluster,
            regrade=args.regrade,
            progress=not args.no_progress,
            similarity_threshold=args.similarity_threshold,
            late_policy=policy,
            due=args.due,
            lms_assignment=args.lms_assignment,
        )
    except BadSubmission as exc:
        print(f"cnn-grader batch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def _package(args: argparse.Namespace) -> int:
    """``release OUT`` (the student bundle) or ``gradescope ZIP`` (the autograder); see docs/packaging.md."""
    from grader.packaging.gradescope import build_autograder
    from grader.packaging.release import build_release

    try:
        config = course_text(args.config)
        if args.command == "release":
            print(f"student bundle: {build_release(args.out, config)}")
        else:
            print(f"Gradescope autograder: {build_autograder(args.zip, config)}")
    except (FileExistsError, LookupError) as exc:
        print(f"cnn-grader {args.command}: {exc}", file=sys.stderr)
        return 2
    return 0


def run() -> NoReturn:
    """The console script: :func:`main` in a process that ends with it.

    The garbage collector is off while the judge imports torch, pytest, hypothesis and the checks (the plugin
    turns it back on once the checks are collected, :func:`grader.collector.resume`), and the process ends
    without the interpreter's finalization once the ``atexit`` handlers have run (:mod:`grader.quickexit`).
    Hypothesis loads none of the plugins other packages register (trio's, 0.15 s): the checks draw their cases
    with hypothesis alone, whatever else is installed.
    """
    os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")
    collector.pause()
    code = main()
    collector.freeze_for_exit()  # where the interpreter's own exit runs after all, its last collection walks nothing
    quickexit.exit_now(code)


if __name__ == "__main__":
    run()
