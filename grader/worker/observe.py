"""Turn whatever student code returned into a plain, size-bounded observation.

The worker never sends student objects: an int becomes ``{"kind": "int", "value": 3}``, a tensor becomes
its dtype, shape and a numpy copy, and anything unexpected becomes its type name and a short repr. The
judge decides what is acceptable; a subclass with a rigged ``__eq__`` arrives as a plain number or as
``kind: "other"``.
"""

from __future__ import annotations

import math
import numbers
import reprlib
from typing import Any

import numpy as np
import torch

MAX_ITEMS = 1000
MAX_ELEMENTS = 20_000_000
_repr = reprlib.Repr()
_repr.maxstring = 120
_repr.maxother = 120


def safe_repr(value: Any) -> str:
    try:
        return _repr.repr(value)[:200]
    except Exception as exc:  # noqa: BLE001 - student objects may raise anything from __repr__
        return f"<unprintable {type(value).__name__}: {type(exc).__name__}>"


def _float(value: float) -> Any:
    return value if math.isfinite(value) else repr(value)


def observe(value: Any, depth: int = 0) -> dict[str, Any]:
    """Describe ``value`` as JSON-ready data (tensors and arrays as numpy arrays)."""
    type_name = type(value).__qualname__
    if depth > 4:
        return {"kind": "other", "type": type_name, "repr": "<nested too deep>"}
    if value is None:
        return {"kind": "none"}
    if isinstance(value, bool | np.bool_):
        return {"kind": "bool", "value": bool(value), "type": type_name}
    if isinstance(value, torch.Tensor):
        return _tensor(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf" or value.size > MAX_ELEMENTS:
            return {"kind": "other", "type": f"ndarray[{value.dtype}]", "repr": f"shape {value.shape}"}
        return {
            "kind": "ndarray",
            "dtype": str(value.dtype),
            "shape": list(value.shape),
            "array": value.copy(),
        }
    if isinstance(value, numbers.Integral):
        return {"kind": "int", "value": int(value), "type": type_name}
    if isinstance(value, numbers.Real):
        return {"kind": "float", "value": _float(float(value)), "type": type_name}
    if isinstance(value, dict):
        items = list(value.items())[:MAX_ITEMS]
        return {
            "kind": "dict",
            "items": {k if isinstance(k, str) else safe_repr(k): observe(v, depth + 1) for k, v in items},
        }
    if isinstance(value, list | tuple):
        kind = "list" if isinstance(value, list) else "tuple"
        return {"kind": kind, "items": [observe(v, depth + 1) for v in list(value)[:MAX_ITEMS]]}
    return {"kind": "other", "type": type_name, "repr": safe_repr(value)}


def _tensor(value: torch.Tensor) -> dict[str, Any]:
    described = {
        "kind": "tensor",
        "dtype": str(value.dtype).removeprefix("torch."),
        "shape": list(value.shape),
        "device": value.device.type,
        "requires_grad": bool(value.requires_grad),
        "type": type(value).__qualname__,
    }
    if value.numel() > MAX_ELEMENTS:
        return {**described, "array": None, "note": f"{value.numel()} elements, too large to send"}
    data = torch.Tensor.detach(value).cpu()
    if data.dtype in (torch.bfloat16, torch.float16):
        data = data.float()
    if data.is_complex() or data.layout != torch.strided:
        return {**described, "array": None, "note": "complex or sparse tensor"}
    return {**described, "array": data.contiguous().numpy().copy()}
