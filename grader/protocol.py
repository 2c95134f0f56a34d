"""The judge/worker wire format: plain JSON plus numpy arrays, never pickle.

A message is two length-prefixed frames: a UTF-8 JSON object, then an ``.npz`` archive (possibly empty).
Inside the JSON, ``{"$array": "<name>"}`` stands for the array of that name in the archive. The reader
loads the archive with ``allow_pickle=False`` and only accepts numeric and boolean arrays, so nothing a
worker sends can execute code in the judge.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile
from typing import Any, BinaryIO

import numpy as np

MAX_JSON_BYTES = 16 * 2**20
MAX_BLOB_BYTES = 512 * 2**20
_LENGTH = struct.Struct(">Q")
_ALLOWED_KINDS = frozenset("biuf")  # bool, signed, unsigned, float


class ProtocolError(Exception):
    """A message that is malformed, too large, or not allowed (the reader fails closed)."""


def pack(message: dict[str, Any]) -> bytes:
    """Serialise ``message``; numpy arrays anywhere inside become ``$array`` references."""
    arrays: dict[str, np.ndarray] = {}

    def lift(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            name = f"a{len(arrays)}"
            arrays[name] = value
            return {"$array": name}
        if isinstance(value, dict):
            return {str(k): lift(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [lift(v) for v in value]
        if isinstance(value, float) and not math.isfinite(value):
            return {"$float": repr(value)}
        return value

    header = json.dumps(lift(message), allow_nan=False).encode()
    blob = b""
    if arrays:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        blob = buffer.getvalue()
    return _LENGTH.pack(len(header)) + header + _LENGTH.pack(len(blob)) + blob


def unpack(header: bytes, blob: bytes) -> dict[str, Any]:
    """Inverse of :func:`pack` for the two frames' payloads; raises :class:`ProtocolError`."""
    try:
        message = json.loads(header.decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError(f"header is not JSON: {type(exc).__name__}") from None
    if not isinstance(message, dict):
        raise ProtocolError("header is not a JSON object")
    arrays: dict[str, np.ndarray] = {}
    if blob:
        _check_archive(blob)
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        except Exception as exc:  # noqa: BLE001 - any failure to parse is a protocol violation
            raise ProtocolError(f"array archive unreadable: {exc}") from None
    for name, array in arrays.items():
        if array.dtype.kind not in _ALLOWED_KINDS:
            raise ProtocolError(f"array {name} has dtype {array.dtype}, only numbers are accepted")

    def lower(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"$array"}:
                try:
                    return arrays[value["$array"]]
                except (KeyError, TypeError):
                    raise ProtocolError(f"reference to a missing array {value['$array']!r}") from None
            if set(value) == {"$float"}:
                if value["$float"] not in ("nan", "inf", "-inf"):
                    raise ProtocolError(f"bad special float {value['$float']!r}")
                return float(value["$float"])
            return {k: lower(v) for k, v in value.items()}
        if isinstance(value, list):
            return [lower(v) for v in value]
        return value

    try:
        return lower(message)
    except RecursionError:
        raise ProtocolError("message nested too deeply") from None


def _check_archive(blob: bytes) -> None:
    """Refuse archives whose members are compressed or expand beyond the frame limit (zip bombs)."""
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise ProtocolError(f"array archive unreadable: {exc}") from None
    if any(m.compress_type != zipfile.ZIP_STORED for m in members):
        raise ProtocolError("array archive members must be stored, not compressed")
    if sum(m.file_size for m in members) > MAX_BLOB_BYTES:
        raise ProtocolError("array archive expands beyond the frame limit")


def write_message(stream: BinaryIO, message: dict[str, Any]) -> None:
    """Write one message and flush."""
    stream.write(pack(message))
    stream.flush()


def read_exactly(stream: BinaryIO, n: int) -> bytes:
    """Read ``n`` bytes from a blocking stream; EOFError if it ends first."""
    chunks, remaining = [], n
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise EOFError("stream closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_message(stream: BinaryIO) -> dict[str, Any]:
    """Read one message from a blocking stream (the worker's side); EOFError at end of stream."""
    header = read_exactly(stream, _read_length(read_exactly(stream, 8), MAX_JSON_BYTES))
    blob = read_exactly(stream, _read_length(read_exactly(stream, 8), MAX_BLOB_BYTES))
    return unpack(header, blob)


def _read_length(raw: bytes, limit: int) -> int:
    (length,) = _LENGTH.unpack(raw)
    if length > limit:
        raise ProtocolError(f"frame of {length} bytes exceeds the limit of {limit}")
    return length


class FrameReader:
    """Incremental parser for the judge: feed bytes as they arrive, get whole messages out."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> dict[str, Any] | None:
        """Add ``data``; return a message once one is complete (extra bytes are a protocol error)."""
        self._buffer += data
        if len(self._buffer) < 8:
            return None
        n_header = _read_length(bytes(self._buffer[:8]), MAX_JSON_BYTES)
        if len(self._buffer) < 16 + n_header:
            return None
        n_blob = _read_length(bytes(self._buffer[8 + n_header : 16 + n_header]), MAX_BLOB_BYTES)
        end = 16 + n_header + n_blob
        if len(self._buffer) < end:
            return None
        if len(self._buffer) > end:
            raise ProtocolError("unexpected bytes after a message")
        header = bytes(self._buffer[8 : 8 + n_header])
        blob = bytes(self._buffer[16 + n_header : end])
        self._buffer.clear()
        return unpack(header, blob)
