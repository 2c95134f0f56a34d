"""The garbage collector around start-up and exit (grader/collector.py): off while imports run, back on after,
what the imports built frozen; and the console script's process ends with everything frozen."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.usefixtures("engine_course")  # the engine's own course


def _run(code: str) -> str:
    """``code`` in a fresh interpreter (freezing is for the whole process: not this test's)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_paused_turns_the_collector_back_on_and_freezes_what_was_built() -> None:
    out = _run(
        """
        import gc
        from grader import collector
        before = gc.get_freeze_count()
        with collector.paused():
            inside = gc.isenabled()
            built = [[i] for i in range(1000)]
        print(inside, gc.isenabled(), gc.get_freeze_count() - before >= 1000)
        """
    )
    assert out == "False True True"


def test_paused_leaves_a_collector_that_was_off_off() -> None:
    out = _run(
        """
        import gc
        from grader import collector
        gc.disable()
        with collector.paused():
            pass
        print(gc.isenabled())
        """
    )
    assert out == "False"


def test_resume_undoes_only_its_own_pause() -> None:
    out = _run(
        """
        import gc
        from grader import collector
        collector.resume()  # nothing paused: nothing to undo
        first = gc.isenabled()
        collector.pause()
        paused = gc.isenabled()
        collector.resume()
        again = gc.isenabled()
        gc.disable()
        collector.pause()  # already off: not this pause's to undo
        collector.resume()
        print(first, paused, again, gc.isenabled())
        """
    )
    assert out == "True False True False"


def test_the_console_script_ends_with_its_exit_code() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from grader.cli import run; run()", "check", "--list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "total" in done.stdout
