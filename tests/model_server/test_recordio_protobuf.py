"""The hand-written RecordIO/Record codec against Google's protobuf runtime and AWS's schema.

The schema is AWS's `Record` (aws/sagemaker-containers v2.8.6.post2 `record_pb2.py`), built
here as a descriptor so protobuf itself serialises and parses the messages.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message_factory import GetMessageClass

from smlocal.model_server.recordio_protobuf import (
    MAGIC,
    RecordIOError,
    _encode_varint,
    _length_delimited,
    dense_feature_records,
    feature_rows,
    frame,
    label_record,
    records,
)

F = descriptor_pb2.FieldDescriptorProto


def _schema() -> dict[str, Any]:
    file = descriptor_pb2.FileDescriptorProto(name="record.proto", package="aialgs.data")

    def message(name: str, fields: list[tuple[str, int, int, int, str]]) -> Any:
        msg = file.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            field = msg.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = type_name
            if label == F.LABEL_REPEATED and kind not in (F.TYPE_MESSAGE, F.TYPE_BYTES):
                field.options.packed = True
        return msg

    rep, opt = F.LABEL_REPEATED, F.LABEL_OPTIONAL
    for name, kind in [
        ("Float32Tensor", F.TYPE_FLOAT),
        ("Float64Tensor", F.TYPE_DOUBLE),
        ("Int32Tensor", F.TYPE_INT32),
    ]:
        message(
            name,
            [("values", 1, kind, rep, ""), ("keys", 2, F.TYPE_UINT64, rep, ""),
             ("shape", 3, F.TYPE_UINT64, rep, "")],
        )  # fmt: skip
    message(
        "Bytes", [("value", 1, F.TYPE_BYTES, rep, ""), ("content_type", 2, F.TYPE_STRING, opt, "")]
    )
    message(
        "Value",
        [("float32_tensor", 2, F.TYPE_MESSAGE, opt, ".aialgs.data.Float32Tensor"),
         ("float64_tensor", 3, F.TYPE_MESSAGE, opt, ".aialgs.data.Float64Tensor"),
         ("int32_tensor", 7, F.TYPE_MESSAGE, opt, ".aialgs.data.Int32Tensor"),
         ("bytes", 9, F.TYPE_MESSAGE, opt, ".aialgs.data.Bytes")],
    )  # fmt: skip
    record = message(
        "Record",
        [("features", 1, F.TYPE_MESSAGE, rep, ".aialgs.data.Record.FeaturesEntry"),
         ("label", 2, F.TYPE_MESSAGE, rep, ".aialgs.data.Record.LabelEntry"),
         ("uid", 3, F.TYPE_STRING, opt, ""), ("metadata", 4, F.TYPE_STRING, opt, ""),
         ("configuration", 5, F.TYPE_STRING, opt, "")],
    )  # fmt: skip
    for entry in ("FeaturesEntry", "LabelEntry"):
        nested = record.nested_type.add(name=entry)
        nested.options.map_entry = True
        nested.field.add(name="key", number=1, type=F.TYPE_STRING, label=opt)
        nested.field.add(
            name="value", number=2, type=F.TYPE_MESSAGE, label=opt, type_name=".aialgs.data.Value"
        )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {n: GetMessageClass(pool.FindMessageTypeByName(f"aialgs.data.{n}")) for n in ("Record",)}


Record = _schema()["Record"]


def test_dense_rows_protobuf_wrote_are_read_with_any_tensor_type() -> None:
    body = b""
    for kind, row in [("float32_tensor", [1.5, 2.0]), ("float64_tensor", [0.1, -3.0])]:
        message = Record()
        getattr(message.features["values"], kind).values.extend(row)
        message.label["values"].float32_tensor.values.append(1.0)
        body += frame(message.SerializeToString())
    assert feature_rows(body).tolist() == np.array([[1.5, 2.0], [0.1, -3.0]], np.float32).tolist()


def test_sparse_rows_protobuf_wrote_become_a_csr_matrix() -> None:
    message = Record()
    tensor = message.features["values"].float32_tensor
    tensor.values.extend([4.0, 5.0])
    tensor.keys.extend([1, 6])
    tensor.shape.append(8)
    matrix = feature_rows(frame(message.SerializeToString()))
    assert matrix.shape == (1, 8)
    assert matrix.toarray().tolist() == [[0, 4.0, 0, 0, 0, 0, 5.0, 0]]


def test_what_smlocal_writes_is_what_protobuf_writes_and_reads() -> None:
    expected = Record()
    expected.features["values"].float32_tensor.values.extend([5.1, 3.5])
    [payload] = records(dense_feature_records([[5.1, 3.5]]))
    assert payload == expected.SerializeToString()
    label = Record()
    label.label["probabilities"].float32_tensor.values.extend([0.25, 0.75])
    assert label_record({"probabilities": [0.25, 0.75]}) == label.SerializeToString()
    parsed = Record.FromString(label_record({"predicted_label": [1], "labels": [0, 1]}))
    assert list(parsed.label["labels"].float32_tensor.values) == [0.0, 1.0]
    assert list(parsed.label["predicted_label"].float32_tensor.values) == [1.0]


def test_framing_is_little_endian_magic_length_and_padding() -> None:
    framed = frame(b"abcde")
    assert framed[:8] == struct.pack("<II", MAGIC, 5)
    assert framed[8:] == b"abcde\x00\x00\x00"
    assert list(records(framed + frame(b"xyzw"))) == [b"abcde", b"xyzw"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x00\x01", "truncated RecordIO header at byte 0"),
        (b"\x00" * 8, "no RecordIO magic at byte 0"),
        (struct.pack("<II", MAGIC, 9) + b"abc", "RecordIO record at byte 0 runs past the end"),
        (b"", "the body holds no RecordIO records"),
    ],
)
def test_bad_bodies_say_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(RecordIOError, match=message):
        feature_rows(body)


def _values_record(tensor_number: int, tensor: bytes) -> bytes:
    """One framed record whose 'values' feature holds the given tensor message."""
    value = _length_delimited(tensor_number, tensor)
    entry = _length_delimited(1, b"values") + _length_delimited(2, value)
    return frame(_length_delimited(1, entry))


def _sparse_record(values: bytes, keys: list[int], shape: list[int]) -> bytes:
    packed_keys = b"".join(_encode_varint(k) for k in keys)
    packed_shape = b"".join(_encode_varint(s) for s in shape)
    tensor = (
        _length_delimited(1, values)
        + _length_delimited(2, packed_keys)
        + _length_delimited(3, packed_shape)
    )
    return _values_record(2, tensor)


ONE = struct.pack("<f", 1.0)


HOSTILE = {
    # uint64 2**64-1 once became column -1, and XGBoost read out of bounds (SIGSEGV)
    "key-2**64-1": (_sparse_record(ONE, [2**64 - 1], [68]), "key 18446744073709551615 outside"),
    "key-2**63": (_sparse_record(ONE, [2**63], [68]), "key 9223372036854775808 outside"),
    "key-at-shape": (_sparse_record(ONE, [68], [68]), "key 68 outside its shape of 68"),
    "more-values-than-keys": (_sparse_record(ONE * 2, [1], [68]), "2 values but 1 keys"),
    "fewer-values-than-keys": (_values_record(2, b"\x12\x01\x05"), "0 values but 1 keys"),
    "shape-2**64-1": (_sparse_record(ONE, [1], [2**64 - 1, 3]), "a shape of 18446744073709551615"),
    "long-varint": (frame(b"\x0a" + b"\xff" * 20 + b"\x01"), "varint longer than 10 bytes"),
    "record-field-wire-0": (frame(b"\x08\x05"), "field 1 of a Record has wire type 0"),
    "map-key-wire-0": (
        frame(_length_delimited(1, b"\x08\x05")),
        "field 1 of a map entry has wire type 0",
    ),
    "map-key-not-utf8": (
        frame(_length_delimited(1, _length_delimited(1, b"\xff\xfe"))),
        "map key is not UTF-8",
    ),
    "map-value-wire-0": (
        frame(_length_delimited(1, _length_delimited(1, b"values") + b"\x10\x05")),
        "field 2 of a map entry has wire type 0",
    ),
    "float64-odd-length": (
        _values_record(3, _length_delimited(1, b"\x00" * 7)),
        "7 bytes of float64",
    ),
    "float64-as-fixed32": (_values_record(3, b"\x0d" + ONE), "float64 values have wire type 5"),
    "field-past-end": (frame(b"\x0a\xa0\x1f" + b"\x00" * 8), "field 1 runs past the end"),
    "fixed32-past-end": (frame(b"\x0d\x00\x00"), "field 1 runs past the end"),
    "continuation": (struct.pack("<II", MAGIC, 1 << 31), "continuation records are not supported"),
}


@pytest.mark.parametrize(("body", "message"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_bodies_are_refused_as_recordio_errors(body: bytes, message: str) -> None:
    with pytest.raises(RecordIOError, match=message):
        feature_rows(body)


def test_a_6_mb_varint_is_refused_without_reading_it_all() -> None:
    with pytest.raises(RecordIOError, match="longer than 10 bytes"):
        feature_rows(frame(b"\x0a" + b"\xff" * 6_000_000 + b"\x01"))
