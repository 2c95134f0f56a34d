"""The worker's request loop: :func:`serve` answers the judge's requests about one submission until EOF.

Run by ``python -m grader.worker SUBMISSION_DIR`` (a fresh process) or in a process forked from the worker
template (:mod:`grader.worker.template`), which has made the :func:`preload` imports already. It speaks the
protocol of :mod:`grader.protocol` on private duplicates of its stdin/stdout; the real fd 0 reads from
/dev/null (so ``input()`` ends) and fd 1 is pointed at stderr (so student ``print`` cannot corrupt the
protocol). Each request names an op in :mod:`grader.worker.ops`; the reply carries its observations or the
exception student code raised.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, BinaryIO

NETWORKS_ENV = "CNN_GRADER_PRELOAD_NETWORKS"  # "1": the grading exports networks or builds optimizers


def preload() -> None:
    """Import what the worker needs before any student code runs (the template does this once), the course's
    worker operations included.

    torch first, so a student torch.py cannot shadow it. Where the grading will export networks or build
    optimizers (``$CNN_GRADER_PRELOAD_NETWORKS``: a whole grading, not ``-k shapes``), torch._dynamo too,
    which torch.export and torch.optim load on first use (about 1.2 s): paid here, while the judge starts.
    """
    from grader import collector

    with collector.paused():  # and frozen after: a forked worker's collections skip the template's imports
        import torch  # noqa: F401

        if os.environ.get(NETWORKS_ENV) == "1":
            import torch._dynamo  # noqa: F401

            import grader.netgraph  # noqa: F401 - the export's own check of what it traced (grader/netexport.py)

        import grader.protocol  # noqa: F401
        import grader.worker.audit  # noqa: F401
        import grader.worker.ops

        grader.worker.ops.load_course_ops()  # the course's own operations (trusted: before the audit hook)


def _private_channels() -> tuple[BinaryIO, BinaryIO]:
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return proto_in, proto_out


def _reset_global_state() -> None:
    """Undo global torch settings a previous request may have changed."""
    import torch

    torch.set_default_dtype(torch.float32)
    torch.set_default_device(None)
    torch.set_grad_enabled(True)
    torch.manual_seed(0)


def serve(submission: Path) -> None:
    """Greet the judge on fd 1, then answer requests from fd 0 until it closes."""
    proto_in, proto_out = _private_channels()
    preload()

    from grader.protocol import read_message, write_message
    from grader.worker import audit
    from grader.worker.ops import OPS, MissingName, describe_exception

    audit.install(str(submission))  # after the grader's own imports, before any student code
    sys.path.insert(0, str(submission))
    write_message(proto_out, {"ready": True, "pid": os.getpid()})
    while True:
        try:
            request = read_message(proto_in)
        except EOFError:
            return
        reply: dict[str, Any]
        try:
            _reset_global_state()
            reply = {"ok": True, **OPS[request["op"]](request)}
        except MissingName as exc:
            reply = {"ok": False, "error": {"type": "MissingName", "message": str(exc)}}
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are reported too
            reply = {"ok": False, "error": describe_exception(exc)}
        reply["id"], reply["nonce"] = request.get("id"), request.get("nonce")
        try:
            write_message(proto_out, reply)
        except ValueError as exc:  # e.g. a non-JSON value in an observation
            error = {"type": "ProtocolError", "message": str(exc)}
            write_message(proto_out, {"id": reply["id"], "nonce": reply["nonce"], "ok": False, "error": error})
