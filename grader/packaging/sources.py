"""What the packages are made of: the installed grader's files, its requirements, and the templates.

Everything is read from the installed packages (``grader``, ``course``, ``reference``, ``hidden_checks``) and
their metadata, so the packages can be built from a checkout or from any installation of the full grader.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
from pathlib import Path

import grader

DISTRIBUTION = "cnn-grader"
GRADER_DIR = Path(grader.__file__).resolve().parent
TEMPLATES = Path(__file__).resolve().parent / "templates"
# Parts of the grader package that only instructors need: they import reference/ or build the packages.
INSTRUCTOR_ONLY = ("packaging", "batch")
# Parts of the course that only instructors need: they import reference/ to compute the stored values.
COURSE_INSTRUCTOR_ONLY = ("vectors/generate.py", "vectors/__main__.py")
PUBLIC_PACKAGE_DATA = ("py.typed", "checks/pytest.ini", "checks/course.toml")
COURSE_FILE = "grader/checks/course.toml"  # where a bundle or an autograder carries the course configuration
COURSE_DATA = ("*.toml", "*/*.json", "*/*.npz", "*/*.md")  # the course package's files that are not Python
PLACEHOLDER = re.compile(r"@[A-Z_]+@")


def package_dir(name: str) -> Path:
    """The folder of the installed top-level package ``name`` (raises LookupError if it is not installed)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"the package {name!r} is not installed here: build this from the instructor's grader")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def course_dir() -> Path:
    """The folder of the course being packaged (its manifest's: grader/coursepkg.py)."""
    from grader import coursepkg

    return coursepkg.course_root()


def package_files(root: Path, exclude: tuple[str, ...] = ()) -> dict[str, Path]:
    """Relative path -> file of every file under ``root``, without caches and without ``exclude`` (paths)."""
    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        if any(relative == item or relative.startswith(f"{item}/") for item in exclude):
            continue
        files[relative] = path
    return files


def copy_package(root: Path, target: Path, exclude: tuple[str, ...] = ()) -> None:
    """Copy the files of :func:`package_files` into ``target``."""
    for relative, path in package_files(root, exclude).items():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / relative)


def requirements() -> list[str]:
    """The grader's own runtime requirements (no extras), as its installed metadata states them."""
    declared = importlib.metadata.requires(DISTRIBUTION) or []
    return [r for r in declared if "extra ==" not in r]


def torch_pins() -> str:
    """The pinned torch and torchvision requirements, for ``pip install`` from PyTorch's CPU index."""
    pins = [r.replace(" ", "") for r in requirements() if re.match(r"(torch|torchvision)\s*==", r)]
    return " ".join(f'"{pin}"' for pin in pins)


def render(template: str | Path, **values: str) -> str:
    """The template ``template`` (a name in the engine's templates, or a course file's path) with each ``@KEY@``
    replaced by ``values[KEY]`` (all of them)."""
    text = (template if isinstance(template, Path) else TEMPLATES / template).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    left = PLACEHOLDER.findall(text)
    if left:
        raise KeyError(f"{template}: no value for {sorted(set(left))}")
    return text


def pyproject(description: str, packages: tuple[str, ...], package_data: tuple[str, ...]) -> str:
    """A ``pyproject.toml`` for a copy of the grader: same name, version, requirements and entry points."""

    def strings(items: list[str] | tuple[str, ...]) -> str:
        return ", ".join(f'"{item}"' for item in items)

    return render(
        "pyproject.toml.in",
        VERSION=importlib.metadata.version(DISTRIBUTION),
        DESCRIPTION=description,
        DEPENDENCIES="".join(f'    "{r}",\n' for r in requirements()).rstrip("\n"),
        PACKAGES=strings(packages),
        PACKAGE_DATA=strings(package_data),
        COURSE_DATA=strings(COURSE_DATA),
    )
