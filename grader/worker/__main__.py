"""The untrusted worker: ``python -m grader.worker SUBMISSION_DIR``.

It is the only process that imports student code; :func:`grader.worker.serve.serve` is its request loop.
Under bubblewrap the judge forks workers from a pre-imported template instead (:mod:`grader.worker.template`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from grader.worker.serve import serve

if __name__ == "__main__":
    serve(Path(sys.argv[1]).resolve())
