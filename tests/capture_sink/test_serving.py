"""`smlocal serve` with capture on: real gunicorn workers, moto's S3 as a child process."""

from __future__ import annotations

import base64
import json
import math
import re
from collections import Counter
from types import SimpleNamespace

import pytest

from bench.load import run_load
from smlocal.capture_sink.reader import iter_records
from smlocal.capture_sink.validate import check_lines
from smlocal.model_server.recordio_protobuf import dense_feature_records
from tests.capture_sink.conftest import s3_client
from tests.capture_sink.helpers import (
    IRIS_ROW,
    capture_config,
    capture_env,
    flush,
    invoke_many,
    objects,
    records,
    request,
    start_server,
    stats,
)

RECORDIO_ROW = dense_feature_records([[5.1, 3.5, 1.4, 0.2]])
KEY = re.compile(
    r"datacapture/Iris-Endpoint/AllTraffic/(\d{4}/\d{2}/\d{2}/\d{2})/"
    r"\d{2}-\d{2}-\d{3}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.jsonl"
)


def with_id(found, inference_id):
    return [r for r in found if r["eventMetadata"].get("inferenceId") == inference_id]


@pytest.fixture(scope="module")
def full(s3_server, iris_model, tmp_path_factory):
    """Two workers capturing 100% into a destination given with a trailing slash."""
    s3 = s3_client(s3_server.url)
    bucket = "capture-full"
    s3.create_bucket(Bucket=bucket)
    tmp = tmp_path_factory.mktemp("full")
    config = capture_config(bucket, prefix="datacapture/")
    server = start_server(iris_model, tmp, capture_env(config, s3_server.url, tmp / "spool"), 2)
    yield SimpleNamespace(server=server, s3=s3, bucket=bucket)
    server.stop()


def test_a_thousand_invocations_give_a_thousand_records(full):
    headers = {"Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": "load-1000"}
    result = run_load(full.server.port, "/invocations", IRIS_ROW, headers, clients=4,
                      requests=1000, max_seconds=120)  # fmt: skip
    assert (result.requests, result.errors) == (1000, 0)
    flushed = flush(full.server)
    assert flushed["stats"]["workers"] == 2
    stored = objects(full.s3, full.bucket)
    mine = with_id(records(full.s3, full.bucket), "load-1000")
    assert len(mine) == 1000
    assert len({r["eventMetadata"]["eventId"] for r in mine}) == 1000
    for key, body in stored.items():
        match = KEY.fullmatch(key)
        assert match, key
        assert list(check_lines(body, key)) == []
        hours = {json.loads(x)["eventMetadata"]["inferenceTime"][:13] for x in body.splitlines()}
        assert hours == {match.group(1).replace("/", "-", 2).replace("/", "T")}
    record = mine[0]
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": IRIS_ROW.decode(),
        "encoding": "CSV",
    }
    assert record["captureData"]["endpointOutput"]["observedContentType"] == (
        "text/csv; charset=utf-8"
    )
    assert record["captureData"]["endpointOutput"]["encoding"] == "CSV"


def test_records_read_back_from_s3_in_time_order(full):
    invoke_many(full.server, 5, headers={"Content-Type": "text/csv",
                                         "X-Amzn-SageMaker-Inference-Id": "read-back"})  # fmt: skip
    flush(full.server)
    found = list(iter_records(f"s3://{full.bucket}/datacapture", s3_client=full.s3))
    assert len(with_id(found, "read-back")) == 5
    times = [r["eventMetadata"]["inferenceTime"] for r in found]
    assert times == sorted(times)


def test_content_types_and_headers(full):
    cases = {
        "csv": (b"5.1,3.5,1.4,0.2\n", "text/csv"),
        "recordio": (RECORDIO_ROW, "application/x-recordio-protobuf"),
        "x-libsvm": (b"0 0:5.1 1:3.5 2:1.4 3:0.2\n", "text/x-libsvm; charset=utf-8"),
        "libsvm": (b"0 0:5.1 1:3.5 2:1.4 3:0.2", "text/libsvm"),
    }
    for name, (body, content_type) in cases.items():
        status, _, _ = request(
            full.server,
            "POST",
            "/invocations",
            body,
            headers={
                "Content-Type": content_type,
                "X-Amzn-SageMaker-Inference-Id": f"ct-{name}",
                "X-Amzn-SageMaker-Custom-Attributes": f"case={name}",
            },
        )
        assert status == 200, name
    flush(full.server)
    found = records(full.s3, full.bucket)
    encodings = {}
    for name, (body, _) in cases.items():
        [record] = with_id(found, f"ct-{name}")
        side = record["captureData"]["endpointInput"]
        encodings[name] = side["encoding"]
        data = (
            side["data"].encode()
            if side["encoding"] != "BASE64"
            else base64.b64decode(side["data"])
        )
        assert data == body, name
        assert record["eventMetadata"]["customAttributes"] == [f"case={name}"]
    assert encodings == {
        "csv": "CSV",
        "recordio": "BASE64",
        "x-libsvm": "BASE64",
        "libsvm": "BASE64",
    }


def test_failed_invocations_are_not_captured(full):
    status, _, _ = request(
        full.server,
        "POST",
        "/invocations",
        b"not,a,number",
        headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": "failed"},
    )
    assert status == 415  # the XGBoost container answers an unreadable CSV body with 415
    flush(full.server)
    assert with_id(records(full.s3, full.bucket), "failed") == []


def test_stats_add_up_across_workers(full):
    counts = stats(full.server)
    assert counts["workers"] == 2
    assert counts["sampled"] == counts["spooled"] == counts["uploaded"] >= 1000
    assert counts["dropped"] == counts["retried"] == 0
    assert counts["config"]["DestinationS3Uri"].endswith("datacapture/")


def serve(s3_server, iris_model, tmp_path, bucket, config, **env):
    full_env = capture_env(config, s3_server.url, tmp_path / "spool", **env)
    return start_server(iris_model, tmp_path, full_env, workers=1)


def test_zero_percent_captures_nothing(s3_server, s3, bucket, iris_model, tmp_path):
    server = serve(s3_server, iris_model, tmp_path, bucket, capture_config(bucket, percentage=0))
    try:
        assert invoke_many(server, 200) == [200] * 200
        assert flush(server)["stats"]["sampled"] == 0
        assert objects(s3, bucket) == {}
    finally:
        server.stop()


def test_thirty_percent_is_within_a_binomial_bound(s3_server, s3, bucket, iris_model, tmp_path):
    config = capture_config(bucket, percentage=30)
    server = serve(s3_server, iris_model, tmp_path, bucket, config, SMLOCAL_CAPTURE_SEED="11")
    n, p = 1000, 0.3
    try:
        assert invoke_many(server, n) == [200] * n
        flush(server)
        captured = len(records(s3, bucket))
    finally:
        server.stop()
    assert abs(captured - n * p) < 5 * math.sqrt(n * p * (1 - p))


def test_input_only_and_a_malformed_body_as_sent(s3_server, s3, bucket, iris_model, tmp_path):
    config = capture_config(bucket, modes=("Input",))
    server = serve(s3_server, iris_model, tmp_path, bucket, config, SMLOCAL_CAPTURE_FAILED="true")
    try:
        status, _, _ = request(
            server, "POST", "/invocations", b'{"instances": [1, 2',
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        assert status == 415  # the XGBoost container reads no JSON
        assert invoke_many(server, 3) == [200] * 3
        flush(server)
    finally:
        server.stop()
    found = records(s3, bucket)
    assert len(found) == 4
    assert all(list(r["captureData"]) == ["endpointInput"] for r in found)
    datas = Counter(r["captureData"]["endpointInput"]["data"] for r in found)
    assert datas == {'{"instances": [1, 2': 1, IRIS_ROW.decode(): 3}


def test_output_only(s3_server, s3, bucket, iris_model, tmp_path):
    config = capture_config(bucket, modes=("Output",))
    server = serve(s3_server, iris_model, tmp_path, bucket, config)
    try:
        assert invoke_many(server, 3) == [200] * 3
        flush(server)
    finally:
        server.stop()
    found = records(s3, bucket)
    assert len(found) == 3
    assert all(list(r["captureData"]) == ["endpointOutput"] for r in found)
    assert found[0]["captureData"]["endpointOutput"]["data"] == "0.0\n"


def test_uploads_ask_for_sse_kms_with_the_key(s3_server, s3, bucket, monkeypatch):
    from smlocal.capture_sink.keys import S3Location
    from smlocal.capture_sink.s3 import S3Put
    from tests.capture_sink.conftest import CREDENTIALS

    for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL_S3": s3_server.url}.items():
        monkeypatch.setenv(name, value)
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    S3Put()(S3Location(bucket, "k.jsonl"), b"{}\n", key)
    head = s3.head_object(Bucket=bucket, Key="k.jsonl")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key)
