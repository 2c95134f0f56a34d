"""The class similarity report (``DIR/similarity.csv`` and its ``summary.html`` section) on a real class.

``tests/similarity_class/`` holds a class written for these tests: ana, ben and chloe implemented every
module independently (and differently from ``solutions/``: loops against comprehensions, helpers, hooks
done three ways); dmitri handed in ben's work with renamed identifiers and rewritten comments; emma wrote
her own shapes and quadrant, left gradcam as released, and copied chloe's training.py (a few names
changed); hana's notebook is the released one with ana's Grad-CAM pasted into two cells, renamed, with a
magic and a shell line. The tests add students who hand in the untouched stubs: finn and gus as modules,
ivan as the stub notebook in jupytext's percent format. No test grades anything (the report does not
depend on grades): the batch run uses a scripted grading, as in ``tests/test_batch.py``.
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

import jupytext
import nbformat
import pytest
from copydetect import compare_files

from grader import cli, notebookgen, stubgen
from grader.batch import discover, similarity, store
from grader.batch import task as task_module
from grader.batch import warm as warm_module
from grader.batch.runner import run_batch
from grader.batch.task import GradeTask, Outcome
from grader.report.spreadsheet import FORMULA_STARTS

ROOT = Path(__file__).resolve().parents[1]
CLASS = ROOT / "tests" / "similarity_class"
WRITTEN = ("ana", "ben", "chloe", "dmitri", "emma")
BEN = {p.stem for p in (CLASS / "ben").glob("*.py")} & set(similarity.MODULES)  # every module he wrote (dmitri copied)
COPIES = {("ben", "dmitri"): BEN, ("chloe", "emma"): {"training"}, ("ana", "hana"): {"gradcam"}}


def stubs(folder: Path) -> Path:
    """The released stub modules, untouched."""
    folder.mkdir(parents=True)
    for name, text in stubgen.render_all().items():
        (folder / name).write_text(text)
    return folder


def make_class(root: Path) -> Path:
    for student in WRITTEN:
        shutil.copytree(CLASS / student, root / student)
    shutil.copyfile(CLASS / "hana.ipynb", root / "hana.ipynb")
    stubs(root / "finn")
    stubs(root / "gus")
    released = nbformat.reads(notebookgen.rendered_text("exercises"), as_version=4)
    (root / "ivan.py").write_text(jupytext.writes(released, fmt="py:percent"))
    return root


@pytest.fixture(scope="module")
def class_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_class(tmp_path_factory.mktemp("class"))


@pytest.fixture(scope="module")
def report(class_root: Path) -> similarity.Report:
    return similarity.build(discover.discover(class_root))


def pairs_of(report: similarity.Report) -> dict[tuple[str, str], similarity.Pair]:
    return {(p.student_a, p.student_b): p for p in report.pairs}


# --- the class --------------------------------------------------------------------------------------


def test_copies_are_flagged_naming_their_modules(report: similarity.Report) -> None:
    pairs = pairs_of(report)
    for pair, modules in COPIES.items():
        assert pairs[pair].flagged, pairs[pair]
        assert {m.module for m in pairs[pair].flagged_matches} == modules, pairs[pair]
    assert {m.module for m in pairs["ben", "dmitri"].matches if m.score == 1.0} >= {"shapes", "quadrant", "training"}
    (gradcam,) = pairs["ana", "hana"].flagged_matches
    assert gradcam.file_a == "gradcam.py" and gradcam.file_b.startswith("hana.ipynb (cells ")


def test_independent_work_and_stubs_are_not_flagged(report: similarity.Report) -> None:
    assert {(p.student_a, p.student_b) for p in report.flagged} == set(COPIES)
    independent = [p for p in report.pairs if (p.student_a, p.student_b) not in COPIES]
    assert all(p.similarity < report.threshold for p in independent)
    stub_students = {"finn", "gus", "ivan"}
    assert not [p for p in report.pairs if {p.student_a, p.student_b} & stub_students], "stubs match nothing"
    assert report.skipped == []


def test_notebook_cells_become_modules(class_root: Path) -> None:
    entry = next(e for e in discover.discover(class_root) if e.student == "hana")
    docs = {d.module: d for d in similarity.documents(entry)[0]}
    assert set(docs) >= {"gradcam", similarity.OTHER}
    assert "def grad_cam(" in docs["gradcam"].text and "def saliency_map(" in docs["gradcam"].text
    assert "pip install" not in docs["gradcam"].text, "magics and shell lines are dropped"
    assert "def train_one_epoch(" not in docs["gradcam"].text


# --- the scores -------------------------------------------------------------------------------------


def _score(a: str, b: str) -> float:
    bp = similarity.boilerplate()
    return similarity.score(similarity.fingerprint(a, bp), similarity.fingerprint(b, bp))


def test_the_fast_comparison_is_copydetects(report: similarity.Report) -> None:
    """The vectorised overlap gives compare_files' fractions and regions, on every pair of the class."""
    bp = similarity.boilerplate()
    texts = {(s, m): (CLASS / s / f"{m}.py").read_text() for s in WRITTEN for m in BEN}
    texts = {key: text for key, text in texts.items() if text != stubgen.render_all()[f"{key[1]}.py"]}
    checked = 0
    for (sa, module), a in texts.items():
        for (sb, other), b in texts.items():
            if other != module or sa >= sb:
                continue
            fa, fb = similarity.fingerprint(a, bp), similarity.fingerprint(b, bp)
            _, (share_a, share_b), (slices_a, slices_b) = compare_files(fa.code, fb.code)
            # copydetect's share is over the document's own length; the score's over at least FLOOR
            rescaled = [
                share * f.code.token_coverage / max(f.code.token_coverage, similarity.FLOOR)
                for share, f in ((share_a, fa), (share_b, fb))
            ]
            expected = min(1.0, max(rescaled))
            assert similarity.score(fa, fb) == pytest.approx(expected), (sa, sb, module)
            if len(slices_a) and len(slices_a[0]):
                got_a, got_b = similarity.regions(fa, fb)
                assert got_a == tuple(zip(slices_a[0].tolist(), slices_a[1].tolist(), strict=True))
                assert got_b == tuple(zip(slices_b[0].tolist(), slices_b[1].tolist(), strict=True))
                checked += 1
    assert checked >= 30


def test_regions_only_for_the_pairs_summary_html_shows(monkeypatch: pytest.MonkeyPatch, class_root: Path) -> None:
    monkeypatch.setattr(similarity, "SHOWN_PAIRS", 1)
    report = similarity.build(discover.discover(class_root))
    first, *rest = report.flagged
    assert all(m.regions_a and m.regions_b for m in first.flagged_matches)
    assert rest and not [m for p in rest for m in p.matches if m.regions_a or m.regions_b]
    assert set(report.texts) == {
        (s, m.module) for m in first.flagged_matches for s in (first.student_a, first.student_b)
    }
    html = similarity.section(report)
    assert html.count("<details id='pair-") == 1 and html.count("href='#pair-") == 1
    assert f"{len(rest)} more flagged pairs, regions not shown" in html


def test_renaming_and_rewritten_comments_change_nothing() -> None:
    original = (CLASS / "chloe" / "gradcam.py").read_text()
    renamed = original
    for old, new in {"recorder": "rec", "_Recorder": "_OutputKeeper", "modes": "flags", "probe": "x_in"}.items():
        renamed = renamed.replace(old, new)
    renamed = renamed.replace("# a copy, in case a later layer works in place", "# copy it (inplace ops later!)")
    assert renamed != original
    assert _score(original, renamed) == 1.0


def test_formula_lines_in_otherwise_untouched_stubs_are_not_copies() -> None:
    """Two partial submissions with the same one-line answer (the obvious formula) score well below a flag."""
    stub = stubgen.render_all()["shapes.py"]
    answer = stub.replace(
        '    Example: ``linear_params(1936, 32) == 61984``.\n    """\n    raise NotImplementedError',
        '    Example: ``linear_params(1936, 32) == 61984``.\n    """\n'
        "    return in_features * out_features + (out_features if bias else 0)",
    )
    assert answer != stub
    assert _score(answer, answer) < similarity.DEFAULT_THRESHOLD / 2
    assert _score(stub, stub) == 0.0


def test_scores_do_not_depend_on_the_hash_seed() -> None:
    code = (
        "from pathlib import Path\nfrom grader.batch import similarity as s\n"
        "a, b = (Path('tests/similarity_class', n, 'gradcam.py').read_text() for n in ('ben', 'dmitri'))\n"
        "bp = s.boilerplate()\nprint(s.score(s.fingerprint(a, bp), s.fingerprint(b, bp)))\n"
    )
    seen = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        seen.add(done.stdout.strip())
    assert len(seen) == 1, seen


# --- unreadable submissions -------------------------------------------------------------------------


def test_unreadable_submissions_are_skipped_with_a_reason(tmp_path: Path) -> None:
    shutil.copytree(CLASS / "ben", tmp_path / "ben")
    shutil.copytree(CLASS / "dmitri", tmp_path / "dmitri")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "garbled.ipynb").write_text("{ this is not json")
    (tmp_path / "notes.txt").write_text("not a submission")  # not an entry at all (discover leaves it out)
    (tmp_path / "linked").symlink_to(tmp_path / "ben", target_is_directory=True)  # an entry with a problem
    report = similarity.build(discover.discover(tmp_path))
    skipped = dict(report.skipped)
    assert set(skipped) == {"broken", "garbled", "linked"}, report.skipped
    assert "not a zip archive" in skipped["broken"] and "NotJSONError" in skipped["garbled"]
    assert "symbolic link" in skipped["linked"]
    assert [(p.student_a, p.student_b) for p in report.flagged] == [("ben", "dmitri")]


# --- the batch --------------------------------------------------------------------------------------


@pytest.fixture
def fake_grading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every student graded at once with the same scripted report (the similarity report ignores grades)."""
    report = {"submission": "x", "checks": [], "seconds": 1.0, "notes": []}
    files = {"results.json": b"{}", "report.json": json.dumps(report).encode(), "feedback.html": b"<html></html>"}

    def run(task: GradeTask) -> Outcome:
        return Outcome(task.student, "graded", "", 1.0, "here", files)

    monkeypatch.setattr(task_module, "run", run)
    monkeypatch.setattr(warm_module, "warm", lambda data_root, dataset=None: "warm")


def test_batch_writes_the_report_for_the_instructor_only(tmp_path: Path, fake_grading: None) -> None:
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("ana", "ben", "chloe"):
        shutil.copytree(CLASS / student, subs / student)
    stubs(subs / "finn")
    # a copy of ben's training.py whose string would end the page's <pre> and run a script
    (subs / "-zed").mkdir()
    copied = (
        (CLASS / "ben" / "training.py")
        .read_text()
        .replace("def _batches(", "NOTE = \"</pre><script>alert('x')</script>\"\n\n\ndef _batches(")
    )
    (subs / "-zed" / "training.py").write_text(copied)
    # hana's notebook, zipped under a name that a spreadsheet would run as a formula
    with zipfile.ZipFile(subs / "aaron.zip", "w") as zf:
        zf.write(CLASS / "hana.ipynb", "=1+2.ipynb")
    before = {p.name for p in subs.iterdir()}
    run_batch(subs, out, task_module.GradeSettings(), progress=False, log=lambda line: None)

    with (out / "similarity.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == similarity.HEADER
    flagged = {(r["student_a"], r["student_b"]): r for r in rows if r["similarity_flagged"] == "true"}
    assert set(flagged) == {("'-zed", "ben"), ("aaron", "ana")}, rows
    assert flagged["'-zed", "ben"]["flagged_modules"] == "training"
    assert flagged["aaron", "ana"]["files"].startswith("'=1+2.ipynb (cells ")
    assert float(flagged["'-zed", "ben"]["similarity"]) >= 0.95
    for row in rows:  # formula-safe: no cell a spreadsheet would run
        assert not any(cell.startswith(FORMULA_STARTS) for cell in row.values()), row

    html = (out / "summary.html").read_text()
    assert "<h2 id='similarity'>Similar submissions</h2>" in html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert html.count("<mark>") >= 4, "the matching regions are marked, on both sides"
    assert "ben: training.py" in html and "-zed: training.py" in html

    assert {"gradebook.csv", "summary.html", "similarity.csv"} <= {p.name for p in out.iterdir() if p.is_file()}
    students = {"aaron", "ana", "ben", "chloe", "finn", "-zed"}
    assert {p.name for p in (out / store.STUDENTS).iterdir()} == students
    folders = [store.student_dir(out, s) for s in students] + [store.record_dir(out, s) for s in students]
    assert all(folder.is_dir() for folder in folders)
    for folder in (out / store.STUDENTS, out / store.INSTRUCTOR):  # the report is in neither, for anyone
        for path in folder.rglob("*"):
            assert "similar" not in path.name
            if path.is_file():
                assert b"Similar submissions" not in path.read_bytes() and b"similarity" not in path.read_bytes()
    assert {p.name for p in subs.iterdir()} == before, "nothing is written beside the submissions"


def test_cli_passes_the_threshold(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict = {}
    monkeypatch.setattr("grader.batch.runner.run_batch", lambda *args, **kwargs: seen.update(kwargs))
    assert cli.main(["batch", str(tmp_path), "--out", str(tmp_path / "out"), "--similarity-threshold", "0.9"]) == 0
    assert seen["similarity_threshold"] == 0.9
    assert cli.main(["batch", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    assert seen["similarity_threshold"] == similarity.DEFAULT_THRESHOLD


def test_the_report_never_stops_the_batch(monkeypatch: pytest.MonkeyPatch, class_root: Path, tmp_path: Path) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise MemoryError("no room")

    monkeypatch.setattr(similarity, "compare", broken)
    lines: list[str] = []
    section = similarity.run(discover.discover(class_root), tmp_path, log=lines.append)
    assert "The report failed" in section and any("similarity report failed" in line for line in lines)
    assert not (tmp_path / "similarity.csv").exists()


def parenthesised(source: str) -> str:
    """``source`` with the names of every second line wrapped in parentheses (``x = f(y)`` -> ``(x) = (f)((y))``),
    where Python allows it: the evasion that kept a copy at 0.64 before scores compared a normal form."""
    import ast
    import io
    import keyword
    import tokenize

    out = []
    for number, line in enumerate(source.splitlines(keepends=True)):
        stripped = line.lstrip()
        skip = number % 2 == 0 or stripped.startswith(("def ", "class ", "import ", "from ", "@", "#"))
        skip = skip or any(word in line for word in (" as ", "lambda", "global ", "nonlocal ", '"' * 3, "'" * 3))
        if skip:
            out.append(line)
            continue
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(line).readline))
        except (tokenize.TokenError, IndentationError):
            out.append(line)
            continue
        pieces, last = [], 0
        for i, tok in enumerate(tokens):
            following = tokens[i + 1].string if i + 1 < len(tokens) else ""
            previous = tokens[i - 1].string if i else ""
            if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string) and previous != "." and following != "=":
                start, end = tok.start[1], tok.end[1]
                pieces.append(line[last:start] + "(" + tok.string + ")")
                last = end
        changed = "".join(pieces) + line[last:]
        rest = "".join(source.splitlines(keepends=True)[number + 1 :])
        try:  # where Python allows it: a parameter of a signature split over lines does not take parentheses
            ast.parse("".join(out) + changed + rest)
            out.append(changed)
        except SyntaxError:
            out.append(line)
    return "".join(out)


def test_a_copy_with_names_in_parentheses_is_still_flagged() -> None:
    """Scores compare the code's normal form (ast.unparse): redundant parentheses, comments and layout go."""
    bp = similarity.boilerplate()
    for module in sorted(BEN):
        original = (CLASS / "ben" / f"{module}.py").read_text()
        evasive = parenthesised(original)
        compile(evasive, module, "exec")  # still Python, still the same program
        assert evasive.count("(") > original.count("(") + 10, module
        score = similarity.score(similarity.fingerprint(original, bp), similarity.fingerprint(evasive, bp))
        assert score >= 0.95 > similarity.DEFAULT_THRESHOLD, (module, score)
