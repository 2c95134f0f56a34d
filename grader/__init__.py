"""cnn-grader. In a notebook: ``import grader; grader.check("gradcam")`` (see :mod:`grader.kernel_check`), and
``grader.export()`` to write the zip to hand in (see :mod:`grader.handin`)."""

from __future__ import annotations

import os
from typing import Any

# OpenMP threads that spin while they wait burn the cores a neighbouring grading needs: two trainings side
# by side took 12-13 s each instead of 4 s (bench/train_speed.py). Read once, when torch loads its OpenMP,
# so set here, before any grader module imports torch; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def check(name: str | None = None, **options: Any) -> Any:
    """The public checks ``name`` selects, run on what this notebook's kernel defines; shown inline."""
    from grader.kernel_check import _caller_globals
    from grader.kernel_check import check as run

    options.setdefault("namespace", _caller_globals())
    return run(name, **options)


def export(notebook: str | os.PathLike[str] | None = None, out: str | os.PathLike[str] = "submission.zip") -> Any:
    """Check this notebook's saved work (and the modules beside it) as the autograder reads it and write the zip
    to hand in; shows what it holds. ``notebook`` defaults to the one this kernel runs (save it first)."""
    from pathlib import Path

    from grader.handin import NothingToHandIn, export, notebook_path
    from grader.kernel_check import _caller_globals

    path = Path(notebook) if notebook is not None else notebook_path(_caller_globals())
    if path is None:
        from grader import coursepkg

        raise NothingToHandIn(
            f"cannot tell which notebook this kernel runs: pass it, grader.export({coursepkg.notebook_name()!r})"
        )
    if not path.exists():
        raise NothingToHandIn(f"{path} does not exist: pass the notebook's name as its file is called")
    if path.suffix != ".ipynb":
        return export(path, Path(out))
    # the notebook and the modules beside it (not the folder's subfolders: data, runs, other courses)
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cnn-grader-export-") as tmp:
        for file in [path, *path.parent.glob("*.py")]:
            if file.is_file() and not file.is_symlink():
                shutil.copyfile(file, Path(tmp) / file.name)
        return export(Path(tmp), Path(out))
