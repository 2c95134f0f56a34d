"""What the Gradescope autograder runs (``run_autograder``, ``setup.sh``); instructors' installations only.

``python -P -m grader.packaging.autograder ROOT`` grades ``ROOT/submission`` with every tier into
``ROOT/results/results.json``, and writes that file whatever happens: when the grader cannot grade the
submission at all (nothing readable was handed in, or the judge itself failed), a results.json with no
points says so in words a student can act on. The full log goes to stdout, which Gradescope shows to
instructors only. ``--prepare`` (run by ``setup.sh``) loads or downloads MNIST and trains the grader's
own models once, so that no submission pays for them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from grader.plugin import refusal
from grader.report import gradescope
from grader.results import GradeReport

UNGRADABLE = (
    "The autograder could not grade this submission: {reason}. Upload shapes.py, quadrant.py, gradcam.py and "
    "training.py (or the notebook cnn_exercises.ipynb), or a zip of them."
)
GRADER_FAILED = "The autograder failed on this submission (exit code {code}); your instructor has the log."


def grade(root: Path) -> int:
    """Grade ``root/submission`` into ``root/results``; return the grader's exit code."""
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-P", "-m", "grader.cli", "grade", str(root / "submission"), "--out", str(results)]
    proc = subprocess.run([*command, "--tiers", "all"], cwd=root, capture_output=True, text=True)
    sys.stdout.write(proc.stdout + proc.stderr)
    if not (results / "results.json").exists():
        gradescope.write(GradeReport(str(root / "submission"), notes=[failure(proc)]), results / "results.json")
    return proc.returncode


def failure(proc: subprocess.CompletedProcess) -> str:
    """What a student reads when no grading happened: the judge's refusal, never a traceback."""
    reason = refusal(proc.stdout + proc.stderr)
    return GRADER_FAILED.format(code=proc.returncode) if reason is None else UNGRADABLE.format(reason=reason)


def prepare() -> None:
    """Load (downloading if need be) the quadrant digits and train the Grad-CAM peak check's model."""
    from grader.judge.trained import prepare_shared

    split = prepare_shared()
    print(f"prepared: {split.source}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.packaging.autograder", description=__doc__)
    parser.add_argument("root", type=Path, nargs="?", default=Path("/autograder"))
    parser.add_argument("--prepare", action="store_true", help="set-up time: data and trained models only")
    args = parser.parse_args(argv)
    if args.prepare:
        prepare()
        return 0
    grade(args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
