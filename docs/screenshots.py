"""Full-page screenshots of a batch's HTML reports, for the docs.

    python docs/screenshots.py OUT_DIR [--width 1000] [--students 3] [--dest docs/img] [--notebook FOLDER]

``OUT_DIR`` is the output folder of ``cnn-grader batch`` (``summary.html`` and ``students/<student>/feedback.html``).
Writes ``summary.png`` and ``feedback-<student>.png`` for the first few students (in name order) with the
same headless Chromium as ``tests/test_html_render.py`` (Debian's ``chromium`` and ``chromium-driver``).
``--notebook FOLDER`` also writes ``notebook-check.png``: what a notebook cell ``grader.check(GROUP)`` shows
for the names the modules in FOLDER define (``--group``, default gradcam), as the kernel would hand them over.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from grader.report import browser

DOCS = Path(__file__).resolve().parent


def pages(out: Path, students: int) -> list[tuple[Path, str]]:
    """(HTML file, PNG name) pairs: the summary, then the first ``students`` feedback pages."""
    found = [(out / "summary.html", "summary.png")] if (out / "summary.html").is_file() else []
    feedback = sorted(p for p in out.glob("students/*/feedback.html") if p.is_file())
    for path in feedback[:students]:
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", path.parent.name)
        found.append((path, f"feedback-{name}.png"))
    return found


def notebook_page(folder: Path, group: str, tmp: Path) -> Path:
    """An HTML page holding what ``grader.check(group)`` shows in a notebook for the modules in ``folder``."""
    import importlib.util

    from grader import kernel_check

    names: dict = {}
    sys.path.insert(0, str(folder))
    try:
        for path in sorted(folder.glob("*.py")):
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            names.update({k: v for k, v in vars(module).items() if not k.startswith("_")})
    finally:
        sys.path.remove(str(folder))
    shown = kernel_check.check(group, namespace=names)
    page = tmp / "notebook-check.html"
    page.write_text(f"<!doctype html><html><body style='font-family:sans-serif'>{shown._repr_html_()}</body></html>")
    return page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out", type=Path, help="output folder of `cnn-grader batch`")
    parser.add_argument("--width", type=int, default=1000, help="window width in pixels (default 1000)")
    parser.add_argument("--students", type=int, default=3, help="how many feedback pages (default 3)")
    parser.add_argument("--dest", type=Path, default=DOCS / "img", help="where the PNGs go (default docs/img)")
    parser.add_argument("--notebook", type=Path, help="modules whose grader.check page to show (notebook-check.png)")
    parser.add_argument("--group", default="gradcam", help="the group grader.check is asked for (default gradcam)")
    args = parser.parse_args(argv)

    why = browser.unavailable()
    if why:
        print(f"error: no headless browser: {why}", file=sys.stderr)
        return 2
    todo = pages(args.out, args.students)
    if not todo:
        print(f"error: no summary.html or students/*/feedback.html in {args.out}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="cnn-grader-screenshots-") as tmp:
        driver = browser.launch(Path(tmp), width=args.width)
        try:
            if args.notebook:
                todo.append((notebook_page(args.notebook.resolve(), args.group, Path(tmp)), "notebook-check.png"))
            for path, png in todo:
                browser.screenshot(driver, path, args.dest / png, args.width)
                print(args.dest / png)
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
