"""``cnn-grader release OUT``: the student bundle, what students receive (and GitHub Classroom's template).

The bundle holds ``exercises/`` (the stubs and notebook, rendered from the contract), the grader package
without its instructor-only parts (:data:`~grader.packaging.sources.INSTRUCTOR_ONLY`), a ``pyproject.toml``
that installs it with its pytest plugin, a ``pytest.ini`` that makes a plain ``pytest`` grade
``exercises/``, a README for students and ``.github/workflows/classroom.yml``. It holds no solution, no
reference code and nothing of the hidden tier; ``tests/test_packaging.py`` searches it to prove that.
"""

from __future__ import annotations

from pathlib import Path

from grader import coursepkg, notebookgen, stubgen
from grader.packaging.sources import (
    COURSE_FILE,
    COURSE_INSTRUCTOR_ONLY,
    GRADER_DIR,
    INSTRUCTOR_ONLY,
    PUBLIC_PACKAGE_DATA,
    copy_package,
    course_dir,
    pyproject,
    render,
    torch_pins,
)

DESCRIPTION = "Exercises of the CNN course and their public checks"


def bundle_files() -> dict[str, str]:
    """Relative path -> text of every file the bundle holds besides the grader package."""
    files = {f"exercises/{name}": text for name, text in stubgen.render_all().items()}
    files[f"exercises/{coursepkg.notebook_name()}"] = notebookgen.rendered_text("exercises")
    files["pyproject.toml"] = pyproject(DESCRIPTION, ("grader*", "course*"), PUBLIC_PACKAGE_DATA)
    files["pytest.ini"] = render("pytest.ini")
    files["README.md"] = render(course_dir() / "README-students.md", TORCH_PINS=torch_pins())
    files[".gitignore"] = render("gitignore")
    files[".github/workflows/classroom.yml"] = render("classroom.yml", TORCH_PINS=torch_pins())
    return files


def build_release(out: Path, course_config: str | None = None) -> Path:
    """Write the student bundle into ``out`` (a new or empty folder) and return it; ``course_config`` (a course
    configuration's text) goes beside the checks, where a student's grading finds it."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; the bundle goes into a new or empty folder")
    copy_package(GRADER_DIR, out / "grader", exclude=INSTRUCTOR_ONLY)
    copy_package(course_dir(), out / "course", exclude=COURSE_INSTRUCTOR_ONLY)
    for relative, text in bundle_files().items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_text(text)
    if course_config is not None:
        (out / COURSE_FILE).write_text(course_config, encoding="utf-8")
    return out
