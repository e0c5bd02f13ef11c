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
        if size >> 29:  # the top 3 bits flag the parts of a split record
            raise RecordIOError(
                f"RecordIO record at byte {at}: continuation records are not supported"
            )
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
        if shift >= 70:
            raise RecordIOError("protobuf varint longer than 10 bytes")


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of a protobuf message: ints, or bytes for types 1, 2, 5."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, at = _varint(data, at)
            yield number, wire, value
            continue
        if wire == 2:
            size, at = _varint(data, at)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
        else:
            raise RecordIOError(f"unsupported protobuf wire type {wire}")
        if at + size > len(data):
            raise RecordIOError(f"protobuf field {number} runs past the end of its message")
        yield number, wire, data[at : at + size]
        at += size


def _bytes_field(number: int, wire: int, value: Any, message: str) -> bytes:
    """A length-delimited field's bytes; any other wire type is not the Record schema."""
    if wire != 2:
        raise RecordIOError(f"field {number} of a {message} has wire type {wire}, not 2")
    payload: bytes = value
    return payload


def _numbers(chunks: list[tuple[int, Any]], dtype: str | None, what: str) -> list[float]:
    """Packed (wire type 2) or unpacked repeated numbers of one field: floats of the dtype,
    or varints (int32, sign-extended) when dtype is None."""
    out: list[float] = []
    for wire, value in chunks:
        if dtype is None:
            for number in _varints(wire, value, what):
                out.append(float(number - (1 << 64) if number >= 1 << 63 else number))
            continue
        width = np.dtype(dtype).itemsize
        if wire not in (2, 1 if width == 8 else 5):
            raise RecordIOError(f"the tensor's {what} have wire type {wire}")
        if len(value) % width:
            raise RecordIOError(f"the tensor holds {len(value)} bytes of {what}")
        out.extend(np.frombuffer(value, dtype=dtype).tolist())
    return out


def _varints(wire: int, value: Any, what: str) -> list[int]:
    """Unsigned varints, packed or one by one."""
    if wire == 0:
        return [value]
    if wire != 2:
        raise RecordIOError(f"the tensor's {what} have wire type {wire}")
    out = []
    at = 0
    while at < len(value):
        number, at = _varint(value, at)
        out.append(number)
    return out


_Tensor = tuple[list[float], list[int], list[int]]
_NAMES = {_FLOAT32_TENSOR: "float32 values", _FLOAT64_TENSOR: "float64 values"}


def _tensor(value_message: bytes) -> _Tensor:
    """(values, keys, shape) of a `Value` message's tensor."""
    for number, wire, payload in _fields(value_message):
        if number in _TENSOR_DTYPES:
            parts: dict[int, list[tuple[int, Any]]] = {1: [], 2: [], 3: []}
            for field, field_wire, chunk in _fields(_bytes_field(number, wire, payload, "Value")):
                if field in parts:
                    parts[field].append((field_wire, chunk))
            keys = [k for wire, chunk in parts[2] for k in _varints(wire, chunk, "keys")]
            shape = [s for wire, chunk in parts[3] for s in _varints(wire, chunk, "shape")]
            values = _numbers(parts[1], _TENSOR_DTYPES[number], _NAMES.get(number, "values"))
            return values, keys, shape
    raise RecordIOError("the Value holds no float32, float64 or int32 tensor")


def _map_entry(entry: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for number, wire, payload in _fields(entry):
        if number == 1:
            try:
                key = _bytes_field(number, wire, payload, "map entry").decode("utf-8")
            except UnicodeDecodeError:
                raise RecordIOError("a Record's map key is not UTF-8") from None
        elif number == 2:
            value = _bytes_field(number, wire, payload, "map entry")
    return key, value


def feature_rows(body: bytes) -> Any:
    """The `values` feature of every record, as a dense float32 array or a CSR matrix.

    Dense when the first record's tensor has no keys (as mlio's reader decides), else sparse
    with the width the records' shape gives. Labels are ignored, as the container ignores them.
    """
    rows: list[_Tensor] = []
    for payload in records(body):
        found = None
        for number, wire, entry in _fields(payload):
            if number == 1:
                name, value = _map_entry(_bytes_field(number, wire, entry, "Record"))
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


_INT64_END = 1 << 63


def _sparse(rows: list[_Tensor]) -> Any:
    from scipy.sparse import csr_matrix

    indptr: list[int] = [0]
    indices: list[int] = []
    values: list[float] = []
    width = 0
    for r, (row_values, keys, shape) in enumerate(rows, start=1):
        _check_sparse(r, row_values, keys, shape)
        indices.extend(keys)
        values.extend(row_values)
        indptr.append(len(indices))
        width = max(width, shape[0] if shape else 0, max(keys, default=-1) + 1)
    return csr_matrix(
        (
            np.asarray(values, dtype=np.float32),
            np.asarray(indices, dtype=np.int64),
            np.asarray(indptr, dtype=np.int64),
        ),
        shape=(len(rows), width),
    )


def _check_sparse(r: int, values: list[float], keys: list[int], shape: list[int]) -> None:
    """Keys that match the values one to one and lie inside the row's shape (and int64)."""
    if len(keys) != len(values):
        raise RecordIOError(f"record {r} has {len(values)} values but {len(keys)} keys")
    if shape and shape[0] >= _INT64_END:
        raise RecordIOError(f"record {r} has a shape of {shape[0]}, beyond int64")
    end = shape[0] if shape else _INT64_END
    outside = next((k for k in keys if k >= end), None)
    if outside is not None:
        where = f"its shape of {end}" if shape else "int64"
        raise RecordIOError(f"record {r} has a sparse key {outside} outside {where}")


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
