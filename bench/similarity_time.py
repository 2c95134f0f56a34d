"""Cost of the class similarity report (``DIR/similarity.csv``) against the class's grading time.

    python bench/similarity_time.py [--students 300] [--seconds-per-grading 14.8]

The class is a pessimistic one for the comparison: every student hands in one of a few implementations
(``solutions/``, ``reference/``, the students of ``tests/similarity_class/``, the bug variants of
``tests/corpus.py``), each with its identifiers renamed and a comment of its own, so every file differs
but large groups of students match each other completely (the most expensive pairs to compare); 15% hand
in the untouched stubs and 5% the solutions notebook. The grading time is the warm per-submission time
of docs/performance.md (14.8 s, ``--no-cache``) times the class at ``-j 1``, and at the 5.3 submissions
per minute of ``-j 2`` there.

    python bench/similarity_time.py --scores

prints instead the measurement behind ``DEFAULT_THRESHOLD`` and ``FLOOR`` (docs/batch.md): the module
scores of renamed copies, one-module copies, independent implementations and untouched stubs, and the
score of two partial submissions with the same one-line answer for several floors.
"""

from __future__ import annotations

import argparse
import ast
import io
import itertools
import keyword
import sys
import tempfile
import time
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from corpus import BUGS  # noqa: E402
from test_similarity import parenthesised  # noqa: E402

from grader import notebookgen, stubgen  # noqa: E402
from grader.batch import discover, similarity  # noqa: E402

MODULES = ("shapes", "quadrant", "gradcam", "training")
CLASS = ROOT / "tests" / "similarity_class"


def implementations() -> list[dict[str, str]]:
    """The implementations the class copies from: module name -> source."""
    found = []
    for folder in (ROOT / "solutions", ROOT / "reference", *(CLASS / s for s in ("ana", "ben", "chloe", "emma"))):
        found.append({m: (folder / f"{m}.py").read_text() for m in MODULES if (folder / f"{m}.py").exists()})
    for bug in BUGS:
        modules = {m: (ROOT / "solutions" / f"{m}.py").read_text() for m in MODULES}
        modules[bug.module] = modules[bug.module].replace(bug.old, bug.new, 1)
        found.append(modules)
    return found


def renamed(source: str, tag: str) -> str:
    """``source`` with every name it assigns or takes as a parameter renamed, and a comment of its own."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return f"# {tag}\n{source}"
    local = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    local |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments) for a in n.args + n.kwonlyargs}
    local -= {"self", *keyword.kwlist}
    tokens, previous = [], None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        text = token.string
        if token.type == tokenize.NAME and text in local and previous != ".":
            text = f"{text}_{tag}"
        tokens.append((token.type, text))
        previous = token.string
    return f"# submitted by {tag}\n{tokenize.untokenize(tokens)}"


def make_class(root: Path, students: int) -> Path:
    pool = implementations()
    stubs = stubgen.render_all()
    notebook = (ROOT / "solutions" / "cnn_exercises.ipynb").read_text()
    for i in range(students):
        tag = f"s{i:03d}"
        if i % 20 == 7:
            (root / f"{tag}.ipynb").write_text(notebook.replace("import torch", f"import torch  # {tag}", 1))
            continue
        folder = root / tag
        folder.mkdir(parents=True)
        modules = {m[:-3]: text for m, text in stubs.items()} if i % 20 in (3, 11, 19) else pool[i % len(pool)]
        for module, text in modules.items():
            (folder / f"{module}.py").write_text(renamed(text, tag) if i % 20 not in (3, 11, 19) else text)
    return root


def _stub_notebook_documents() -> list[similarity.Document]:
    text = notebookgen.rendered_text("exercises")
    return similarity.notebook_documents("stub", "exercises.ipynb", text)


def scores() -> None:
    """The module scores of each kind of pair (lowest and highest), and the floor's effect on partial work."""
    bp = similarity.boilerplate()

    def score(a: str, b: str) -> float:
        return similarity.score(similarity.fingerprint(a, bp), similarity.fingerprint(b, bp))

    stubs = {m: stubgen.render_all()[f"{m}.py"] for m in MODULES}
    own: dict[tuple[str, str], str] = {}  # the independent implementations (emma's training is chloe's)
    for name in ("solutions", "reference", "ana", "ben", "chloe", "emma"):
        folder = ROOT / name if name in ("solutions", "reference") else CLASS / name
        for m in MODULES:
            text = (folder / f"{m}.py").read_text()
            stub_only = similarity.fingerprint(text, bp).code.token_coverage == 0  # released code, reworded
            if text != stubs[m] and not stub_only and (name, m) != ("emma", "training"):
                own[name, m] = text
    hana = {
        d.module: d.text
        for d in similarity.documents(next(e for e in discover.discover(CLASS) if e.student == "hana"))[0]
    }
    kinds: dict[str, list[float]] = {
        "renamed copy (dmitri ~ ben, per module)": [
            score((CLASS / "ben" / f"{m}.py").read_text(), (CLASS / "dmitri" / f"{m}.py").read_text()) for m in MODULES
        ],
        "renamed copy (every name it binds renamed, a comment added)": [
            score(text, renamed(text, "x")) for text in own.values()
        ],
        "copy with the names of every second line in parentheses": [
            score(text, parenthesised(text)) for text in own.values()
        ],
        "one-module copy (emma's training.py, hana's Grad-CAM cells)": [
            score((CLASS / "chloe" / "training.py").read_text(), (CLASS / "emma" / "training.py").read_text()),
            score((CLASS / "ana" / "gradcam.py").read_text(), hana["gradcam"]),
        ],
        "independent implementations (solutions, reference, ana, ben, chloe, emma)": [
            score(own[a, m], own[b, m])
            for m in MODULES
            for (a, ma), (b, mb) in itertools.combinations(sorted(own), 2)
            if ma == mb == m
        ],
        "untouched stubs (against each other and every implementation)": [
            score(stubs[m], other)
            for (_, m), text in own.items()
            for other in (stubs[m], text, *(d.text for d in _stub_notebook_documents() if d.module == m))
        ],
    }
    print("| pairs | n | lowest | highest |\n|---|---|---|---|")
    for kind, found in kinds.items():
        print(f"| {kind} | {len(found)} | {min(found):.3f} | {max(found):.3f} |")
    stub = stubs["shapes"]
    answer = stub.replace(
        '    Example: ``linear_params(1936, 32) == 61984``.\n    """\n    raise NotImplementedError',
        '    Example: ``linear_params(1936, 32) == 61984``.\n    """\n'
        "    return in_features * out_features + (out_features if bias else 0)",
    )
    shortest = min(similarity.fingerprint(t, bp).code.token_coverage for t in own.values())
    print(
        f"\nthe one-line answer: {similarity.fingerprint(answer, bp).code.token_coverage:.0f} filtered characters "
        f"(the shortest full module: {shortest:.0f})"
    )
    print("| FLOOR | two stubs with the same one-line answer |\n|---|---|")
    for floor in (0, 100, 200, 300):
        similarity.FLOOR = floor
        print(f"| {floor} | {score(answer, answer):.3f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--seconds-per-grading", type=float, default=14.8, help="docs/performance.md, warm")
    parser.add_argument("--per-minute-j2", type=float, default=5.3, help="docs/performance.md, -j 2")
    parser.add_argument("--scores", action="store_true", help="the threshold measurement instead")
    args = parser.parse_args(argv)
    if args.scores:
        scores()
        return 0
    with tempfile.TemporaryDirectory(prefix="cnn-grader-similarity-bench-") as tmp:
        root = make_class(Path(tmp) / "class", args.students)
        entries = discover.discover(root)
        started = time.perf_counter()  # what the batch runs: similarity.run's steps, timed one by one
        docs: list[similarity.Document] = []
        for entry in entries:
            docs += similarity.documents(entry)[0]
        read = time.perf_counter()
        report = similarity.compare(docs, len(entries))
        compared = time.perf_counter()
        (Path(tmp) / "similarity.csv").write_text(similarity.csv_text(report))
        html = similarity.section(report)
        seconds = time.perf_counter() - started
        csv_bytes = (Path(tmp) / "similarity.csv").stat().st_size
        html_bytes = len(html.encode())
    pairs = len(entries) * (len(entries) - 1) // 2
    grading = args.students * args.seconds_per_grading
    grading_j2 = args.students / args.per_minute_j2 * 60
    print(f"{len(entries)} students, {pairs} pairs, {len(report.flagged)} flagged, {len(report.pairs)} listed")
    print(
        f"similarity report: {seconds:.1f} s (documents {read - started:.1f} s, comparison {compared - read:.1f} s, "
        f"CSV and HTML {seconds - (compared - started):.1f} s); CSV {csv_bytes / 1e3:.0f} kB, "
        f"HTML section {html_bytes / 1e3:.0f} kB"
    )
    print(f"grading at -j 1: {grading:.0f} s -> report / grading = {seconds / grading:.2%}")
    print(f"grading at -j 2: {grading_j2:.0f} s -> report / grading = {seconds / grading_j2:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
