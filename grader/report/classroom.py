"""GitHub Classroom's reporter input, made from a Gradescope ``results.json``.

The reporter action (``classroom-resources/autograding-grading-reporter``) reads, for each runner id ``ID``
in its ``runners`` input, the environment variable ``ID_RESULTS``: base64 of the JSON
``{"version": 1, "status": "pass"|"fail", "max_score": N, "tests": [{"name", "status", "score",
"message", ...}]}``. It adds up ``tests[].score`` out of ``max_score`` as the points Classroom records.
Made from results.json, whose hidden checks already carry their name and result only.

``python -m grader.report.classroom results.json`` prints ``result=<base64>`` for ``$GITHUB_OUTPUT``.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path


def runner_results(results: dict) -> dict:
    """The reporter's JSON for one runner: every check as a test with its points."""
    tests = [
        {
            "name": test["name"],
            "status": "pass" if test["status"] == "passed" else "fail",
            "score": test["score"],
            "max_score": test["max_score"],
            "message": test.get("output", ""),
            "line_no": 0,
            "execution_time": "",
            "test_code": "",
            "filename": "",
        }
        for test in results.get("tests", [])
    ]
    passed = bool(tests) and all(test["status"] == "pass" for test in tests)
    return {"version": 1, "status": "pass" if passed else "fail", "max_score": results["max_score"], "tests": tests}


def output_line(results: dict) -> str:
    """``result=<base64 JSON>``: one line for ``$GITHUB_OUTPUT``."""
    encoded = base64.b64encode(json.dumps(runner_results(results)).encode()).decode()
    return f"result={encoded}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.report.classroom", description=__doc__)
    parser.add_argument("results", type=Path, help="a results.json written by `cnn-grader grade`")
    args = parser.parse_args(argv)
    print(output_line(json.loads(args.results.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
