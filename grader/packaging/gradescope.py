"""``cnn-grader gradescope ZIP``: a Gradescope autograder that grades with every tier.

The zip holds ``setup.sh`` and ``run_autograder`` (templates in ``templates/``) and ``grader-src/``: the
full grader (``grader``, ``course``, ``reference``, ``hidden_checks``) with a ``pyproject.toml``, which ``setup.sh``
installs with torch (CPU) and MNIST. ``run_autograder`` runs :mod:`grader.packaging.autograder`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from grader.packaging.sources import (
    COURSE_FILE,
    GRADER_DIR,
    PUBLIC_PACKAGE_DATA,
    course_dir,
    package_dir,
    package_files,
    pyproject,
    render,
    torch_pins,
)

DESCRIPTION = "The CNN course's grader with every tier (Gradescope autograder)"
PACKAGES = ("grader", "course", "reference", "hidden_checks")
EXECUTABLE = 0o100755 << 16  # a regular file, rwxr-xr-x, in a zip entry's external attributes
REGULAR = 0o100644 << 16


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = EXECUTABLE if executable else REGULAR
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_autograder(zip_path: Path, course_config: str | None = None) -> Path:
    """Write the autograder zip to ``zip_path`` and return it (needs the hidden tier installed here).

    ``course_config`` (a course configuration's text) goes beside the checks, where the grading finds it.
    """
    roots = {name: GRADER_DIR if name == "grader" else package_dir(name) for name in PACKAGES if name != "course"}
    roots["course"] = course_dir()
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w") as archive:
        _add(archive, "setup.sh", render("setup.sh", TORCH_PINS=torch_pins()).encode(), executable=True)
        _add(archive, "run_autograder", render("run_autograder").encode(), executable=True)
        package_data = (*PUBLIC_PACKAGE_DATA, "packaging/templates/*")
        project = pyproject(DESCRIPTION, tuple(f"{name}*" for name in PACKAGES), package_data)
        _add(archive, "grader-src/pyproject.toml", project.encode())
        for name, root in roots.items():
            for relative, path in package_files(root).items():
                if f"{name}/{relative}" != COURSE_FILE or course_config is None:
                    _add(archive, f"grader-src/{name}/{relative}", path.read_bytes())
        if course_config is not None:
            _add(archive, f"grader-src/{COURSE_FILE}", course_config.encode())
    return zip_path
