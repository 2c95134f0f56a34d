"""Become the grading's unprivileged user, as ``setpriv --reuid=UID --regid=UID --clear-groups --inh-caps=-all
--bounding-set=-all`` does for a plain worker (grader/judge/sandbox.py), in a process forked from the worker
template (grader/worker/template.py), which runs as the sandbox's root with only the capabilities to do this.

The template stays out of its workers' reach (another user: no signal, no ptrace), while each worker gets
the per-session uid, no supplementary groups, no capabilities in any set, and is dumpable again (its own
``/proc/self`` files readable), exactly as a worker started by ``setpriv``. Bubblewrap has set
``no_new_privs`` for the whole sandbox, so no program a worker runs can gain any back.
"""

from __future__ import annotations

import ctypes
import errno
import os

PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def drop_to(uid: int) -> None:
    """Become ``uid`` (and gid ``uid``) with no groups and empty capability sets; raise OSError on any failure."""
    libc = _libc()
    _check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clearing the ambient capabilities")
    for cap in range(64):  # the bounding set, while CAP_SETPCAP is still held
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            if ctypes.get_errno() == errno.EINVAL:  # past the last capability this kernel knows
                break
            _check(-1, f"dropping capability {cap} from the bounding set")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # leaving uid 0 clears the permitted, effective and ambient sets
    header, data = _Header(LINUX_CAPABILITY_VERSION_3, 0), (_Data * 2)()  # all zero: no inheritable either
    _check(libc.capset(ctypes.byref(header), ctypes.byref(data)), "clearing the inheritable capabilities")
    if (os.getuid(), os.geteuid(), os.getgid(), os.getegid()) != (uid, uid, uid, uid) or os.getgroups():
        raise OSError(errno.EPERM, f"could not become uid {uid}")
    # Changing user made the process undumpable (its /proc/self files root's); a worker that setpriv exec'd
    # is dumpable: so is this one (RLIMIT_CORE is 0, and the template, another user, stays out of its reach).
    _check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "making the process dumpable again")
