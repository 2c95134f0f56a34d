"""``cnn-grader batch``: layouts, resumable atomic output, the class summary, and gradings that go wrong.

The runner's bookkeeping is tested with a fake grading (instant, scripted outcomes); the real gradings
(marked slow) use ``-k`` to grade only a few checks per student, which is enough to tell them apart.
"""

from __future__ import annotations

import csv
import io
import json
import signal
import zipfile
from pathlib import Path

import pytest

from grader.batch import discover, store, summary
from grader.batch import task as task_module
from grader.batch import warm as warm_module
from grader.batch.runner import run_batch
from grader.batch.task import GradeSettings, GradeTask, Outcome
from grader.judge import template as template_module

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("shapes.py", "quadrant.py", "gradcam.py", "training.py")


def modules(folder: Path, source: Path = ROOT / "solutions") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in MODULES:
        (folder / name).write_bytes((source / name).read_bytes())
    return folder


def zip_names(data: bytes) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return set(zf.namelist())


# --- layouts ----------------------------------------------------------------------------------------


def test_plain_layout(tmp_path: Path) -> None:
    modules(tmp_path / "alice")
    (tmp_path / "bob.ipynb").write_text("{}")
    (tmp_path / "carol.zip").write_bytes(b"PK")
    (tmp_path / "dan notes.txt").write_text("hi")
    found = discover.survey(tmp_path)
    entries = {e.student: e for e in found.entries}
    assert sorted(entries) == ["alice", "bob", "carol"], "a stray file is not a student"
    assert found.layout == "plain" and found.left_out == ["dan notes.txt"]
    assert "dan notes.txt" in found.describe() and "3 of 4" in found.describe()
    assert zip_names(entries["alice"].data) == set(MODULES)
    assert entries["alice"].label == "alice/", "a folder is named as the folder, not as the zip it travels in"
    assert entries["bob"].filename == "bob.ipynb" and entries["bob"].layout == "plain"


def test_gradescope_export(tmp_path: Path) -> None:
    export = tmp_path / "assignment_42_export"
    modules(export / "submission_101")
    (export / "submission_102").mkdir()
    (export / "submission_102" / "cnn_exercises.ipynb").write_text("{}")
    (export / "submission_metadata.yml").write_text(
        "submission_101:\n  :submitters:\n  - :name: Ann Lee\n    :email: ann.lee@uni.edu\n"
        "submission_102:\n  :submitters:\n  - :name: Bo Chen\n"
    )
    entries = discover.discover(export.parent)  # the export's top folder is found inside
    assert [(e.student, e.layout) for e in entries] == [("Bo_Chen", "gradescope"), ("ann.lee", "gradescope")]
    assert zip_names(entries[1].data) == set(MODULES)


def test_canvas_download_groups_files_per_student(tmp_path: Path) -> None:
    sol = ROOT / "solutions"
    (tmp_path / "leeann_1234_5678_shapes.py").write_bytes((sol / "shapes.py").read_bytes())
    (tmp_path / "leeann_1234_5679_gradcam-1.py").write_bytes((sol / "gradcam.py").read_bytes())  # resubmitted
    (tmp_path / "chenbo_LATE_2222_3333_cnn_exercises.ipynb").write_text("{}")
    entries = {e.student: e for e in discover.discover(tmp_path)}
    assert discover.detect(tmp_path) == "canvas"
    assert zip_names(entries["leeann"].data) == {"shapes.py", "gradcam.py"}
    assert entries["chenbo"].filename == "cnn_exercises.ipynb"


def test_classroom_clone_and_zipped_export(tmp_path: Path) -> None:
    clone = tmp_path / "cnn-lab-submissions"
    for login in ("octocat", "hubot"):
        repo = clone / f"cnn-lab-{login}"
        modules(repo / "exercises")
        (repo / ".git").mkdir()
        (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in clone.rglob("*"):
            zf.write(path, path.relative_to(tmp_path).as_posix())
    for source in (clone, archive):
        entries = discover.discover(source)
        assert [(e.student, e.layout) for e in entries] == [("hubot", "classroom"), ("octocat", "classroom")]
        names = zip_names(entries[0].data)
        assert names == {f"exercises/{m}" for m in MODULES}, names  # .git is left out


# --- bookkeeping with a fake grading ------------------------------------------------------------------


def fake_results(score: float) -> dict[str, bytes]:
    report = {
        "submission": "x",
        "checks": [
            {"name": "shapes/a", "points": score, "max_points": 4, "status": "passed" if score else "failed"},
            {"name": "gradcam/b", "points": 0, "max_points": 2, "status": "failed", "message": "wrong map"},
        ],
        "seconds": 1.0,
        "notes": [],
    }
    return {"results.json": b"{}", "report.json": json.dumps(report).encode(), "feedback.html": b"<html></html>"}


@pytest.fixture
def fake_grading(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace the real grading by a scripted one; returns the students graded, in order."""
    graded: list[str] = []

    def run(task: GradeTask) -> Outcome:
        graded.append(task.student)
        if task.student == "interrupt":
            raise KeyboardInterrupt
        if task.student == "crash":
            return Outcome(task.student, "crashed", "the grader was killed by SIGKILL (out of memory?)", 3.0)
        return Outcome(task.student, "graded", "", 1.0, "here", fake_results(4))

    monkeypatch.setattr(task_module, "run", run)
    monkeypatch.setattr(warm_module, "warm", lambda data_root, dataset=None: "warm")
    return graded


def test_moodle_download_in_folders_and_flat(tmp_path: Path) -> None:
    folders, flat = tmp_path / "folders", tmp_path / "flat"
    modules(folders / "Ann Lee_101_assignsubmission_file_")
    (folders / "Bo Chen_102_assignsubmission_onlinetext_").mkdir(parents=True)  # online text: not a submission
    (folders / "Bo Chen_102_assignsubmission_file_").mkdir()
    (folders / "Bo Chen_102_assignsubmission_file_" / "cnn_exercises.ipynb").write_text("{}")
    flat.mkdir()
    for name in MODULES:
        (flat / f"Ann Lee_101_assignsubmission_file_{name}").write_bytes((ROOT / "solutions" / name).read_bytes())
    (flat / "Bo Chen_102_assignsubmission_file_cnn_exercises.ipynb").write_text("{}")
    for export in (folders, flat):
        found = discover.survey(export)
        entries = {e.student: e for e in found.entries}
        assert found.layout == "moodle" and sorted(entries) == ["Ann_Lee", "Bo_Chen"], found.describe()
        assert entries["Ann_Lee"].ids == {"participant": "101"} and entries["Bo_Chen"].ids == {"participant": "102"}
        assert zip_names(entries["Ann_Lee"].data) == set(MODULES)
        assert entries["Bo_Chen"].filename == "cnn_exercises.ipynb"


def test_moodle_folders_holding_a_zip_or_mixed_with_flat_files(tmp_path: Path) -> None:
    export = tmp_path / "moodle"
    handed = export / "Ann Lee_101_assignsubmission_file_"  # the zip that cnn-grader export writes, in its folder
    handed.mkdir(parents=True)
    with zipfile.ZipFile(handed / "submission.zip", "w") as archive:
        for name in MODULES:
            archive.write(ROOT / "solutions" / name, name)
    modules(export / "Bo Chen_102_assignsubmission_file_" / "work")  # a folder, and a flat file beside it
    (export / "Bo Chen_102_assignsubmission_file_notes.py").write_text("# notes\n")
    entries = {e.student: e for e in discover.discover(export)}
    assert entries["Ann_Lee"].filename == "submission.zip" and zip_names(entries["Ann_Lee"].data) == set(MODULES)
    assert zip_names(entries["Bo_Chen"].data) == {f"work/{m}" for m in MODULES} | {"notes.py"}


def test_canvas_students_with_one_name_stay_apart_by_their_user_id(tmp_path: Path) -> None:
    (tmp_path / "smithjohn_1111_5001_shapes.py").write_bytes((ROOT / "solutions" / "shapes.py").read_bytes())
    (tmp_path / "smithjohn_2222_5002_shapes.py").write_bytes((ROOT / "exercises" / "shapes.py").read_bytes())
    entries = discover.discover(tmp_path)
    assert sorted((e.student, e.ids["user_id"]) for e in entries) == [("smithjohn", "1111"), ("smithjohn-2", "2222")]


def test_grades_go_back_into_canvas_and_moodle_as_their_imports_read_them(
    tmp_path: Path, fake_grading: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    canvas = tmp_path / "canvas"
    canvas.mkdir()
    (canvas / "leeann_1234_5678_shapes.py").write_bytes((ROOT / "solutions" / "shapes.py").read_bytes())
    (canvas / "chenbo_LATE_2222_3333_shapes.py").write_bytes((ROOT / "solutions" / "shapes.py").read_bytes())
    run_batch(canvas, tmp_path / "canvas-out", GradeSettings(), progress=False, lms_assignment="Quadrant CNN (77)")
    rows = list(csv.reader((tmp_path / "canvas-out" / "canvas_import.csv").open()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Quadrant CNN (77)"]
    assert rows[1][0] == "Points Possible" and float(rows[1][5]) == sum(summary.group_maxima().values())
    assert sorted((r[0], r[1], r[5]) for r in rows[2:]) == [("chenbo", "2222", "4"), ("leeann", "1234", "4")]
    assert not (tmp_path / "canvas-out" / "moodle_grading_worksheet.csv").exists()

    moodle = tmp_path / "moodle"
    modules(moodle / "Ann Lee_101_assignsubmission_file_")
    modules(moodle / "Bo Chen_102_assignsubmission_file_")
    fake_grading.clear()
    real_run = task_module.run
    monkeypatch.setattr(  # Bo's grading crashes: not graded, so no row (an upload would replace his comment)
        task_module,
        "run",
        lambda task: Outcome(task.student, "crashed", "killed", 1.0) if task.student == "Bo_Chen" else real_run(task),
    )
    run_batch(moodle, tmp_path / "moodle-out", GradeSettings(), progress=False)
    rows = list(csv.DictReader((tmp_path / "moodle-out" / "moodle_grading_worksheet.csv").open()))
    assert [(r["Identifier"], r["Grade"], r["Grade can be changed"]) for r in rows] == [("Participant 101", "4", "Yes")]
    assert float(rows[0]["Maximum Grade"]) == sum(summary.group_maxima().values())
    assert {"Identifier", "Grade", "Last modified (grade)", "Feedback comments"} <= set(rows[0])  # Moodle needs them
    assert rows[0]["Last modified (grade)"][:4].isdigit() and "4 of" in rows[0]["Feedback comments"]
    assert not (tmp_path / "moodle-out" / "canvas_import.csv").exists()


def test_resume_regrade_and_changed_submissions(tmp_path: Path, fake_grading: list[str]) -> None:
    subs, out = tmp_path / "subs", tmp_path / "out"
    for name in ("ann", "bo", "cy"):
        modules(subs / name)
    settings = GradeSettings()
    first = run_batch(subs, out, settings, progress=False, log=lambda line: None)
    assert (first.graded_now, first.already_done) == (3, 0)
    assert sorted(fake_grading) == ["ann", "bo", "cy"]
    before = (store.record_dir(out, "ann") / "batch.json").read_text()

    fake_grading.clear()
    second = run_batch(subs, out, settings, progress=False, log=lambda line: None)
    assert (second.graded_now, second.already_done) == (0, 3) and fake_grading == []
    assert (store.record_dir(out, "ann") / "batch.json").read_text() == before

    (subs / "bo" / "shapes.py").write_text("# changed\n")
    run_batch(subs, out, settings, progress=False, log=lambda line: None)
    assert fake_grading == ["bo"]

    fake_grading.clear()
    run_batch(subs, out, GradeSettings(k="shapes"), progress=False, log=lambda line: None)
    assert sorted(fake_grading) == ["ann", "bo", "cy"], "other settings: graded again"

    fake_grading.clear()
    run_batch(subs, out, GradeSettings(k="shapes"), regrade=True, progress=False, log=lambda line: None)
    assert sorted(fake_grading) == ["ann", "bo", "cy"]


def test_interrupt_keeps_finished_students_and_nothing_half_written(tmp_path: Path, fake_grading: list[str]) -> None:
    subs, out = tmp_path / "subs", tmp_path / "out"
    for name in ("ann", "interrupt", "zed"):
        modules(subs / name)
    with pytest.raises(KeyboardInterrupt):
        run_batch(subs, out, GradeSettings(), progress=False, log=lambda line: None)
    assert (store.student_dir(out, "ann") / "results.json").exists()
    assert not store.student_dir(out, "interrupt").exists() and not store.student_dir(out, "zed").exists()
    assert not (out / store.STAGING).exists()
    assert (out / "gradebook.csv").exists(), "the summary is rebuilt from what finished"

    (subs / "interrupt").rename(subs / "ivy")
    fake_grading.clear()
    run_batch(subs, out, GradeSettings(), progress=False, log=lambda line: None)
    assert sorted(fake_grading) == ["ivy", "zed"], "finished students are not graded again"


def test_crash_costs_one_row_and_is_retried(tmp_path: Path, fake_grading: list[str]) -> None:
    subs, out = tmp_path / "subs", tmp_path / "out"
    for name in ("ann", "crash"):
        modules(subs / name)
    (subs / "notes.txt").write_text("not a submission")
    run_batch(subs, out, GradeSettings(), progress=False, log=lambda line: None)
    rows = {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert rows["ann"]["status"] == "graded" and rows["ann"]["total"] == "4" and rows["ann"]["shapes"] == "4"
    assert rows["crash"]["status"] == "crashed" and "out of memory" in rows["crash"]["reason"]
    assert "notes" not in rows, "a stray file is listed, not graded as a student"
    crashed = json.loads((store.student_dir(out, "crash") / "results.json").read_text())
    assert crashed["score"] == 0 and "out of memory" in crashed["output"]
    page = (out / "summary.html").read_text()
    for expected in ("could not be graded", "notes.txt", "gradcam/b", "wrong map", "students/ann/feedback.html"):
        assert expected in page
    assert not (out / store.STAGING).exists(), "no empty .staging/ is left behind"
    fake_grading.clear()
    run_batch(subs, out, GradeSettings(), progress=False, log=lambda line: None)
    assert fake_grading == ["crash"], "a crash may be transient: it is graded again"


def test_publish_replaces_a_folder_whole(tmp_path: Path) -> None:
    entry = discover.Entry("ann", "ann.ipynb", b"{}", "plain")
    store.publish(tmp_path, entry, GradeSettings(), Outcome("ann", "graded", files=fake_results(4)))
    store.publish(tmp_path, entry, GradeSettings(), Outcome("ann", "timed out", "grading took longer than 5 s"))
    student, record = store.student_dir(tmp_path, "ann"), store.record_dir(tmp_path, "ann")
    assert sorted(p.name for p in student.iterdir()) == ["feedback.html", "feedback.md", "results.json"]
    assert sorted(p.name for p in record.iterdir()) == ["batch.json", "report.json"], "instructor-only, apart"
    assert json.loads((record / "batch.json").read_text())["status"] == "timed out"
    assert list((tmp_path / store.STAGING).iterdir()) == []


# --- real gradings --------------------------------------------------------------------------------------

QUICK = "conv_output_size or layer_shapes or matches_reference"  # a few checks of three groups


def make_class(root: Path) -> Path:
    subs = root / "class"
    modules(subs / "alice")
    modules(subs / "bob", ROOT / "exercises")
    (subs / "carol.ipynb").write_bytes((ROOT / "solutions" / "cnn_exercises.ipynb").read_bytes())
    (subs / "dave.zip").write_text("not a zip")
    hog = modules(subs / "grace")
    (hog / "shapes.py").write_text("blob = bytearray(64 * 2**30)\n")  # more memory than the worker may have
    return subs


@pytest.fixture(scope="module")
def local_class(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("batch")
    subs, out = make_class(root), root / "out"
    run_batch(subs, out, GradeSettings(k=QUICK), jobs=2, progress=False, log=lambda line: None)
    return subs, out


@pytest.mark.slow
def test_class_graded_in_parallel(local_class: tuple[Path, Path]) -> None:
    _, out = local_class
    rows = {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert list(rows) == ["alice", "bob", "carol", "dave", "grace"]
    assert rows["alice"]["status"] == rows["carol"]["status"] == "graded"
    assert float(rows["alice"]["total"]) > 0 and rows["alice"]["total"] == rows["carol"]["total"]
    assert rows["bob"]["total"] == "0" and rows["bob"]["status"] == "graded"
    assert rows["dave"]["status"] == "unreadable" and "dave.zip" in rows["dave"]["reason"]
    assert rows["grace"]["status"] == "graded" and float(rows["grace"]["shapes"]) == 0
    assert float(rows["grace"]["gradcam"]) > 0, "a module that exhausts memory costs only its own checks"
    for student in rows:
        for name in ("results.json", "feedback.html", "feedback.md"):
            assert (store.student_dir(out, student) / name).is_file(), (student, name)
        assert (store.record_dir(out, student) / "batch.json").is_file(), student
    page = (out / "summary.html").read_text()
    imports = page.split("Modules that failed to import", 1)[1].split("<h2>", 1)[0]
    assert "grace" in imports and "shapes.py" in imports, "the memory hog's module is listed with its reason"
    assert "alice" not in imports and "dave" in page.split("could not be graded", 1)[1].split("<h2>", 1)[0]


def _verdicts(out: Path, student: str) -> dict[str, tuple[str, float, str]]:
    results = json.loads((store.student_dir(out, student) / "results.json").read_text())
    return {t["name"]: (t["status"], t["score"], t["output"]) for t in results["tests"]}


@pytest.mark.slow
def test_judges_forked_from_one_template_share_no_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One template serves the batch; each student's judge is a fresh fork of it, so a student graded after
    another (here the stubs between two copies of the solutions) gets exactly what a plain process gives."""
    subs = tmp_path / "class"
    modules(subs / "a")
    modules(subs / "b", ROOT / "exercises")
    modules(subs / "c")
    settings = GradeSettings(k="gradcam", tiers="public")
    shared, used = template_module.shared, []
    monkeypatch.setattr(template_module, "shared", lambda: used.append(1) or shared())
    run_batch(subs, tmp_path / "forked", settings, jobs=1, progress=False, log=lambda line: None)
    assert len(used) == 3, "every student's judge was forked from the template"
    monkeypatch.setenv(task_module.USE_TEMPLATE, "0")
    run_batch(subs, tmp_path / "plain", settings, jobs=1, progress=False, log=lambda line: None)
    forked = {s: _verdicts(tmp_path / "forked", s) for s in "abc"}
    assert forked["a"] == forked["c"] and all(status == "passed" for status, _, _ in forked["a"].values())
    assert all(score == 0 for _, score, _ in forked["b"].values())
    assert forked == {s: _verdicts(tmp_path / "plain", s) for s in "abc"}, "the same verdicts as plain processes"


@pytest.mark.slow
def test_a_grading_past_its_time_limit_costs_its_row(tmp_path: Path) -> None:
    subs = tmp_path / "class"
    hang = modules(subs / "hang")
    (hang / "shapes.py").write_text("while True:\n    pass\n")
    settings = GradeSettings(k="conv_output_size", timeout=60, student_timeout=8)
    result = run_batch(subs, tmp_path / "out", settings, progress=False, log=lambda line: None)
    (row,) = result.rows
    assert row.meta["status"] == "timed out" and "8 s" in row.meta["reason"]
    assert json.loads((store.student_dir(tmp_path / "out", "hang") / "results.json").read_text())["score"] == 0


def test_summary_lists_import_problems_once_and_ranks_wrong_answers_first() -> None:
    from grader.results import CheckResult, GradeReport

    blocked = [CheckResult(f"training/{i}", 0, 2, "failed", "not graded", problem="training.py") for i in "abc"]
    broken = GradeReport("x", blocked, problems={"training.py": "training.py could not be imported: SyntaxError"})
    wrong = GradeReport("y", [CheckResult("training/c", 0, 2, "failed", "returned 3, expected 2")])
    stub = GradeReport("z", [CheckResult("training/b", 0, 2, "failed", "x", not_implemented="fit")])
    rows = [summary.Row(n, {"status": "graded"}, r) for n, r in (("ann", broken), ("bo", wrong), ("cy", stub))]
    assert rows[0].import_problems() == [("training.py", "training.py could not be imported: SyntaxError")]
    page = summary.render(rows)
    common = page.split("Most common failures", 1)[1].split("<h2>", 1)[0]
    order = [common.index(f"training/{i}") for i in "cba"]
    assert order == sorted(order), "a wrong answer first, then a stub, then checks blocked by an import error"
    assert "returned 3, expected 2" in common


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory):
    """A real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1."""
    import subprocess
    import sys

    distributed = pytest.importorskip("distributed")
    folder = tmp_path_factory.mktemp("dask")
    dask = str(Path(sys.executable).with_name("dask"))
    scheduler_file = folder / "scheduler.json"
    common = {"cwd": folder, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [
        subprocess.Popen(
            [
                dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            **common,
        )
    ]
    try:
        for i in range(2):
            command = [dask, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1", "--no-dashboard"]
            procs.append(subprocess.Popen([*command, "--name", f"w{i}", "--host", "127.0.0.1"], **common))
        with distributed.Client(scheduler_file=str(scheduler_file), timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
            yield client.scheduler.address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.slow
def test_dask_cluster_gives_the_local_results(
    local_class: tuple[Path, Path], dask_cluster: str, tmp_path: Path
) -> None:
    subs, local_out = local_class
    out = tmp_path / "out"
    run_batch(subs, out, GradeSettings(k=QUICK), cluster=dask_cluster, progress=False, log=lambda line: None)

    def outcome(folder: Path) -> dict[str, object]:
        rows = {
            r["student"]: {k: v for k, v in r.items() if k != "seconds"}
            for r in csv.DictReader((folder / "gradebook.csv").open())
        }
        checks = {}
        for student in rows:
            results = json.loads((store.student_dir(folder, student) / "results.json").read_text())
            checks[student] = [(t["name"], t["status"], t["score"]) for t in results["tests"]]
        return {"rows": rows, "checks": checks}

    assert outcome(out) == outcome(local_out)
    hosts = {store.read_meta(out, s)["host"] for s in ("alice", "bob", "carol", "grace")}
    assert len(hosts) == 2, f"both workers graded: {hosts}"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT])  # SIGTERM takes the same path (cli._interrupt)
def test_interrupted_command_goes_on_where_it_stopped(tmp_path: Path, signum: int) -> None:
    import subprocess
    import sys
    import time

    subs, out = tmp_path / "class", tmp_path / "out"
    for name in ("ann", "bo", "cy"):
        modules(subs / name)
    command = [sys.executable, "-m", "grader.cli", "batch", str(subs), "--out", str(out), "-k", "conv_output_size"]
    proc = subprocess.Popen(
        [*command, "--no-progress"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        # a shell's `cmd &` starts pytest with SIGINT ignored, which the batch would inherit
        preexec_fn=lambda: signal.signal(signum, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not store.record_dir(out, "ann").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert not (out / store.STAGING).exists() and not store.record_dir(out, "cy").exists()
    assert (store.student_dir(out, "ann") / "results.json").is_file() and (out / "gradebook.csv").is_file()
    again = subprocess.run([*command, "--no-progress"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "1 already graded" in again.stderr or "2 already graded" in again.stderr
    assert all((store.student_dir(out, s) / "results.json").is_file() for s in ("ann", "bo", "cy"))


def test_dask_gpu_workers_get_every_task_on_cuda() -> None:
    from grader.batch.executors import device_plan

    cpu_worker, gpu_worker = {"resources": {}}, {"resources": {"GPU": 1}}
    assert device_plan([cpu_worker, cpu_worker], GradeSettings()) == (None, GradeSettings())
    resources, settings = device_plan([cpu_worker, gpu_worker], GradeSettings())
    assert resources == {"GPU": 1} and settings.device == "cuda"
    assert device_plan([gpu_worker], GradeSettings(device="cpu")) == (None, GradeSettings(device="cpu"))


def test_dask_workers_report_their_resources_as_device_plan_reads_them() -> None:
    distributed = pytest.importorskip("distributed")
    from grader.batch.executors import DaskExecutor

    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, resources={"GPU": 1}, dashboard_address=":0"
    ) as cluster:
        executor = DaskExecutor(cluster.scheduler_address, GradeSettings())
        try:
            assert executor.resources == {"GPU": 1} and executor.settings.device == "cuda"
        finally:
            executor.close()
