"""The sandbox command line: what is mounted, in which order, and what is not."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from grader.judge import sandbox

pytestmark = pytest.mark.usefixtures("engine_course")  # the engine's own course

ROOT = Path(__file__).resolve().parents[1]


def command(tmp_path: Path) -> list[str]:
    for name in ("submission", "inputs", "scratch"):
        (tmp_path / name).mkdir(exist_ok=True)
    return sandbox.bwrap_command(
        ["python", "-m", "grader.worker"],
        submission=tmp_path / "submission",
        inputs=tmp_path / "inputs",
        scratch=tmp_path / "scratch",
        env={"HOME": str(tmp_path / "scratch")},
        limits=sandbox.Limits(),
    )


def mounts(args: list[str], kind: str) -> list[str]:
    return [args[i + 2] for i, a in enumerate(args) if a == kind]


def test_private_tmp_is_mounted_before_anything_under_tmp(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "venv").mkdir()
    monkeypatch.setattr(sandbox, "_readonly_roots", lambda: [tmp_path / "venv", ROOT / "grader"])
    args = command(tmp_path)
    assert str(tmp_path / "venv") in mounts(args, "--ro-bind")
    tmpfs_at = args.index("--tmpfs")
    for i, arg in enumerate(args):
        if arg in ("--bind", "--ro-bind") and args[i + 1].startswith("/tmp/"):
            assert i > tmpfs_at, f"{args[i + 1]} is bound before /tmp becomes a tmpfs, which would hide it"


def test_only_the_worker_package_and_python_are_visible(tmp_path: Path) -> None:
    readonly = mounts(command(tmp_path), "--ro-bind")
    assert str(ROOT / "grader") in readonly
    assert not any(p in (str(ROOT), str(ROOT / "reference"), str(ROOT / "solutions")) for p in readonly)
    assert str(tmp_path / "submission") in readonly and str(tmp_path / "inputs") in readonly
    assert mounts(command(tmp_path), "--bind") == [str(tmp_path / "scratch")]


def test_no_network_and_no_capabilities(tmp_path: Path) -> None:
    args = command(tmp_path)
    assert "--unshare-net" in args and "--die-with-parent" in args and "--clearenv" in args
    assert "--cap-drop" in args


@pytest.mark.skipif(not sandbox.bwrap_works(), reason="bubblewrap is not available here")
def test_the_sandbox_hides_the_reference_and_the_network(tmp_path: Path) -> None:
    import sys

    probe = (
        "import os, socket\n"
        "print(os.path.exists({!r}), os.getuid())\n"
        "try:\n    socket.create_connection(('1.1.1.1', 80), timeout=2); print('net')\n"
        "except OSError:\n    print('no net')\n"
    ).format(str(ROOT / "reference"))
    args = sandbox.bwrap_command(
        [sys.executable, "-c", probe],
        submission=tmp_path,
        inputs=tmp_path,
        scratch=tmp_path,
        env={},
        limits=sandbox.Limits(),
    )
    out = subprocess.run(args, capture_output=True, text=True, timeout=60).stdout.split()
    assert out[0] == "False" and out[-2:] == ["no", "net"]
