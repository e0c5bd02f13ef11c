"""Asynchronous requests' pure parts: result locations, SNS messages, stored form."""

from __future__ import annotations

import json

from smlocal.emulator.hosting.async_queue import concurrency, upstream_request
from smlocal.emulator.hosting.async_requests import (
    AsyncRequest,
    includes_response,
    model_failure_reason,
    notification,
    result_locations,
    topic,
)
from smlocal.emulator.hosting.routing import EndpointRoute, VariantRoute

OUTPUT = {"S3OutputPath": "s3://b/out/", "S3FailurePath": "s3://b/failed"}


def request(**changes: object) -> AsyncRequest:
    fields: dict = {
        "endpoint": "Ep",
        "inference_id": "id-1",
        "received": 1643150760.455,
        "input_location": "s3://b/in/x.csv",
        "body_b64": None,
        "content_type": "text/csv",
        "accept": None,
        "custom_attributes": None,
        "output_location": "s3://b/out/u.out",
        "failure_location": "s3://b/failed/u-error.out",
        "ttl_seconds": 60,
        "timeout_seconds": 900,
        "output_config": OUTPUT,
    }
    fields.update(changes)
    return AsyncRequest(**fields)


def test_locations_as_sagemaker_forms_them() -> None:
    assert result_locations(OUTPUT, "u", None, None) == (
        "s3://b/out/u.out",
        "s3://b/failed/u-error.out",
    )
    assert result_locations(OUTPUT, "u", "/x/y/", "r.json") == (
        "s3://b/out/x/y/r.json",
        "s3://b/failed/x/y/r.json-error.out",
    )
    assert result_locations({"S3OutputPath": "s3://b"}, "u", None, None) == ("s3://b/u.out", None)


def test_success_message_has_the_guides_fields_in_order() -> None:
    message = notification(
        request(), "us-east-1", 1643150760.608, response_content_type="text/csv; charset=utf-8"
    )
    assert json.dumps(message) == json.dumps(
        {
            "awsRegion": "us-east-1",
            "eventTime": "2022-01-25T22:46:00.608Z",
            "receivedTime": "2022-01-25T22:46:00.455Z",
            "invocationStatus": "Completed",
            "requestParameters": {
                "contentType": "text/csv",
                "endpointName": "Ep",
                "inputLocation": "s3://b/in/x.csv",
            },
            "responseParameters": {
                "contentType": "text/csv; charset=utf-8",
                "outputLocation": "s3://b/out/u.out",
            },
            "inferenceId": "id-1",
            "eventVersion": "1.0",
            "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult",
        }
    )


def test_failure_message_and_reason() -> None:
    reason = model_failure_reason(500)
    assert reason == (
        "ClientError: Received server error (500) from model. See the SageMaker Endpoint logs "
        "in your account for more information."
    )
    assert "client error (415)" in model_failure_reason(415)
    message = notification(request(), "eu-west-1", 1643150761.0, failure_reason=reason)
    assert message["invocationStatus"] == "Failed"
    assert message["failureReason"] == reason
    assert message["requestParameters"] == {
        "endpointName": "Ep",
        "inputLocation": "s3://b/in/x.csv",
    }
    assert message["responseParameters"] == {"failureLocation": "s3://b/failed/u-error.out"}
    bare = notification(request(failure_location=None), "eu-west-1", 0.0, failure_reason=reason)
    assert "responseParameters" not in bare


def test_response_bodies_in_notifications() -> None:
    text = notification(request(), "r", 0.0, response_body=b"2.0\n")
    assert text["responseParameters"]["responseBody"] == {"content": "2.0\n", "encoding": "UTF-8"}
    binary = notification(request(), "r", 0.0, response_body=b"\xff")
    assert binary["responseParameters"]["responseBody"] == {"content": "/w==", "encoding": "BASE64"}
    large = notification(request(), "r", 0.0, response_body=b"x" * (128 * 1024 + 1))
    assert "responseBody" not in large["responseParameters"]


def test_topics_and_included_responses() -> None:
    config = {
        "NotificationConfig": {
            "SuccessTopic": "arn:aws:sns:us-east-1:123456789012:ok",
            "IncludeInferenceResponseIn": ["ERROR_NOTIFICATION_TOPIC"],
        }
    }
    assert topic(config, True) == "arn:aws:sns:us-east-1:123456789012:ok"
    assert topic(config, False) is None
    assert includes_response(config, False)
    assert not includes_response(config, True)
    assert topic({}, True) is None


def test_stored_form_round_trips_and_expiry() -> None:
    original = request(body_b64="AQI=", input_location=None)
    again = AsyncRequest.from_json(original.to_json())
    assert again == original
    assert again.body == b"\x01\x02"
    assert not original.expired(original.received + 60)
    assert original.expired(original.received + 61)


def test_upstream_request_forwards_what_sagemaker_forwards() -> None:
    raw = upstream_request(request(accept="text/csv", custom_attributes="a=1"), b"1,2")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert body == b"1,2"
    assert head.split(b"\r\n") == [
        b"POST /invocations HTTP/1.1",
        b"Host: model",
        b"Content-Type: text/csv",
        b"Accept: text/csv",
        b"X-Amzn-SageMaker-Custom-Attributes: a=1",
        b"X-Amzn-SageMaker-Inference-Id: id-1",
        b"Content-Length: 3",
    ]


def test_concurrency_is_per_instance_times_instances() -> None:
    variants = (VariantRoute("A", 1.0, (), instances=3), VariantRoute("B", 0.0, (), instances=5))
    config = {"ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2}}
    assert concurrency(EndpointRoute("e", variants, config)) == 6  # B takes no traffic
    assert concurrency(EndpointRoute("e", variants[:1], {"OutputConfig": {}})) == 12  # 4 each
