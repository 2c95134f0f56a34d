"""``cnn-grader``: grade a submission (autograders, instructors) or check your own work (students).

``grade SUBMISSION --out DIR`` writes ``DIR/results.json`` (Gradescope's schema) and ``DIR/feedback.md``
and exits 0 whenever grading completed, whatever the score. ``check [PATH]`` runs the same checks on
``exercises/`` (or PATH) and prints points, failures and hints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from grader.checks.registry import CHECK_FILES

CHECKS_DIR = Path(__file__).parent / "checks"
COMPLETED = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)


def pytest_args(submission: Path, args: argparse.Namespace) -> list[str]:
    """The pytest command line of one grading run (the checks, isolated from the caller's config)."""
    command = [
        *(str(CHECKS_DIR / name) for name in CHECK_FILES),
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
        "--check-timeout",
        str(args.timeout),
        "--cell-timeout",
        str(args.cell_timeout),
        "--sandbox",
        args.sandbox,
        "--tb=no",
        "-rN",
        "-q",
        "-p",
        "no:randomly",
    ]
    if args.data_root:
        command += ["--data-root", str(args.data_root)]
    if args.no_cache:
        command.append("--no-cache")
    if args.k:
        command += ["-k", args.k]
    return command


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where to train")
    parser.add_argument("--data-root", type=Path, help="folder with MNIST/raw (default: $CNN_GRADER_DATA)")
    parser.add_argument("--seed", type=int, default=0, help="seed for inputs and training (default 0)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per request to student code")
    parser.add_argument(
        "--sandbox",
        default="auto",
        choices=("auto", "bwrap", "none"),
        help="confine the worker with bubblewrap (auto: where it works)",
    )
    parser.add_argument("--cell-timeout", type=float, default=15.0, help="seconds per notebook cell")
    parser.add_argument("--no-cache", action="store_true", help="train networks again even if cached")
    parser.add_argument("-k", help="only checks matching this pytest -k expression")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cnn-grader", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="grade a submission and write results.json and feedback.md")
    grade.add_argument("submission", type=Path, help="a folder of modules, a notebook, or a zip of either")
    grade.add_argument("--out", type=Path, required=True, help="folder for results.json and feedback.md")
    grade.add_argument("--junit-xml", type=Path, help="also write a JUnit XML report here")
    _common(grade)
    check = sub.add_parser("check", help="check your own exercises and see points and hints")
    check.add_argument("path", type=Path, nargs="?", default=Path("exercises"), help="default: exercises/")
    _common(check)
    args = parser.parse_args(argv)

    if args.command == "grade":
        args.out.mkdir(parents=True, exist_ok=True)
        extra = [
            "--results-json",
            str(args.out / "results.json"),
            "--feedback-md",
            str(args.out / "feedback.md"),
        ]
        if args.junit_xml:
            extra += ["--junitxml", str(args.junit_xml)]
        code = pytest.main([*pytest_args(args.submission, args), *extra])
        if code in COMPLETED:
            print(f"results: {args.out / 'results.json'}\nfeedback: {args.out / 'feedback.md'}")
            return 0
        return int(code) or 1

    if not args.path.exists():
        parser.error(f"{args.path} does not exist; run from your course folder or pass the path to your modules")
    code = pytest.main(pytest_args(args.path, args))
    return 0 if code == pytest.ExitCode.OK else int(code)


if __name__ == "__main__":
    sys.exit(main())
