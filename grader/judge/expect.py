"""Read observations from the worker as the types the contract promises, or fail with a clear message.

An observation is what :func:`grader.worker.observe.observe` made of a student's return value. These
helpers never trust a claimed type: a tensor must arrive as an array of the stated shape, an int as a
JSON integer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.judge.faults import CheckFailure


def describe(obs: dict[str, Any] | None) -> str:
    if obs is None:
        return "nothing"
    kind = obs.get("kind")
    if kind in ("int", "float", "bool"):
        return f"{obs.get('type', kind)} {obs.get('value')!r}"
    if kind in ("tensor", "ndarray"):
        return f"a {obs.get('dtype')} {kind} of shape {tuple(obs.get('shape', ()))}"
    if kind == "other":
        return f"a {obs.get('type')} object ({obs.get('repr')})"
    if kind == "none":
        return "None"
    return f"a {kind}"


def as_int(obs: dict[str, Any], what: str) -> int:
    if obs.get("kind") != "int" or not isinstance(obs.get("value"), int):
        raise CheckFailure(f"{what} returned {describe(obs)}, expected an int.")
    return obs["value"]


def as_float(obs: dict[str, Any], what: str) -> float:
    if obs.get("kind") in ("int", "float") and isinstance(obs.get("value"), int | float):
        return float(obs["value"])
    if obs.get("kind") == "float" and obs.get("value") in ("nan", "inf", "-inf"):
        raise CheckFailure(f"{what} is {obs['value']}, expected a finite number.")
    if obs.get("kind") == "tensor" and obs.get("shape") in ([], [1]) and obs.get("array") is not None:
        return float(np.asarray(obs["array"]).reshape(-1)[0])
    raise CheckFailure(f"{what} is {describe(obs)}, expected a float.")


def as_array(obs: dict[str, Any], what: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A tensor (or ndarray) observation as a numpy array, optionally of an exact shape."""
    if obs is None or obs.get("kind") not in ("tensor", "ndarray") or not isinstance(obs.get("array"), np.ndarray):
        note = f" ({obs['note']})" if obs and obs.get("note") else ""
        raise CheckFailure(f"{what} returned {describe(obs)}{note}, expected a tensor.")
    array = obs["array"]
    if shape is not None and tuple(array.shape) != tuple(shape):
        raise CheckFailure(f"{what} returned shape {tuple(array.shape)}, expected {tuple(shape)}.")
    return array


def as_list(obs: dict[str, Any], what: str, length: int | None = None) -> list[dict[str, Any]]:
    if obs.get("kind") not in ("list", "tuple"):
        raise CheckFailure(f"{what} returned {describe(obs)}, expected a list.")
    items = obs["items"]
    if length is not None and len(items) != length:
        raise CheckFailure(f"{what} returned {len(items)} items, expected {length}.")
    return items


def as_dict(obs: dict[str, Any], what: str, keys: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    if obs.get("kind") != "dict":
        raise CheckFailure(f"{what} returned {describe(obs)}, expected a dict with keys {list(keys)}.")
    missing = [k for k in keys if k not in obs["items"]]
    if missing:
        raise CheckFailure(f"{what} returned a dict without {missing}; it needs {list(keys)}.")
    return obs["items"]


def close(actual: np.ndarray, expected: np.ndarray, atol: float, what: str, rtol: float = 0.0) -> None:
    """Elementwise agreement; the message gives the worst position and both values."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise CheckFailure(f"{what}: shape {actual.shape}, expected {expected.shape}.")
    if not np.all(np.isfinite(actual)):
        bad = int(np.size(actual) - np.count_nonzero(np.isfinite(actual)))
        raise CheckFailure(f"{what}: {bad} of {actual.size} values are NaN or infinite.")
    error = np.abs(actual - expected) - rtol * np.abs(expected)
    if np.any(error > atol):
        worst = np.unravel_index(int(np.argmax(error)), error.shape)
        raise CheckFailure(
            f"{what}: differs from the expected values at {len(np.argwhere(error > atol))} of {error.size} "
            f"positions; worst at index {tuple(int(i) for i in worst)}: got {actual[worst]:.6g}, "
            f"expected {expected[worst]:.6g} (tolerance {atol:g})."
        )
