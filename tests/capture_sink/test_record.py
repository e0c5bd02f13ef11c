"""The record builder, encodings, S3 keys and the sampler: pure units, no HTTP, no S3."""

from __future__ import annotations

import base64
import json
import math
import os
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from smlocal.capture_sink.config import CaptureConfig
from smlocal.capture_sink.keys import (
    S3Location,
    capture_prefix,
    name_from_spool,
    name_time,
    object_key,
    object_name,
    parse_s3_uri,
    spool_name,
)
from smlocal.capture_sink.record import (
    LineBuilder,
    Payload,
    build_record,
    choose_encoding,
    encode_payload,
    format_inference_time,
    media_type,
    new_event_id,
    serialize,
)
from smlocal.capture_sink.sampler import NeverSampler, PercentageSampler

DATA = Path(__file__).parent / "data"
SDK = CaptureConfig(
    "s3://b/p", csv_content_types=("text/csv",), json_content_types=("application/json",)
)
NO_HEADER = CaptureConfig("s3://b/p")


def test_a_real_aws_line_is_reproduced_byte_for_byte():
    golden = (DATA / "aws-xgboost-csv.jsonl").read_bytes().splitlines(keepends=True)[0]
    doc = json.loads(golden)
    side_in, side_out = doc["captureData"]["endpointInput"], doc["captureData"]["endpointOutput"]
    record = build_record(
        SDK,
        arrival=datetime(2022, 4, 18, 0, 21, 48, 999000, tzinfo=UTC),
        event_id=doc["eventMetadata"]["eventId"],
        request=Payload("text/csv", side_in["data"].encode()),
        response=Payload("text/csv; charset=utf-8", side_out["data"].encode()),
    )
    assert serialize(record) == golden


def test_json_line_is_reproduced_byte_for_byte():
    golden = (DATA / "aws-linear-learner-json.jsonl").read_bytes()
    doc = json.loads(golden)
    capture = doc["captureData"]
    record = build_record(
        SDK,
        arrival=datetime(2024, 1, 19, 19, 27, 57, tzinfo=UTC),
        event_id=doc["eventMetadata"]["eventId"],
        request=Payload("application/json", capture["endpointInput"]["data"].encode()),
        response=Payload("application/json", capture["endpointOutput"]["data"].encode()),
    )
    assert serialize(record) == golden


@pytest.mark.parametrize(
    ("content_type", "config", "expected"),
    [
        ("text/csv", SDK, "CSV"),
        ("text/csv; charset=utf-8", SDK, "CSV"),
        ("Text/CSV;charset=UTF-8", SDK, "CSV"),
        ("application/json", SDK, "JSON"),
        ("application/JSON ; charset=utf-8", SDK, "JSON"),
        ("application/jsonlines", SDK, "BASE64"),
        ("application/x-npy", SDK, "BASE64"),
        (None, SDK, "BASE64"),
        ("text/csv", NO_HEADER, "BASE64"),  # no CaptureContentTypeHeader: everything BASE64
        ("application/json", CaptureConfig("s3://b", csv_content_types=("text/csv",)), "BASE64"),
        ("TEXT/PLAIN", CaptureConfig("s3://b", csv_content_types=("text/plain",)), "CSV"),
        ("text/csv", CaptureConfig("s3://b", csv_content_types=("Text/Csv",)), "CSV"),
    ],
)
def test_encoding_rule(content_type, config, expected):
    assert choose_encoding(content_type, config) == expected


def test_media_type_drops_parameters_and_case() -> None:
    assert media_type("Text/CSV; charset=utf-8") == "text/csv"
    assert media_type(" application/JSON\t;q=1") == "application/json"
    assert media_type("") is None
    assert media_type(None) is None
    assert media_type(";charset=utf-8") is None


def test_text_is_kept_exactly_and_base64_is_standard():
    body = b'{\n    "predictions": [3.5, 4.0, 5.5\n    ]\n}'
    assert encode_payload(Payload("application/json", body), SDK) == (body.decode(), "JSON")
    assert encode_payload(Payload("text/csv", b"1,2\n3,4\n"), SDK) == ("1,2\n3,4\n", "CSV")
    raw = bytes(range(256))
    data, encoding = encode_payload(Payload("application/octet-stream", raw), SDK)
    assert encoding == "BASE64"
    assert base64.b64decode(data, validate=True) == raw


def test_csv_that_is_not_utf8_falls_back_to_base64():
    body = "5,1;é".encode("latin-1")
    data, encoding = encode_payload(Payload("text/csv", body), SDK)
    assert encoding == "BASE64"
    assert base64.b64decode(data) == body


def test_malformed_json_is_captured_as_sent():
    assert encode_payload(Payload("application/json", b"{not json"), SDK) == ("{not json", "JSON")


def record(config=SDK, **kw):
    defaults = {
        "arrival": datetime(2024, 1, 19, 19, 27, 57, 62000, tzinfo=UTC),
        "event_id": "fb33b08e-de02-414b-ba16-969c14d7e0f1",
        "request": Payload("text/csv", b"1,2"),
        "response": Payload("text/csv; charset=utf-8", b"0\n"),
    }
    return build_record(config, **{**defaults, **kw})


def test_key_order_and_optional_metadata():
    line = serialize(record(inference_id="7", custom_attributes="accept_eula=false"))
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert b", " not in line
    assert b": " not in line
    doc = json.loads(line)
    assert list(doc) == ["captureData", "eventMetadata", "eventVersion"]
    assert list(doc["captureData"]) == ["endpointInput", "endpointOutput"]
    assert list(doc["captureData"]["endpointInput"]) == [
        "observedContentType", "mode", "data", "encoding",
    ]  # fmt: skip
    assert doc["eventMetadata"] == {
        "eventId": "fb33b08e-de02-414b-ba16-969c14d7e0f1",
        "inferenceId": "7",
        "customAttributes": ["accept_eula=false"],
        "inferenceTime": "2024-01-19T19:27:57Z",
    }
    assert list(doc["eventMetadata"]) == [
        "eventId",
        "inferenceId",
        "customAttributes",
        "inferenceTime",
    ]
    assert doc["eventVersion"] == "0"


def test_without_inference_id_there_is_no_key():
    assert list(record()["eventMetadata"]) == ["eventId", "inferenceTime"]


def test_capture_modes_pick_the_sides():
    only_in = CaptureConfig("s3://b", capture_output=False, csv_content_types=("text/csv",))
    only_out = CaptureConfig("s3://b", capture_input=False, csv_content_types=("text/csv",))
    assert list(record(only_in)["captureData"]) == ["endpointInput"]
    assert list(record(only_out)["captureData"]) == ["endpointOutput"]


def test_missing_content_type_is_null():
    side = record(request=Payload(None, b"abc"))["captureData"]["endpointInput"]
    assert side["observedContentType"] is None
    assert side["encoding"] == "BASE64"


def test_inference_time_is_utc_whole_seconds():
    eastern = timezone(timedelta(hours=-5))
    assert format_inference_time(datetime(2024, 1, 19, 14, 0, 1, 999999, eastern)) == (
        "2024-01-19T19:00:01Z"
    )
    naive = record(arrival=datetime(2024, 1, 19, 19, 0, 0))
    assert naive["eventMetadata"]["inferenceTime"] == "2024-01-19T19:00:00Z"


def test_non_ascii_is_written_as_utf8():
    line = serialize(record(request=Payload("text/csv", "naïve,1".encode())))
    assert "naïve,1".encode() in line


# --- S3 keys ------------------------------------------------------------------------------


def test_key_layout():
    file_id = uuid.UUID("fb33b08e-de02-414b-ba16-969c14d7e0f1")
    name = object_name(datetime(2024, 1, 19, 19, 27, 57, 62999, tzinfo=UTC), file_id)
    assert name == "2024/01/19/19/27-57-062-fb33b08e-de02-414b-ba16-969c14d7e0f1.jsonl"
    where = capture_prefix("s3://bucket/sagemaker/data-capture", "DEMO-ll-Adult", "AllTraffic")
    assert (where.bucket, where.key) == (
        "bucket",
        "sagemaker/data-capture/DEMO-ll-Adult/AllTraffic",
    )
    assert object_key(where.key, name) == (
        "sagemaker/data-capture/DEMO-ll-Adult/AllTraffic/2024/01/19/19/"
        "27-57-062-fb33b08e-de02-414b-ba16-969c14d7e0f1.jsonl"
    )


@pytest.mark.parametrize(
    ("dest", "key"),
    [
        ("s3://bucket/capture/", "capture/Ep/AllTraffic"),
        ("s3://bucket/capture//", "capture/Ep/AllTraffic"),
        ("s3://bucket", "Ep/AllTraffic"),
        ("s3://bucket/", "Ep/AllTraffic"),
    ],
)
def test_trailing_slash_does_not_double(dest, key):
    assert capture_prefix(dest, "Ep", "AllTraffic").key == key


@pytest.mark.parametrize(
    ("uri", "bucket", "key"),
    [
        ("s3://bucket/a/b.tar.gz", "bucket", "a/b.tar.gz"),
        ("s3://bucket", "bucket", ""),
        ("s3://bucket/", "bucket", ""),
        ("s3://bucket/prefix/", "bucket", "prefix/"),
        ("s3://bucket//model.tar.gz", "bucket", "/model.tar.gz"),  # the key "/model.tar.gz"
        ("s3://bucket/iris#2?v=1/model.tar.gz", "bucket", "iris#2?v=1/model.tar.gz"),
    ],
)
def test_an_s3_uri_keeps_its_key_exactly(uri, bucket, key):
    assert parse_s3_uri(uri) == S3Location(bucket, key)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("bucket/key", "'bucket/key' is not an s3:// URI"),
        ("https://bucket.s3.amazonaws.com/key", "is not an s3:// URI"),
        ("S3://bucket/key", "is not an s3:// URI"),
        ("s3:///key", "'s3:///key' names no bucket"),
        ("s3://", "names no bucket"),
    ],
)
def test_what_is_not_an_s3_uri(uri, message):
    with pytest.raises(ValueError, match=message):
        parse_s3_uri(uri)


def test_file_names_use_utc_and_a_fresh_uuid4():
    eastern = timezone(timedelta(hours=-5))
    name = object_name(datetime(2024, 1, 19, 23, 59, 59, 5000, eastern))
    assert name.startswith("2024/01/20/04/59-59-005-")
    assert uuid.UUID(name[24:60]).version == 4
    assert name_time(name) == datetime(2024, 1, 20, 4, 59, 59, 5000, UTC)


def test_spool_names_round_trip():
    name = object_name(datetime(2024, 1, 19, 19, 27, 57, tzinfo=UTC))
    flat = spool_name(name)
    assert "/" not in flat
    assert name_from_spool(flat) == name
    assert name_from_spool(f".{flat}.new") is None
    assert name_from_spool("target.json") is None


# --- sampling ----------------------------------------------------------------------------


def test_zero_and_hundred_percent():
    assert not any(PercentageSampler(0, seed=1).should_capture() for _ in range(10_000))
    assert all(PercentageSampler(100, seed=1).should_capture() for _ in range(10_000))
    assert not NeverSampler().should_capture()


def test_thirty_percent_is_within_a_binomial_bound():
    n, p = 10_000, 0.3
    sampler = PercentageSampler(30, seed=42)
    hits = sum(sampler.should_capture() for _ in range(n))
    bound = 5 * math.sqrt(n * p * (1 - p))  # five standard deviations
    assert abs(hits - n * p) < bound


def test_a_seed_reproduces_the_decisions():
    a = PercentageSampler(50, seed=3)
    b = PercentageSampler(50, seed=3)
    decisions = [a.should_capture() for _ in range(100)]
    assert decisions == [b.should_capture() for _ in range(100)]
    assert 0 < sum(decisions) < 100


def test_percentage_out_of_range():
    with pytest.raises(ValueError, match=r"outside 0\.\.100"):
        PercentageSampler(101)


# --- the fast line builder is the dict builder, byte for byte ----------------------------


@pytest.mark.parametrize("config", [SDK, NO_HEADER,
    CaptureConfig("s3://b", capture_output=False, json_content_types=("application/json",)),
    CaptureConfig("s3://b", capture_input=False, csv_content_types=("text/csv",))])  # fmt: skip
@pytest.mark.parametrize(
    ("request_", "response", "inference_id", "attributes"),
    [
        (Payload("text/csv", b"5.1,3.5\n"), Payload("text/csv; charset=utf-8", b"0\n"), None, None),
        (Payload("application/json", '{"a": "é\\"\\u2028"}'.encode()),
         Payload("application/JSON", b"[1]"), "id-1", "k=v"),
        (Payload(None, b"\x00\xff"), Payload("text/csv", "ünï\tcödé\r\n".encode()), None, "a"),
        (Payload("text/csv", b"\xff\xfe"), Payload("application/x-npy", b"\x93NUMPY"), "x", None),
        (Payload("text/csv", b""), Payload("text/csv", b""), "\u00e9\u4e2d", 'q"uote\\'),
    ],
)  # fmt: skip
def test_line_builder_matches_the_dict_builder(
    config, request_, response, inference_id, attributes
):
    for arrival in (datetime(2024, 1, 19, 19, 27, 57, 999999, tzinfo=UTC),
                    datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
                    datetime(2024, 1, 19, 19, 27, 58)):  # fmt: skip
        kwargs = {"arrival": arrival, "event_id": new_event_id(), "request": request_,
                  "response": response, "inference_id": inference_id,
                  "custom_attributes": attributes}  # fmt: skip
        assert LineBuilder(config).line(**kwargs) == serialize(build_record(config, **kwargs))


def test_fast_event_ids_are_uuid4():
    ids = {new_event_id() for _ in range(1000)}
    assert len(ids) == 1000
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


def test_event_ids_are_unique_across_threads_and_a_fork():
    """Each thread and each forked child draws its own batch: none hands out another's ids."""
    new_event_id()  # this thread now holds a batch a forked child would inherit
    by_thread: list[list[str]] = [[] for _ in range(4)]

    def draw(into: list[str]) -> None:
        into.extend(new_event_id() for _ in range(700))

    threads = [threading.Thread(target=draw, args=(ids,)) for ids in by_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report 300 ids and leave at once
        os.close(read)
        os.write(write, "\n".join(new_event_id() for _ in range(300)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        from_child = pipe.read().split("\n")
    os.waitpid(child, 0)
    in_parent = [new_event_id() for _ in range(300)]
    everything = [*from_child, *in_parent, *(i for ids in by_thread for i in ids)]
    assert len(from_child) == 300
    assert len(set(everything)) == len(everything) == 300 + 300 + 4 * 700


def test_a_target_model_is_kept_in_the_metadata_by_both_builders():
    arrival = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    args = {
        "arrival": arrival,
        "event_id": "f04a8538-696c-4648-8064-8b680b2e3318",
        "request": Payload("text/csv", b"1,2"),
        "response": Payload("text/csv", b"0"),
        "inference_id": "abc",
        "target_model": 'models/"a".tar.gz',
    }
    record = build_record(SDK, **args)  # type: ignore[arg-type]
    assert list(record["eventMetadata"]) == [
        "eventId",
        "inferenceId",
        "targetModel",
        "inferenceTime",
    ]
    assert record["eventMetadata"]["targetModel"] == 'models/"a".tar.gz'
    assert LineBuilder(SDK).line(**args) == serialize(record)  # type: ignore[arg-type]
    from smlocal.capture_sink.validate import check_record

    assert check_record(record) == []
    assert check_record({**record, "eventMetadata": {**record["eventMetadata"], "targetModel": ""}})
