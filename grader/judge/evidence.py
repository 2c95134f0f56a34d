"""Evidence: small arrays the judge keeps while grading, for the pictures of the HTML feedback.

Checks decide, the evidence only illustrates: the student's Grad-CAM next to the reference's on the same
digits, the accuracies and confusion matrices of the student's trained networks. Every record names the
check it illustrates; the HTML report shows a record only when that check is public, so a hidden check's
inputs and expected values never reach a picture.

On disk: one ``.npz`` written by the judge and read back with ``allow_pickle=False``; keys are
``"<record>/<field>"``, and a record's check is stored under ``"<record>/check"``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Record:
    check: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


class Evidence:
    """Named records of arrays, collected during one grading session."""

    def __init__(self) -> None:
        self.records: dict[str, Record] = {}

    def add(self, name: str, check: str, **arrays: np.ndarray | float | list) -> None:
        """Keep ``arrays`` under ``name`` as an illustration of ``check`` (replacing an earlier record)."""
        self.records[name] = Record(check, {k: np.asarray(v) for k, v in arrays.items()})

    def __contains__(self, name: str) -> bool:
        return name in self.records

    def __getitem__(self, name: str) -> dict[str, np.ndarray]:
        return self.records[name].arrays

    def save(self, path: Path) -> None:
        """Write atomically: a reader never sees half a file."""
        flat: dict[str, np.ndarray] = {}
        for name, record in self.records.items():
            flat[f"{name}/check"] = np.asarray(record.check)
            flat.update({f"{name}/{key}": value for key, value in record.arrays.items()})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}.npz")
        np.savez_compressed(tmp, **flat)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Evidence:
        """Read what :meth:`save` wrote; a missing file is empty evidence."""
        evidence = cls()
        if not path.exists():
            return evidence
        with np.load(path, allow_pickle=False) as archive:
            flat = {key: archive[key] for key in archive.files}
        for key in sorted(k for k in flat if k.endswith("/check")):
            name = key[: -len("/check")]
            arrays = {k[len(name) + 1 :]: v for k, v in flat.items() if k.startswith(f"{name}/") and k != key}
            evidence.records[name] = Record(str(flat[key]), arrays)
        return evidence
