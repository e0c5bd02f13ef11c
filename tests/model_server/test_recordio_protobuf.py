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
