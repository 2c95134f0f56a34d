"""Honest course code that a tamper signal must never flag: module and notebook idioms from course material,
tutorials and library READMEs (tests/test_honest_idioms.py scans each one statically, and runs the ones that
compile code at run time under the worker's audit hook).

Each idiom is a small source, a module's (``kind="module"``) or a notebook cell's (``kind="cell"``); ``runs``
marks those whose run-time behaviour (``exec``, ``eval``, ``compile``) the audit hook must see as harmless too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Honest:
    name: str
    source: str
    kind: str = "module"
    runs: bool = False


HONEST: list[Honest] = [
    Honest(
        "a helper named eval",
        "def eval(model, loader):\n    return [model(x) for x, _ in loader]\n\n\n"
        "scores = eval(lambda x: x, [(1, 0)])\n",
        runs=True,
    ),
    Honest(
        "a method named eval",
        "class Runner:\n    def eval(self):\n        return self\n\n\nRunner().eval()\n",
        runs=True,
    ),
    Honest("a helper named compile", "def compile(model):\n    return model\n\n\ncompile(None)\n", runs=True),
    Honest(
        "MNIST download mirrors (module)",
        "from torchvision import datasets\n\n"
        "datasets.MNIST.mirrors = ['https://ossci-datasets.s3.amazonaws.com/mnist/']\n",
    ),
    Honest(
        "MNIST download mirrors (cell)",
        "import torchvision\ntorchvision.datasets.MNIST.mirrors = [\n"
        "    'https://ossci-datasets.s3.amazonaws.com/mnist/'\n]\n",
        kind="cell",
    ),
    Honest("tqdm's monitor thread off (its README)", "import tqdm\n\ntqdm.tqdm.monitor_interval = 0\n"),
    Honest(
        "exec in a plotting cell",
        "import matplotlib.pyplot as plt\nfor name in ['loss', 'accuracy']:\n"
        '    exec(f"{name}_curve = [0.1, 0.2]")\nplt.plot([0.1, 0.2])\n',
        kind="cell",
        runs=True,
    ),
    Honest("eval of a call in a cell", 'print(eval("abs(28 - 5) + 1"))\n', kind="cell", runs=True),
    Honest(
        "eval of the student's own function",
        'def conv_output_size(s, k):\n    return s - k + 1\n\n\nprint(eval("conv_output_size(28, 5)"))\n',
        kind="cell",
        runs=True,
    ),
    Honest(
        "compile and exec of a snippet", 'code = compile("y = 2 * 3", "<snippet>", "exec")\nexec(code)\n', runs=True
    ),
    Honest("literal_eval of a config", "import ast\n\nsettings = ast.literal_eval(\"{'lr': 0.01}\")\n", runs=True),
    Honest(
        "matplotlib settings",
        "import matplotlib\nimport matplotlib.pyplot as plt\n\nmatplotlib.use('Agg')\n"
        "plt.rcParams['figure.dpi'] = 100\nplt.style.use('ggplot')\n",
    ),
    Honest(
        "seaborn and pandas options",
        "import pandas as pd\n\npd.options.display.max_columns = 50\npd.set_option('display.width', 120)\n",
    ),
    Honest(
        "cudnn settings",
        "import torch\n\ntorch.backends.cudnn.benchmark = True\ntorch.backends.cudnn.deterministic = False\n",
    ),
    Honest(
        "seeds everywhere",
        "import random\n\nimport numpy as np\nimport torch\n\nrandom.seed(0)\nnp.random.seed(0)\n"
        "torch.manual_seed(0)\ntorch.use_deterministic_algorithms(False)\n",
    ),
    Honest(
        "warnings and logging",
        "import logging\nimport warnings\n\nwarnings.filterwarnings('ignore', category=UserWarning)\n"
        "logging.basicConfig(level=logging.INFO)\nlog = logging.getLogger(__name__)\n",
    ),
    Honest(
        "environment variables",
        "import os\n\nos.environ['CUDA_VISIBLE_DEVICES'] = '0'\nos.makedirs('runs', exist_ok=True)\n"
        "path = os.path.join('runs', 'x')\n",
    ),
    Honest(
        "sys.path for a helper folder",
        "import os\nimport sys\n\nsys.path.append(os.path.abspath('..'))\nprint(sys.version, sys.platform)\n",
    ),
    Honest("colab detection", "import sys\n\nIN_COLAB = 'google.colab' in sys.modules\n"),
    Honest(
        "tqdm progress bars",
        "from tqdm.auto import tqdm\n\nfor _ in tqdm(range(3), desc='epoch', leave=False):\n    pass\n",
    ),
    Honest(
        "a module's attribute set on the student's own class",
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    pass\n\n\nNet.default_width = 8\n",
    ),
    Honest(
        "setattr and getattr on the model",
        "import torch.nn as nn\n\nmodel = nn.Sequential()\nfor i in range(3):\n"
        "    setattr(model, f'layer{i}', nn.Identity())\nfirst = getattr(model, 'layer0')\n",
    ),
    Honest(
        "inspect.signature",
        "import inspect\n\n\ndef f(a, b=1):\n    return a\n\n\nparams = inspect.signature(f).parameters\n",
    ),
    Honest(
        "a class's name",
        "import torch.nn as nn\n\nmodel = nn.Linear(2, 2)\n"
        "print(type(model).__name__, model.__class__.__name__, vars(model).keys())\n",
    ),
    Honest(
        "functools and copy",
        "import copy\nimport functools\n\nbest = copy.deepcopy({'a': 1})\nrelu = functools.partial(max, 0)\n",
    ),
    Honest(
        "traceback for debugging",
        "import traceback\n\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n    traceback.print_exc()\n"
        "    stack = traceback.format_stack()\n",
    ),
    Honest(
        "importlib.reload of the student's module", "import importlib\n\nimport shapes\n\nimportlib.reload(shapes)\n"
    ),
    Honest(
        "dataclasses and typing",
        "from dataclasses import dataclass\nfrom typing import NamedTuple\n\n\n@dataclass\nclass Config:\n"
        "    lr: float = 0.01\n\n\nclass P(NamedTuple):\n    x: int\n",
    ),
    Honest(
        "argparse in a notebook",
        "import argparse\nimport sys\n\nsys.argv = ['']\nargs = argparse.ArgumentParser().parse_args([])\n",
    ),
    Honest(
        "IPython display",
        "from IPython.display import Markdown, display\n\ndisplay(Markdown('**done**'))\n",
        kind="cell",
    ),
    Honest(
        "magics and shell lines",
        "%matplotlib inline\n%config InlineBackend.figure_format = 'retina'\n!nvidia-smi\n",
        kind="cell",
    ),
    Honest(
        "the grader's check from a notebook",
        "import grader\n\nresult = grader.check('shapes')\nprint(result.score)\n",
        kind="cell",
    ),
    Honest(
        "the course's corner transform",
        "from grader.quadrants import RandomQuadrantPad, digits_to_canvas\nfrom grader.data import load_split\n\n"
        "pad = RandomQuadrantPad()\n",
    ),
    Honest(
        "torch.compile and hooks on the model",
        "import torch\n\nmodel = torch.nn.Linear(2, 2)\n"
        "handle = model.register_forward_hook(lambda m, i, o: None)\nhandle.remove()\nfast = torch.compile(model)\n",
    ),
    Honest(
        "a timer",
        "import time\nimport timeit\n\nstart = time.perf_counter()\n"
        "seconds = timeit.timeit('sum(range(10))', number=10)\n",
        runs=True,
    ),
    Honest(
        "pickle of results",
        "import pickle\n\nblob = pickle.dumps({'loss': [1.0]})\nresults = pickle.loads(blob)\n",
        runs=True,
    ),
    Honest("numpy printing options", "import numpy as np\n\nnp.set_printoptions(precision=3, suppress=True)\n"),
    Honest(
        "PIL settings",
        "from PIL import Image, ImageFile\n\nImageFile.LOAD_TRUNCATED_IMAGES = True\nImage.MAX_IMAGE_PIXELS = None\n",
    ),
]
