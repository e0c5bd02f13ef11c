"""application/x-recordio-protobuf: RecordIO framing around AWS's `Record` protobuf messages.

The format SageMaker's built-in algorithms read and write (aws/sagemaker-containers
v2.8.6.post2 `src/sagemaker_containers/_recordio.py` and `record_pb2.py`):

- each record is the magic 0xCED7230A and the payload length, both little-endian uint32,
  then the payload, zero-padded to a multiple of 4 bytes;
- the payload is a `Record`: `features` (1) and `label` (2) are maps from a name to a
  `Value`, whose `float32_tensor` (2), `float64_tensor` (3) or `int32_tensor` (7) holds
  packed `values` (1), and for sparse rows packed `keys` (2) and `shape` (3).

Only what the XGBoost container uses is here: reading the `values` feature of each record as
one row, and writing label tensors. Written by hand, so no protobuf runtime is needed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

MAGIC = 0xCED7230A
_FLOAT32_TENSOR, _FLOAT64_TENSOR, _INT32_TENSOR = 2, 3, 7
_TENSOR_DTYPES = {_FLOAT32_TENSOR: "<f4", _FLOAT64_TENSOR: "<f8", _INT32_TENSOR: None}


class RecordIOError(ValueError):
    """The bytes are not RecordIO-framed Record messages."""


def records(body: bytes) -> Iterator[bytes]:
    """The payloads of the RecordIO records in a body."""
    at = 0
    while at < len(body):
        if len(body) - at < 8:
            raise RecordIOError(f"truncated RecordIO header at byte {at}")
        magic, size = struct.unpack_from("<II", body, at)
        if magic != MAGIC:
            raise RecordIOError(f"no RecordIO magic at byte {at}")
        size &= (1 << 29) - 1  # the top 3 bits are the continuation flag, 0 for whole records
        start = at + 8
        if start + size > len(body):
            raise RecordIOError(f"RecordIO record at byte {at} runs past the end of the body")
        yield body[start : start + size]
        at = start + ((size + 3) & ~3)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise RecordIOError("truncated protobuf varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of a protobuf message: ints, or bytes for type 2."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 2:
            size, at = _varint(data, at)
            value, at = data[at : at + size], at + size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, at = data[at : at + width], at + width
        else:
            raise RecordIOError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _numbers(chunks: list[tuple[int, Any]], dtype: str | None) -> list[float]:
    """Packed (wire type 2) or unpacked repeated numbers of one field."""
    out: list[float] = []
    for wire, value in chunks:
        if dtype is None:  # int32 / uint64 varints
            if wire == 2:
                at = 0
                while at < len(value):
                    number, at = _varint(value, at)
                    out.append(float(number - (1 << 64) if number >= 1 << 63 else number))
            else:
                out.append(float(value))
        else:
            out.extend(np.frombuffer(value, dtype=dtype).tolist())
    return out


def _tensor(value_message: bytes) -> tuple[list[float], list[float], list[float]]:
    """(values, keys, shape) of a `Value` message's tensor."""
    for number, _wire, payload in _fields(value_message):
        if number in _TENSOR_DTYPES:
            parts: dict[int, list[tuple[int, Any]]] = {1: [], 2: [], 3: []}
            for field, wire, chunk in _fields(payload):
                if field in parts:
                    parts[field].append((wire, chunk))
            return (
                _numbers(parts[1], _TENSOR_DTYPES[number]),
                _numbers(parts[2], None),
                _numbers(parts[3], None),
            )
    raise RecordIOError("the Value holds no float32, float64 or int32 tensor")


def _map_entry(entry: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for number, _wire, payload in _fields(entry):
        if number == 1:
            key = payload.decode("utf-8")
        elif number == 2:
            value = payload
    return key, value


def feature_rows(body: bytes) -> Any:
    """The `values` feature of every record, as a dense float32 array or a CSR matrix.

    Dense when the first record's tensor has no keys (as mlio's reader decides), else sparse
    with the width the records' shape gives. Labels are ignored, as the container ignores them.
    """
    rows: list[tuple[list[float], list[float], list[float]]] = []
    for payload in records(body):
        found = None
        for number, _wire, entry in _fields(payload):
            if number == 1:
                name, value = _map_entry(entry)
                if name == "values":
                    found = _tensor(value)
        if found is None:
            raise RecordIOError(f"record {len(rows) + 1} has no 'values' feature")
        rows.append(found)
    if not rows:
        raise RecordIOError("the body holds no RecordIO records")
    if not rows[0][1]:
        widths = {len(values) for values, _, _ in rows}
        if len(widths) != 1:
            raise RecordIOError("dense records of different lengths")
        return np.asarray([values for values, _, _ in rows], dtype=np.float32)
    return _sparse(rows)


def _sparse(rows: list[tuple[list[float], list[float], list[float]]]) -> Any:
    from scipy.sparse import csr_matrix

    indptr: list[int] = [0]
    indices: list[int] = []
    values: list[float] = []
    width = 0
    for row_values, keys, shape in rows:
        indices.extend(int(k) for k in keys)
        values.extend(row_values)
        indptr.append(len(indices))
        width = max(width, int(shape[0]) if shape else 0, int(max(keys, default=-1)) + 1)
    return csr_matrix(
        (np.asarray(values, dtype=np.float32), np.asarray(indices), np.asarray(indptr)),
        shape=(len(rows), width),
    )


def _key(number: int, wire: int) -> bytes:
    return _encode_varint(number << 3 | wire)


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _encode_varint(len(payload)) + payload


def label_record(label: Mapping[str, Sequence[float]]) -> bytes:
    """A `Record` whose `label` map holds one float32 tensor per name, in the mapping's order."""
    out = bytearray()
    for name, values in label.items():
        packed = np.asarray(values, dtype="<f4").tobytes()
        tensor = _length_delimited(1, packed) if packed else b""
        value = _length_delimited(_FLOAT32_TENSOR, tensor)
        entry = _length_delimited(1, name.encode()) + _length_delimited(2, value)
        out += _length_delimited(2, entry)
    return bytes(out)


def frame(payload: bytes) -> bytes:
    """One RecordIO record around a payload."""
    padding = b"\x00" * (((len(payload) + 3) & ~3) - len(payload))
    return struct.pack("<II", MAGIC, len(payload)) + payload + padding


def dense_feature_records(rows: Any) -> bytes:
    """Records with a float32 `values` feature per row (how a client such as the SDK sends)."""
    out = bytearray()
    for row in np.asarray(rows, dtype="<f4"):
        tensor = _length_delimited(1, row.tobytes())
        value = _length_delimited(_FLOAT32_TENSOR, tensor)
        entry = _length_delimited(1, b"values") + _length_delimited(2, value)
        out += frame(_length_delimited(1, entry))
    return bytes(out)
