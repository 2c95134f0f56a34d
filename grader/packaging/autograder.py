"""What the Gradescope autograder runs (``run_autograder``, ``setup.sh``); instructors' installations only.

``python -P -m grader.packaging.autograder ROOT`` grades ``ROOT/submission`` with every tier into
``ROOT/results/results.json``. When nothing readable was handed in, a results.json with no points says so
in words a student can act on. When the *grader* fails (missing data, a broken sandbox, a grader bug: exit
code 3 of ``cnn-grader grade``), no results.json is left and the script exits non-zero, so Gradescope shows
a failed autograder run that the instructor can re-run, never a 0 the student cannot contest. It reads
``ROOT/submission_metadata.json`` (submission time, due dates): a late submission is named in the output
and the late policy, off by default, applied to the score. The full log goes to stdout, which Gradescope
shows to instructors only. ``--prepare`` (run by ``setup.sh``) loads or downloads MNIST and trains the grader's
own models once, so that no submission pays for them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from grader.judge.faults import GRADER_FAULT_EXIT
from grader.late import LatePolicy, lateness
from grader.plugin import refusal
from grader.report import gradescope
from grader.results import GradeReport

UNGRADABLE = (
    "The autograder could not grade this submission: {reason}. Upload {modules} (or the notebook {notebook}), "
    "or a zip of them."
)


def ungradable(reason: str) -> str:
    """The message of a submission the autograder could not grade, naming the course's files."""
    from grader import contract, coursepkg

    names = [f"{m.name}.py" for m in contract.MODULES]
    modules = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    return UNGRADABLE.format(reason=reason, modules=modules, notebook=coursepkg.notebook_name())


GRADER_FAILED = "The autograder failed on this submission (exit code {code}); your instructor has the log."


def grade(root: Path, policy: LatePolicy | None = None) -> int:
    """Grade ``root/submission`` into ``root/results``; return this run's exit code (non-zero: a grader fault)."""
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-P", "-m", "grader.cli", "grade", str(root / "submission"), "--out", str(results)]
    proc = subprocess.run([*command, "--tiers", "all"], cwd=root, capture_output=True, text=True)
    sys.stdout.write(proc.stdout + proc.stderr)
    if proc.returncode == GRADER_FAULT_EXIT or proc.returncode < 0:
        (results / "results.json").unlink(missing_ok=True)  # a failed run, not a grade
        print("cnn-grader: a grader fault, not the student's: no results.json, so Gradescope shows a failed run")
        return 1
    if not (results / "results.json").exists():
        gradescope.write(GradeReport(str(root / "submission"), notes=[failure(proc)]), results / "results.json")
    if policy is None:  # the course's late policy, carried beside the checks (grader/course.py)
        from grader.course import load

        policy = load().late
    apply_metadata(results / "results.json", root / "submission_metadata.json", policy)
    return 0


def apply_metadata(results_file: Path, metadata_file: Path, policy: LatePolicy) -> None:
    """Say whether the submission was late (Gradescope's metadata) and apply the late policy to the score."""
    try:
        metadata = json.loads(metadata_file.read_text())
    except (OSError, json.JSONDecodeError):
        return
    assignment = metadata.get("assignment") or {}
    late, days = lateness(metadata.get("created_at"), assignment.get("due_date"))
    if not late:
        return
    results = json.loads(results_file.read_text())
    note = f"Submitted {days:.2f} days after the due date."
    fraction = policy.fraction(late, days)
    if fraction:
        score = sum(test.get("score", 0) for test in results.get("tests", []))
        results["score"] = round(score * (1 - fraction), 4)
        note += f" Late policy: {fraction:.0%} off, {score:g} -> {results['score']:g}."
    results["output"] = (results.get("output", "") + f"\n\n> {note}").strip()
    results.setdefault("extra_data", {})["late"] = {"days": round(days or 0, 3), "deduction": fraction}
    results_file.write_text(json.dumps(results, indent=2))


def failure(proc: subprocess.CompletedProcess) -> str:
    """What a student reads when no grading happened: the judge's refusal, never a traceback."""
    reason = refusal(proc.stdout + proc.stderr)
    return GRADER_FAILED.format(code=proc.returncode) if reason is None else ungradable(reason)


def prepare() -> None:
    """Load (downloading if need be) the course's data set and train the Grad-CAM peak check's model."""
    from course.gradcam.trained import prepare_shared
    from grader import course

    split = prepare_shared(dataset=course.load().dataset)
    print(f"prepared: {split.source}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.packaging.autograder", description=__doc__)
    parser.add_argument("root", type=Path, nargs="?", default=Path("/autograder"))
    parser.add_argument("--prepare", action="store_true", help="set-up time: data and trained models only")
    args = parser.parse_args(argv)
    if args.prepare:
        prepare()
        return 0
    return grade(args.root)


if __name__ == "__main__":
    sys.exit(main())
