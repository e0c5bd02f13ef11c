"""Requests into (operation, params): JSON 1.1 for the control plane, REST-JSON for the runtime."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from smlocal.emulator.errors import (
    AWSError,
    SerializationException,
    UnknownOperationException,
    ValidationError,
    ValidationException,
)
from smlocal.emulator.wire.parsing import (
    parse_json_request,
    parse_rest_request,
    payload_limit,
    route,
)
from smlocal.emulator.wire.service_models import runtime_model, sagemaker_model
from smlocal.emulator.wire.transport import HttpRequest


def json_request(target: str | None, body: Any) -> HttpRequest:
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target is not None:
        headers["X-Amz-Target"] = target
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpRequest.build("POST", "/", headers, raw)


def test_json_operation_and_params():
    body = {
        "EndpointConfigName": "demo-ep",
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": "m",
                "InitialVariantWeight": 1,
                "InitialInstanceCount": 1.9,
                "InstanceType": "ml.m5.large",
            }
        ],
    }
    operation, params = parse_json_request(
        sagemaker_model(), json_request("SageMaker.CreateEndpointConfig", body)
    )
    assert operation == "CreateEndpointConfig"
    variant = params["ProductionVariants"][0]
    assert variant["InitialVariantWeight"] == 1.0
    assert isinstance(variant["InitialVariantWeight"], float)
    assert variant["InitialInstanceCount"] == 1  # Coral truncates a fraction given for an integer


def test_unknown_members_and_nulls_are_dropped():
    body = {
        "EndpointName": "e",
        "NoSuchMember": 1,
        "EndpointConfigName": "c",
        "Tags": None,
        "DeploymentConfig": {"Bogus": True},
    }
    _, params = parse_json_request(
        sagemaker_model(), json_request("SageMaker.CreateEndpoint", body)
    )
    assert params == {"EndpointName": "e", "EndpointConfigName": "c", "DeploymentConfig": {}}


def test_timestamps_become_aware_datetimes():
    body = {"CreationTimeAfter": 1529870369.986, "CreationTimeBefore": "2026-01-02T03:04:05Z"}
    _, params = parse_json_request(sagemaker_model(), json_request("SageMaker.ListModels", body))
    assert params["CreationTimeAfter"] == dt.datetime(
        2018, 6, 24, 19, 59, 29, 986000, tzinfo=dt.UTC
    )
    assert params["CreationTimeBefore"] == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "class java.lang.String can not be converted to an Date"),
        (1e20, "'1e+20' can not be converted to an Date"),
        (True, "class java.lang.Boolean can not be converted to an Date"),
    ],
)
def test_unreadable_timestamp_is_a_serialization_exception(value: Any, message: str):
    request = json_request("SageMaker.ListModels", {"CreationTimeAfter": value})
    with pytest.raises(SerializationException) as caught:
        parse_json_request(sagemaker_model(), request)
    assert caught.value.message == message


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "SageMaker",
        "SageMaker.NoSuchOperation",
        "DynamoDB_20120810.ListTables",
        "sagemaker.ListModels",
    ],
)
def test_unknown_targets(target: str | None):
    with pytest.raises(UnknownOperationException) as caught:
        parse_json_request(sagemaker_model(), json_request(target, {}))
    assert (caught.value.status, caught.value.message) == (400, "")


@pytest.mark.parametrize("body", [b"", b"   ", b"{", b"{'a': 1}", b"\xff\xfe\x00"])
def test_malformed_json_is_a_serialization_exception(body: bytes):
    with pytest.raises(SerializationException) as caught:
        parse_json_request(sagemaker_model(), json_request("SageMaker.ListModels", body))
    assert (caught.value.status, caught.value.message) == (400, "")


def test_a_body_that_is_not_an_object():
    with pytest.raises(SerializationException, match="Start of list found where not expected"):
        parse_json_request(sagemaker_model(), json_request("SageMaker.ListModels", []))


def test_json_requests_are_validated():
    request = json_request("SageMaker.DescribeEndpoint", {"EndpointName": "bad name"})
    with pytest.raises(ValidationException, match="at 'endpointName' failed to satisfy"):
        parse_json_request(sagemaker_model(), request)


# ---- the runtime ------------------------------------------------------------------------


def invoke(
    path: str = "/endpoints/demo-ep/invocations", body: bytes = b"1,2,3", **headers: str
) -> HttpRequest:
    return HttpRequest.build(
        "POST", path, {k.replace("_", "-"): v for k, v in headers.items()}, body
    )


def test_invoke_endpoint_headers_map_to_members_by_the_model():
    request = invoke(
        **{
            "Content_Type": "text/csv",
            "Accept": "*/*",
            "X-Amzn-SageMaker-Custom-Attributes": "trace=1",
            "X-Amzn-SageMaker-Target-Model": "model-a.tar.gz",
            "X-Amzn-SageMaker-Target-Variant": "AllTraffic",
            "X-Amzn-SageMaker-Target-Container-Hostname": "primary",
            "X-Amzn-SageMaker-Inference-Id": "abc-1",
            "X-Amzn-SageMaker-Enable-Explanations": "`true`",
            "X-Amzn-SageMaker-Inference-Component": "ic-1",
            "X-Amzn-SageMaker-Session-Id": "NEW_SESSION",
            "User-Agent": "Boto3/1.44.5",
            "Authorization": "AWS4-HMAC-SHA256 …",
        }
    )
    operation, params = parse_rest_request(runtime_model(), request)
    assert operation == "InvokeEndpoint"
    assert params == {
        "EndpointName": "demo-ep",
        "Body": b"1,2,3",
        "ContentType": "text/csv",
        "Accept": "*/*",
        "CustomAttributes": "trace=1",
        "TargetModel": "model-a.tar.gz",
        "TargetVariant": "AllTraffic",
        "TargetContainerHostname": "primary",
        "InferenceId": "abc-1",
        "EnableExplanations": "`true`",
        "InferenceComponentName": "ic-1",
        "SessionId": "NEW_SESSION",
    }


def test_header_names_are_case_insensitive_and_absent_headers_are_absent():
    request = invoke(**{"x-amzn-sagemaker-target-variant": "B"})
    _, params = parse_rest_request(runtime_model(), request)
    assert params == {"EndpointName": "demo-ep", "Body": b"1,2,3", "TargetVariant": "B"}


def test_empty_body_is_an_empty_payload():
    _, params = parse_rest_request(runtime_model(), invoke(body=b""))
    assert params["Body"] == b""


def test_runtime_validation_uses_validation_error():
    with pytest.raises(ValidationError) as caught:
        parse_rest_request(runtime_model(), invoke(body=b"x" * (6 * 1024 * 1024 + 1)))
    assert caught.value.message == (
        "1 validation error detected: Value at 'body' failed to satisfy constraint: "
        "Member must have length less than or equal to 6291456"
    )
    with pytest.raises(ValidationError, match="at 'endpointName'"):
        parse_rest_request(runtime_model(), invoke("/endpoints/bad_name/invocations"))


def test_integer_headers_of_async_invocations():
    request = invoke(
        "/endpoints/demo-ep/async-invocations",
        b"",
        **{
            "X-Amzn-SageMaker-InputLocation": "s3://b/in.csv",
            "X-Amzn-SageMaker-RequestTTLSeconds": "600",
        },
    )
    operation, params = parse_rest_request(runtime_model(), request)
    assert operation == "InvokeEndpointAsync"
    assert params == {
        "EndpointName": "demo-ep",
        "InputLocation": "s3://b/in.csv",
        "RequestTTLSeconds": 600,
        "Body": b"",
    }
    bad = invoke(
        "/endpoints/demo-ep/async-invocations",
        b"",
        **{
            "X-Amzn-SageMaker-InputLocation": "s3://b/in.csv",
            "X-Amzn-SageMaker-RequestTTLSeconds": "ten",
        },
    )
    with pytest.raises(
        SerializationException, match=r"class java\.lang\.String can not be converted to an Integer"
    ):
        parse_rest_request(runtime_model(), bad)


def test_routes():
    model = runtime_model()
    assert route(model, "POST", "/endpoints/a-b/invocations") == (
        "InvokeEndpoint",
        {"EndpointName": "a-b"},
    )
    assert route(model, "post", "/endpoints/x/invocations-response-stream") == (
        "InvokeEndpointWithResponseStream",
        {"EndpointName": "x"},
    )
    assert route(model, "GET", "/endpoints/x/invocations") is None
    assert route(model, "POST", "/endpoints/x/y/invocations") is None
    assert route(model, "POST", "/") is None
    with pytest.raises(UnknownOperationException):
        parse_rest_request(model, HttpRequest.build("POST", "/nope"))


def test_payload_limit_comes_from_the_model():
    assert payload_limit(runtime_model(), "InvokeEndpoint") == 6291456
    assert payload_limit(runtime_model(), "InvokeEndpointAsync") == 128000
    assert payload_limit(sagemaker_model(), "ListModels") is None


def test_blob_members_of_json_bodies_are_base64():
    from smlocal.emulator.wire.parsing import decode_json

    shape = runtime_model().operation_model("InvokeEndpoint").input_shape.members["Body"]
    assert decode_json(shape, base64.b64encode(b"\x00\x01").decode()) == b"\x00\x01"
    with pytest.raises(AWSError, match="can not be converted to a Blob"):
        decode_json(shape, "not base64!")
