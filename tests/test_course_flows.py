"""Course flows (issue 10): the grader grades what the student meant, however it arrives, and never blames a
student for a grader fault. Real commands on real folders, zips and exports; rules unit-tested beside them.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, SHARED_DATA, course_points, grade

from grader import contract, coursepkg
from grader.batch import discover, store
from grader.batch.runner import run_batch
from grader.batch.task import GradeSettings
from grader.judge import locate
from grader.judge.contained import contained_files
from grader.judge.submission import BadSubmission, prepare
from grader.late import LatePolicy
from grader.packaging.autograder import apply_metadata
from grader.stubgen import render_all

MODULES = tuple(m.name for m in contract.MODULES)  # the course's student modules
NOTEBOOK = coursepkg.notebook_name()


def course_folder(where: Path, *, solved_notebook: bool = True, solved_modules: tuple[str, ...] = ()) -> Path:
    """The bundle's exercises/: the stub modules and a notebook (solved or the stub), some modules solved."""
    where.mkdir(parents=True)
    for name, text in render_all().items():
        (where / name).write_text(text)
    for module in solved_modules:
        shutil.copyfile(ROOT / "solutions" / f"{module}.py", where / f"{module}.py")
    kind = "solutions" if solved_notebook else "exercises"
    shutil.copyfile(ROOT / kind / NOTEBOOK, where / NOTEBOOK)
    return where


def plan_of(folder: Path) -> locate.Plan:
    return locate.plan(contained_files(folder))


def cli(*args: str, cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env
    )


# --- 1. which files are graded --------------------------------------------------------------------------


def test_a_solved_notebook_beside_the_stubs_is_graded(tmp_path: Path) -> None:
    chosen = plan_of(course_folder(tmp_path / "exercises"))
    assert {m: s.kind for m, s in chosen.sources.items()} == dict.fromkeys(MODULES, "notebook")
    assert chosen.notebook == NOTEBOOK
    assert any("released stub" in note and NOTEBOOK in note for note in chosen.notes)


def test_each_module_is_graded_from_where_it_is_implemented(tmp_path: Path) -> None:
    folder = course_folder(tmp_path / "ex", solved_notebook=False, solved_modules=("shapes", "gradcam"))
    chosen = plan_of(folder)
    # shapes and gradcam solved in their files; the others are stubs in both: the module file on a tie
    assert {m: s.kind for m, s in chosen.sources.items()} == dict.fromkeys(MODULES, "file")
    both = course_folder(tmp_path / "both", solved_modules=("shapes",))
    chosen = plan_of(both)
    assert chosen.sources["shapes"].kind == "file" and chosen.sources["training"].kind == "notebook"
    assert any("both shapes.py and" in note for note in chosen.notes), "both hold work: the choice is named"


def test_a_syntax_error_or_an_extra_import_is_work_but_comments_and_docstrings_are_not(tmp_path: Path) -> None:
    stub = render_all()["shapes.py"]
    assert locate.module_file_work(stub, "shapes") == 0
    reworded = stub.replace('"""Return the output length', '"""Compute the output length').replace(
        "raise NotImplementedError", "raise NotImplementedError  # TODO"
    )
    assert locate.module_file_work(reworded, "shapes") == 0
    assert locate.module_file_work(stub + "\ndef conv_output_size(:\n", "shapes") == len(
        contract.module("shapes").exercises
    )
    assert locate.module_file_work(stub + "\nfrom mine import conv_output_size\n", "shapes") == 1


def test_near_miss_names_nesting_and_several_notebooks(tmp_path: Path) -> None:
    deep = tmp_path / "upload" / "homework" / "final"
    deep.mkdir(parents=True)
    shutil.copyfile(ROOT / "solutions" / "shapes.py", deep / "shapes (1).py")
    for module in ("quadrant", "gradcam"):
        shutil.copyfile(ROOT / "solutions" / f"{module}.py", deep / f"{module}.py")
    shutil.copyfile(ROOT / "solutions" / "training.py", deep / "training-1.py")
    shutil.copyfile(ROOT / "solutions" / "training.py", deep / "training_v2.py")
    (tmp_path / "upload" / "notes.txt").write_text("my notes")
    prepared = prepare(tmp_path / "upload", tmp_path / "copy")
    assert prepared.plan.folder == "homework/final"
    assert (prepared.folder / "shapes.py").read_bytes() == (ROOT / "solutions" / "shapes.py").read_bytes()
    assert prepared.plan.sources["training"].kind == "missing"
    notes = "\n".join(prepared.notes)
    assert "graded the folder homework/final/" in notes and "graded shapes (1).py as shapes.py" in notes
    assert "found training-1.py, training_v2.py: rename the one to grade to training.py" in notes

    several = tmp_path / "several"
    several.mkdir()
    shutil.copyfile(ROOT / "exercises" / NOTEBOOK, several / "draft.ipynb")
    shutil.copyfile(ROOT / "solutions" / NOTEBOOK, several / "mine.ipynb")
    chosen = plan_of(several)
    assert chosen.notebook == "mine.ipynb", "the notebook that implements the most exercises"
    assert any("several notebooks: graded mine.ipynb, not draft.ipynb" in note for note in chosen.notes)


def test_an_empty_submission_says_what_was_found(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "report.pdf").write_bytes(b"%PDF")
    chosen = plan_of(tmp_path / "sub")
    assert all(s.kind == "missing" for s in chosen.sources.values())
    assert "found report.pdf" in chosen.sources["shapes"].why


def test_grade_on_a_missing_path_leaves_nothing_behind(tmp_path: Path) -> None:
    proc = cli("grade", str(tmp_path / "nope"), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert not (tmp_path / "out").exists()
    with pytest.raises(BadSubmission, match="does not exist"):
        prepare(tmp_path / "nope", tmp_path / "copy")


@pytest.mark.slow
def test_grade_check_and_autograder_grade_the_notebook_beside_the_stubs(tmp_path: Path) -> None:
    """The Classroom flow: `cnn-grader grade exercises` on the student's pushed folder (stubs + solved notebook)."""
    folder = course_folder(tmp_path / "exercises")
    graded = grade(folder, tmp_path / "out", "--tiers", "public")
    assert graded.results["score"] == graded.results["max_score"] == course_points("public"), sorted(graded.failed)
    assert graded.results["extra_data"]["graded_files"] == dict.fromkeys(MODULES, NOTEBOOK)
    assert f"shapes from {NOTEBOOK}" in graded.feedback.replace("\\", "")
    assert "Graded files" in graded.stdout and f"shapes     {NOTEBOOK}" in graded.stdout


# --- 2. LMS exports -------------------------------------------------------------------------------------


def canvas_export(folder: Path) -> Path:
    folder.mkdir(parents=True)
    sol = ROOT / "solutions"
    (folder / "leeann_1234_5678_shapes.py").write_bytes((sol / "shapes.py").read_bytes())
    (folder / "leeann_1234_5678_gradcam-1.py").write_bytes((sol / "gradcam.py").read_bytes())
    (folder / "chenbo_LATE_2222_3333_cnn_exercises.ipynb").write_bytes((sol / NOTEBOOK).read_bytes())
    (folder / "kimdo_4444_5555_=HYPERLINK(1).py").write_text("x = 1\n")
    (folder / "readme.txt").write_text("downloaded from Canvas")
    return folder


def test_canvas_export_with_a_stray_file(tmp_path: Path) -> None:
    found = discover.survey(canvas_export(tmp_path / "export"))
    assert found.layout == "canvas" and found.left_out == ["readme.txt"]
    assert "layout: canvas (4 of 5 entries fit it)" in found.describe()
    entries = {e.student: e for e in found.entries}
    assert sorted(entries) == ["chenbo", "kimdo", "leeann"]
    assert entries["chenbo"].late is True and entries["leeann"].late is False
    assert entries["leeann"].ids == {"user_id": "1234", "submission_id": "5678"}
    assert entries["leeann"].label == "leeann_1234_5678_gradcam-1.py, leeann_1234_5678_shapes.py"


def test_input_that_fits_no_layout_is_refused(tmp_path: Path) -> None:
    for name in ("a.txt", "b.pdf", "c.docx"):
        (tmp_path / name).write_text("x")
    (tmp_path / "alice").mkdir()
    with pytest.raises(BadSubmission, match="fits no known layout"):
        discover.survey(tmp_path)


def test_gradebook_carries_late_ids_and_the_late_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_batch import fake_results

    from grader.batch import task as task_module
    from grader.batch import warm as warm_module
    from grader.batch.task import Outcome

    monkeypatch.setattr(task_module, "run", lambda t: Outcome(t.student, "graded", "", 1.0, "h", fake_results(4)))
    monkeypatch.setattr(warm_module, "warm", lambda data_root, dataset=None: "warm")
    export = canvas_export(tmp_path / "export")
    lines: list[str] = []
    policy = LatePolicy(penalty=0.25)
    run_batch(export, tmp_path / "out", GradeSettings(), progress=False, log=lines.append, late_policy=policy)
    assert any("layout: canvas" in line and "readme.txt" in line for line in lines)
    text = (tmp_path / "out" / "gradebook.csv").read_text()
    rows = {r["student"]: r for r in csv.DictReader(text.splitlines())}
    assert rows["chenbo"]["late"] == "true" and rows["leeann"]["late"] == "false"
    assert (rows["chenbo"]["total"], rows["chenbo"]["late_deduction"], rows["chenbo"]["final"]) == ("4", "1", "3")
    assert rows["leeann"]["final"] == "4" and rows["leeann"]["user_id"] == "1234"
    assert json.loads((store.record_dir(tmp_path / "out", "leeann") / "batch.json").read_text())["file"].startswith(
        "leeann_1234_5678"
    )
    for cell in (c for line in csv.reader(text.splitlines()) for c in line):
        assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
    assert not (tmp_path / "out" / store.STAGING).exists()


def test_gradescope_export_keeps_ids_for_students_of_the_same_name(tmp_path: Path) -> None:
    export = tmp_path / "export"
    for sid in ("101", "102"):
        (export / f"submission_{sid}").mkdir(parents=True)
        shutil.copyfile(ROOT / "solutions" / NOTEBOOK, export / f"submission_{sid}" / NOTEBOOK)
    (export / "submission_metadata.yml").write_text(
        "submission_101:\n  :submitters:\n  - :name: Sam Lee\n    :email: sam.lee@uni.edu\n    :sid: '7'\n"
        "  :created_at: 2026-11-01 10:00:00.000000000 -07:00\n"
        "submission_102:\n  :submitters:\n  - :name: Sam Lee\n    :email: sam.lee@other.edu\n"
    )
    entries = discover.discover(export)
    assert [e.student for e in entries] == ["sam.lee", "sam.lee-2"]
    assert {e.ids["email"] for e in entries} == {"sam.lee@uni.edu", "sam.lee@other.edu"}
    assert entries[0].ids["submission_id"] != entries[1].ids["submission_id"]
    assert any(e.submitted_at and e.submitted_at.startswith("2026-11-01") for e in entries)


def test_the_autograder_reads_gradescope_metadata_and_applies_the_late_policy(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    tests = [{"name": "a", "score": 8.0}, {"name": "b", "score": 2.0}]
    results.write_text(json.dumps({"score": 10.0, "output": "", "tests": tests}))
    metadata = tmp_path / "submission_metadata.json"
    metadata.write_text(
        json.dumps(
            {
                "created_at": "2026-12-03T10:00:00.0-08:00",
                "assignment": {"due_date": "2026-12-01T23:59:00.0-08:00", "late_due_date": None},
            }
        )
    )
    apply_metadata(results, metadata, LatePolicy())  # off by default: named, not deducted
    data = json.loads(results.read_text())
    assert data["score"] == 10.0 and "days after the due date" in data["output"]
    results.write_text(json.dumps({"score": 10.0, "output": "", "tests": tests}))
    apply_metadata(results, metadata, LatePolicy(per_day=0.1))
    data = json.loads(results.read_text())
    assert data["score"] == 8.0 and "20% off" in data["output"], "two started days late"


# --- 3. grader faults are not student faults --------------------------------------------------------------


def test_without_data_the_checks_that_need_none_are_graded_and_the_rest_are_grader_errors(tmp_path: Path) -> None:
    env = dict(os.environ, CNN_GRADER_DATA=str(tmp_path / "nodata"), CNN_GRADER_OFFLINE="1")
    out = tmp_path / "out"
    proc = cli("grade", str(ROOT / "solutions"), "--out", str(out), cwd=tmp_path, env=env)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stderr.count("grader fault: the grader's data is missing") == 1
    assert "--data-root DIR or set CNN_GRADER_DATA=DIR" in proc.stderr
    assert "incomplete" in proc.stdout
    report = json.loads((out / "results.json").read_text())
    errors = {t["name"] for t in report["tests"] if "the grader's data is missing" in t["output"]}
    graded = {t["name"]: t for t in report["tests"] if t["name"] not in errors}
    assert {name.split("/")[0] for name in errors} >= {"robustness"}, errors
    assert {name.split("/")[0] for name in graded} >= {"shapes", "gradcam", "training"}, sorted(graded)
    assert all(t["score"] == t["max_score"] for t in graded.values()), "the model answers keep every point"
    assert all("Hint" not in t["output"] for t in report["tests"] if t["name"] in errors)
    assert report["output"].count("the grader's data is missing") == 1, "the fault once, with the checks it stopped"
    assert (out / "feedback.md").read_text().count("the grader's data is missing") == 1


def test_a_sandbox_that_cannot_run_is_a_grader_fault(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path))  # no bwrap on this PATH
    proc = cli(
        "grade", str(ROOT / "solutions"), "--out", str(tmp_path / "out"), "--sandbox", "bwrap", cwd=tmp_path, env=env
    )
    assert proc.returncode == 3 and "grader fault: the sandbox cannot run here" in proc.stderr


def test_a_worker_that_cannot_start_is_a_grader_fault() -> None:
    from grader.judge.faults import GraderFault
    from grader.judge.worker_process import PlainLauncher, WorkerProcess

    failing = [sys.executable, "-c", "import sys; sys.exit(1)"]
    worker = WorkerProcess(PlainLauncher(failing, Path.cwd(), dict(os.environ)))
    with pytest.raises(GraderFault, match="could not start its worker"):
        worker.request({"op": "load"}, 10.0)


@pytest.mark.slow
def test_the_gradescope_autograder_shows_a_grader_fault_as_a_failed_run(tmp_path: Path) -> None:
    root = tmp_path / "autograder"
    source = root / "source"
    source.mkdir(parents=True)
    shutil.copyfile(ROOT / "grader" / "packaging" / "templates" / "run_autograder", source / "run_autograder")
    (source / "run_autograder").chmod(0o755)
    shutil.copytree(ROOT / "solutions", root / "submission")
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), CNN_GRADER_PYTHON=sys.executable)
    env |= {"CNN_GRADER_DATA": str(tmp_path / "nodata"), "CNN_GRADER_OFFLINE": "1"}
    proc = subprocess.run([source / "run_autograder"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0 and not (root / "results" / "results.json").exists()
    assert "grader fault" in proc.stdout


# --- 4. the names the grader prints work with -k ------------------------------------------------------------


@pytest.mark.parametrize(
    ("selection", "selected"),
    [
        ("robust_net_keeps_bottom_right", {"robustness/robust_net_keeps_bottom_right"}),
        ("shapes/conv_output_size", {"shapes/conv_output_size"}),
        ("evaluate_eval_mode_no_grad", {"training/evaluate_eval_mode_no_grad"}),
    ],
)
def test_printed_check_names_select_with_k(tmp_path: Path, selection: str, selected: set[str]) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--submission", str(ROOT / "exercises"), "-k", selection]
        + ["--results-json", str(out), "-p", "no:cacheprovider", "--tiers", "public"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert {t["name"] for t in json.loads(out.read_text())["tests"]} == selected


def test_a_selection_that_matches_nothing_says_how_to_list_the_checks(tmp_path: Path) -> None:
    proc = cli("check", str(ROOT / "exercises"), "-k", "no_such_check", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no check matches -k 'no_such_check'" in proc.stdout and "cnn-grader check --list" in proc.stdout
    listing = cli("check", "--list", cwd=tmp_path)
    assert listing.returncode == 0 and "shapes/conv_output_size" in listing.stdout and "4 points" in listing.stdout


# --- 5, 6, 8. a fault reported once; no machine paths; the terminal report ---------------------------------


@pytest.mark.slow
def test_an_import_failure_is_reported_once_without_machine_paths(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    shutil.copytree(ROOT / "solutions", sub, ignore=shutil.ignore_patterns("*.ipynb"))
    (sub / "training.py").write_text((sub / "training.py").read_text().replace("def fit(", "def fit(:", 1))
    graded = grade(sub, tmp_path / "out", "-k", "training or conv_output_size", "--tiers", "public")
    training = {n for n in graded.checks if n.startswith("training/")}
    assert graded.failed == training and len(training) >= 9
    assert graded.feedback.count("def fit(:") == 1, "the traceback once, in Problems"
    assert graded.feedback.count("Hint:") == 0, "no unrelated hints on checks the error blocked"
    assert graded.stdout.count("def fit(:") == 1
    everything = graded.feedback + json.dumps(graded.results) + (graded.out / "feedback.html").read_text()
    assert "training.py" in everything and "/tmp/cnn-grader-" not in everything and str(SHARED_DATA) not in everything

    out = graded.stdout
    assert out.index("Problems") < out.index("Points") < out.index("Re-run one check: cnn-grader grade")


@pytest.mark.slow
def test_an_empty_folder_and_a_corrupt_notebook_each_report_once(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    graded = grade(tmp_path / "empty", tmp_path / "out1", "--tiers", "public", "-k", "not robustness")
    assert graded.results["score"] == 0
    for module in MODULES:
        assert graded.feedback.count(f"the submission has no {module}.py") == 1, module
    corrupt = tmp_path / "nb" / "homework.ipynb"
    corrupt.parent.mkdir()
    corrupt.write_text('{"cells": [')
    graded = grade(corrupt, tmp_path / "out2", "--tiers", "public", "-k", "not robustness")
    assert graded.feedback.count("could not be run") == 1


@pytest.mark.slow
def test_the_terminal_shows_progress_then_failures_then_the_points(tmp_path: Path) -> None:
    folder = course_folder(tmp_path / "exercises", solved_notebook=False, solved_modules=("quadrant",))
    args = ("check", str(folder), "-k", "robustness or conv_output_size", "--tiers", "public", "--no-cache")
    out = cli(*args, cwd=tmp_path).stdout
    assert "training QuadrantNet" in out, "a line while the networks train"
    assert out.index("Not implemented yet") < out.index("Points") < out.index("Re-run one check")
    assert "failed in" not in out and "passed in" not in out, "no pytest summary line after the points"
    assert out.rstrip().splitlines()[-1].startswith("Re-run one check"), "how to re-run one check comes last"


# --- 7. Gradescope ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_results_json_for_gradescope_hides_hidden_checks_until_published(solutions_graded) -> None:
    for test in solutions_graded.results["tests"]:
        expected = "after_published" if "hidden" in test["tags"] else "visible"
        assert test["visibility"] == expected and test["output_format"] == "md", test["name"]
    assert solutions_graded.results["execution_time"] % 10 == 0, "rounded: no timing of hidden inputs"
    assert str(SHARED_DATA) not in solutions_graded.results["output"]


def test_a_zip_of_a_folder_two_levels_deep(tmp_path: Path) -> None:
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for module in MODULES:
            zf.write(ROOT / "solutions" / f"{module}.py", f"Downloads/cnn/{module}.py")
    prepared = prepare(archive, tmp_path / "copy" / "submission")
    assert prepared.plan.folder == "Downloads/cnn"
    assert sorted(p.name for p in prepared.folder.iterdir()) == sorted(f"{m}.py" for m in MODULES)


def test_a_gradescope_export_with_a_due_date_says_late_in_every_row(tmp_path: Path, monkeypatch) -> None:
    from test_batch import fake_results

    from grader.batch import task as task_module
    from grader.batch import warm as warm_module
    from grader.batch.task import Outcome

    monkeypatch.setattr(task_module, "run", lambda t: Outcome(t.student, "graded", "", 1.0, "h", fake_results(4)))
    monkeypatch.setattr(warm_module, "warm", lambda data_root, dataset=None: "warm")
    export = tmp_path / "export"
    for sid in ("101", "102", "103"):
        (export / f"submission_{sid}").mkdir(parents=True)
        shutil.copyfile(ROOT / "solutions" / NOTEBOOK, export / f"submission_{sid}" / NOTEBOOK)
    (export / "submission_metadata.yml").write_text(
        "submission_101:\n  :submitters:\n  - :name: Ann On Time\n    :email: ann@uni.edu\n"
        "  :created_at: 2026-11-01 10:00:00.000000000 -07:00\n"
        "submission_102:\n  :submitters:\n  - :name: Ben Late\n    :email: ben@uni.edu\n"
        "  :created_at: 2026-11-03 10:00:00.000000000 -07:00\n"
        "submission_103:\n  :submitters:\n  - :name: Cy Unknown\n    :email: cy@uni.edu\n"
    )
    policy = LatePolicy(penalty=0.25)
    run_batch(
        export, tmp_path / "out", GradeSettings(), progress=False, late_policy=policy, due="2026-11-02T00:00:00-07:00"
    )
    rows = {r["email"]: r for r in csv.DictReader((tmp_path / "out" / "gradebook.csv").open())}
    assert {email: row["late"] for email, row in rows.items()} == {
        "ann@uni.edu": "false",
        "ben@uni.edu": "true",
        "cy@uni.edu": "false",
    }
    assert rows["ben@uni.edu"]["late_deduction"] == "1" and rows["ann@uni.edu"]["late_deduction"] == "0"
