"""The class similarity report of ``cnn-grader batch``: pairs of students whose code matches (docs/batch.md).

Detection is copydetect's (k-gram fingerprints of tokenised code, as in MOSS's winnowing) on the code's
normal form (:func:`normal_form`: parsed and written back by :func:`ast.unparse`, so layout, comments and
redundant parentheses go): the code is lexed and every identifier becomes ``V``, ``F`` or ``O``, every string
``S``, so renamed variables, rewritten comments and reformatting change nothing; k-grams of the released stubs
(:mod:`grader.stubgen`, and the stub notebook's code cells) are boilerplate and never match. The winnowing
window is copydetect's default, 1 (every k-gram kept), so scores do not depend on Python's hash seed.

Documents: one per exercise module per student, from the files the grader grades (the graded folder,
and each module's file or the notebook, as :mod:`grader.judge.locate` decides); other files are not
compared. From a notebook (``.ipynb`` or a jupytext percent ``.py``), the code cells, magics and shell
lines dropped: a cell that defines
contract names (``def``/``class`` at its top level) belongs to the module whose names it defines most; a
cell that defines none (imports, helpers) belongs to the next cell that does, and cells after the last
such cell form one more document, ``notebook``, compared with other notebooks only. So a notebook's
Grad-CAM cells are compared with another student's ``gradcam.py``.

Scores: for two documents copydetect finds the matching regions and the fraction of each one's code
(boilerplate excluded, in filtered characters) that they cover; here a document shorter than
:data:`FLOOR` filtered characters counts as that long, so that a partial submission of a few formula-like
lines is not "contained" in everyone else's. A module's score is the larger of the two fractions (a copied
module inside a longer one still scores high); a pair's ``similarity`` is its highest module score, and
the pair is ``flagged`` when that reaches the threshold (docs/batch.md has the measurement behind
:data:`DEFAULT_THRESHOLD` and :data:`FLOOR`). ``DIR/similarity.csv`` lists every pair from
:data:`LISTED` up, and ``summary.html`` gets a section with the flagged pairs' regions side by side
(computed only for the :data:`SHOWN_PAIRS` it shows); nothing is written into a student's folder. A
submission that cannot be read is left out with its reason; nothing here stops the batch.
"""

from __future__ import annotations

import ast
import io
import itertools
import re
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from html import escape
from pathlib import Path

import numpy as np
from copydetect import CodeFingerprint
from copydetect.utils import get_copied_slices

from grader import atomic, contract
from grader.batch.discover import Entry
from grader.judge import locate
from grader.judge.contained import ContainedFiles, contained_files
from grader.judge.submission import extract
from grader.report import spreadsheet

MODULES = tuple(m.name for m in contract.MODULES)
OTHER = "notebook"  # a notebook's cells after its last exercise cell
DOCUMENTS = (*MODULES, OTHER)
NAMES = {e.name: m.name for m in contract.MODULES for e in m.exercises}  # contract name -> its module
NOISE = 25  # copydetect's k: matches shorter than this many filtered characters are noise
FLOOR = 200  # filtered characters a document counts as at least (a full module has 400 to 1,500)
DEFAULT_THRESHOLD = 0.75  # chosen from the measurement in docs/batch.md
LISTED = 0.33  # similarity.csv lists pairs from here up (copydetect's display threshold)
MAX_CODE_CHARS = 200_000  # a document is cut here (a full solution module is about 5,000)
SHOWN_PAIRS = 40  # flagged pairs whose regions summary.html shows; the CSV has them all
TABLE_PAIRS = 500  # flagged pairs summary.html's table lists (a class where all copy from a few has 10,000s)
CONTEXT_LINES = 3  # lines shown around each matching region
HEADER = ["student_a", "student_b", "similarity", "similarity_flagged", "flagged_modules", "files", *DOCUMENTS]
_MAGIC = re.compile(r"^\s*[%!]")
_TOP_DEF = re.compile(r"^(?:async\s+def|def|class)\s+([A-Za-z_]\w*)", re.M)


@dataclass(frozen=True)
class Document:
    """One module of one student: ``file`` names where it came from in the submission."""

    student: str
    module: str
    file: str
    text: str


@dataclass(frozen=True)
class ModuleMatch:
    """Two students' documents of one module, compared: ``score`` in 0..1, regions as (start, end) offsets."""

    module: str
    file_a: str
    file_b: str
    score: float
    regions_a: tuple[tuple[int, int], ...] = ()
    regions_b: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Pair:
    """Two students (``student_a`` < ``student_b``) and their module matches, best first."""

    student_a: str
    student_b: str
    matches: tuple[ModuleMatch, ...]
    threshold: float

    @property
    def similarity(self) -> float:
        return max((m.score for m in self.matches), default=0.0)

    @property
    def flagged(self) -> bool:
        return self.similarity >= self.threshold

    @property
    def flagged_matches(self) -> list[ModuleMatch]:
        return [m for m in self.matches if m.score >= self.threshold]


@dataclass
class Report:
    """The pairs from :data:`LISTED` up (most similar first), the students or files left out, and the cost.

    ``texts`` maps (student, module) to the document text that the regions of the pairs index.
    """

    threshold: float
    students: int
    pairs: list[Pair] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (student, why)
    texts: dict[tuple[str, str], str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def flagged(self) -> list[Pair]:
        return [p for p in self.pairs if p.flagged]


# --- documents ---------------------------------------------------------------------------------------


def _defined_names(source: str) -> list[str]:
    """Top-level function and class names a cell defines (a regex where the cell does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return _TOP_DEF.findall(source)
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]


def _without_magics(source: str) -> str:
    if source.lstrip().startswith("%%"):
        return ""
    return "\n".join(line for line in source.splitlines() if not _MAGIC.match(line))


def notebook_documents(student: str, filename: str, text: str) -> list[Document]:
    """The documents of a notebook's code cells (module docstring: which cell goes where)."""
    import nbformat

    if filename.lower().endswith(".py"):
        import jupytext

        notebook = jupytext.reads(text, fmt="py:percent")
    else:
        notebook = nbformat.reads(text, as_version=4)
    cells: dict[str, list[tuple[int, str]]] = {}
    pending: list[tuple[int, str]] = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = _without_magics(str(cell.get("source", "")))
        if not source.strip():
            continue
        counts = {m: 0 for m in MODULES}
        for name in _defined_names(source):
            if name in NAMES:
                counts[NAMES[name]] += 1
        module = max(MODULES, key=lambda m: counts[m])
        pending.append((number, source))
        if counts[module]:
            cells.setdefault(module, []).extend(pending)
            pending = []
    if pending:
        cells[OTHER] = pending
    documents = []
    for module in DOCUMENTS:
        if module in cells:
            numbers = ", ".join(str(n) for n, _ in cells[module])
            code = "\n\n".join(source for _, source in cells[module])[:MAX_CODE_CHARS]
            documents.append(Document(student, module, f"{filename} (cells {numbers})", code))
    return documents


def _submission_tree(entry: Entry, root: Path) -> ContainedFiles:
    """The entry's files unpacked under ``root``, as the grader unpacks them (safely, within its size limit)."""
    root.mkdir()
    if zipfile.is_zipfile(io.BytesIO(entry.data)):
        archive = root.with_suffix(".zip")
        archive.write_bytes(entry.data)
        extract(archive, root)
    elif entry.filename.lower().endswith(".zip"):  # as the grader says of it
        raise ValueError(f"{Path(entry.filename).name} is not a zip archive")
    else:  # a notebook, a jupytext script of one, or a single module (a Canvas download of one file)
        (root / Path(entry.filename).name).write_bytes(entry.data)
    return contained_files(root)


def documents(entry: Entry) -> tuple[list[Document], list[str]]:
    """The documents of one submission, and the problems met (one line each).

    The files are those the grader grades (:func:`grader.judge.locate.plan`: the graded folder, each
    module's file or the notebook); a module the plan finds no source for has no document. Raises
    nothing: a submission that cannot be read gives no documents and says why.
    """
    if entry.problem:
        return [], [entry.problem]
    try:
        with tempfile.TemporaryDirectory(prefix="cnn-grader-similarity-") as tmp:
            root = Path(tmp) / "files"
            tree = _submission_tree(entry, root)
            chosen = locate.plan(tree)
            folder = root / chosen.folder if chosen.folder else root
            prefix = f"{chosen.folder}/" if chosen.folder else ""
            cells: dict[str, Document] = {}
            if chosen.notebook:
                text = (folder / chosen.notebook).read_bytes().decode("utf-8", "replace")
                label = prefix + chosen.notebook
                cells = {d.module: d for d in notebook_documents(entry.student, label, text)}
            found = []
            for module, source in chosen.sources.items():
                if source.kind == "file" and source.path:
                    text = (folder / source.path).read_bytes().decode("utf-8", "replace")[:MAX_CODE_CHARS]
                    found.append(Document(entry.student, module, prefix + source.path, text))
                elif source.kind == "notebook" and module in cells:
                    found.append(cells[module])
            if OTHER in cells:
                found.append(cells[OTHER])
            return found, [] if found else ["no exercise module or notebook with code in the submission"]
    except Exception as exc:  # a student's file: anything may be wrong with it, and the batch goes on
        return [], [f"cannot be read for the similarity report: {type(exc).__name__}: {exc}"[:300]]


# --- comparison --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fingerprint:
    """copydetect's fingerprint of one document, its kept k-grams also as arrays (for fast comparison)."""

    code: CodeFingerprint
    hashes: np.ndarray  # the hash of every kept k-gram (boilerplate removed), in position order
    positions: np.ndarray  # where each starts in the filtered code
    unique: np.ndarray  # the distinct hashes, sorted


def normal_form(text: str) -> str:
    """The code as Python's own parser reads it, written back (:func:`ast.unparse`): comments, layout, redundant
    parentheses and quoting styles gone, so a copy reformatted by hand or by a tool compares as the copy it is.
    Text that does not parse is compared as it is."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.unparse(ast.parse(text)) + "\n"
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return text


def _code_fingerprint(text: str, boilerplate: np.ndarray | None) -> CodeFingerprint:
    return CodeFingerprint("code.py", NOISE, 1, boilerplate, filter=True, language="python", fp=io.StringIO(text))


def fingerprint(text: str, boilerplate: np.ndarray | None = None) -> Fingerprint:
    """The fingerprint of ``text`` in its :func:`normal_form`: every k-gram (window 1, copydetect's default), so it
    is deterministic. Region offsets refer to the normal form (what :func:`compare` keeps and shows)."""
    code = _code_fingerprint(normal_form(text), boilerplate)
    pairs = sorted((int(i), int(h)) for h, where in code.hash_idx.items() for i in where)
    positions = np.array([i for i, _ in pairs], dtype=np.int64)
    hashes = np.array([h for _, h in pairs], dtype=np.int64)
    return Fingerprint(code, hashes, positions, np.unique(hashes))


@cache
def boilerplate() -> np.ndarray:
    """Hashes of every k-gram of the released code: the stub modules and the stub notebook's code cells."""
    import nbformat

    from grader import notebookgen, stubgen

    texts = list(stubgen.render_all().values())
    notebook = nbformat.reads(notebookgen.rendered_text("exercises"), as_version=4)
    texts += [_without_magics(c.source) for c in notebook.cells if c.cell_type == "code"]
    texts = [normal_form(text) for text in texts]
    hashes = [h for text in texts for h in _code_fingerprint(text, None).hashes]
    return np.unique(np.array(hashes, dtype=np.int64))


def _matched(a: Fingerprint, b: Fingerprint) -> np.ndarray:
    """The filtered-code slices of ``a`` whose k-grams occur in ``b`` (what copydetect's compare_files finds)."""
    if not len(a.hashes) or not len(b.unique):
        return np.zeros((2, 0), dtype=np.int64)
    where = np.minimum(np.searchsorted(b.unique, a.hashes), len(b.unique) - 1)
    starts = a.positions[b.unique[where] == a.hashes]
    if not len(starts):
        return np.zeros((2, 0), dtype=np.int64)
    return get_copied_slices(starts, NOISE).astype(np.int64)


def score(a: Fingerprint, b: Fingerprint) -> float:
    """The module score of two documents: the larger share of either one's code in matching regions.

    A share is copydetect's (matched filtered characters over the document's fingerprinted ones), except
    that a document shorter than :data:`FLOOR` counts as that long.
    """
    shares = []
    for one, other in ((a, b), (b, a)):
        slices = _matched(one, other)
        covered = float(np.sum(slices[1] - slices[0]))
        shares.append(covered / max(one.code.token_coverage, FLOOR))
    return float(min(1.0, max(shares)))


def regions(a: Fingerprint, b: Fingerprint) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """The matching regions of ``a`` and of ``b`` as (start, end) offsets into each one's own text."""
    found = []
    for one, other in ((a, b), (b, a)):
        slices = _matched(one, other)
        offsets = one.code.offsets
        if len(offsets) and slices.size:  # filtered positions -> text positions, as compare_files does
            slices = slices + offsets[:, 1][np.clip(np.searchsorted(offsets[:, 0], slices), 0, len(offsets) - 1)]
        found.append(tuple((int(x), int(y)) for x, y in zip(slices[0], slices[1], strict=True)))
    return found[0], found[1]


def compare(
    docs: Iterable[Document],
    students: int,
    threshold: float = DEFAULT_THRESHOLD,
    skipped: Iterable[tuple[str, str]] = (),
) -> Report:
    """Compare every two students' documents of each module (scores: see the module docstring).

    Each distinct text is fingerprinted once and each distinct pair of texts scored once, so a class where
    many hand in the same file costs no more than one where they do not.
    """
    started = time.perf_counter()
    bp = boilerplate()
    docs = [replace(doc, text=normal_form(doc.text)) for doc in docs]
    by_module: dict[str, list[Document]] = {}
    texts: dict[tuple[str, str], str] = {}
    for doc in docs:
        by_module.setdefault(doc.module, []).append(doc)
        texts[doc.student, doc.module] = doc.text
    fingerprints: dict[str, Fingerprint] = {}
    found: dict[tuple[str, str], list[ModuleMatch]] = {}
    for module, group in by_module.items():
        group.sort(key=lambda d: d.student)
        for doc in group:
            if doc.text not in fingerprints:
                fingerprints[doc.text] = fingerprint(doc.text, bp)
        scored: dict[tuple[str, str], float] = {}
        for a, b in itertools.combinations(group, 2):
            one, other = fingerprints[a.text], fingerprints[b.text]
            key = (a.text, b.text)
            if key not in scored:
                disjoint = one.code.hashes.isdisjoint(other.code.hashes)
                scored[key] = 0.0 if disjoint else round(score(one, other), 3)
            if scored[key] > 0:
                match = ModuleMatch(module, a.file, b.file, scored[key])
                found.setdefault((a.student, b.student), []).append(match)
    pairs = [
        Pair(a, b, tuple(sorted(matches, key=lambda m: (-m.score, DOCUMENTS.index(m.module)))), threshold)
        for (a, b), matches in found.items()
    ]
    listed = min(LISTED, threshold)
    pairs = sorted(
        (p for p in pairs if p.similarity >= listed), key=lambda p: (-p.similarity, p.student_a, p.student_b)
    )
    shown_texts: dict[tuple[str, str], str] = {}
    for i, pair in enumerate(pairs[:SHOWN_PAIRS]):  # regions only where summary.html shows them
        if not pair.flagged:
            break
        matches = []
        for match in pair.matches:
            if match.score >= threshold:
                a, b = texts[pair.student_a, match.module], texts[pair.student_b, match.module]
                regions_a, regions_b = regions(fingerprints[a], fingerprints[b])
                match = replace(match, regions_a=regions_a, regions_b=regions_b)
                shown_texts[pair.student_a, match.module] = a
                shown_texts[pair.student_b, match.module] = b
            matches.append(match)
        pairs[i] = replace(pair, matches=tuple(matches))
    return Report(threshold, students, pairs, list(skipped), shown_texts, round(time.perf_counter() - started, 2))


def build(entries: list[Entry], threshold: float = DEFAULT_THRESHOLD) -> Report:
    """The similarity report of a class's discovered entries; entries that cannot be read are skipped."""
    started = time.perf_counter()
    docs: list[Document] = []
    skipped: list[tuple[str, str]] = []
    for entry in entries:
        found, problems = documents(entry)
        docs += found
        skipped += [(entry.student, why) for why in problems]
    report = compare(docs, len(entries), threshold, skipped)
    report.seconds = round(time.perf_counter() - started, 2)
    return report


# --- output ------------------------------------------------------------------------------------------


def csv_text(report: Report) -> str:
    """``similarity.csv``: one row per listed pair, most similar first, every cell formula-safe."""
    rows = []
    for pair in report.pairs:
        scores = {m.module: m.score for m in pair.matches}
        rows.append(
            [
                pair.student_a,
                pair.student_b,
                round(pair.similarity, 3),
                pair.flagged,
                " ".join(m.module for m in pair.flagged_matches),
                "; ".join(f"{m.file_a} ~ {m.file_b}" for m in pair.matches),
                *(scores.get(d, "") for d in DOCUMENTS),
            ]
        )
    return spreadsheet.render(HEADER, rows)


def _cut(text: str, head: bool, tail: bool) -> str:
    """An unmatched stretch, escaped: only :data:`CONTEXT_LINES` lines kept next to each match, ``...`` between."""
    lines = text.split("\n")
    keep_start = CONTEXT_LINES + 1 if head else 0  # the first line continues the match before
    keep_end = CONTEXT_LINES + 1 if tail else 0
    if len(lines) <= keep_start + keep_end + 1:
        return escape(text)
    kept = lines[:keep_start] + ["..."] + (lines[-keep_end:] if keep_end else [""])
    return escape("\n".join(kept))


def _highlighted(text: str, regions: tuple[tuple[int, int], ...]) -> str:
    """``text`` HTML-escaped with its matching regions in ``<mark>``; long unmatched stretches cut to ``...``."""
    parts, position = [], 0
    for start, end in sorted(regions):
        start, end = max(start, position), min(max(end, start), len(text))
        if end <= start:
            continue
        parts.append(_cut(text[position:start], head=position > 0, tail=True))
        parts.append(f"<mark>{escape(text[start:end])}</mark>")
        position = end
    parts.append(_cut(text[position:], head=position > 0, tail=False))
    return "".join(parts)


def _linked(student: str, i: int) -> str:
    """The student's name, linking to the pair's regions below where they are shown."""
    return f"<a href='#pair-{i}'>{escape(student)}</a>" if i < SHOWN_PAIRS else escape(student)


def section(report: Report) -> str:
    """The ``summary.html`` section: the flagged pairs, their matching regions side by side, and who was left out."""
    flagged = report.flagged
    parts = [
        "<h2 id='similarity'>Similar submissions</h2>",
        f"<p>Code of {report.students} submissions compared module by module with copydetect (identifiers, "
        f"comments and the released stubs ignored) in {report.seconds:.1f} s: {len(flagged)} pairs reach the "
        f"threshold {report.threshold:g}; <code>similarity.csv</code> lists every pair from {LISTED:g} up. "
        "A flagged pair is a reason to look at the code, not a verdict.</p>",
    ]
    if flagged:
        rows = "".join(
            f"<tr><td>{_linked(p.student_a, i)}</td><td>{escape(p.student_b)}</td><td>{p.similarity:.2f}</td>"
            f"<td>{escape(', '.join(m.module for m in p.flagged_matches))}</td></tr>"
            for i, p in enumerate(flagged[:TABLE_PAIRS])
        )
        head = "<tr><th>student</th><th>student</th><th>similarity</th><th>modules</th></tr>"
        parts.append(f"<table>{head}{rows}</table>")
        if len(flagged) > TABLE_PAIRS:
            parts.append(f"<p>{len(flagged) - TABLE_PAIRS} more flagged pairs: see <code>similarity.csv</code>.</p>")
    else:
        parts.append("<p>No pair reaches the threshold.</p>")
    for i, pair in enumerate(flagged[:SHOWN_PAIRS]):  # folded: the code side by side on demand
        a, b = escape(pair.student_a), escape(pair.student_b)
        modules = ", ".join(f"{escape(m.module)} {m.score:.2f}" for m in pair.flagged_matches)
        parts.append(
            f"<details id='pair-{i}'><summary><b>{a} and {b}</b>: {pair.similarity:.2f} ({modules}): "
            "show the matching code</summary>"
        )
        for match in pair.flagged_matches:
            left = report.texts.get((pair.student_a, match.module), "")
            right = report.texts.get((pair.student_b, match.module), "")
            parts.append(
                f"<p>{escape(match.module)}: {match.score:.2f} (matching code <mark>marked</mark>)</p>"
                f"<table><tr><th>{a}: {escape(match.file_a)}</th><th>{b}: {escape(match.file_b)}</th></tr>"
                f"<tr><td><pre>{_highlighted(left, match.regions_a)}</pre></td>"
                f"<td><pre>{_highlighted(right, match.regions_b)}</pre></td></tr></table>"
            )
        parts.append("</details>")
    if len(flagged) > SHOWN_PAIRS:
        parts.append(f"<p>{len(flagged) - SHOWN_PAIRS} more flagged pairs, regions not shown: see the table.</p>")
    if report.skipped:
        items = "".join(f"<li>{escape(student)}: {escape(why)}</li>" for student, why in report.skipped)
        parts.append(f"<h3>Not compared</h3><ul>{items}</ul>")
    return "\n".join(parts)


def run(
    entries: list[Entry], out: Path, threshold: float = DEFAULT_THRESHOLD, log: Callable[[str], None] = print
) -> str:
    """Write ``out/similarity.csv`` for ``entries`` and return the ``summary.html`` section; never raises."""
    try:
        report = build(entries, threshold)
        atomic.write_text(out / "similarity.csv", csv_text(report))
        log(
            f"similarity: {len(report.flagged)} pairs of {len(entries)} students at or above {threshold:g} "
            f"({report.seconds:.1f} s); wrote {out / 'similarity.csv'}"
        )
        return section(report)
    except Exception as exc:  # the report is an extra: it never costs the class its gradebook
        log(f"similarity report failed: {type(exc).__name__}: {exc}")
        return f"<h2 id='similarity'>Similar submissions</h2><p>The report failed: {escape(repr(exc))}</p>"
