"""The wire format: round trips, and everything malformed or executable is refused."""

from __future__ import annotations

import io
import json
import pickle
import struct

import numpy as np
import pytest
import torch

from grader import protocol
from grader.worker.observe import observe

pytestmark = pytest.mark.usefixtures("engine_course")  # the engine's own course


def frames(header: bytes, blob: bytes = b"") -> bytes:
    return struct.pack(">Q", len(header)) + header + struct.pack(">Q", len(blob)) + blob


def test_round_trip_with_arrays_and_special_floats() -> None:
    message = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "nested": [{"b": np.array([True])}],
        "x": float("nan"),
    }
    back = protocol.read_message(io.BytesIO(protocol.pack(message)))
    np.testing.assert_array_equal(back["a"], message["a"])
    assert back["nested"][0]["b"].dtype == np.bool_
    assert np.isnan(back["x"])


def test_incremental_reader_matches_blocking_reader() -> None:
    data = protocol.pack({"k": np.ones(1000)})
    reader = protocol.FrameReader()
    results = [reader.feed(data[i : i + 100]) for i in range(0, len(data), 100)]
    assert all(r is None for r in results[:-1]) and results[-1]["k"].sum() == 1000


def test_object_arrays_are_refused_so_nothing_is_unpickled() -> None:
    buffer = io.BytesIO()
    np.savez(buffer, a=np.array([object()], dtype=object))
    header = json.dumps({"v": {"$array": "a"}}).encode()
    with pytest.raises(protocol.ProtocolError):
        protocol.read_message(io.BytesIO(frames(header, buffer.getvalue())))


def test_a_pickle_in_place_of_the_archive_is_refused() -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.read_message(io.BytesIO(frames(b"{}", pickle.dumps({"x": 1}))))


@pytest.mark.parametrize(
    "header",
    [b"not json", b"[1, 2]", json.dumps({"v": {"$array": "missing"}}).encode(), b'{"v": {"$float": "1e999"}}'],
)
def test_malformed_headers_are_refused(header: bytes) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.read_message(io.BytesIO(frames(header)))


def test_oversized_frames_are_refused_before_reading_them() -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.FrameReader().feed(struct.pack(">Q", protocol.MAX_JSON_BYTES + 1))


def test_trailing_bytes_are_a_violation() -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.FrameReader().feed(protocol.pack({}) + b"x")


class RiggedInt(int):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__


class Anything:
    def __eq__(self, other: object) -> bool:
        return True

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def test_observations_are_plain_data() -> None:
    assert observe(RiggedInt(3)) == {"kind": "int", "value": 3, "type": "RiggedInt"}
    assert type(observe(RiggedInt(3))["value"]) is int
    other = observe(Anything())
    assert other["kind"] == "other" and "Anything" in other["repr"]
    tensor = observe(torch.ones(2, 3, requires_grad=True))
    assert tensor["shape"] == [2, 3] and tensor["requires_grad"] and isinstance(tensor["array"], np.ndarray)
    assert observe(float("inf"))["value"] == "inf"
    assert observe({"loss": torch.tensor(0.5)})["items"]["loss"]["kind"] == "tensor"
    # every observation survives the wire format
    protocol.read_message(io.BytesIO(protocol.pack({"o": [observe(v) for v in (RiggedInt(1), Anything(), 1.5)]})))
