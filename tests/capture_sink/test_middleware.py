"""CaptureMiddleware as plain WSGI, with a list as the sink (no server, no S3)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from smlocal.capture_sink.config import CaptureConfig
from smlocal.capture_sink.middleware import CaptureMiddleware
from smlocal.capture_sink.runtime import FlushTimeout
from smlocal.capture_sink.sampler import PercentageSampler

ARRIVAL = datetime(2024, 1, 19, 19, 27, 57, tzinfo=UTC)
CONFIG = CaptureConfig(
    "s3://b/p", csv_content_types=("text/csv",), json_content_types=("application/json",)
)


class ListSink:
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, line: bytes, arrival: datetime) -> None:
        assert arrival == ARRIVAL
        self.lines.append(line)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.lines]


seen_bodies: list[bytes] = []


@Request.application
def echo_app(request: Request) -> Response:
    body = request.get_data()
    seen_bodies.append(body)
    if request.path == "/invocations" and body == b"fail":
        return Response("model failed", 500, content_type="text/plain")
    if body == b"stream":
        return Response(iter([b"a,", b"b,", b"c\n"]), content_type="text/csv")
    return Response(b"0.5\n", content_type="text/csv; charset=utf-8")


def client(config=CONFIG, percentage=100, **kw):
    sink = ListSink()
    app = CaptureMiddleware(
        echo_app,
        config=config,
        sink=sink,
        sampler=PercentageSampler(percentage, seed=1),
        clock=lambda: ARRIVAL,
        **kw,
    )
    return Client(app), sink


def test_request_and_response_pass_unchanged_and_are_captured():
    c, sink = client()
    seen_bodies.clear()
    response = c.post("/invocations", data=b"5.1,3.5,1.4,0.2\n", content_type="text/csv")
    assert response.status_code == 200
    assert response.data == b"0.5\n"
    assert seen_bodies == [b"5.1,3.5,1.4,0.2\n"]
    [record] = sink.records
    assert record["captureData"] == {
        "endpointInput": {
            "observedContentType": "text/csv",
            "mode": "INPUT",
            "data": "5.1,3.5,1.4,0.2\n",
            "encoding": "CSV",
        },
        "endpointOutput": {
            "observedContentType": "text/csv; charset=utf-8",
            "mode": "OUTPUT",
            "data": "0.5\n",
            "encoding": "CSV",
        },
    }
    assert record["eventMetadata"]["inferenceTime"] == "2024-01-19T19:27:57Z"


def test_streaming_responses_still_stream_and_are_captured_whole():
    c, sink = client()
    response = c.post("/invocations", data=b"stream", content_type="text/csv")
    assert response.data == b"a,b,c\n"
    assert sink.records[0]["captureData"]["endpointOutput"]["data"] == "a,b,c\n"


def test_headers_for_inference_id_and_custom_attributes():
    c, sink = client()
    c.post(
        "/invocations",
        data=b"1",
        content_type="text/csv",
        headers={
            "X-Amzn-SageMaker-Inference-Id": "req-7",
            "X-Amzn-SageMaker-Custom-Attributes": "accept_eula=false,trace=1",
        },
    )
    meta = sink.records[0]["eventMetadata"]
    assert meta["inferenceId"] == "req-7"
    assert meta["customAttributes"] == ["accept_eula=false,trace=1"]


def test_failed_invocations_are_not_captured_unless_asked():
    c, sink = client()
    assert c.post("/invocations", data=b"fail", content_type="text/csv").status_code == 500
    assert sink.lines == []
    c, sink = client(capture_failed=True)
    c.post("/invocations", data=b"fail", content_type="text/csv")
    assert sink.records[0]["captureData"]["endpointOutput"]["data"] == "bW9kZWwgZmFpbGVk"


def test_malformed_body_is_captured_as_sent():
    c, sink = client()
    c.post("/invocations", data=b'{"instances": [1, 2', content_type="application/json")
    side = sink.records[0]["captureData"]["endpointInput"]
    assert (side["data"], side["encoding"]) == ('{"instances": [1, 2', "JSON")


def test_other_content_types_are_base64():
    c, sink = client()
    c.post("/invocations", data=b"\x93NUMPY\x00\xff", content_type="application/x-npy")
    side = sink.records[0]["captureData"]["endpointInput"]
    assert side["encoding"] == "BASE64"
    assert side["data"] == "k05VTVBZAP8="


def test_input_only_does_not_keep_the_response_and_output_only_not_the_request():
    c, sink = client(CaptureConfig("s3://b", capture_output=False))
    c.post("/invocations", data=b"1", content_type="text/csv")
    assert list(sink.records[0]["captureData"]) == ["endpointInput"]
    c, sink = client(CaptureConfig("s3://b", capture_input=False))
    seen_bodies.clear()
    c.post("/invocations", data=b"1,2", content_type="text/csv")
    assert seen_bodies == [b"1,2"]
    assert list(sink.records[0]["captureData"]) == ["endpointOutput"]


def test_only_post_invocations_is_captured():
    c, sink = client()
    c.get("/ping")
    c.post("/other", data=b"1")
    assert sink.lines == []


def test_not_sampled_requests_are_not_touched():
    c, sink = client(percentage=0)
    assert c.post("/invocations", data=b"1", content_type="text/csv").data == b"0.5\n"
    assert sink.lines == []


def test_a_chunked_request_body_is_read_whole():
    c, sink = client()
    seen_bodies.clear()
    c.post(
        "/invocations",
        input_stream=io.BytesIO(b"1,2,3"),
        headers={"Transfer-Encoding": "chunked", "Content-Type": "text/csv"},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn sets it
    )
    assert seen_bodies == [b"1,2,3"]
    assert sink.records[0]["captureData"]["endpointInput"]["data"] == "1,2,3"


class FakeControl:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.timeouts: list[float] = []

    def flush(self, timeout: float) -> dict[str, Any]:
        self.timeouts.append(timeout)
        if self.fail:
            raise FlushTimeout("capture flush timed out after 1 s: 2 capture file(s) ...")
        return {"flushed": True}

    def stats(self) -> dict[str, Any]:
        return {"sampled": 3}


def test_control_endpoints():
    control = FakeControl()
    c, _ = client(control=control)
    assert c.post("/_smlocal/capture/flush?timeout=5").json == {"flushed": True}
    assert control.timeouts == [5.0]
    stats = c.get("/_smlocal/capture/stats").json
    assert stats["sampled"] == 3
    assert stats["config"]["InitialSamplingPercentage"] == 100
    assert c.get("/_smlocal/capture/flush").status_code == 405
    assert c.get("/_smlocal/capture/nope").status_code == 404
    bad = c.post("/_smlocal/capture/flush?timeout=soon")
    assert bad.status_code == 400
    assert "timeout='soon'" in bad.json["error"]


def test_a_flush_that_times_out_is_a_504_with_the_reason():
    c, _ = client(control=FakeControl(fail=True))
    response = c.post("/_smlocal/capture/flush")
    assert response.status_code == 504
    assert "timed out" in response.json["error"]


def test_a_capture_bug_never_fails_the_invocation(caplog):
    class BrokenSink:
        def write(self, line: bytes, arrival: datetime) -> None:
            raise RuntimeError("boom")

    app = CaptureMiddleware(
        echo_app, config=CONFIG, sink=BrokenSink(), sampler=PercentageSampler(100)
    )
    response = Client(app).post("/invocations", data=b"1", content_type="text/csv")
    assert response.status_code == 200
    assert response.data == b"0.5\n"
    assert "capture record could not be built" in caplog.text


@pytest.mark.parametrize("length", ["abc", str(10**12)])
def test_unreadable_or_huge_lengths_pass_through_uncaptured(length):
    c, sink = client(max_body_bytes=1000)
    environ_overrides = {"CONTENT_LENGTH": length}
    c.post("/invocations", data=b"1", content_type="text/csv", environ_overrides=environ_overrides)
    assert sink.lines == []
