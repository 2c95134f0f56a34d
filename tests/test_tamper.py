"""The judge's static tamper scan (grader/judge/tamper.py): every attack class flagged, honest code never."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from corpus import BUGS, apply

from grader.judge import tamper

ROOT = Path(__file__).resolve().parent.parent

ATTACKS = {  # name -> (source, the line the signal must name)
    "patch a grader module": ("import grader.worker.ops as ops\nops.torch.equal = lambda a, b: True\n", 1),
    "sys.modules": ("import sys\nsys.modules['grader.worker.sideeffects'].changes = lambda *a: []\n", 2),
    "a frame's globals": ("import sys\n\ng = sys._getframe(1).f_globals\n", 3),
    "gc walk": ("import gc\nobjects = gc.get_objects()\n", 2),
    "exec": ("exec('import gr' + 'ader')\n", 1),
    "__import__ of a built string": ("m = __import__('gra' + 'der')\n", 1),
    "import_module of a name": ("import importlib\nname = 'x'\nm = importlib.import_module(name)\n", 3),
    "ctypes": ("import ctypes\n", 1),
    "an import hook": ("import sys\nsys.meta_path.insert(0, object())\n", 2),
    "monkeypatch torch": ("import torch\ntorch.equal = lambda a, b: True\n", 2),
    "setattr on a module": ("import torch\nsetattr(torch, 'equal', print)\n", 2),
    "patch nn.Module": ("from torch import nn\nnn.Module.forward = print\n", 2),
    "global hook dicts": ("import torch\nhooks = torch.nn.modules.module._global_forward_hooks\n", 2),
    "a global hook": ("import torch\ntorch.nn.modules.module.register_module_forward_hook(print)\n", 2),
    "os.dup2": ("import os\nos.dup2(3, 1)\n", 2),
    "__globals__": ("def f():\n    pass\n\n\nx = f.__globals__['x']\n", 5),
    "from the judge": ("from grader.judge import session\n", 1),
    "from sys import modules": ("from sys import modules\nmodules['x'] = 1\n", 2),
}

HONEST = """
import math, warnings
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
import matplotlib
import matplotlib.pyplot as plt
from grader.quadrants import digits_to_canvas
from grader.data import load_split
import grader

matplotlib.use("Agg")
plt.rcParams["figure.figsize"] = (4, 4)
torch.backends.cudnn.deterministic = True
warnings.filterwarnings("ignore")
np.random.seed(0)
torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)

    def forward(self, x):
        return F.relu(self.conv(x))


model = Net()
model.eval()
x = torch.zeros(1)
x.grad = None
for p in model.parameters():
    p.requires_grad = False
model.conv.weight.data = torch.zeros(8, 1, 3, 3)
grader.check("gradcam")
"""


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_each_attack_class_is_flagged_at_its_line(attack: str) -> None:
    source, line = ATTACKS[attack]
    signals = tamper.scan_source(source, "gradcam.py")
    assert line in [s.line for s in signals], [str(s) for s in signals]
    assert all(str(s).startswith(f"gradcam.py:{s.line}: ") for s in signals)


def test_the_same_attack_in_a_notebook_cell_names_the_cell() -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": "import ctypes"},
            {"cell_type": "code", "source": ["%matplotlib inline\n", "!pip list\n", "import torch\n"]},
            {"cell_type": "code", "source": ["import sys\n", "sys.modules['grader'].x = 1\n"]},
        ]
    }
    signals = tamper.scan_notebook(json.dumps(notebook), "nb.ipynb")
    assert [str(s) for s in signals] == [
        "nb.ipynb, cell 3:2: uses sys.modules (the interpreter's table of loaded modules)"
    ]


def test_honest_code_with_plotting_magics_and_grader_check_raises_nothing() -> None:
    assert tamper.scan_source(HONEST, "honest.py") == []


def test_a_file_that_does_not_parse_gives_no_signal() -> None:
    assert tamper.scan_source("def broken(:\n    import ctypes\n", "x.py") == []
    assert tamper.scan_notebook("{not json", "x.ipynb") == []


def test_the_course_files_raise_nothing() -> None:
    files = {
        str(path.relative_to(ROOT)): path
        for folder in ("solutions", "exercises", "reference", "tests/similarity_class")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".ipynb")
    }
    assert len(files) > 10
    assert [str(s) for s in tamper.scan_files(files)] == []


def test_every_corpus_variant_raises_nothing(tmp_path: Path) -> None:
    for index, bug in enumerate(BUGS):
        folder = apply(bug, tmp_path / str(index))
        files = {str(p.relative_to(folder)): p for p in folder.rglob("*") if p.is_file()}
        assert [str(s) for s in tamper.scan_files(files)] == [], bug.name
