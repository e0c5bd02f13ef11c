"""Errors and results on the wire, checked through real boto3 clients and raw HTTP."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from smlocal.emulator.errors import (
    AWSError,
    ModelError,
    ResourceInUse,
    ResourceNotFound,
    ServiceUnavailable,
    ValidationError,
    ValidationException,
)
from smlocal.emulator.hosting.upstream import UpstreamResponse
from smlocal.emulator.runtime.invoke import Runtime
from smlocal.emulator.wire.guard import AccessDeniedException
from smlocal.emulator.wire.http_server import reason
from smlocal.emulator.wire.parsing import parse_rest_request
from smlocal.emulator.wire.responses import handle_json, json_error, new_request_id, rest_error
from smlocal.emulator.wire.service_models import runtime_model, sagemaker_model
from smlocal.emulator.wire.transport import HttpRequest, HttpResponse
from tests.emulator.conftest import serving, wsgi

CREATED = dt.datetime(2018, 6, 24, 19, 59, 29, 986000, tzinfo=dt.UTC)
ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/{}"
LOG_STREAM = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/broken"
MODEL_ERROR_MESSAGE = (
    'Received client error (404) from primary with message "prediction failure". See '
    "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:"
    "group=/aws/sagemaker/Endpoints/broken in account 123456789012 for more information."
)


def control_plane(operation: str, params: dict[str, Any]) -> Mapping[str, Any]:
    """A toy control plane: plain functions over params, no HTTP."""
    if operation == "DeleteModel":
        raise ResourceNotFound(f"Model {params['ModelName']} does not exist.")
    name = params.get("EndpointName", "")
    if name == "missing":
        raise ValidationException(f'Could not find endpoint "{ARN.format(name)}".')
    if name == "busy":
        raise ResourceInUse(f"Endpoint {name} is being updated.")
    if name == "denied":
        raise AccessDeniedException("Requests from https://example.com are not served.")
    if name == "crash":
        raise RuntimeError("a bug")
    if operation == "DescribeEndpoint":
        return {
            "EndpointName": name,
            "EndpointArn": ARN.format(name.lower()),
            "EndpointConfigName": name,
            "EndpointStatus": "InService",
            "CreationTime": CREATED,
            "LastModifiedTime": CREATED,
            "DataCaptureConfig": None,
        }
    return {}


class ToyModel:
    """A toy model behind the runtime: records what it was asked and echoes the payload."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any]) -> UpstreamResponse:
        self.calls.append(params)
        name = params["EndpointName"]
        if name == "missing":
            raise ValidationError(f"Endpoint {name} of account 123456789012 not found.")
        if name == "restarting":
            raise ServiceUnavailable(f"Endpoint {name} is being brought back.")
        if name == "broken":
            raise ModelError(
                MODEL_ERROR_MESSAGE,
                original_status_code=404,
                original_message="prediction failure",
                log_stream_arn=LOG_STREAM,
                error_code="CLIENT_ERROR_FROM_MODEL",
            )
        headers = [(b"content-type", b"text/csv; charset=utf-8")]
        if "CustomAttributes" in params:
            custom = params["CustomAttributes"].encode("latin-1")
            headers.append((b"x-amzn-sagemaker-custom-attributes", custom))
        return UpstreamResponse(200, headers, params["Body"][::-1])


def invoke(service_model: Any, request: HttpRequest, model: ToyModel) -> HttpResponse:
    """InvokeEndpoint's wire as smlocal.emulator.runtime.invoke writes it, around a toy model:
    the request read by parse_rest_request, errors by rest_error, the model's answer with
    the runtime's own headers."""
    request_id = new_request_id()
    try:
        _, params = parse_rest_request(service_model, request)
        answer = model(params)
    except AWSError as error:
        return rest_error(error, request_id)
    variant = SimpleNamespace(name=params.get("TargetVariant", "AllTraffic"))
    headers = Runtime._headers(answer, variant, request_id)  # type: ignore[arg-type]
    return HttpResponse(answer.status, tuple(headers), answer.body)


@pytest.fixture(scope="module")
def runtime() -> ToyModel:
    return ToyModel()


@pytest.fixture(scope="module")
def endpoint_url(runtime: ToyModel) -> Iterator[str]:
    control_model, runtime_service = sagemaker_model(), runtime_model()

    def answer(request: HttpRequest) -> HttpResponse:
        if request.header("X-Amz-Target") is not None:
            return handle_json(control_model, request, control_plane, strict=True)
        return invoke(runtime_service, request, runtime)

    with serving(wsgi(answer)) as url:
        yield url


def client(service: str, url: str, **config: Any) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


@pytest.fixture
def sagemaker(endpoint_url: str) -> Any:
    return client("sagemaker", endpoint_url)


@pytest.fixture
def sagemaker_runtime(endpoint_url: str) -> Any:
    return client("sagemaker-runtime", endpoint_url)


# ---- control plane ----------------------------------------------------------------------


def test_timestamps_round_trip_into_datetimes(sagemaker: Any):
    described = sagemaker.describe_endpoint(EndpointName="Demo-Ep")
    assert described["CreationTime"] == CREATED
    assert described["CreationTime"].utcoffset() is not None
    assert described["EndpointArn"] == ARN.format("demo-ep")
    assert "DataCaptureConfig" not in described
    metadata = described["ResponseMetadata"]
    assert metadata["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
    assert len(metadata["RequestId"]) == 36


def test_unmodeled_error(sagemaker: Any):
    with pytest.raises(ClientError) as caught:
        sagemaker.describe_endpoint(EndpointName="missing")
    error = caught.value.response
    assert error["Error"] == {
        "Code": "ValidationException",
        "Message": f'Could not find endpoint "{ARN.format("missing")}".',
    }
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["RequestId"]


def test_modeled_error_is_its_own_exception_class(sagemaker: Any):
    with pytest.raises(sagemaker.exceptions.ResourceInUse) as caught:
        sagemaker.describe_endpoint(EndpointName="busy")
    assert caught.value.response["Error"] == {
        "Code": "ResourceInUse",
        "Message": "Endpoint busy is being updated.",
    }
    assert caught.value.response["Message"] == "Endpoint busy is being updated."
    with pytest.raises(sagemaker.exceptions.ResourceNotFound, match="Model m does not exist"):
        sagemaker.delete_model(ModelName="m")


def test_an_unmodeled_error_keeps_its_own_status(sagemaker: Any):
    with pytest.raises(ClientError) as caught:
        sagemaker.describe_endpoint(EndpointName="denied")
    assert caught.value.response["Error"] == {
        "Code": "AccessDeniedException",
        "Message": "Requests from https://example.com are not served.",
    }
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unexpected_exception_is_an_internal_failure(sagemaker: Any):
    with pytest.raises(ClientError) as caught:
        sagemaker.describe_endpoint(EndpointName="crash")
    error = caught.value.response
    assert error["Error"]["Code"] == "InternalFailure"
    assert error["Error"]["Message"] == (
        "We encountered an internal error. Please try again. (RuntimeError: a bug)"
    )
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_server_side_validation_of_what_botocore_lets_through(sagemaker: Any):
    with pytest.raises(ClientError) as caught:
        sagemaker.create_endpoint_config(
            EndpointConfigName="cfg",
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "ENTER MODEL NAME"}],
        )
    pattern = sagemaker_model().shape_for("ModelName").metadata["pattern"]
    assert caught.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value 'ENTER MODEL NAME' at "
        "'productionVariants.1.member.modelName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: ^{pattern}$",
    }


def test_server_side_required_members(endpoint_url: str):
    unchecked = client("sagemaker", endpoint_url, parameter_validation=False)
    with pytest.raises(ClientError) as caught:
        unchecked.create_endpoint_config(ProductionVariants=[{"ModelName": "m"}])
    assert caught.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "2 validation errors detected: "
        "Value null at 'endpointConfigName' failed to satisfy constraint: Member must not be null; "
        "Value null at 'productionVariants.1.member.variantName' failed to satisfy constraint: "
        "Member must not be null",
    }
    with pytest.raises(ClientError) as caught:
        unchecked.describe_endpoint(EndpointName=5)
    assert caught.value.response["Error"] == {
        "Code": "SerializationException",
        "Message": "class com.amazon.coral.value.json.numbers.TruncatingBigNumber "
        "can not be converted to an String",
    }


def raw_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_unknown_operation_and_malformed_json_over_raw_http(endpoint_url: str):
    json_type = {"Content-Type": "application/x-amz-json-1.1"}
    status, headers, body = raw_post(
        endpoint_url + "/", b"{}", {**json_type, "X-Amz-Target": "SageMaker.NoSuchThing"}
    )
    assert (status, body) == (400, {"__type": "UnknownOperationException", "message": ""})
    assert headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert headers["x-amzn-RequestId"]
    status, headers, body = raw_post(
        endpoint_url + "/", b"{not json", {**json_type, "X-Amz-Target": "SageMaker.ListModels"}
    )
    assert (status, body) == (400, {"__type": "SerializationException", "message": ""})


# ---- runtime ----------------------------------------------------------------------------


def test_invoke_endpoint_maps_headers_both_ways(sagemaker_runtime: Any, runtime: ToyModel):
    response = sagemaker_runtime.invoke_endpoint(
        EndpointName="demo-ep",
        Body=b"1,2,3",
        ContentType="text/csv",
        Accept="text/csv",
        CustomAttributes="trace=1",
        TargetVariant="Variant-B",
        InferenceId="abc-1",
    )
    assert response["Body"].read() == b"3,2,1"
    assert response["ContentType"] == "text/csv; charset=utf-8"
    assert response["InvokedProductionVariant"] == "Variant-B"
    assert response["CustomAttributes"] == "trace=1"
    assert response["ResponseMetadata"]["RequestId"]
    assert runtime.calls[-1] == {
        "EndpointName": "demo-ep",
        "Body": b"1,2,3",
        "ContentType": "text/csv",
        "Accept": "text/csv",
        "CustomAttributes": "trace=1",
        "TargetVariant": "Variant-B",
        "InferenceId": "abc-1",
    }


def test_invoke_without_optional_headers(sagemaker_runtime: Any, runtime: ToyModel):
    response = sagemaker_runtime.invoke_endpoint(EndpointName="demo-ep", Body=b"ab")
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert "CustomAttributes" not in response
    assert runtime.calls[-1] == {"EndpointName": "demo-ep", "Body": b"ab"}


def test_runtime_validation_error(sagemaker_runtime: Any):
    with pytest.raises(sagemaker_runtime.exceptions.ValidationError) as caught:
        sagemaker_runtime.invoke_endpoint(EndpointName="missing", Body=b"1")
    assert caught.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": "Endpoint missing of account 123456789012 not found.",
    }
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_model_error_members(sagemaker_runtime: Any):
    with pytest.raises(sagemaker_runtime.exceptions.ModelError) as caught:
        sagemaker_runtime.invoke_endpoint(EndpointName="broken", Body=b"1")
    response = caught.value.response
    assert response["Error"] == {"Code": "ModelError", "Message": MODEL_ERROR_MESSAGE}
    assert response["OriginalStatusCode"] == 404
    assert response["OriginalMessage"] == "prediction failure"
    assert response["LogStreamArn"] == LOG_STREAM
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424


def test_oversize_body_is_rejected_before_the_handler(sagemaker_runtime: Any, runtime: ToyModel):
    calls = len(runtime.calls)
    with pytest.raises(ClientError) as caught:
        sagemaker_runtime.invoke_endpoint(EndpointName="demo-ep", Body=b"x" * (6291456 + 1))
    assert caught.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": "1 validation error detected: Value at 'body' failed to satisfy constraint: "
        "Member must have length less than or equal to 6291456",
    }
    assert len(runtime.calls) == calls


def test_service_unavailable(sagemaker_runtime: Any):
    with pytest.raises(sagemaker_runtime.exceptions.ServiceUnavailable) as caught:
        sagemaker_runtime.invoke_endpoint(EndpointName="restarting", Body=b"1")
    assert caught.value.response["Error"] == {
        "Code": "ServiceUnavailable",
        "Message": "Endpoint restarting is being brought back.",
    }
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_runtime_errors_carry_the_code_in_a_header(endpoint_url: str):
    status, headers, body = raw_post(
        endpoint_url + "/endpoints/x/invocations-response-stream",
        b"1",
        {"X-Amzn-SageMaker-Session-Id": "NEW_SESSION"},  # not valid for the streaming call
    )
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "ValidationError"
    assert body["Message"].startswith("1 validation error detected: Value 'NEW_SESSION'")


# ---- serialization, unit level ----------------------------------------------------------


def test_json_error_body_and_headers():
    response = json_error(ResourceNotFound("gone"), "req-1")
    assert response.status == 400
    assert json.loads(response.body) == {
        "__type": "ResourceNotFound",
        "message": "gone",
        "Message": "gone",
    }
    assert response.header("x-amzn-ErrorType") == "ResourceNotFound"
    assert response.header("x-amzn-requestid") == "req-1"
    assert response.header("content-type") == "application/x-amz-json-1.1"
    assert json.loads(json_error(ValidationException("bad"), "r").body) == {
        "__type": "ValidationException",
        "message": "bad",
    }


def test_rest_error_body_and_headers():
    error = ModelError("m", original_status_code=500, error_code="SERVER_ERROR_FROM_MODEL")
    response = rest_error(error, "req-2")
    assert (response.status, reason(response.status)) == (424, "Failed Dependency")
    assert json.loads(response.body) == {
        "Message": "m",
        "OriginalStatusCode": 500,
        "ErrorCode": "SERVER_ERROR_FROM_MODEL",
    }
    assert response.header("x-amzn-ErrorType") == "ModelError"
    assert response.header("x-amzn-RequestId") == "req-2"


def test_reason_of_a_status_python_does_not_know():
    class Unknown(AWSError):
        status = 530

    assert reason(rest_error(Unknown("x"), "r").status) == "Unknown"
