"""The HTML reports as a real browser renders them: headless Chromium loads every image, nothing overflows.

Pages are built from synthetic reports and evidence (nothing is graded), so the module runs in seconds.
Skipped where Debian's chromium / chromium-driver or selenium are missing.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from grader.batch import summary
from grader.judge.evidence import Evidence
from grader.report import browser, html, overlay
from grader.results import CheckResult, GradeReport

if TYPE_CHECKING:
    from selenium.webdriver import Chrome

WIDTHS = (1200, 420)
HIDDEN_MESSAGE = "expected 0.8312 at index 17, the hidden test set says so"
HUGE_TOKEN = "tensor(" + "9" * 3000 + ")"


def _check(name: str, points: float, status: str = "passed", message: str = "", **extra) -> CheckResult:
    got = points if status == "passed" else 0.0
    return CheckResult(name, got, points, status, message, **extra)  # type: ignore[arg-type]


def synthetic_report(submission: str = "cnn_exercises.ipynb") -> GradeReport:
    """Checks in all five groups, passed and failed with realistic messages, one huge and one hidden."""
    checks = [
        _check("shapes/conv_output_size", 4),
        _check(
            "shapes/count_parameters",
            4,
            "failed",
            "count_parameters(nn.Conv2d(3, 8, 3)) returned 216, expected 224.\n"
            'Traceback (most recent call last):\n  File "cnn_exercises.py", line 42, in count_parameters\n'
            "    return sum(p.numel() for p in model.parameters() if p.dim() > 1)",
            hint="biases are parameters too",
        ),
        _check("shapes/linear_params", 2, "failed", f"your print output:\n{HUGE_TOKEN}"),
        _check("quadrant/forward_ops", 2),
        _check(
            "quadrant/layer_shapes",
            3,
            "failed",
            "after conv2 the activation has shape (8, 16, 26, 26), expected (8, 16, 24, 24).\nDid you add padding=1?",
            hint="no padding in this architecture",
        ),
        _check("robustness/quadrant_net_fails_bottom_right", 2),
        _check(
            "robustness/robust_net_keeps_bottom_right",
            6,
            "failed",
            "RobustQuadrantNet: bottom-right accuracy 0.23, top-left 0.97.\n"
            "A network whose head does not depend on where the digit is keeps at least 0.85 of its accuracy.",
        ),
        _check("gradcam/peak_on_object", 1),
        _check("gradcam/matches_reference", 6, "error", "grader error: reference/ is not installed"),
        _check("gradcam/constant_map", 2, "failed", HIDDEN_MESSAGE, tier="hidden"),
        _check("training/evaluate", 3),
        _check(
            "training/train_one_epoch_updates",
            4,
            "failed",
            "the weights did not change after one epoch.\n  optimizer.step() was never called",
            hint="call optimizer.step() after loss.backward()",
        ),
    ]
    notes = [
        "graded on cpu; the robustness networks were trained by the grader (42 s)",
        "data from /srv/grading/" + "/".join(["cnn_course_2024_winter_semester_section"] * 4) + "/MNIST/raw",
    ]
    return GradeReport(submission, checks, seconds=87.3, notes=notes)


def synthetic_evidence(report: GradeReport) -> Evidence:
    """The three pictured records, from seeded random arrays of the shapes the judge keeps."""
    rng = np.random.default_rng(0)
    evidence = Evidence()
    n = 6
    evidence.add(
        "gradcam:digits",
        "gradcam/matches_reference",
        images=rng.random((n, 56, 56)),
        student=rng.random((n, 56, 56)),
        reference=rng.random((n, 56, 56)),
        labels=rng.integers(0, 10, n),
    )
    for name, check in (
        ("QuadrantNet", "robustness/quadrant_net_fails_bottom_right"),
        ("RobustQuadrantNet", "robustness/robust_net_keeps_bottom_right"),
    ):
        evidence.add(
            f"robustness:{name}",
            check,
            top_left=float(rng.uniform(0.8, 1.0)),
            bottom_right=float(rng.uniform(0.1, 0.9)),
            confusion_bottom_right=rng.integers(0, 60, (10, 10)).astype(np.int64),
            learns=0.7,
        )
    return evidence


def synthetic_rows() -> list[summary.Row]:
    """Six students: graded ones with long names, one unreadable notebook, one timed out."""
    students = [
        ("ada", "graded", None, 81.2),
        ("maximiliana_alexandrovna_konstantinopoulou-wittgenstein_2024", "graded", None, 95.0),
        ("bob.o'brien <script>", "graded", None, 60.4),
        ("Zhang_Wei_with_an_extremely_long_submission_name_from_the_LMS_export", "graded", None, 77.7),
        ("carol", "unreadable", "cnn_exercises.ipynb could not be read: not a notebook (JSON error at 1:1)", 0.1),
        ("dave", "timed out", "grading took longer than 900 s", 900.0),
    ]
    rows = []
    for i, (student, status, reason, seconds) in enumerate(students):
        meta = {
            "student": student,
            "file": f"{student}_cnn_exercises_final_v2_REALLY_final.ipynb",
            "layout": "notebook",
            "status": status,
            "reason": reason,
            "seconds": seconds,
            "host": "grader-1",
        }
        if status == "graded":
            report = synthetic_report(meta["file"])
            report.checks = report.checks[: len(report.checks) - i]
        else:
            report = GradeReport(meta["file"], seconds=seconds, notes=[f"not graded: {reason}"])
        rows.append(summary.Row(student, meta, report))
    return rows


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("pages")
    report = synthetic_report()
    feedback = out / "feedback.html"
    title = "feedback for maximiliana_alexandrovna_konstantinopoulou-wittgenstein_2024_cnn_exercises_final"
    html.write(report, synthetic_evidence(report), feedback, title=title)
    summary_page = out / "summary.html"
    summary_page.write_text(summary.render(synthetic_rows()), encoding="utf-8")
    return {"feedback": feedback, "summary": summary_page}


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chrome]:
    why = browser.unavailable()
    if why:
        pytest.skip(f"no headless browser: {why}")
    chrome = browser.launch(tmp_path_factory.mktemp("chromium"))
    yield chrome
    chrome.quit()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("page", "images"), [("feedback", 12), ("summary", 3)])  # feedback: 6 digits, 2 rows
def test_page_renders(driver: Chrome, pages: dict[str, Path], page: str, images: int, width: int) -> None:
    browser.open_page(driver, pages[page], width)
    assert driver.execute_script("return window.innerWidth") == width
    assert driver.execute_script("return document.images.length") == images
    problems = browser.page_problems(driver)
    assert not problems, f"{page} at {width}px:\n" + "\n".join(problems[:30])


def test_hidden_message_stays_hidden(driver: Chrome, pages: dict[str, Path]) -> None:
    browser.open_page(driver, pages["feedback"], WIDTHS[0])
    text = driver.execute_script("return document.body.innerText")
    assert "gradcam/constant_map" in text
    assert HIDDEN_MESSAGE not in text
    assert HIDDEN_MESSAGE not in pages["feedback"].read_text()


def test_problems_are_found(driver: Chrome, tmp_path: Path) -> None:
    """The layout check itself: a broken image, a too-wide box and unbreakable text are all reported."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><body><img src='data:image/png;base64,AAAA' alt='broken'>"
        f"<div id='wide' style='width: 2000px'>wide</div><h1>{'y' * 300}</h1></body></html>"
    )
    browser.open_page(driver, bad, WIDTHS[1])
    problems = "\n".join(browser.page_problems(driver))
    assert "image 0 (broken) did not load" in problems
    assert "div#wide" in problems
    assert "text in body > h1" in problems
    assert "scrollWidth" in problems


def test_confusion_table_lists_every_count_in_its_place() -> None:
    matrix = np.arange(100).reshape(10, 10)
    table = html.confusion_table("QuadrantNet: bottom-right digits", matrix)
    rows = re.findall(r"<tr><th scope='row'>(\d)</th>(.*?)</tr>", table)
    assert [int(row) for row, _ in rows] == list(range(10))
    for row, cells in rows:
        assert [int(c) for c in re.findall(r">(\d+)</td>", cells)] == matrix[int(row)].tolist()
    assert "<caption>QuadrantNet: bottom-right digits</caption>" in table


def test_jet_is_matplotlibs() -> None:
    """The Grad-CAM tiles' colours are matplotlib's "jet" (which looks them up in 256 steps: hence the tolerance)."""
    import matplotlib

    values = np.linspace(-0.2, 1.2, 1401)
    expected = matplotlib.colormaps["jet"](np.clip(values, 0, 1))[:, :3]
    assert np.abs(overlay.jet(values) - expected).max() < 0.02


def test_overlay_blends_the_heat_map_over_the_image() -> None:
    image = np.zeros((4, 4))
    image[0, 0] = 1.0
    heat = np.zeros((4, 4))
    heat[3, 3] = 1.0
    pixels = overlay.overlay(image, heat)
    assert pixels.shape == (4, 4, 3) and pixels.dtype == np.uint8
    assert pixels[1, 1].tolist() == [0, 0, round(255 * overlay.ALPHA * 0.5)]  # black under jet(0): dark blue
    grey = 1 - overlay.ALPHA
    assert pixels[0, 0].tolist() == [round(255 * grey)] * 2 + [round(255 * (grey + overlay.ALPHA * 0.5))]  # white
    assert pixels[3, 3].tolist() == [round(255 * overlay.ALPHA * 0.5), 0, 0]  # black under jet(1): dark red
    import io

    from PIL import Image

    tile = Image.open(io.BytesIO(overlay.overlay_png(image, heat)))
    assert tile.size == (4 * overlay.SCALE, 4 * overlay.SCALE) and tile.mode == "RGB"


def test_gradcam_table_puts_each_map_under_its_digit() -> None:
    rng = np.random.default_rng(1)
    images, student, reference = rng.random((3, 3, 8, 8))
    table = html.gradcam_table(images, student, reference, [7, 2, 1])
    assert re.findall(r"<th scope='col'>digit (\d)</th>", table) == ["7", "2", "1"]
    alts = re.findall(r"alt='([^']*)'", table)
    assert alts == [f"{row}: Grad-CAM of digit {d}" for row in ("yours", "reference") for d in (7, 2, 1)]
    first = re.search(r"src='data:image/png;base64,([^']*)'", table).group(1)
    assert base64.b64decode(first) == overlay.overlay_png(images[0], student[0])


def test_accuracy_table_lists_each_networks_accuracies() -> None:
    table = html.accuracy_table({"QuadrantNet": (0.97, 0.12), "RobustQuadrantNet": (0.6, float("nan"))})
    rows = re.findall(r"<tr><th scope='row'>(\w+)</th>(.*?)</tr>", table)
    assert [name for name, _ in rows] == ["QuadrantNet", "RobustQuadrantNet"]
    assert re.findall(r">(\d\.\d{3})<", rows[0][1]) == ["0.970", "0.120"]
    assert re.findall(r">(\d\.\d{3}|nan)<", rows[1][1]) == ["0.600", "nan"]
    assert "nan%" not in table, "a value that is not a number draws no bar"


def test_robustness_sentence_states_the_courses_bar() -> None:
    """The page names the bar the grading used (a course may set its own), not the default."""
    report = synthetic_report()
    evidence = synthetic_evidence(report)
    for record in evidence.records.values():
        if "learns" in record.arrays:
            record.arrays["learns"] = np.float64(0.55)
    page = html.render(report, evidence)
    assert "a network must reach 0.55 top-left" in page and "(below" not in page
