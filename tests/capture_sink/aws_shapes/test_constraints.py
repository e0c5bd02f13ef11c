"""The constraint pass on its own: the rules a caller chooses, and hand-written documents."""

from __future__ import annotations

from typing import Any

import pytest

from smlocal.capture_sink.aws_shapes.constraints import (
    DEFAULT_RULES,
    MAX_REPORTED,
    Rules,
    constraint_failures,
    validation_message,
)
from smlocal.capture_sink.aws_shapes.models import sagemaker_shape

HAND_WRITTEN = Rules.of("sagemaker", hand_written=True)
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def failures(shape: str, value: Any, path: str, rules: Rules = DEFAULT_RULES) -> list[str]:
    return list(constraint_failures(sagemaker_shape(shape), value, path, rules))


def test_patterns_are_printed_as_the_model_has_them_unless_anchored():
    header = {"CsvContentTypes": ["text/csv; charset=utf-8"]}
    plain = failures("CaptureContentTypeHeader", header, "h")
    anchored = failures("CaptureContentTypeHeader", header, "h", Rules(anchored_patterns=True))
    assert "pattern: [a-zA-Z0-9](-*[a-zA-Z0-9])*\\/[a-zA-Z0-9](-*[a-zA-Z0-9.])*]" in plain[0]
    assert "pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*\\/[a-zA-Z0-9](-*[a-zA-Z0-9.])*$]" in anchored[0]


def test_allow_accepts_a_member_value_without_its_constraints():
    container = {"Image": IMAGE, "ModelDataUrl": "/models/model.tar.gz"}
    assert failures("ContainerDefinition", container, "c") != []
    allow = Rules(
        allow=lambda shape, member, value: (
            (shape, member) == ("ContainerDefinition", "ModelDataUrl")
        )
    )
    assert failures("ContainerDefinition", container, "c", allow) == []


def test_a_request_never_hears_of_unknown_members_a_hand_written_document_does():
    capture = {"Bogus": 1, "Other": 2, "InitialSamplingPercentage": 5, "DestinationS3Uri": "s3://b"}
    capture["CaptureOptions"] = [{"CaptureMode": "Input"}]
    assert failures("DataCaptureConfig", capture, "d") == []
    assert failures("DataCaptureConfig", capture, "d", HAND_WRITTEN) == [
        "Unknown parameters at 'd': Bogus, Other; it must be one of: EnableCapture, "
        "InitialSamplingPercentage, DestinationS3Uri, KmsKeyId, CaptureOptions, "
        "CaptureContentTypeHeader"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            [1, 2],
            "Value '[1, 2]' at 'd' failed to satisfy constraint: Member must be a JSON object",
        ),
        ("x", "Value 'x' at 'd' failed to satisfy constraint: Member must be a JSON object"),
        (None, "Value null at 'd' failed to satisfy constraint: Member must be a JSON object"),
    ],
)
def test_a_hand_written_document_of_the_wrong_type(value: Any, message: str):
    assert failures("DataCaptureConfig", value, "d", HAND_WRITTEN) == [message]


def test_in_a_hand_written_list_of_strings_a_wrong_type_is_named_at_its_own_path():
    header = {"JsonContentTypes": [5, "application/json", "bad type"]}
    assert failures("CaptureContentTypeHeader", header, "h", HAND_WRITTEN) == [
        "Value '5' at 'h.jsonContentTypes.1.member' failed to satisfy constraint: "
        "Member must be a string",
        "Value '[5, application/json, bad type]' at 'h.jsonContentTypes' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must have length less than or "
        "equal to 256, Member must have length greater than or equal to 1, Member must "
        "satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*\\/"
        "[a-zA-Z0-9](-*[a-zA-Z0-9.])*$]",
    ]


def test_in_a_hand_written_map_a_wrong_type_is_named_at_its_key():
    container = {"Image": IMAGE, "Environment": {"GOOD": "1", "BAD": 2, "bad key": "x"}}
    assert failures("ContainerDefinition", container, "c", HAND_WRITTEN) == [
        "Value '{GOOD=1, BAD=2, bad key=x}' at 'c.environment' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must have length less than or equal to "
        "1024, Member must have length greater than or equal to 0, Member must satisfy "
        "regular expression pattern: ^[a-zA-Z_][a-zA-Z0-9_]*$]",
        "Value '2' at 'c.environment.BAD.member' failed to satisfy constraint: "
        "Member must be a string",
    ]


def test_the_summary_lists_at_most_ten():
    eleven = [f"failure {n}" for n in range(11)]
    assert validation_message(eleven) == (
        f"{MAX_REPORTED} validation errors detected: " + "; ".join(eleven[:10])
    )
    assert validation_message(eleven[:1]) == "1 validation error detected: failure 0"
