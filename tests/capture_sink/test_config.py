"""DataCaptureConfig validation (as the API validates it) and the capture settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smlocal.capture_sink.config import (
    CaptureConfigError,
    load_capture_config,
    parse_capture_config,
)
from smlocal.capture_sink.settings import CaptureSettings, CaptureSettingsError, default_spool_dir

SDK_REQUEST = {  # what sagemaker 2.257 sends by default (spec section 3)
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": "s3://capture-bucket/datacapture",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    "CaptureContentTypeHeader": {
        "CsvContentTypes": ["text/csv"],
        "JsonContentTypes": ["application/json"],
    },
}
# SageMaker prints its patterns anchored (botocore's copy of the model has them stripped).
PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*\/[a-zA-Z0-9](-*[a-zA-Z0-9.])*$"
# A list of strings is reported once, at the list, with every rule of its members.
CONTENT_TYPE_RULES = (
    "Member must satisfy constraint: [Member must have length less than or equal to 256, "
    "Member must have length greater than or equal to 1, Member must satisfy regular "
    f"expression pattern: {PATTERN}]"
)


def with_(**changes):
    doc = json.loads(json.dumps(SDK_REQUEST))
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def test_the_sdk_request_is_understood():
    config = parse_capture_config(SDK_REQUEST)
    assert config.enable_capture
    assert config.initial_sampling_percentage == 100
    assert config.destination_s3_uri == "s3://capture-bucket/datacapture"
    assert config.capture_input
    assert config.capture_output
    assert config.csv_content_types == ("text/csv",)
    assert config.json_content_types == ("application/json",)
    assert config.kms_key_id is None
    assert config.describe() == SDK_REQUEST


@pytest.mark.parametrize(
    ("modes", "expected"),
    [
        (["Input"], (True, False)),
        (["Output"], (False, True)),
        (["InputAndOutput"], (True, True)),
        (["Input", "Output"], (True, True)),
    ],
)
def test_capture_modes(modes, expected):
    config = parse_capture_config(with_(CaptureOptions=[{"CaptureMode": m} for m in modes]))
    assert (config.capture_input, config.capture_output) == expected


def test_enable_capture_defaults_to_true_and_header_to_none():
    config = parse_capture_config(with_(EnableCapture=None, CaptureContentTypeHeader=None))
    assert config.enable_capture
    assert config.csv_content_types is None
    assert config.json_content_types is None


BAD_FIELDS = [
    (
        {"InitialSamplingPercentage": 101},
        "Value '101' at 'dataCaptureConfig.initialSamplingPercentage' failed to satisfy "
        "constraint: Member must have value less than or equal to 100",
    ),
    (
        {"InitialSamplingPercentage": -1},
        "Value '-1' at 'dataCaptureConfig.initialSamplingPercentage' failed to satisfy "
        "constraint: Member must have value greater than or equal to 0",
    ),
    (
        {"InitialSamplingPercentage": "50"},
        "Value '50' at 'dataCaptureConfig.initialSamplingPercentage' failed to satisfy "
        "constraint: Member must be an integer",
    ),
    (
        {"InitialSamplingPercentage": None},
        "Value null at 'dataCaptureConfig.initialSamplingPercentage' failed to satisfy "
        "constraint: Member must not be null",
    ),
    (
        {"EnableCapture": "false"},
        "Value 'false' at 'dataCaptureConfig.enableCapture' failed to satisfy constraint: "
        "Member must be a boolean (true or false)",
    ),
    (
        {"DestinationS3Uri": None},
        "Value null at 'dataCaptureConfig.destinationS3Uri' failed to satisfy constraint: "
        "Member must not be null",
    ),
    (
        {"DestinationS3Uri": "capture-bucket/datacapture"},
        "Value 'capture-bucket/datacapture' at 'dataCaptureConfig.destinationS3Uri' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
        "^(https|s3)://([^/])/?(.*)$",
    ),
    (
        {"DestinationS3Uri": "s3://b/" + "x" * 510},
        "at 'dataCaptureConfig.destinationS3Uri' failed to satisfy constraint: Member must "
        "have length less than or equal to 512",
    ),
    (
        {"DestinationS3Uri": "https://bucket.s3.amazonaws.com/capture"},
        "Value 'https://bucket.s3.amazonaws.com/capture' at 'dataCaptureConfig.destinationS3Uri'"
        " failed to satisfy constraint: smlocal delivers captures to s3:// destinations only",
    ),
    (
        {"KmsKeyId": "alias/my key"},
        "Value 'alias/my key' at 'dataCaptureConfig.kmsKeyId' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]*$",
    ),
    (
        {"CaptureOptions": []},
        "Value '[]' at 'dataCaptureConfig.captureOptions' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
    ),
    (
        {"CaptureOptions": [{"CaptureMode": "Input"}] * 33},
        "at 'dataCaptureConfig.captureOptions' failed to satisfy constraint: Member must have "
        "length less than or equal to 32",
    ),
    (
        {"CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "REQUEST"}]},
        "Value 'REQUEST' at 'dataCaptureConfig.captureOptions.2.member.captureMode' failed to "
        "satisfy constraint: Member must satisfy enum value set: [Input, Output, InputAndOutput]",
    ),
    (
        {"CaptureOptions": [{}]},
        "Value null at 'dataCaptureConfig.captureOptions.1.member.captureMode' failed to "
        "satisfy constraint: Member must not be null",
    ),
    (
        {"CaptureContentTypeHeader": {"CsvContentTypes": []}},
        "Value '[]' at 'dataCaptureConfig.captureContentTypeHeader.csvContentTypes' failed to "
        "satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        {"CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"] * 11}},
        "at 'dataCaptureConfig.captureContentTypeHeader.jsonContentTypes' failed to satisfy "
        "constraint: Member must have length less than or equal to 10",
    ),
    (
        {"CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv; charset=utf-8"]}},
        "Value '[text/csv; charset=utf-8]' at "
        "'dataCaptureConfig.captureContentTypeHeader.csvContentTypes' failed to satisfy "
        f"constraint: {CONTENT_TYPE_RULES}",
    ),
    (
        {"CaptureContentTypeHeader": {"JsonContentTypes": ["a/" + "b" * 300]}},
        "]' at 'dataCaptureConfig.captureContentTypeHeader.jsonContentTypes' failed to "
        f"satisfy constraint: {CONTENT_TYPE_RULES}",
    ),
    (
        {"InitalSamplingPercentage": 20},  # mlflow's documented typo
        "Unknown parameter at 'dataCaptureConfig': InitalSamplingPercentage; it must be one "
        "of: EnableCapture, InitialSamplingPercentage, DestinationS3Uri, KmsKeyId, "
        "CaptureOptions, CaptureContentTypeHeader",
    ),
]


@pytest.mark.parametrize(("changes", "message"), BAD_FIELDS)
def test_each_invalid_field_has_a_clear_error(changes, message):
    with pytest.raises(CaptureConfigError) as caught:
        parse_capture_config(with_(**changes))
    assert message in str(caught.value)
    assert str(caught.value).startswith("1 validation error detected: ")
    assert caught.value.code == "ValidationException"


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(CaptureConfigError) as caught:
        parse_capture_config(with_(InitialSamplingPercentage=200, CaptureOptions=[]))
    assert str(caught.value).startswith("2 validation errors detected: ")
    assert len(caught.value.errors) == 2


def test_the_message_lists_at_most_ten_as_aws_does_the_errors_keep_all():
    options = [{"CaptureMode": f"Mode{n}"} for n in range(12)]
    with pytest.raises(CaptureConfigError) as caught:
        parse_capture_config(with_(CaptureOptions=options))
    assert str(caught.value).startswith("10 validation errors detected: ")
    assert str(caught.value).count("failed to satisfy constraint") == 10
    assert len(caught.value.errors) == 12


def test_not_json_and_not_an_object():
    with pytest.raises(CaptureConfigError, match="Member must be a JSON object"):
        load_capture_config("{'EnableCapture': true")
    with pytest.raises(CaptureConfigError, match="Member must be a JSON object"):
        load_capture_config("[1, 2]")


def env(**more):
    return {
        "SMLOCAL_CAPTURE_CONFIG": json.dumps(SDK_REQUEST),
        "SMLOCAL_ENDPOINT_NAME": "My-Endpoint",
        **more,
    }


def test_settings_defaults():
    settings = CaptureSettings.from_env(env())
    assert settings is not None
    assert settings.endpoint_name == "My-Endpoint"
    assert settings.variant_name == "AllTraffic"
    assert settings.roll_seconds == 60
    assert settings.disk_threshold == 75
    assert settings.capture_failed is False
    assert settings.seed is None
    assert settings.spool_root == default_spool_dir("My-Endpoint", "AllTraffic")


def test_settings_from_every_variable(tmp_path: Path):
    settings = CaptureSettings.from_env(
        env(
            SMLOCAL_VARIANT_NAME="Variant-B",
            SMLOCAL_CAPTURE_SPOOL_DIR=str(tmp_path),
            SMLOCAL_CAPTURE_ROLL_SECONDS="0.5",
            SMLOCAL_CAPTURE_DISK_THRESHOLD="90",
            SMLOCAL_CAPTURE_FAILED="true",
            SMLOCAL_CAPTURE_SEED="7",
            AWS_REGION="eu-west-1",
        )
    )
    assert settings is not None
    assert settings.variant_name == "Variant-B"
    assert settings.spool_root == tmp_path
    assert (settings.roll_seconds, settings.disk_threshold) == (0.5, 90)
    assert settings.capture_failed is True
    assert settings.seed == 7
    assert settings.region == "eu-west-1"


def test_capture_is_off_without_a_config():
    assert CaptureSettings.from_env({}) is None


@pytest.mark.parametrize(
    ("more", "message"),
    [
        ({"SMLOCAL_ENDPOINT_NAME": ""}, "SMLOCAL_ENDPOINT_NAME is not set"),
        ({"SMLOCAL_ENDPOINT_NAME": "bad_name"}, "is not a SageMaker name"),
        ({"SMLOCAL_VARIANT_NAME": "-x"}, "is not a SageMaker name"),
        ({"SMLOCAL_CAPTURE_ROLL_SECONDS": "0"}, "must be above 0"),
        ({"SMLOCAL_CAPTURE_ROLL_SECONDS": "soon"}, "is not a number"),
        ({"SMLOCAL_CAPTURE_DISK_THRESHOLD": "101"}, "must be between 0 and 100"),
        ({"SMLOCAL_CAPTURE_FAILED": "ture"}, "is not a boolean"),
        ({"SMLOCAL_CAPTURE_SEED": "x"}, "is not an integer"),
        ({"SMLOCAL_CAPTURE_CONFIG": "{}"}, "3 validation errors detected"),
    ],
)
def test_bad_settings(more, message):
    with pytest.raises(CaptureSettingsError, match=message):
        CaptureSettings.from_env(env(**more))


def test_false_is_false():
    settings = CaptureSettings.from_env(env(SMLOCAL_CAPTURE_FAILED="false"))
    assert settings is not None
    assert settings.capture_failed is False
