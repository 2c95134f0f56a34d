"""Nothing outside a submission is ever graded as the student's: links are left out at every level.

The attack (issue 12): a submission holding only ``mycode -> <the grader's reference/>`` was taken as the
module folder, and the reference implementations were graded as the student's (100/100 from the stubs).
Each entry point is attacked as a student could: ``cnn-grader grade`` on a folder, on a git checkout
(Classroom keeps links), on a zip unpacked by Info-ZIP ``unzip`` (which keeps links), through the
Gradescope autograder's ``run_autograder``, and as entries of ``cnn-grader batch``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, grade

from grader.batch import discover
from grader.judge.contained import contained_files
from grader.judge.submission import BadSubmission, prepare

REFERENCE = ROOT / "reference"
MODULES = ("shapes.py", "quadrant.py", "gradcam.py", "training.py")
FAST = ("-k", "not robustness")  # nothing is implemented once the link is left out: no network to train


def linked_submission(folder: Path, target: Path = REFERENCE) -> Path:
    folder.mkdir(parents=True)
    (folder / "mycode").symlink_to(target, target_is_directory=True)
    return folder


# --- the walk itself ---------------------------------------------------------------------------------


def test_links_out_of_the_root_are_left_out_and_named(tmp_path: Path) -> None:
    root = tmp_path / "sub"
    (root / "inner").mkdir(parents=True)
    (root / "shapes.py").write_text("x = 1\n")
    (root / "inner" / "notes.py").write_text("y = 2\n")
    (root / "mycode").symlink_to(REFERENCE, target_is_directory=True)
    (root / "quadrant.py").symlink_to(REFERENCE / "quadrant.py")
    (root / "inner" / "up.py").symlink_to(tmp_path / "outside.py")
    (tmp_path / "outside.py").write_text("secret\n")
    (root / "dangling.py").symlink_to(root / "nowhere.py")
    (root / "alias.py").symlink_to(root / "shapes.py")  # inside the root: read through the link
    (root / "inner_link").symlink_to(root / "inner", target_is_directory=True)
    os.mkfifo(root / "pipe.py")
    tree = contained_files(root)
    assert sorted(tree.files) == ["alias.py", "inner/notes.py", "shapes.py"]
    assert set(tree.left_out) == {"mycode", "quadrant.py", "inner/up.py", "dangling.py", "inner_link", "pipe.py"}
    assert "outside the submission" in tree.left_out["quadrant.py"]
    notes = "\n".join(tree.notes())
    assert str(REFERENCE) not in notes and str(tmp_path) not in notes, "no host path in what students read"


def test_prepare_copies_no_file_from_outside(tmp_path: Path) -> None:
    source = linked_submission(tmp_path / "sub")
    prepared = prepare(source, tmp_path / "copy")
    assert list(prepared.folder.iterdir()) == []
    assert prepared.notes[0] == "mycode was not read: it is a link to a folder"


def test_a_submission_that_is_itself_a_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "exercises").symlink_to(REFERENCE, target_is_directory=True)
    with pytest.raises(BadSubmission, match="symbolic link"):
        prepare(tmp_path / "exercises", tmp_path / "copy")


# --- every entry point, with the real commands --------------------------------------------------------


def assert_nothing_earned(graded) -> None:
    assert graded.results["score"] == 0, {n: t["status"] for n, t in graded.checks.items() if t["score"]}
    assert "mycode was not read" in graded.results["output"]
    assert str(REFERENCE) not in json.dumps(graded.results)


@pytest.mark.slow
def test_grade_a_folder_holding_only_a_link_to_reference(tmp_path: Path) -> None:
    graded = grade(linked_submission(tmp_path / "sub"), tmp_path / "out", *FAST)
    assert_nothing_earned(graded)


@pytest.mark.slow
def test_grade_a_git_checkout_with_the_link(tmp_path: Path) -> None:
    """GitHub Classroom grades a checkout, and git keeps links: the Classroom workflow grades ``exercises``."""
    repo = tmp_path / "repo"
    linked_submission(repo / "exercises")
    git = ["git", "-c", "user.name=s", "-c", "user.email=s@x", "-C"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, str(repo), "add", "-A"], check=True)
    subprocess.run([*git, str(repo), "commit", "-qm", "work"], check=True)
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(repo), str(checkout)], check=True)
    assert (checkout / "exercises" / "mycode").is_symlink()
    assert_nothing_earned(grade(checkout / "exercises", tmp_path / "out", *FAST))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("zip") is None or shutil.which("unzip") is None, reason="needs Info-ZIP")
def test_grade_a_zip_unpacked_by_info_zip_unzip(tmp_path: Path) -> None:
    linked_submission(tmp_path / "sub")
    subprocess.run(["zip", "-q", "--symlinks", "-r", str(tmp_path / "sub.zip"), "."], cwd=tmp_path / "sub", check=True)
    subprocess.run(["unzip", "-q", str(tmp_path / "sub.zip"), "-d", str(tmp_path / "unzipped")], check=True)
    assert (tmp_path / "unzipped" / "mycode").is_symlink(), "Info-ZIP restores the link"
    assert_nothing_earned(grade(tmp_path / "unzipped", tmp_path / "out", *FAST))
    graded = grade(tmp_path / "sub.zip", tmp_path / "out-zip", *FAST)  # Python's zipfile makes no links at all
    assert graded.results["score"] == 0


@pytest.mark.slow
def test_gradescope_run_autograder_with_a_link_into_its_own_source(tmp_path: Path) -> None:
    """``submission/mycode -> ../source/grader-src/reference``, as on a real Gradescope image."""
    from grader.data import cache_dir

    root = tmp_path / "autograder"
    source = root / "source"
    shutil.copytree(REFERENCE, source / "grader-src" / "reference")
    shutil.copyfile(ROOT / "grader" / "packaging" / "templates" / "run_autograder", source / "run_autograder")
    (source / "run_autograder").chmod(0o755)
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "mycode").symlink_to("../source/grader-src/reference", target_is_directory=True)
    assert (root / "submission" / "mycode" / "shapes.py").is_file()
    env = dict(
        os.environ, AUTOGRADER_ROOT=str(root), CNN_GRADER_PYTHON=sys.executable, CNN_GRADER_CACHE=str(cache_dir())
    )
    proc = subprocess.run([source / "run_autograder"], env=env, capture_output=True, text=True, timeout=900)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0, proc.stdout[-2000:]
    assert results["tests"] and "mycode was not read" in results["output"]


def test_batch_entries_that_are_links_are_not_read(tmp_path: Path) -> None:
    klass = tmp_path / "class"
    klass.mkdir()
    (klass / "alice").symlink_to(REFERENCE, target_is_directory=True)  # a student entry that is a link
    (klass / "bob.py").symlink_to(REFERENCE / "shapes.py")
    linked_submission(klass / "carol")  # a real folder holding only the link
    (klass / "dan").mkdir()
    for name in MODULES:
        (klass / "dan" / name).write_bytes((ROOT / "solutions" / name).read_bytes())
    entries = {e.student: e for e in discover.discover(klass)}
    assert sorted(entries) == ["alice", "bob", "carol", "dan"]
    for name in ("alice", "bob"):
        assert entries[name].data == b"" and "symbolic link" in entries[name].problem
    with zipfile.ZipFile(io.BytesIO(entries["carol"].data)) as zf:
        assert zf.namelist() == [], "nothing behind the link is packed for grading"
    assert entries["dan"].problem is None


def test_gradescope_export_and_classroom_clone_with_links(tmp_path: Path) -> None:
    export = tmp_path / "export"
    linked_submission(export / "submission_101")
    (export / "submission_102").symlink_to(REFERENCE, target_is_directory=True)
    (export / "submission_metadata.yml").write_text("submission_101:\n  :submitters:\n  - :name: Ann\n")
    entries = discover.discover(export)
    ann = next(e for e in entries if e.student == "Ann")
    with zipfile.ZipFile(io.BytesIO(ann.data)) as zf:
        assert zf.namelist() == []
    linked = [e for e in entries if e.student != "Ann"]
    assert linked and all(e.problem and "symbolic link" in e.problem for e in linked)

    klass = tmp_path / "classroom"
    for login in ("ann", "bo"):
        repo = klass / f"hw-{login}"
        linked_submission(repo / "exercises")
        (repo / ".git").mkdir()
    for entry in discover.discover(klass):
        with zipfile.ZipFile(io.BytesIO(entry.data)) as zf:
            assert zf.namelist() == [], entry.student
