"""Whether the device a grading is asked to train on can be used here, asked before anything is graded."""

from __future__ import annotations


def device_problem(device: str) -> str | None:
    """Why ``device`` cannot be used on this machine, or None where it can (``auto`` and ``cpu`` always can).

    ``--device cuda`` on a machine where PyTorch finds no CUDA device is the grader's environment failing, not a
    submission: the grading is refused before it starts (exit 3), instead of every network failing to train.
    """
    if device != "cuda":
        return None
    import torch

    if torch.cuda.is_available():
        return None
    try:
        torch.cuda.init()
        why = "torch.cuda.is_available() is False"
    except Exception as exc:  # noqa: BLE001 - PyTorch says why in many ways (no driver, no device, CPU build)
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"--device cuda, but PyTorch can use no CUDA device on this machine ({why}); grade with --device cpu or auto"
