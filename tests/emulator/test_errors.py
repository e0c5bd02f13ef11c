"""The error classes follow the botocore models: codes, statuses, modeled members."""

from __future__ import annotations

import json

import pytest

from smlocal.capture_sink.aws_shapes.java_text import QUOTE_LIMIT
from smlocal.emulator import errors
from smlocal.emulator.errors import AWSError, ModelError, validation_error_class
from smlocal.emulator.wire.responses import handle_json
from smlocal.emulator.wire.service_models import runtime_model, sagemaker_model
from smlocal.emulator.wire.transport import HttpRequest

CLASSES = {
    cls.code: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, AWSError) and cls is not AWSError
}


def modeled_errors(model):
    found = {}
    for name in model.operation_names:
        for shape in model.operation_model(name).error_shapes:
            found[shape.name] = shape
    return found


@pytest.mark.parametrize(
    "model", [sagemaker_model(), runtime_model()], ids=["sagemaker", "runtime"]
)
def test_status_and_modeled_flag_follow_the_model(model):
    for name, shape in modeled_errors(model).items():
        if name not in CLASSES:
            continue  # errors smlocal never answers (quotas, conflicts, streaming-only ones)
        status = shape.metadata.get("error", {}).get("httpStatusCode", 400)
        assert (CLASSES[name].status, CLASSES[name].modeled) == (status, True), name


def test_every_error_smlocal_answers_exists_with_its_status():
    expected = {
        "ValidationException": 400,
        "ResourceNotFound": 400,
        "ResourceInUse": 400,
        "ConflictException": 400,
        "ResourceLimitExceeded": 400,
        "UnknownOperationException": 400,
        "SerializationException": 400,
        "InternalFailure": 500,
        "ValidationError": 400,
        "ModelError": 424,
        "ServiceUnavailable": 503,
        "ThrottlingException": 400,  # a serverless variant above MaxConcurrency (not modeled)
    }
    assert {code: cls.status for code, cls in CLASSES.items()} == expected


def test_unmodeled_control_plane_errors():
    for code in (
        "ValidationException",
        "UnknownOperationException",
        "SerializationException",
    ):
        assert not CLASSES[code].modeled
        assert sagemaker_model().shape_for_error_code(code) is None


def test_model_error_members_keep_their_aws_names_and_drop_missing_ones():
    error = ModelError(
        'Received client error (400) from primary with message "bad".',
        original_status_code=400,
        original_message="bad",
        log_stream_arn="arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/ep",
        error_code="CLIENT_ERROR_FROM_MODEL",
    )
    assert error.members == {
        "OriginalStatusCode": 400,
        "OriginalMessage": "bad",
        "LogStreamArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/ep",
        "ErrorCode": "CLIENT_ERROR_FROM_MODEL",
    }
    assert ModelError("timed out").members == {}
    assert str(error).startswith("Received client error (400)")


def test_a_subclass_defined_elsewhere_takes_its_class_name_as_code():
    class AccessDeniedException(AWSError):
        status = 400

    assert AccessDeniedException("no").code == "AccessDeniedException"


def test_validation_error_class_per_service():
    assert validation_error_class(sagemaker_model()) is errors.ValidationException
    assert validation_error_class(runtime_model()) is errors.ValidationError


def test_an_error_about_a_20_mb_value_is_a_small_answer():
    """20 MB in used to come back as 31 MB out: the message quoted the whole value."""
    body = json.dumps({"ModelName": "a" * 20_971_520}).encode()
    request = HttpRequest.build("POST", "/", {"X-Amz-Target": "SageMaker.CreateModel"}, body)
    response = handle_json(sagemaker_model(), request, lambda operation, params: {})
    assert (response.status, response.header("x-amzn-ErrorType")) == (400, "ValidationException")
    assert len(response.body) < QUOTE_LIMIT + 1024
    assert json.loads(response.body)["message"] == (
        f"1 validation error detected: Value '{'a' * QUOTE_LIMIT}…' (20971520 characters) at "
        "'modelName' failed to satisfy constraint: Member must have length less than or "
        "equal to 63"
    )
