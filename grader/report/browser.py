"""Headless Chromium driven by selenium, to look at the HTML reports as a browser renders them.

Uses Debian's ``chromium`` and ``chromium-driver`` packages at fixed paths; the driver path is always given,
so selenium-manager never looks anything up or downloads a browser. Shared by ``tests/test_html_render.py``
(layout checks) and ``docs/screenshots.py`` (pictures for the docs).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selenium.webdriver import Chrome

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# Everything a reader could notice: images that did not load or are wider than the window, a page that
# scrolls sideways, and the elements or text that reach past the window's right edge (the cause, not the
# symptom: text spilling out of its box does not show in the box's bounds).
PROBLEMS_JS = """
const view = document.documentElement.clientWidth;
const problems = [];
const describe = (el) => {
  let text = el.tagName.toLowerCase();
  if (el.id) text += '#' + el.id;
  if (el.className && typeof el.className === 'string') text += '.' + el.className.trim().split(/\\s+/).join('.');
  const parent = el.parentElement ? el.parentElement.tagName.toLowerCase() + ' > ' : '';
  return parent + text + ' "' + (el.textContent || el.alt || '').trim().slice(0, 40) + '"';
};
document.querySelectorAll('img').forEach((img, i) => {
  if (!img.complete || img.naturalWidth === 0) problems.push(`image ${i} (${img.alt}) did not load`);
  const width = img.getBoundingClientRect().width;
  if (width > view + 0.5) problems.push(`image ${i} (${img.alt}) is ${width}px wide, viewport ${view}px`);
});
const scroll = document.documentElement.scrollWidth;
if (scroll > view) problems.push(`document scrollWidth ${scroll}px > viewport ${view}px`);
document.querySelectorAll('body, body *').forEach((el) => {
  const right = el.getBoundingClientRect().right + window.scrollX;
  if (right > view + 0.5) problems.push(`${describe(el)} reaches ${Math.round(right)}px > viewport ${view}px`);
});
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const range = document.createRange();
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  range.selectNodeContents(node);
  const right = range.getBoundingClientRect().right + window.scrollX;
  if (right > view + 0.5) {
    problems.push(`text in ${describe(node.parentElement)} reaches ${Math.round(right)}px > viewport ${view}px`);
  }
}
return problems;
"""


def unavailable() -> str | None:
    """Why no browser can be launched here (None when one can)."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.is_file():
            return f"{path} is missing (Debian package {package})"
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


def launch(tmpdir: Path, width: int = 1200, height: int = 900) -> Chrome:
    """A headless Chromium with a fresh profile under ``tmpdir`` and a ``width`` x ``height`` viewport."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ARGS:
        options.add_argument(arg)
    profile = Path(tmpdir) / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    _resize(driver, width, height)
    return driver


def _resize(driver: Chrome, width: int, height: int) -> None:
    """Make the viewport (not the window, which may count browser UI) ``width`` x ``height`` pixels."""
    driver.set_window_size(width, height)
    inner_width, inner_height = driver.execute_script("return [innerWidth, innerHeight]")
    if (inner_width, inner_height) != (width, height):
        driver.set_window_size(2 * width - inner_width, 2 * height - inner_height)


def open_page(driver: Chrome, path: Path, width: int, height: int = 900) -> None:
    """Load the file at ``path`` in a ``width`` x ``height`` viewport (returns once its images have loaded)."""
    _resize(driver, width, height)
    driver.get(Path(path).resolve().as_uri())


def page_problems(driver: Chrome) -> list[str]:
    """What is wrong with the layout of the loaded page: images not loaded or too wide, horizontal overflow."""
    return list(driver.execute_script(PROBLEMS_JS))


def screenshot(driver: Chrome, path: Path, dest: Path, width: int) -> None:
    """A full-page PNG of the file at ``path``, ``width`` pixels wide, written to ``dest``."""
    open_page(driver, path, width)
    driver.execute_script("document.documentElement.style.overflow = 'hidden'")  # no scrollbar in the picture
    height = driver.execute_script("return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
    _resize(driver, width, height)
    dest.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(dest))
