"""The judge's static tamper scan (grader/judge/tamper.py): every attack class flagged at its line, honest code never.

A signal withholds the checks whose evidence the worker observes, so the honest side matters as much: the course's
own files, every variant of the bug corpus, the usual notebook idioms (plotting, magics, grader.check) and the
corpus of honest idioms in tests/honest_idioms.py raise nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from corpus import BUGS, SOLUTIONS, Bug

from grader.judge import tamper

ROOT = Path(__file__).resolve().parent.parent

# name -> (source, the line a signal must name, a word of its message)
ATTACKS = {
    "patch a grader module": ("import grader.worker.ops as ops\nops.torch.equal = lambda a, b: True\n", 1, "grader"),
    "patch through sys.modules": (
        'import sys\nsys.modules["grader.worker.sideeffects"].changes = lambda *a: []\n',
        2,
        "sys.modules",
    ),
    "a caller's globals": ("import sys\n\ng = sys._getframe(1).f_globals\n", 3, "frame"),
    "walk every object": ("import gc\nobjects = gc.get_objects()\n", 2, "gc.get_objects"),
    "the grader's namespace by vars": (
        'import grader\nsideeffects = vars(grader)["worker"].sideeffects\n',
        2,
        "grader",
    ),
    "the interpreter's namespace by __dict__": ("import sys\nm = sys.__dict__['modules']\n", 2, "namespace of sys"),
    "resolve_name of grader code": (
        'import pkgutil\ns = pkgutil.resolve_name("grader.worker.sideeffects")\n',
        2,
        "grader",
    ),
    "resolve_name with a colon": ('from pkgutil import resolve_name\nresolve_name("grader.worker:ops")\n', 2, "grader"),
    "resolve_name of a built name": ("import pkgutil\npkgutil.resolve_name(name)\n", 2, "run time"),
    "frames by traceback.walk_stack": ("import traceback\nframes = traceback.walk_stack(None)\n", 2, "frames"),
    "a code object by hand": ("import types\ncode = types.CodeType(*fields)\n", 2, "code objects"),
    "runpy": ('import runpy\nrunpy.run_module("grader.worker.ops")\n', 2, "grader"),
    "__import__ of a built name": ('m = __import__("gra" + "der")\n', 1, "run time"),
    "__import__ of the grader": ('m = __import__("grader")\n', 1, "grader"),
    "import_module of a name": ("import importlib\nname = 'x'\nm = importlib.import_module(name)\n", 3, "run time"),
    "import_module of grader code": ('from importlib import import_module\nimport_module("grader.x")\n', 2, "grader"),
    "builtins.__import__": ("import builtins\n\nbuiltins.__import__(name)\n", 3, "run time"),
    "an importer kept for later": ("import importlib\n\nload = importlib.import_module\n", 3, "importlib"),
    "ctypes": ("import ctypes\n", 1, "ctypes"),
    "from ctypes": ("from ctypes import pythonapi\n", 1, "ctypes"),
    "subprocess": ("import subprocess\n", 1, "subprocess"),
    "an import hook": ("import sys\nsys.meta_path.insert(0, Finder())\n", 2, "sys.meta_path"),
    "a path hook": ("import sys\nsys.path_hooks.append(hook)\n", 2, "sys.path_hooks"),
    "a trace hook": ("import sys\n\n\nsys.settrace(tracer)\n", 4, "sys.settrace"),
    "an audit hook": ("import sys\nsys.addaudithook(hook)\n", 2, "sys.addaudithook"),
    "take over stdout": ("import io\nimport sys\nsys.stdout = io.StringIO()\n", 3, "sys.stdout"),
    "take over stderr by setattr": ('import sys\nsetattr(sys, "stderr", None)\n', 2, "sys.stderr"),
    "the table under another name": ("from sys import modules\nops = modules['grader.worker.ops']\n", 1, "sys.modules"),
    "getattr with a literal": ('import sys\nm = getattr(sys, "modules")\n', 2, "sys.modules"),
    "getattr with a computed name": ("import sys\nm = getattr(sys, 'mod' + 'ules')\n", 2, "run time"),
    "monkeypatch torch": ("import torch\ntorch.equal = lambda a, b: True\n", 2, "torch.equal"),
    "monkeypatch numpy under an alias": ("import numpy as np\n\nnp.allclose = lambda *a, **k: True\n", 3, "numpy"),
    "augmented rebinding": ("import math\nmath.pi += 1\n", 2, "math.pi"),
    "delete from a module": ("import torch\ndel torch.equal\n", 2, "deletes"),
    "setattr on a module": ('import torch\nsetattr(torch, "equal", f)\n', 2, "torch.equal"),
    "delattr on a module": ('import torch\ndelattr(torch, "equal")\n', 2, "torch.equal"),
    "patch nn.Module": ("from torch import nn\nnn.Module.forward = f\n", 2, "torch.nn.Module.forward"),
    "patch torch.Tensor": ("import torch\ntorch.Tensor.__eq__ = f\n", 2, "torch.Tensor"),
    "patch a class imported by name": ("from torch.nn import Module\nModule.__call__ = f\n", 2, "Module"),
    "global hook dicts": ("import torch\nhooks = torch.nn.modules.module._global_forward_hooks\n", 2, "global"),
    "global hook dicts by name": ("from torch.nn.modules.module import _global_forward_hooks\n", 1, "global"),
    "a global hook": ("import torch\ntorch.nn.modules.module.register_module_forward_hook(h)\n", 2, "global"),
    "a global hook imported": ("from torch.nn.modules.module import register_module_forward_pre_hook\n", 1, "global"),
    "os.dup2": ("import os\nos.dup2(3, 1)\n", 2, "os.dup2"),
    "os.dup2 imported by name": ("from os import dup2\n\ndup2(3, 1)\n", 3, "os.dup2"),
    "posix.dup2": ("import posix\nposix.dup2(3, 1)\n", 2, "os.dup2"),
    "os.system": ('import os\nos.system("kill -9 $PPID")\n', 2, "os.system"),
    "os.exec*": ('import os\nos.execv("/bin/sh", ["sh"])\n', 2, "os.execv"),
    "os.fork": ("import os\npid = os.fork()\n", 2, "os.fork"),
    "os.setsid": ("import os\nos.setsid()\n", 2, "os.setsid"),
    "os reached through an allowed grader module": ("import grader.data\ngrader.data.os.dup2(3, 1)\n", 2, "os.dup2"),
    "write to a descriptor": ('import os\nos.write(3, b"forged")\n', 2, "descriptor"),
    "open a descriptor": ('out = open(3, "wb")\n', 1, "descriptor"),
    "__globals__": ("def f():\n    pass\n\n\nx = f.__globals__['x']\n", 5, "__globals__"),
    "__code__ by getattr": ('code = getattr(f, "__code__")\n', 1, "__code__"),
    "__subclasses__": ("classes = object.__subclasses__()\n", 1, "__subclasses__"),
    "__builtins__": ('__builtins__["print"] = f\n', 1, "__builtins__"),
    "inspect.currentframe": ("import inspect\n\nframe = inspect.currentframe()\n", 3, "inspect.currentframe"),
    "inspect.stack": ("from inspect import stack\n\ncallers = stack()\n", 3, "inspect.stack"),
    "a frame's caller": ("def f(frame):\n    return frame.f_back\n", 2, "f_back"),
    "from the judge": ("from grader.judge import session\n", 1, "grader.judge"),
    "from grader, a module": ("from grader import worker\n", 1, "grader.worker"),
    "import grader.judge": ("import grader.judge\n", 1, "grader.judge"),
    "grader's attributes": ("import grader\n\ngrader.worker.ops.torch.equal = f\n", 3, "grader.worker"),
    "grader.checks is not grader.check": ("import grader\nx = grader.checks.registry\n", 2, "grader.checks"),
    "the reference solutions": ("from reference.shapes import conv_output_size\n", 1, "reference"),
    "the hidden checks": ("import hidden_checks\n", 1, "hidden checks"),
    "an attack inside a function": ("def f():\n    import torch\n\n    torch.equal = g\n", 4, "torch.equal"),
    "a use before the import": ("def f():\n    sys._getframe()\n\n\nimport sys\n", 2, "sys._getframe"),
}

HONEST_MODULE = """
import math
import os
import re
import ssl
import sys
import warnings
from collections import OrderedDict

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from captum.attr import LayerGradCam
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets

from grader.contract import EXERCISES
from grader.data import load_split
from grader.quadrants import RandomQuadrantPad, digits_to_canvas

matplotlib.use("Agg")
plt.rcParams["figure.figsize"] = (4, 4)
torch.backends.cudnn.deterministic = True
torch.backends.cudnn.benchmark = False
warnings.filterwarnings("ignore")
np.random.seed(0)
torch.manual_seed(0)
os.environ["KMP_DUPLICATE_LIB_OK"] = "TRUE"
ssl._create_default_https_context = ssl._create_unverified_context  # the usual fix for MNIST downloads
sys.argv = [""]  # argparse in a notebook
pd.options.display.max_rows = 20
PATTERN = re.compile(r"\\d+")


class Net(nn.Module):
    def __init__(self, num_channel=8):
        super().__init__()
        self.layer = nn.Conv2d(1, num_channel, 3)
        self._global_pool = nn.AdaptiveAvgPool2d(1)
        self.act = F.relu

    def forward(self, x):
        return self._global_pool(self.act(self.layer(x))).flatten(1)


def evaluate(model, loader, eval=True):
    if eval:
        model.eval()
    with torch.no_grad():
        return [model(x) for x, _ in loader]


model = Net()
model.layer.weight.data = torch.zeros(8, 1, 3, 3)
x = torch.zeros(1, 1, 8, 8, requires_grad=True)
x.grad = None
for p in model.parameters():
    p.requires_grad = False
activation = getattr(nn, "ReLU")()
handle = model.layer.register_forward_hook(lambda module, inputs, output: None)
loader = DataLoader(datasets.FakeData(size=4), batch_size=2, num_workers=2)
cam = LayerGradCam(model, model.layer)
compiled = torch.compile(model)
state = OrderedDict(model.state_dict())
print(math.pi, file=sys.stderr)
sys.stdout.flush()
sys.path.insert(0, os.path.dirname(__file__))
with open("log.txt", "w") as log:
    log.write(model.__class__.__name__)
"""

HONEST_CELLS = [
    "%matplotlib inline\n!pip install captum\n%load_ext autoreload\n%autoreload 2",
    "import sys\nIN_COLAB = 'google.colab' in sys.modules\nif not IN_COLAB:\n    !echo local\n",
    "import grader\nfrom grader import check\nimport torch\nimport matplotlib.pyplot as plt",
    "%%time\nimport ctypes  # a cell magic's cell never runs in the worker",
    "model = torch.nn.Linear(2, 2)\nmodel?\ntorch.nn.Linear??\n",
    "files = !ls\nfig, ax = plt.subplots()\nax.imshow(torch.zeros(4, 4))\nplt.rcParams['image.cmap'] = 'gray'",
    "\n\nresult = grader.check('gradcam')\ncheck('shapes')\nprint(sys.stdout)",
]

BROKEN_SOURCES = [
    "def broken(:\n    import ctypes\n",
    "import ctypes\nx = (\n",
    "x = " + "(" * 300 + ")" * 300,  # too many nested parentheses
    "x = " + "a + " * 5_000 + "a",  # too deep for the parser: a RecursionError, never run
    "import ctypes\0\n",
]


def notebook(*cells: str, markdown: str = "") -> str:
    """An nbformat 4 notebook: one markdown cell (when given), then a code cell per source."""
    nb_cells = [{"cell_type": "markdown", "metadata": {}, "source": markdown}] if markdown else []
    nb_cells += [
        {"cell_type": "code", "metadata": {}, "source": cell.splitlines(keepends=True), "outputs": []} for cell in cells
    ]
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": nb_cells})


def course_files() -> list[Path]:
    patterns = ["solutions/*.py", "exercises/*.py", "reference/*.py", "tests/similarity_class/**/*.py"]
    patterns += ["solutions/*.ipynb", "exercises/*.ipynb", "tests/similarity_class/**/*.ipynb"]
    return sorted(path for pattern in patterns for path in ROOT.glob(pattern))


def variant(bug: Bug) -> str:
    """The buggy module's source, as ``corpus.apply`` would write it."""
    source = (SOLUTIONS / f"{bug.module}.py").read_text()
    assert source.count(bug.old) == 1, bug.name
    return source.replace(bug.old, bug.new)


# --- honest code -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", course_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_a_course_file_raises_nothing(path: Path) -> None:
    name = str(path.relative_to(ROOT))
    assert [str(s) for s in tamper.scan_files({name: path})] == []


def test_the_course_files_are_all_there() -> None:
    names = {str(path.relative_to(ROOT)) for path in course_files()}
    assert {"solutions/cnn_exercises.ipynb", "exercises/cnn_exercises.ipynb", "solutions/gradcam.py"} <= names
    assert len(names) > 15


@pytest.mark.parametrize("bug", BUGS, ids=lambda bug: bug.name)
def test_a_corpus_variant_raises_nothing(bug: Bug) -> None:
    assert [str(s) for s in tamper.scan_source(variant(bug), f"{bug.module}.py")] == []


def test_a_whole_corpus_submission_raises_nothing(tmp_path: Path) -> None:
    for module in SOLUTIONS.glob("*.py"):
        (tmp_path / module.name).write_text(variant(BUGS[0]) if module.stem == BUGS[0].module else module.read_text())
    files = {path.name: path for path in tmp_path.iterdir()}
    assert len(files) >= 4
    assert tamper.scan_files(files) == []


def test_honest_idioms_in_a_module_raise_nothing() -> None:
    assert [str(s) for s in tamper.scan_source(HONEST_MODULE, "training.py")] == []


def test_honest_notebook_cells_with_plotting_and_magics_raise_nothing() -> None:
    signals = tamper.scan_notebook(notebook(*HONEST_CELLS, markdown="import ctypes"), "cnn_exercises.ipynb")
    assert [str(s) for s in signals] == []


def test_the_submissions_own_reference_module_is_not_the_graders(tmp_path: Path) -> None:
    (tmp_path / "reference.py").write_text("def conv_output_size(size, k):\n    return size - k + 1\n")
    (tmp_path / "shapes.py").write_text("from reference import conv_output_size\n")
    files = {path.name: path for path in tmp_path.iterdir()}
    assert tamper.scan_files(files) == []
    assert [s.line for s in tamper.scan_source("from reference import conv_output_size\n", "shapes.py")] == [1]


# --- attacks ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("attack", ATTACKS)
def test_each_attack_class_is_flagged_at_its_line(attack: str) -> None:
    source, line, word = ATTACKS[attack]
    signals = tamper.scan_source(source, "gradcam.py")
    at_line = [s for s in signals if s.line == line]
    assert at_line, [str(s) for s in signals]
    assert word in at_line[0].what, str(at_line[0])
    assert str(at_line[0]) == f"gradcam.py:{line}: {at_line[0].what}"


def test_an_attack_in_a_notebook_cell_names_the_cell() -> None:
    text = notebook("%matplotlib inline\n!pip list\nimport sys", "x = 1\nsys.modules['grader'].x = 1", markdown="#")
    assert [str(s) for s in tamper.scan_notebook(text, "nb.ipynb")] == [
        "nb.ipynb, cell 3:2: uses sys.modules (the interpreter's table of loaded modules)"
    ]


def test_an_import_in_one_cell_counts_in_the_others() -> None:
    text = notebook("import torch", "x = 1", "\n\ntorch.equal = lambda a, b: True")
    assert [(s.file, s.line) for s in tamper.scan_notebook(text, "nb.ipynb")] == [("nb.ipynb, cell 3", 3)]


@pytest.mark.parametrize(
    "cell",
    [
        "import ctypes  # is this fine?",  # a comment ending in ? is no help line: IPython runs the line
        ">>> import ctypes",  # IPython strips the prompt
        "    import ctypes",  # and the indentation of a whole cell
        "%matplotlib inline\nimport ctypes",
    ],
)
def test_a_cell_is_read_as_the_kernel_runs_it(cell: str) -> None:
    signals = tamper.scan_notebook(notebook(cell), "nb.ipynb")
    assert [s.line for s in signals] == [cell.count("\n") + 1], [str(s) for s in signals]


def test_an_nbformat_3_notebook_is_scanned() -> None:
    cells = [{"cell_type": "heading", "source": "Title"}, {"cell_type": "code", "input": ["import ctypes\n"]}]
    text = json.dumps({"nbformat": 3, "worksheets": [{"cells": cells}]})
    assert [str(s) for s in tamper.scan_notebook(text, "old.ipynb")] == [
        "old.ipynb, cell 2:1: imports ctypes (reads and writes the process's memory)"
    ]


def test_a_percent_script_with_magics_is_scanned_by_cell(tmp_path: Path) -> None:
    script = tmp_path / "cnn_exercises.py"
    script.write_text("# %%\n%matplotlib inline\nimport torch\n\n# %%\ntorch.equal = f\n")
    assert [(s.file, s.line) for s in tamper.scan_files({script.name: script})] == [("cnn_exercises.py", 6)]


def test_scan_files_reads_python_and_notebooks_only(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("import ctypes\n")
    (tmp_path / "nb.ipynb").write_text(notebook("import ctypes"))
    (tmp_path / "notes.txt").write_text("import ctypes\n")
    files = {path.name: path for path in tmp_path.iterdir()}
    assert [(s.file, s.line) for s in tamper.scan_files(files)] == [("helper.py", 1), ("nb.ipynb, cell 1", 1)]


def test_the_scan_strips_magics_as_the_worker_does() -> None:
    from grader.worker.notebook import _strip_magics

    for cell in [*HONEST_CELLS, "if x:\n    %time f()\n    !ls\n", "  %%bash\nls"]:
        assert tamper._without_magics(cell) == (None if _strip_magics(cell)[0] == "pass" else _strip_magics(cell)[0])


# --- what does not parse ---------------------------------------------------------------------------------
@pytest.mark.parametrize("source", BROKEN_SOURCES, ids=range(len(BROKEN_SOURCES)))
def test_a_file_that_does_not_parse_gives_no_signal(source: str, tmp_path: Path) -> None:
    assert tamper.scan_source(source, "x.py") == []
    assert tamper.scan_notebook(notebook(source), "x.ipynb") == []
    path = tmp_path / "x.py"
    path.write_text(source)
    assert tamper.scan_files({"x.py": path}) == []


@pytest.mark.parametrize("text", ["{not json", "[]", '{"cells": 3}', '{"cells": [1, {"cell_type": "code"}]}', "1e999"])
def test_a_notebook_that_is_not_one_gives_no_signal(text: str) -> None:
    assert tamper.scan_notebook(text, "x.ipynb") == []
