"""A damaged zip is the student's to fix: refused with a message, and still given its results.json (score 0)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("engine_course")  # the engine's own course (tests/engine_course)


def bad_crc(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("basics.py", "x = 1\n" * 100)
    data = bytearray(path.read_bytes())
    data[data.find(b"x = 1")] = ord("y")
    path.write_bytes(bytes(data))


def lying_size(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("basics.py", "x = 1\n" * 1000)
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, data.find(b"PK\x03\x04") + 22, 10)  # local header: uncompressed size
    struct.pack_into("<I", data, data.find(b"PK\x01\x02") + 24, 10)  # central directory: the same
    path.write_bytes(bytes(data))


def truncated(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("basics.py", "x = 1\n" * 1000)
    data = path.read_bytes()
    path.write_bytes(data[:-30])


@pytest.mark.parametrize("damage", [bad_crc, lying_size, truncated], ids=lambda f: f.__name__)
def test_a_damaged_zip_gets_a_results_json_and_a_message(tmp_path: Path, damage) -> None:
    archive = tmp_path / "submission.zip"
    damage(archive)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "grader.cli", "grade", str(archive), "--out", str(out), "--tiers", "public"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "INTERNALERROR" not in proc.stdout + proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["score"] == 0
    assert "cannot grade submission.zip" in results["output"]
    assert str(tmp_path) not in results["output"]


def test_an_empty_zip_is_graded_as_an_empty_submission(tmp_path: Path) -> None:
    archive = tmp_path / "empty.zip"
    zipfile.ZipFile(archive, "w").close()
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader.cli",
            "grade",
            str(archive),
            "--out",
            str(out),
            "--tiers",
            "public",
            "-k",
            "matches_conv2d",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert results["score"] == 0 and results["tests"]
