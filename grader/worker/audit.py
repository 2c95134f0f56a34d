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

Code the submission compiles at run time (``exec``, ``eval``, ``compile`` of a string) is not a finding in
itself: its source goes to the judge with the ``compile`` event, and the judge scans it exactly as it scans a
file (:func:`grader.judge.tamper.audit_signals`), so ``eval("conv_output_size(28, 5)")`` raises nothing and an
``exec`` of code that patches the grader is flagged at that line. Compiling code that claims a trusted file,
or code too long to hand over, is a finding. Building a code object counts only when it claims a trusted
file: code that the submission builds under its own name (cloudpickle restoring a notebook's functions does
exactly that) is audited whenever it runs, while one posing as a library's would run unseen. While the
worker restores pickled objects the submission's kernel wrote (:func:`loads`), every event counts whoever's
frame raised it (a reduction may hand its payload to a library: ``timeit``, ``runpy``), except imports, code
objects under the submission's own names, and the attributes cloudpickle sets on the functions and classes it
rebuilds (:func:`_owns`).

Each finding is one JSON line (``event``, ``file``, ``line``, and ``source`` for compiled code), written to a
pipe whose write end the judge handed to this process alone, when it happens: what reached the judge cannot be
taken back. A submission can still close or replace that descriptor (nothing inside the student's own process
is unforgeable); the judge sees the pipe close while the worker runs and reports that instead
(:mod:`grader.judge.worker_process`).
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
MAX_SOURCE = 20_000  # characters of compiled source handed to the judge (grader/judge/worker_process.py)

# event -> the standard-library files whose frames pass the operation on for their caller (by name part)
WATCHED: dict[str, tuple[str, ...]] = {
    "sys._getframe": ("inspect.py", "traceback.py:walk_stack"),  # walk_stack hands its caller the frames
    "sys._current_frames": (),
    "sys.settrace": ("threading.py",),
    "sys.setprofile": ("threading.py",),
    "sys.addaudithook": (),
    "gc.get_objects": (),
    "gc.get_referrers": (),
    "gc.get_referents": (),
    "exec": (),  # reported only while pickled objects are restored: elsewhere the compile event shows the code
    "compile": (),  # its source goes to the judge, which scans it as it scans a file
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
    from grader import coursepkg

    roots = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update(site.getsitepackages())
    roots.add(str(Path(grader.__file__).resolve().parent))
    roots.add(str(coursepkg.course_root()))  # the course's own code (its worker operations): trusted as the grader
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


def _passes_on(code: Any, wrappers: tuple[str, ...]) -> bool:
    """Whether a frame running ``code`` passes the operation on for its caller: its file is one of ``wrappers``
    (``"file.py"``, a folder name, or ``"file.py:function"`` for that function only)."""
    filename = code.co_filename
    for wrapper in wrappers:
        name, _, function = wrapper.partition(":")
        if (filename.endswith(os.sep + name) or f"{os.sep}{name}{os.sep}" in filename) and (
            not function or code.co_name == function
        ):
            return True
    return False


_UNPICKLING = [0]  # > 0 while loads() runs


def loads(data: bytes) -> Any:
    """Restore objects that the submission's kernel pickled; every event their reductions raise counts, whichever
    frame raised it (a reduction may call a library that compiles and runs the payload: timeit, runpy)."""
    _UNPICKLING[0] += 1
    try:
        return cloudpickle.loads(data)
    finally:
        _UNPICKLING[0] -= 1


_RESTRICTED = ("object.__getattr__", "object.__setattr__", "object.__delattr__")


def _bound_in_module(cls: type) -> bool:
    """Whether ``cls`` is the class its module names at its qualified name (a library's, or one imported)."""
    module = sys.modules.get(getattr(cls, "__module__", None) or "")
    found: Any = module
    for part in str(getattr(cls, "__qualname__", "")).split("."):
        found = getattr(found, part, None) if found is not None else None
    return found is cls


def _owns(args: tuple, submissions: Callable[[str], bool]) -> bool:
    """Whether an attribute event's object is a function, code or class the submission wrote itself.

    A function or code object is the submission's when its code claims a file of the submission (cloudpickle
    restores a notebook's code as ``<dynamic-code>``). A class is when no module binds it at its qualified name:
    cloudpickle rebuilds a notebook's classes from skeletons, which no module holds, while every library class
    a reduction could rewrite is bound in the module that defines it.
    """
    target = args[0] if args else None
    if isinstance(target, type):
        return not _bound_in_module(target)
    code = getattr(target, "__code__", None) if callable(target) else target
    filename = getattr(code, "co_filename", None)
    return isinstance(filename, str) and submissions(filename)


def _source_text(source: Any) -> str | None:
    """The text of what ``compile`` was given: a string, bytes, or a syntax tree (unparsed); None otherwise."""
    import ast

    if isinstance(source, str):
        return source
    if isinstance(source, bytes | bytearray):
        return bytes(source).decode("utf-8", errors="replace")
    if isinstance(source, ast.AST):
        try:
            return ast.unparse(source)
        except Exception:  # noqa: BLE001 - a tree that cannot be unparsed is reported as such
            return None
    return None


PICKLED = "<objects the notebook's kernel pickled>"  # the file named by findings raised in loads()


def make_hook(write: Callable[[bytes], Any], roots: tuple[str, ...]) -> Callable[[str, tuple], None]:
    """The audit hook: reports each watched event the submission raised through ``write``.

    It never raises (an exception in a hook would fail the audited operation) and ignores the events its
    own work raises.
    """
    getframe = sys._getframe
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
            while frame is not None and wrappers and _passes_on(frame.f_code, wrappers):
                frame = frame.f_back
            if frame is None:
                return
            unpickling = _UNPICKLING[0] > 0
            if unpickling:
                file, line = PICKLED, 0
            elif submissions(frame.f_code.co_filename):
                file, line = frame.f_code.co_filename, frame.f_lineno
            else:
                return
            if event == "code.__new__" and (len(args) < 2 or submissions(str(args[1]))):
                return  # the submission's own code under its own name: audited when it runs
            if unpickling and event in _RESTRICTED and _owns(args, submissions):
                return  # cloudpickle restoring one of the submission's own functions (its defaults, its name)
            finding: dict[str, Any] = {"event": event, "file": file, "line": line}
            if not unpickling and event == "exec":
                return  # the code it runs was compiled from a source the judge scans, or built otherwise (audited)
            if not unpickling and event == "compile":
                claimed = str(args[1]) if len(args) > 1 else ""
                if claimed and not submissions(claimed):
                    finding["event"] = "compile as a library"  # code that will run as if it were a library's
                else:
                    text = _source_text(args[0] if args else None)
                    if text is None or len(text) > MAX_SOURCE:
                        finding["event"] = "compile of unreadable code"
                    else:
                        finding["source"] = text  # the judge scans it (grader/judge/tamper.py)
            key = (finding["event"], file, line)
            if key in seen or len(seen) >= MAX_FINDINGS:
                return
            seen.add(key)
            write((json.dumps(finding) + "\n").encode())
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
