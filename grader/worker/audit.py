"""The worker's audit hook (PEP 578): run-time reaching into the interpreter, reported to the judge at once.

The judge's static scan (:mod:`grader.judge.tamper`) reads the submission's text; code that builds its
attack at run time (names decoded from bytes, attributes reached through a library's own references)
passes a parser. CPython raises an *audit event* for the operations such an attack needs (another
function's frame, the garbage collector's object graph, ``exec``/``compile``, ``ctypes``, new processes,
a function's code object), whoever spelled them and however. :func:`install` adds a hook, which cannot be
removed, before any student code runs.

Only events raised by the submission count: the Python frame that performed the operation (past the
standard library's thin wrappers, such as ``inspect.currentframe`` or ``ctypes``'s functions) lies in a
file outside the *trusted roots* (code compiled from a string counts as the submission's too, like
``<string>``). The trusted roots are the interpreter's own folders, the grader's, and every ``sys.path``
folder that a module imported before the hook came from (a virtual environment that borrows torch from
the system's site-packages trusts both), never a folder that holds the submission. Libraries that use
frames for their own work (torch, logging, typing) raise the same events from their own files and are
not reported.

Building a code object counts only when it claims a trusted file: code that the submission builds under
its own name (cloudpickle restoring a notebook's functions does exactly that) is audited whenever it
runs, while one posing as a library's would run unseen. While the worker restores pickled objects the
submission's kernel wrote (:func:`unpickling`), every event counts whoever's frame raised it, except
imports: a crafted pickle's reductions run in the worker's own frames.

Each finding is one JSON line (``event``, ``file``, ``line``), written to a pipe whose write end the judge
handed to this process alone, when it happens: what reached the judge cannot be taken back. A submission
can still close or replace that descriptor (nothing inside the student's own process is unforgeable); the
judge sees the pipe close while the worker runs and reports that instead (:mod:`grader.judge.worker_process`).
"""

from __future__ import annotations

import json
import os
import site
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudpickle

ENV_FD = "CNN_GRADER_AUDIT_FD"  # the write end's number, set by the judge
MAX_FINDINGS = 64  # distinct (event, file, line) per worker; more would say nothing new

# event -> the standard-library files whose frames pass the operation on for their caller (by name part)
WATCHED: dict[str, tuple[str, ...]] = {
    "sys._getframe": ("inspect.py",),
    "sys._current_frames": (),
    "sys.settrace": ("threading.py",),
    "sys.setprofile": ("threading.py",),
    "sys.addaudithook": (),
    "gc.get_objects": (),
    "gc.get_referrers": (),
    "gc.get_referents": (),
    "exec": (),
    "compile": (),
    "code.__new__": (),
    "marshal.loads": (),  # code objects from bytes, whatever file they claim
    "marshal.load": (),
    "object.__getattr__": (),  # restricted attributes: a traceback's or generator's frame, a function's code
    "object.__setattr__": (),
    "object.__delattr__": (),
    "os.system": (),
    "os.exec": ("os.py",),
    "os.spawn": ("os.py",),
    "os.posix_spawn": ("os.py", "subprocess.py"),
    "os.fork": ("os.py", "pty.py"),
    "os.forkpty": ("pty.py",),
    "subprocess.Popen": ("subprocess.py", "os.py"),
    "pty.spawn": ("pty.py",),
}
CTYPES = "ctypes."  # every ctypes event, past ctypes' own frames


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def trusted_roots(submission: str | None = None) -> tuple[str, ...]:
    """Folders whose code is not the submission's (each ending in a separator); see the module docstring.

    Call it before any student code is imported: the ``sys.path`` folders it trusts are those the
    modules already in ``sys.modules`` were loaded from.
    """
    import grader

    roots = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update(site.getsitepackages())
    roots.add(str(Path(grader.__file__).resolve().parent))
    entries = [os.path.realpath(e) for e in sys.path if e and os.path.isabs(e) and os.path.isdir(e)]
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and os.path.isabs(file):
            resolved = os.path.realpath(file)
            hosts = [e for e in entries if _inside(resolved, e)]
            if hosts:
                roots.add(max(hosts, key=len))  # the innermost entry: the one it was imported from
    resolved_roots = {os.path.realpath(r) for r in roots if r}
    if submission is not None:  # a folder holding the submission (or inside it) trusts nothing
        sub = os.path.realpath(submission)
        resolved_roots = {r for r in resolved_roots if not _inside(sub, r) and not _inside(r, sub)}
    return tuple(sorted(r.rstrip(os.sep) + os.sep for r in resolved_roots))


def _passes_on(filename: str, wrappers: tuple[str, ...]) -> bool:
    return any(filename.endswith(os.sep + name) or f"{os.sep}{name}{os.sep}" in filename for name in wrappers)


def loads(data: bytes) -> Any:
    """Restore objects that the submission's kernel pickled; every event their reductions raise counts."""
    return cloudpickle.loads(data)


PICKLED = "<objects the notebook's kernel pickled>"  # the file named by findings raised in loads()


def make_hook(write: Callable[[bytes], Any], roots: tuple[str, ...]) -> Callable[[str, tuple], None]:
    """The audit hook: reports each watched event the submission raised through ``write``.

    It never raises (an exception in a hook would fail the audited operation) and ignores the events its
    own work raises.
    """
    getframe = sys._getframe
    unpickler = loads.__code__
    busy = [False]
    seen: set[tuple[str, str, int]] = set()
    verdicts: dict[str, bool] = {}  # filename -> is the submission's

    def submissions(filename: str) -> bool:
        found = verdicts.get(filename)
        if found is None:
            if filename.startswith("<frozen "):
                found = False
            else:
                resolved = os.path.realpath(filename) if os.path.isabs(filename) else filename
                found = not resolved.startswith(roots)
            verdicts[filename] = found
        return found

    def hook(event: str, args: tuple) -> None:
        if busy[0]:
            return
        wrappers = WATCHED.get(event)
        if wrappers is None:
            if not event.startswith(CTYPES):
                return
            wrappers = (f"ctypes{os.sep}__init__.py", "ctypes")
        busy[0] = True
        try:
            frame = getframe(1)
            while frame is not None and wrappers and _passes_on(frame.f_code.co_filename, wrappers):
                frame = frame.f_back
            if frame is None:
                return
            if frame.f_code is unpickler:
                file, line = PICKLED, 0
            elif submissions(frame.f_code.co_filename):
                file, line = frame.f_code.co_filename, frame.f_lineno
            else:
                return
            if event == "code.__new__" and (len(args) < 2 or submissions(str(args[1]))):
                return  # the submission's own code under its own name: audited when it runs
            key = (event, file, line)
            if key in seen or len(seen) >= MAX_FINDINGS:
                return
            seen.add(key)
            write((json.dumps({"event": event, "file": file, "line": line}) + "\n").encode())
        except BaseException:  # noqa: BLE001,S110 - a hook that raises would break the student's operation
            pass
        finally:
            busy[0] = False

    return hook


def install(submission: str | None = None) -> None:
    """Add the hook, writing to the judge's pipe (``$CNN_GRADER_AUDIT_FD``); nothing when there is none."""
    number = os.environ.pop(ENV_FD, "")
    if not number.isdigit():
        return
    fd = int(number)
    try:
        os.set_inheritable(fd, False)  # a program the submission starts gets no write end
    except OSError:
        return
    write = os.write
    sys.addaudithook(make_hook(lambda data: write(fd, data), trusted_roots(submission)))
