"""Precision of the tamper signals: honest course idioms (tests/honest_idioms.py) raise none, statically or at run
time, while code that reaches into the grader is flagged however it is run (``exec`` of a string, a pickle whose
reduction hands its payload to ``timeit``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from honest_idioms import HONEST, Honest
from test_tamper import notebook

from grader.judge import tamper

DRIVER = """\
import json, os, sys
sys.path.insert(0, sys.argv[1])
read_end, write_end = os.pipe()
os.environ["CNN_GRADER_AUDIT_FD"] = str(write_end)
from grader.worker import audit
audit.install(sys.argv[1])
import runme
os.close(write_end)
with os.fdopen(read_end) as pipe:
    print(json.dumps([json.loads(line) for line in pipe]))
"""


def run_time_signals(source: str, folder: Path) -> list[str]:
    """What the judge makes of the audit hook's findings when ``source`` runs as a submitted module."""
    (folder / "runme.py").write_text(source)
    (folder / "shapes.py").write_text("X = 1\n")
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, str(folder)], capture_output=True, text=True, timeout=120, cwd=folder
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    findings = json.loads(proc.stdout.splitlines()[-1])
    return [str(s) for f in findings for s in tamper.audit_signals(f, lambda text: text.replace(str(folder), "."))]


def test_the_corpus_is_large_and_covers_the_reported_false_alarms() -> None:
    assert len(HONEST) >= 30
    sources = "\n".join(h.source for h in HONEST)
    for idiom in ("def eval(model, loader)", "MNIST.mirrors", "tqdm.tqdm.monitor_interval = 0", "exec(", 'eval("'):
        assert idiom in sources, idiom
    assert any(h.kind == "cell" and "exec(" in h.source for h in HONEST)
    assert any(h.kind == "cell" and 'eval("conv_output_size(28, 5)")' in h.source for h in HONEST)


@pytest.mark.parametrize("idiom", HONEST, ids=lambda h: h.name)
def test_an_honest_idiom_raises_no_signal_in_the_source(idiom: Honest) -> None:
    if idiom.kind == "cell":
        signals = tamper.scan_notebook(notebook(idiom.source), "cnn_exercises.ipynb")
    else:
        signals = tamper.scan_source(idiom.source, "training.py")
    assert [str(s) for s in signals] == []


@pytest.mark.parametrize("idiom", [h for h in HONEST if h.runs], ids=lambda h: h.name)
def test_an_honest_idiom_raises_no_signal_when_it_runs(idiom: Honest, tmp_path: Path) -> None:
    assert run_time_signals(idiom.source, tmp_path) == []


ATTACKS = {
    "exec of a string that patches the grader": (
        'exec("import grader.worker.sideeffects as s\\ns.changes = lambda *a: {}")\n',
        1,
        "grader.worker",
    ),
    "eval of a built string": ('eval("__import__(" + repr("grader.worker") + ")")\n', 1, "grader.worker"),
    "compile posing as a library": (
        'import json\ncode = compile("x = 1", json.__file__, "exec")\n',
        2,
        "library",
    ),
    "frames through traceback.walk_stack": (
        "import traceback\n\nframes = list(traceback.walk_stack(None))\n",
        3,
        "frame",
    ),
    "a pickle whose reduction runs its payload through timeit": (
        "import pickle, timeit\nfrom grader.worker import audit\n\n"
        "class Payload:\n    def __reduce__(self):\n"
        "        return (timeit.repeat, ('import sys; sys._getframe(0)', 'pass', timeit.default_timer, 1, 1))\n\n"
        "audit.loads(pickle.dumps(Payload()))\n",
        0,
        "restored",
    ),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_code_that_reaches_into_the_grader_is_flagged_however_it_runs(attack: str, tmp_path: Path) -> None:
    source, line, word = ATTACKS[attack]
    signals = run_time_signals(source, tmp_path)
    assert any(f":{line}: " in s and word in s for s in signals), signals
