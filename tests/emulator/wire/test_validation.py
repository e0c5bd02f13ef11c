"""Validation from the botocore models, with AWS's wording (Coral's validation messages)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from smlocal.capture_sink.aws_shapes.java_text import QUOTE_LIMIT
from smlocal.capture_sink.config import CaptureConfigError, parse_capture_config
from smlocal.emulator.errors import (
    AWSError,
    SerializationException,
    ValidationError,
    ValidationException,
)
from smlocal.emulator.wire.service_models import runtime_model, sagemaker_model
from smlocal.emulator.wire.validation import validate

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def error_of(operation: str, params: dict[str, Any], model: Any = None) -> AWSError:
    with pytest.raises(AWSError) as caught:
        validate(model or sagemaker_model(), operation, params)
    return caught.value


def variant(**overrides: Any) -> dict[str, Any]:
    return {
        "VariantName": "AllTraffic",
        "ModelName": "sagemaker-xgboost-2026-11-21-11-35-42-385",
        "InitialVariantWeight": 1,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
        **overrides,
    }


# ---- requests the SageMaker SDK really sends are valid ----------------------------------


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        (
            "CreateModel",
            {
                "ModelName": "sagemaker-xgboost-2026-11-21-11-35-42-385",
                "ExecutionRoleArn": ROLE,
                "PrimaryContainer": {
                    "Image": IMAGE,
                    "Environment": {},
                    "ModelDataUrl": "s3://capture-bucket/models/model.tar.gz",
                },
            },
        ),
        (
            "CreateModel",
            {
                "ModelName": "churn-models-2026-11-21-11-35-42-385",
                "ExecutionRoleArn": ROLE,
                "Containers": [
                    {
                        "ModelPackageName": (
                            "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/1"
                        )
                    }
                ],
                "Tags": [{"Key": "Projekt Größe", "Value": "ü:/=+-@"}],
            },
        ),
        (
            "CreateEndpointConfig",
            {
                "EndpointConfigName": "demo-ep",
                "ProductionVariants": [variant()],
                "DataCaptureConfig": {
                    "EnableCapture": True,
                    "InitialSamplingPercentage": 100,
                    "DestinationS3Uri": "s3://capture-bucket/datacapture",
                    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                    "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
                },
            },
        ),
        (
            "CreateEndpoint",
            {"EndpointName": "demo-ep", "EndpointConfigName": "demo-ep", "Tags": []},
        ),
        (
            "CreateModelPackage",
            {
                "ModelPackageGroupName": "churn-models2",
                "InferenceSpecification": {
                    "Containers": [
                        {
                            "Image": IMAGE,
                            "Environment": {},
                            "ModelDataUrl": "s3://capture-bucket/models/model.tar.gz",
                        }
                    ],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                    "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
                    "SupportedTransformInstanceTypes": ["ml.m5.large"],
                },
                "CertifyForMarketplace": False,
                "ModelApprovalStatus": "PendingManualApproval",
                "SkipModelValidation": "None",
                "ClientToken": "eac11af4-6c5e-4b0e-9a47-3b0d5b1f0a11",
            },
        ),
        (
            "ListModelPackages",
            {
                "ModelPackageGroupName": "churn-models",
                "ModelApprovalStatus": "Approved",
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": 1,
                "CreationTimeAfter": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            },
        ),
        ("ListTags", {"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/demo-ep"}),
    ],
)
def test_requests_the_sdk_sends_are_valid(operation: str, params: dict[str, Any]):
    validate(sagemaker_model(), operation, params)


def test_invoke_endpoint_as_the_sdk_sends_it_is_valid():
    validate(
        runtime_model(),
        "InvokeEndpoint",
        {
            "EndpointName": "demo-ep",
            "Body": b"1,2,3",
            "ContentType": "text/csv",
            "Accept": "*/*",
            "TargetVariant": "AllTraffic",
            "InferenceId": "abc-1",
            "CustomAttributes": "trace=1",
        },
    )


# ---- constraint failures, worded like AWS -----------------------------------------------


def test_pattern_failure_in_a_list_of_structures_matches_the_real_message():
    error = error_of(
        "CreateEndpointConfig",
        {
            "EndpointConfigName": "cfg",
            "ProductionVariants": [variant(ModelName="ENTER MODEL NAME")],
        },
    )
    assert isinstance(error, ValidationException)
    assert (error.code, error.status) == ("ValidationException", 400)
    pattern = sagemaker_model().shape_for("ModelName").metadata["pattern"]
    assert error.message == (
        "1 validation error detected: Value 'ENTER MODEL NAME' at "
        "'productionVariants.1.member.modelName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: ^{pattern}$"
    )


def test_missing_required_members_are_null_values():
    error = error_of("CreateEndpointConfig", {})
    assert error.message == (
        "2 validation errors detected: "
        "Value null at 'endpointConfigName' failed to satisfy constraint: Member must not be null; "
        "Value null at 'productionVariants' failed to satisfy constraint: Member must not be null"
    )


def test_required_member_inside_a_list_element():
    variants = [variant(), {"ModelName": "m", "InstanceType": "ml.m5.large"}]
    error = error_of(
        "CreateEndpointConfig", {"EndpointConfigName": "c", "ProductionVariants": variants}
    )
    assert error.message == (
        "1 validation error detected: Value null at 'productionVariants.2.member.variantName' "
        "failed to satisfy constraint: Member must not be null"
    )


def test_pattern_and_length_failures_of_one_value_are_two_errors():
    name = "x" * 63 + "-"
    error = error_of("DescribeEndpoint", {"EndpointName": name})
    assert error.message == (
        "2 validation errors detected: "
        f"Value '{name}' at 'endpointName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$; "
        f"Value '{name}' at 'endpointName' failed to satisfy constraint: "
        "Member must have length less than or equal to 63"
    )


def test_numeric_ranges_print_bounds_in_the_shape_type():
    params = {
        "EndpointConfigName": "c",
        "ProductionVariants": [variant(InitialVariantWeight=-1)],
        "DataCaptureConfig": {
            "InitialSamplingPercentage": 101,
            "DestinationS3Uri": "s3://b/p",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
    }
    error = error_of("CreateEndpointConfig", params)
    assert error.message == (
        "2 validation errors detected: "
        "Value '-1.0' at 'productionVariants.1.member.initialVariantWeight' failed to satisfy "
        "constraint: Member must have value greater than or equal to 0.0; "
        "Value '101' at 'dataCaptureConfig.initialSamplingPercentage' failed to satisfy "
        "constraint: Member must have value less than or equal to 100"
    )


def test_enum_and_list_length():
    params = {
        "EndpointConfigName": "c",
        "ProductionVariants": [variant(InstanceType="ml.nope")],
        "DataCaptureConfig": {
            "InitialSamplingPercentage": 5,
            "DestinationS3Uri": "s3://b/p",
            "CaptureOptions": [{"CaptureMode": "Both"}],
        },
    }
    error = error_of("CreateEndpointConfig", params)
    instance_types = sagemaker_model().shape_for("ProductionVariantInstanceType").enum
    assert error.message == (
        "2 validation errors detected: "
        "Value 'ml.nope' at 'productionVariants.1.member.instanceType' failed to satisfy "
        f"constraint: Member must satisfy enum value set: [{', '.join(instance_types)}]; "
        "Value 'Both' at 'dataCaptureConfig.captureOptions.1.member.captureMode' failed to "
        "satisfy constraint: Member must satisfy enum value set: [Input, Output, InputAndOutput]"
    )


CAPTURE = {
    "InitialSamplingPercentage": 5,
    "DestinationS3Uri": "s3://b/p",
    "CaptureOptions": [{"CaptureMode": "Input"}],
}


@pytest.mark.parametrize(
    "changes",
    [
        {"InitialSamplingPercentage": 101},
        {"DestinationS3Uri": "bucket/prefix"},
        {"KmsKeyId": "alias/my key"},
        {"CaptureOptions": []},
        {"CaptureOptions": [{"CaptureMode": "Both"}, {}]},
        {"CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv; charset=utf-8"]}},
        {"CaptureContentTypeHeader": {"JsonContentTypes": ["a/b"] * 11}},
        {"InitialSamplingPercentage": -1, "DestinationS3Uri": "s3://b/" + "x" * 510},
    ],
)
def test_a_model_server_words_a_bad_data_capture_config_as_the_emulator_does(changes):
    """One validator: what `smlocal serve` says of its SMLOCAL_CAPTURE_CONFIG is what
    CreateEndpointConfig answers for the same DataCaptureConfig."""
    capture = {**CAPTURE, **changes}
    params = {"EndpointConfigName": "c", "ProductionVariants": [variant()]}
    error = error_of("CreateEndpointConfig", {**params, "DataCaptureConfig": capture})
    with pytest.raises(CaptureConfigError) as caught:
        parse_capture_config(capture)
    assert error.code == caught.value.code == "ValidationException"
    assert error.message == str(caught.value)


def test_list_too_long_and_too_short():
    too_many = [variant(VariantName=f"v{i}") for i in range(11)]
    error = error_of(
        "CreateEndpointConfig", {"EndpointConfigName": "c", "ProductionVariants": too_many}
    )
    assert error.message.startswith("1 validation error detected: Value '[{VariantName=v0, ")
    assert error.message.endswith(
        "at 'productionVariants' failed to satisfy constraint: "
        "Member must have length less than or equal to 10"
    )
    error = error_of("CreateEndpointConfig", {"EndpointConfigName": "c", "ProductionVariants": []})
    assert error.message == (
        "1 validation error detected: Value '[]' at 'productionVariants' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1"
    )


def test_map_keys_and_values_are_reported_once_each_with_all_their_rules():
    environment = {"1BAD": "a", "2BAD": "b", "GOOD": "x" * 1025}
    params = {"ModelName": "m", "PrimaryContainer": {"Image": IMAGE, "Environment": environment}}
    error = error_of("CreateModel", params)
    shown = "{1BAD=a, 2BAD=b, GOOD=" + "x" * 1025 + "}"
    assert error.message == (
        "2 validation errors detected: "
        f"Value '{shown}' at 'primaryContainer.environment' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must have length less than or equal to 1024, "
        "Member must have length greater than or equal to 0, "
        "Member must satisfy regular expression pattern: ^[a-zA-Z_][a-zA-Z0-9_]*$]; "
        f"Value '{shown}' at 'primaryContainer.environment' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have length less than or equal to 1024, "
        "Member must have length greater than or equal to 0, "
        r"Member must satisfy regular expression pattern: ^[\S\s]*$]"
    )


def test_a_list_of_scalars_is_reported_once_at_the_list():
    params = {
        "ModelPackageGroupName": "g",
        "InferenceSpecification": {
            "Containers": [{"Image": IMAGE}],
            "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large", "ml.nope", "ml.also-nope"],
        },
    }
    error = error_of("CreateModelPackage", params)
    enum = sagemaker_model().shape_for("ProductionVariantInstanceType").enum
    assert error.message == (
        "1 validation error detected: Value '[ml.m5.large, ml.nope, ml.also-nope]' at "
        "'inferenceSpecification.supportedRealtimeInferenceInstanceTypes' failed to satisfy "
        "constraint: Member must satisfy constraint: "
        f"[Member must satisfy enum value set: [{', '.join(enum)}]]"
    )


def test_tag_keys_use_unicode_categories():
    params = {
        "ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e",
        "Tags": [{"Key": "ok Größe", "Value": "v"}, {"Key": "bad#", "Value": "v"}],
    }
    error = error_of("AddTags", params)
    assert error.message == (
        "1 validation error detected: Value 'bad#' at 'tags.2.member.key' failed to satisfy "
        r"constraint: Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$"
    )


def test_at_most_ten_failures_are_listed():
    variants = [{"ModelName": "m"} for _ in range(4)]  # 4 x (variantName) ...
    variants += [{"VariantName": f"v{i}", "ModelName": "bad name"} for i in range(6)]
    error = error_of("CreateEndpointConfig", {"ProductionVariants": variants})
    assert error.message.startswith(
        "10 validation errors detected: Value null at 'endpointConfigName' failed to satisfy "
        "constraint: Member must not be null; Value null at 'productionVariants.1.member."
        "variantName' failed to satisfy constraint: Member must not be null; "
    )
    assert error.message.count("failed to satisfy constraint") == 10
    assert "productionVariants.9.member.modelName" in error.message
    assert "productionVariants.10." not in error.message


def test_lengths_count_utf16_code_units_like_java():
    description = "\U0001f600" * 512  # 512 characters, 1024 UTF-16 units: fits
    validate(
        sagemaker_model(),
        "CreateModelPackageGroup",
        {"ModelPackageGroupName": "g", "ModelPackageGroupDescription": description},
    )
    error = error_of(
        "CreateModelPackageGroup",
        {"ModelPackageGroupName": "g", "ModelPackageGroupDescription": description + "x"},
    )
    assert "Member must have length less than or equal to 1024" in error.message


# ---- the runtime ------------------------------------------------------------------------


def test_runtime_uses_validation_error_and_hides_sensitive_values():
    params = {"EndpointName": "demo-ep", "Body": b"x" * 6291457, "CustomAttributes": "é"}
    error = error_of("InvokeEndpoint", params, runtime_model())
    assert isinstance(error, ValidationError)
    assert (error.code, error.status) == ("ValidationError", 400)
    assert error.message == (
        "2 validation errors detected: "
        "Value at 'body' failed to satisfy constraint: "
        "Member must have length less than or equal to 6291456; "
        r"Value at 'customAttributes' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: \p{ASCII}*"
    )


def test_runtime_body_of_exactly_six_mebibytes_is_accepted():
    validate(runtime_model(), "InvokeEndpoint", {"EndpointName": "e", "Body": b"x" * 6291456})


def test_runtime_header_patterns():
    params = {
        "EndpointName": "demo-ep",
        "Body": b"",
        "InferenceId": " id",
        "TargetVariant": "All_Traffic",
        "SessionId": "NEW_SESSION",
    }
    error = error_of("InvokeEndpoint", params, runtime_model())
    assert error.message == (
        "2 validation errors detected: "
        "Value 'All_Traffic' at 'targetVariant' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*; "
        "Value ' id' at 'inferenceId' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: \A\S[\p{Print}]*\z"
    )


# ---- wrong types are SerializationExceptions (AWS fails while deserializing) ------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"EndpointName": 5},
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber "
            "can not be converted to an String",
        ),
        ({"EndpointName": True}, "class java.lang.Boolean can not be converted to an String"),
        ({"EndpointName": ["a"]}, "Start of list found where not expected"),
        ({"EndpointName": {"a": 1}}, "Start of structure or map found where not expected."),
    ],
)
def test_wrong_types(params: dict[str, Any], message: str):
    error = error_of("DescribeEndpoint", params)
    assert isinstance(error, SerializationException)
    assert (error.code, error.status, error.message) == ("SerializationException", 400, message)


@pytest.mark.parametrize(
    ("variant_params", "message"),
    [
        (
            {"InitialInstanceCount": "1"},
            "class java.lang.String can not be converted to an Integer",
        ),
        (
            {"InitialInstanceCount": True},
            "class java.lang.Boolean can not be converted to an Integer",
        ),
        ({"InitialVariantWeight": "1"}, "class java.lang.String can not be converted to an Float"),
        ({"EnableSSMAccess": "yes"}, "'YES' can not be converted to an Boolean"),
        (
            {"EnableSSMAccess": 1},
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber "
            "can not be converted to an Boolean",
        ),
        ({"ServerlessConfig": "x"}, "Expected null"),
        ({"ServerlessConfig": []}, "Start of list found where not expected"),
    ],
)
def test_wrong_types_inside_lists(variant_params: dict[str, Any], message: str):
    params = {"EndpointConfigName": "c", "ProductionVariants": [variant(**variant_params)]}
    error = error_of("CreateEndpointConfig", params)
    assert (error.code, error.message) == ("SerializationException", message)


def test_wrong_container_types():
    assert (
        error_of(
            "CreateEndpointConfig", {"EndpointConfigName": "c", "ProductionVariants": "x"}
        ).message
        == "Expected list or null"
    )
    params = {"ModelName": "m", "PrimaryContainer": {"Image": IMAGE, "Environment": "x"}}
    assert error_of("CreateModel", params).message == "Expected map or null"


def test_type_errors_come_before_constraint_errors():
    params = {
        "EndpointConfigName": "bad name",
        "ProductionVariants": [variant(InitialInstanceCount="1")],
    }
    assert error_of("CreateEndpointConfig", params).code == "SerializationException"


# ---- long values are quoted in part ------------------------------------------------------


def test_a_value_of_quote_limit_characters_is_quoted_whole():
    name = "a" * QUOTE_LIMIT
    error = error_of("CreateModel", {"ModelName": name})
    assert error.message == (
        f"1 validation error detected: Value '{name}' at 'modelName' failed to satisfy "
        "constraint: Member must have length less than or equal to 63"
    )


def test_a_longer_value_is_cut_with_its_length_noted():
    error = error_of("CreateModel", {"ModelName": "a" * 20_971_520})
    assert error.message == (
        f"1 validation error detected: Value '{'a' * QUOTE_LIMIT}…' (20971520 characters) at "
        "'modelName' failed to satisfy constraint: Member must have length less than or "
        "equal to 63"
    )
    assert len(error.message) < QUOTE_LIMIT + 200


def test_a_long_map_is_cut_as_java_prints_it():
    container = {"Image": IMAGE, "Environment": {"HUGE": "x" * 1_000_000}}
    error = error_of("CreateModel", {"ModelName": "m", "PrimaryContainer": container})
    shown = "{HUGE=" + "x" * (QUOTE_LIMIT - 6)
    assert error.message.startswith(
        f"1 validation error detected: Value '{shown}…' (1000007 characters) at "
        "'primaryContainer.environment' failed to satisfy constraint: Map value must satisfy"
    )


def test_a_long_string_given_for_a_boolean_is_cut():
    error = error_of("CreateModel", {"ModelName": "m", "EnableNetworkIsolation": "y" * 100_000})
    assert isinstance(error, SerializationException)
    assert error.message == (
        f"'{'Y' * QUOTE_LIMIT}…' (100000 characters) can not be converted to an Boolean"
    )


def test_an_invalid_base64_blob_is_cut():
    from smlocal.emulator.wire.parsing import decode_json

    shape = runtime_model().operation_model("InvokeEndpoint").input_shape.members["Body"]
    with pytest.raises(SerializationException) as caught:
        decode_json(shape, "!" * 1_000_000)
    assert caught.value.message == (
        f"'{'!' * QUOTE_LIMIT}…' (1000000 characters) can not be converted to a Blob: "
        "invalid Base64"
    )
