"""Course packaging: the two tiers, the student bundle, the Gradescope autograder and the Classroom workflow.

The bundle (``cnn-grader release``) is searched for anything students must not have, then installed offline
into a fresh virtual environment where a plain ``pytest`` grades its own exercises: the model answers get
every public point, the stubs none. The autograder zip (``cnn-grader gradescope``) installs offline too, and
its ``run_autograder`` grades a fake ``/autograder`` tree. GitHub Actions cannot run here: the Classroom
workflow is checked as data, and the script it calls is tested.
"""

from __future__ import annotations

import ast
import base64
import importlib
import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, course_points

from grader import contract, coursepkg
from grader.checks.registry import check_paths
from grader.data import cache_dir
from grader.packaging.gradescope import build_autograder
from grader.packaging.release import build_release
from grader.packaging.sources import (
    COURSE_INSTRUCTOR_ONLY,
    GRADER_DIR,
    INSTRUCTOR_ONLY,
    course_dir,
    package_files,
    torch_pins,
)
from grader.report import classroom

HIDDEN_DIR = ROOT / "hidden_checks"
SECRET_FOLDERS = ("reference", "solutions", "hidden_checks")
COURSE_FILES = {f"{m.name}.py" for m in contract.MODULES} | {coursepkg.notebook_name()}


def declared_checks() -> dict[str, tuple[float, str, Path]]:
    """Every ``@check(name, points, ..., tier=...)`` of both tiers' files: name -> (points, tier, file)."""
    found = {}
    for path in [*(ROOT / "course").glob("*/check_*.py"), *HIDDEN_DIR.glob("hidden_*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            for decorator in getattr(node, "decorator_list", []):
                if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "check":
                    tier = next((k.value.value for k in decorator.keywords if k.arg == "tier"), "public")
                    found[decorator.args[0].value] = (decorator.args[1].value, tier, path)
    return found


def public_total() -> float:
    return sum(points for points, tier, _ in declared_checks().values() if tier == "public")


def offline_venv(where: Path, project: Path) -> Path:
    """A fresh venv with ``project`` installed from source, downloading nothing; returns its Python.

    The dev venv's packages (torch, ...) come in through a plain path line, not through its ``.pth`` files,
    so the editable full grader (reference/, hidden_checks/) stays out. setuptools builds without isolation.
    """
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    (Path(purelib.decode().strip()) / "dev-venv-packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    install = [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", str(project)]
    proc = subprocess.run(install, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]} (setuptools >= 70.1 in the dev venv?)"
    return python


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_release(tmp_path_factory.mktemp("release") / "bundle")


# ------------------------------------------------------------------------------------------------ the tiers
def test_every_check_declares_a_tier_that_matches_where_it_lives() -> None:
    checks = declared_checks()
    for name, (_, tier, path) in checks.items():
        assert tier == ("hidden" if path.parent == HIDDEN_DIR else "public"), name
    assert sum(points for points, _, _ in checks.values()) == course_points()
    hidden = [path for _, tier, path in checks.values() if tier == "hidden"]
    assert sorted(set(hidden)) == sorted(check_paths("all")[len(check_paths("public")) :])
    assert check_paths() == check_paths("all"), "where the hidden tier is installed it runs by default"


# ----------------------------------------------------------------------------------- the student bundle
def _texts(folder: Path) -> dict[Path, str]:
    texts = {}
    for path in folder.rglob("*"):
        if path.is_file():
            try:
                texts[path] = path.read_text()
            except UnicodeDecodeError:
                continue
    return texts


def _secret_lines() -> set[str]:
    """Lines of the secret folders that no public source holds (so finding one means it leaked)."""
    public = set()
    shipped = [
        *package_files(GRADER_DIR, INSTRUCTOR_ONLY).values(),
        *package_files(course_dir(), COURSE_INSTRUCTOR_ONLY).values(),
    ]
    for path in [*shipped, *(ROOT / "exercises").iterdir()]:
        if path.suffix in (".py", ".ipynb"):
            public |= {line.strip() for line in path.read_text().splitlines()}
    secret = set()
    for folder in SECRET_FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            secret |= {line.strip() for line in path.read_text().splitlines() if len(line.strip()) >= 30}
    return secret - public


def _hidden_expected_values() -> tuple[list[np.ndarray], list[str]]:
    """What the hidden checks compare with: arrays, and text forms of distinctive scalars and table rows."""
    arrays, strings = [], []
    for path in sorted(HIDDEN_DIR.glob("hidden_*.py")):
        for value in importlib.import_module(f"hidden_checks.{path.stem}").expected_values():
            if isinstance(value, np.ndarray):
                arrays.append(value)
            elif isinstance(value, float) and len(repr(value)) >= 8:
                strings.append(repr(value))
            elif isinstance(value, list):  # layer tables: as the stored vectors would hold them
                strings += [json.dumps([kind, list(shape), params]) for kind, shape, params in value]
    return arrays, strings


def test_bundle_holds_the_course(bundle: Path) -> None:
    assert {p.name for p in (bundle / "exercises").iterdir()} == COURSE_FILES
    for name in COURSE_FILES:
        assert (bundle / "exercises" / name).read_text() == (ROOT / "exercises" / name).read_text(), name
    for name in ("pyproject.toml", "pytest.ini", "README.md", ".github/workflows/classroom.yml"):
        assert (bundle / name).is_file(), name
    assert "cnn_grader_submission = exercises" in (bundle / "pytest.ini").read_text()
    for item in INSTRUCTOR_ONLY:
        assert not (bundle / "grader" / item).exists(), item
    for item in COURSE_INSTRUCTOR_ONLY:
        assert not (bundle / "course" / item).exists(), item
    assert (bundle / "course" / "course.toml").is_file()
    with pytest.raises(FileExistsError):
        build_release(bundle)


def test_bundle_holds_no_solution_reference_or_hidden_check(bundle: Path) -> None:
    files = [p for p in bundle.rglob("*") if p.is_file()]
    assert not [p for p in files if set(p.relative_to(bundle).parts) & set(SECRET_FOLDERS)]
    secret_files = {
        path.read_bytes()
        for folder in SECRET_FOLDERS
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.stat().st_size
    }
    assert not [p for p in files if p.read_bytes() in secret_files], (
        "a file of reference/, solutions/ or hidden_checks/"
    )

    texts = _texts(bundle)
    hidden_checks = {name for name, (_, tier, _) in declared_checks().items() if tier == "hidden"}
    hidden_names = hidden_checks | {p.stem for p in HIDDEN_DIR.glob("hidden_*.py")}
    hidden_names |= {
        node.name
        for path in HIDDEN_DIR.glob("hidden_*.py")
        for node in ast.parse(path.read_text()).body
        if getattr(node, "name", "").startswith("test_")
    }
    for needle in sorted(hidden_names | _secret_lines()):
        leaks = [str(path.relative_to(bundle)) for path, text in texts.items() if needle in text]
        assert not leaks, f"{needle!r} is in {leaks}"

    arrays, strings = _hidden_expected_values()
    assert arrays and strings
    for needle in strings:
        assert not [path for path, text in texts.items() if needle in text], needle
    with np.load(bundle / "course" / "vectors" / "arrays.npz", allow_pickle=False) as stored:
        for key in stored.files:
            for secret in arrays:
                same = stored[key].shape == secret.shape and np.allclose(stored[key], secret, atol=1e-6)
                assert not same, f"vectors {key} holds a hidden check's expected value"


def test_bundle_installs_offline_and_grades_its_own_exercises(bundle: Path, tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(bundle, course)
    python = offline_venv(tmp_path, course)
    missing = "import importlib.util as u; print([u.find_spec(n) is None for n in ('reference', 'hidden_checks')])"
    assert subprocess.check_output([python, "-P", "-c", missing], cwd=course, text=True).strip() == "[True, True]"
    proc = subprocess.run([python, "-P", "-m", "grader.cli", "check", "--tiers", "all"], capture_output=True, text=True)
    assert proc.returncode == 2 and "hidden checks are not installed" in proc.stderr

    def plain_pytest(name: str) -> tuple[subprocess.CompletedProcess, dict]:
        # `python -P -m pytest` is the `pytest` script. The test venv borrows the dev venv's packages from
        # outside itself, which the sandbox rightly does not mount: the worker runs unconfined here.
        results = tmp_path / f"{name}.json"
        command = [python, "-P", "-m", "pytest", "--sandbox", "none", "--results-json", str(results)]
        command += ["--feedback-html", str(tmp_path / f"{name}.html")]
        proc = subprocess.run(command, cwd=course, capture_output=True, text=True, timeout=600)
        assert results.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc, json.loads(results.read_text())

    proc, stubs = plain_pytest("stubs")
    assert proc.returncode == 1 and stubs["score"] == 0 and stubs["max_score"] == public_total()
    assert all("is not implemented yet" in t["output"] for t in stubs["tests"])
    assert "public checks only" in stubs["output"] and "Not implemented yet" in proc.stdout

    # a student who works in Jupyter pushes exercises/ with the solved notebook beside the untouched stubs
    notebook = coursepkg.notebook_name()
    shutil.copyfile(ROOT / "solutions" / notebook, course / "exercises" / notebook)
    proc, solved = plain_pytest("solutions")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert set(solved["extra_data"]["graded_files"].values()) == {notebook}, "graded from where it is implemented"
    public = {name for name, (_, tier, _) in declared_checks().items() if tier == "public"}
    assert {t["name"] for t in solved["tests"]} == public
    assert solved["score"] == solved["max_score"] == public_total() < 100
    page = (tmp_path / "solutions.html").read_text()  # drawn from what the bundle ships: no reference/ here
    assert "Grad-CAM (target: the true digit)" in page and page.count("<img") >= 12, page.count("<img")


# ------------------------------------------------------------------------------------------ Gradescope
@pytest.fixture(scope="module")
def autograder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The autograder zip unpacked as Gradescope does (into /autograder/source), execute bits included."""
    folder = tmp_path_factory.mktemp("gradescope")
    source = folder / "source"
    with zipfile.ZipFile(build_autograder(folder / "autograder.zip")) as archive:
        archive.extractall(source)
        for info in archive.infolist():
            (source / info.filename).chmod(info.external_attr >> 16 & 0o777)
    return source


def run_autograder(source: Path, root: Path) -> tuple[subprocess.CompletedProcess, dict]:
    env = dict(
        os.environ, AUTOGRADER_ROOT=str(root), CNN_GRADER_PYTHON=sys.executable, CNN_GRADER_CACHE=str(cache_dir())
    )
    proc = subprocess.run([source / "run_autograder"], env=env, capture_output=True, text=True, timeout=600)
    results = root / "results" / "results.json"
    assert results.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads(results.read_text())


def test_autograder_zip_installs_offline_with_every_tier(autograder: Path, tmp_path: Path) -> None:
    for script in ("setup.sh", "run_autograder"):
        assert (autograder / script).stat().st_mode & stat.S_IXUSR, script
        subprocess.run(["bash", "-n", autograder / script], check=True)
    assert torch_pins() and torch_pins() in (autograder / "setup.sh").read_text()
    python = offline_venv(tmp_path, autograder / "grader-src")
    probe = (
        "from grader.checks.registry import check_paths; from course import vectors; import reference;"
        "from grader.packaging.sources import render; render('run_autograder');"
        "print(len(check_paths('all')) - len(check_paths('public')), len(vectors.tables()))"
    )
    hidden_files, tables = subprocess.check_output([python, "-P", "-c", probe], text=True).split()
    assert int(hidden_files) == len(list(HIDDEN_DIR.glob("hidden_*.py"))) and int(tables) > 0


def test_run_autograder_grades_a_submission_with_every_tier(autograder: Path, tmp_path: Path) -> None:
    root = tmp_path / "autograder"
    shutil.copytree(ROOT / "solutions", root / "submission")
    proc, results = run_autograder(autograder, root)
    assert proc.returncode == 0
    lost = [(t["name"], t["output"]) for t in results["tests"] if t["score"] == 0]
    assert results["score"] == results["max_score"] == course_points(), lost
    tests = {t["name"]: t for t in results["tests"]}
    hidden = {name for name, (_, tier, _) in declared_checks().items() if tier == "hidden"}
    assert hidden <= set(tests)
    for name in hidden:
        assert tests[name]["output"] == "" and tests[name]["extra_data"] == {} and "hidden" in tests[name]["tags"]


def test_run_autograder_writes_results_for_a_broken_submission(autograder: Path, tmp_path: Path) -> None:
    root = tmp_path / "broken"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "shapes.py").write_text("def conv_output_size(:\n")
    proc, results = run_autograder(autograder, root)
    assert proc.returncode == 0 and results["score"] == 0 and results["max_score"] == course_points()
    for test in results["tests"]:
        assert test["output"] == "failed" if "hidden" in test["tags"] else test["output"], test

    root = tmp_path / "nothing"  # no submission folder at all: the grader cannot start
    root.mkdir()
    proc, results = run_autograder(autograder, root)
    assert proc.returncode == 0 and results["score"] == 0 and results["tests"] == []
    assert results["output"].startswith("The autograder could not grade this submission:"), results["output"]
    assert "Traceback" not in results["output"]


# ------------------------------------------------------------------------------------- GitHub Classroom
def test_classroom_workflow_grades_with_the_hidden_tier_and_reports_points(bundle: Path) -> None:
    workflow = yaml.safe_load((bundle / ".github" / "workflows" / "classroom.yml").read_text())
    assert {"push", "workflow_dispatch"} <= set(workflow["on"]) and workflow["permissions"]["checks"] == "write"
    (job,) = workflow["jobs"].values()
    assert job["name"] == "Autograding Tests", "the reporter updates the check run of this name"
    steps = job["steps"]
    assert any(torch_pins() in step.get("run", "") and "pip install -q ." in step.get("run", "") for step in steps)

    fetch = next(s for s in steps if s.get("with", {}).get("repository"))
    assert fetch["with"]["token"] == "${{ secrets.CNN_GRADER_TOKEN }}" and fetch["if"] == "env.HIDDEN_TIER == 'true'"
    assert "secrets.CNN_GRADER_TOKEN" in job["env"]["HIDDEN_TIER"]
    install = next(s for s in steps if "./.instructor-grader" in s.get("run", ""))
    assert install["if"] == fetch["if"] and "--force-reinstall" in install["run"]

    grade = next(s for s in steps if s.get("id") == "grader")
    assert "cnn-grader grade exercises" in grade["run"] and '--tiers "$tiers"' in grade["run"]
    assert "python -m grader.report.classroom" in grade["run"] and '>> "$GITHUB_OUTPUT"' in grade["run"]
    report = next(s for s in steps if "autograding-grading-reporter" in s.get("uses", ""))
    runner = report["with"]["runners"]
    assert report["env"] == {f"{runner.upper()}_RESULTS": f"${{{{ steps.{grade['id']}.outputs.result }}}}"}


def _run_step(step: dict, cwd: Path, shims: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """A workflow step's shell, as GitHub runs it (``bash -e``), with ``shims`` first on PATH."""
    runner = tmp_path / "runner"
    runner.mkdir(exist_ok=True)
    env = dict(
        os.environ,
        PATH=os.pathsep.join([str(shims), str(Path(sys.executable).parent), os.environ["PATH"]]),
        RUNNER_TEMP=str(runner),
        GITHUB_OUTPUT=str(runner / "output"),
        GITHUB_STEP_SUMMARY=str(runner / "summary.md"),
        HIDDEN_TIER="false",
    )
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def _shim(folder: Path, name: str, script: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"#!/bin/bash\n{script}\n")
    (folder / name).chmod(0o755)


def test_the_students_setup_falls_back_to_their_usual_index_with_a_message(bundle: Path, tmp_path: Path) -> None:
    """The README's set-up block, run as written (after its venv line) with a pip that fails on PyTorch's index as
    pip fails where it is unreachable; the real run took 160 s and 5.7 GB (issue 26's note, docs/packaging.md)."""
    readme = (bundle / "README.md").read_text()
    block = readme.split("## Set up once", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = block.split("\n", 1)
    assert lines[0] == "python3 -m venv .venv"
    calls = tmp_path / "calls"
    _shim(
        tmp_path / ".venv" / "bin",
        "pip",
        f'echo "pip $*" >> {calls}\n'
        'if [[ "$*" == *download.pytorch.org* ]]; then\n'
        '  echo "ERROR: No matching distribution found for cuda-bindings<14,>=13.0.3" >&2; exit 1\nfi',
    )
    proc = subprocess.run(["bash", "-e", "-c", lines[1]], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PyTorch's CPU index is not reachable from here" in proc.stdout
    made = calls.read_text().splitlines()
    pins = torch_pins().replace('"', "")  # as the shell passes them
    assert made == [
        f"pip install --index-url https://download.pytorch.org/whl/cpu {pins}",
        f"pip install {pins}",
        "pip install -e .",
    ]


@pytest.mark.slow
def test_classroom_workflow_steps_run_the_sandbox_or_fail_loudly(bundle: Path, tmp_path: Path) -> None:
    """The workflow's sandbox and grading steps, run here: apt-get updates before it installs, the grading runs in
    bubblewrap, and where bubblewrap cannot start (Ubuntu 24.04's AppArmor without the sysctl) both fail."""
    workflow = yaml.safe_load((bundle / ".github" / "workflows" / "classroom.yml").read_text())
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-24.04"
    sandbox = next(s for s in job["steps"] if "bubblewrap" in s.get("run", ""))
    grade_step = next(s for s in job["steps"] if s.get("id") == "grader")
    calls = tmp_path / "calls"
    shims = tmp_path / "shims"
    _shim(shims, "sudo", '"$@"')  # the runner's user may sudo; this test runs the command itself
    _shim(shims, "apt-get", f'echo "apt-get $*" >> {calls}')  # no package index here: record the calls
    _shim(shims, "python", f'exec {sys.executable} "$@"')
    proc = _run_step(sandbox, bundle, shims, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert calls.read_text().splitlines() == ["apt-get update -qq", "apt-get install -y -qq bubblewrap"]

    course = tmp_path / "course"
    shutil.copytree(bundle, course)
    proc = _run_step(grade_step, course, shims, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "runner" / "output").read_text().startswith("result=")
    assert "**Score:" in (tmp_path / "runner" / "summary.md").read_text()

    denied = tmp_path / "denied"  # bubblewrap as AppArmor leaves it on Ubuntu 24.04
    _shim(denied, "bwrap", 'echo "bwrap: setting up uid map: Permission denied" >&2; exit 1')
    for name in ("sudo", "apt-get", "python"):
        shutil.copy2(shims / name, denied / name)
    proc = _run_step(sandbox, bundle, denied, tmp_path)
    assert proc.returncode == 1 and "bubblewrap cannot start on this runner" in proc.stdout
    proc = _run_step(grade_step, course, denied, tmp_path)
    assert proc.returncode == 3 and "grader fault: the sandbox cannot run here" in proc.stderr, proc.stderr[-2000:]


def test_classroom_reporter_input_carries_the_points(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    results = {
        "score": 3.0,
        "max_score": 5.0,
        "tests": [
            {"name": "shapes/conv_output_size", "score": 3.0, "max_score": 3.0, "status": "passed", "output": ""},
            {"name": "quadrant/other_widths", "score": 0.0, "max_score": 2.0, "status": "failed", "output": "failed"},
        ],
    }
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert classroom.main([str(tmp_path / "results.json")]) == 0
    key, _, encoded = capsys.readouterr().out.strip().partition("=")
    payload = json.loads(base64.b64decode(encoded))
    assert key == "result" and payload["version"] == 1 and payload["status"] == "fail" and payload["max_score"] == 5
    assert [(t["status"], t["score"], t["message"]) for t in payload["tests"]] == [
        ("pass", 3.0, ""),
        ("fail", 0.0, "failed"),
    ]
    passing = dict(results, tests=results["tests"][:1])
    assert classroom.runner_results(passing)["status"] == "pass"
