"""The capture configuration: SageMaker's DataCaptureConfig, validated as the API does.

A model server reads it from SMLOCAL_CAPTURE_CONFIG, written by the emulator (from a
CreateEndpointConfig it has validated already) or by a person running `smlocal serve`
alone. Either way it is checked here, with the code the emulator checks requests with
(`aws_shapes`), as a hand-written document: a wrong type or a misspelt member is named
with its path, which AWS's deserializer would not do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from smlocal.capture_sink.aws_shapes.constraints import (
    Rules,
    constraint_failures,
    validation_message,
)
from smlocal.capture_sink.aws_shapes.java_text import quoted
from smlocal.capture_sink.aws_shapes.models import SAGEMAKER, sagemaker_shape
from smlocal.capture_sink.keys import parse_s3_uri

ROOT_PATH = "dataCaptureConfig"
RULES = Rules.of(SAGEMAKER, hand_written=True)  # a document a person may have written


class CaptureConfigError(ValueError):
    """A DataCaptureConfig the API would refuse; the message lists every bad field."""

    code = "ValidationException"
    status = 400

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__(validation_message(self.errors))


@dataclass(frozen=True)
class CaptureConfig:
    """What to capture and where, in smlocal's terms (names follow the API's members)."""

    destination_s3_uri: str
    enable_capture: bool = True
    initial_sampling_percentage: int = 100
    capture_input: bool = True
    capture_output: bool = True
    kms_key_id: str | None = None
    # None: no CaptureContentTypeHeader at all, so every payload is stored as BASE64.
    csv_content_types: tuple[str, ...] | None = None
    json_content_types: tuple[str, ...] | None = None

    def describe(self) -> dict[str, Any]:
        """The configuration in the API's shape."""
        modes = (["Input"] if self.capture_input else []) + (
            ["Output"] if self.capture_output else []
        )
        doc: dict[str, Any] = {
            "EnableCapture": self.enable_capture,
            "InitialSamplingPercentage": self.initial_sampling_percentage,
            "DestinationS3Uri": self.destination_s3_uri,
            "CaptureOptions": [{"CaptureMode": mode} for mode in modes],
        }
        if self.kms_key_id:
            doc["KmsKeyId"] = self.kms_key_id
        if self.csv_content_types is not None or self.json_content_types is not None:
            header: dict[str, list[str]] = {}
            if self.csv_content_types:
                header["CsvContentTypes"] = list(self.csv_content_types)
            if self.json_content_types:
                header["JsonContentTypes"] = list(self.json_content_types)
            doc["CaptureContentTypeHeader"] = header
        return doc


def parse_capture_config(document: Any) -> CaptureConfig:
    """Validate a DataCaptureConfig document (API shape) and return the config it describes."""
    shape = sagemaker_shape("DataCaptureConfig")
    errors = list(constraint_failures(shape, document, ROOT_PATH, RULES))
    uri = document.get("DestinationS3Uri") if isinstance(document, dict) else None
    if isinstance(uri, str) and not any(".destinationS3Uri'" in e for e in errors):
        errors += _destination_errors(uri)
    if errors:
        raise CaptureConfigError(errors)
    modes = {option["CaptureMode"] for option in document["CaptureOptions"]}
    both = "InputAndOutput" in modes
    header = document.get("CaptureContentTypeHeader")
    return CaptureConfig(
        destination_s3_uri=document["DestinationS3Uri"],
        enable_capture=document.get("EnableCapture", True),  # the API's default: enabled
        initial_sampling_percentage=document["InitialSamplingPercentage"],
        capture_input=both or "Input" in modes,
        capture_output=both or "Output" in modes,
        kms_key_id=document.get("KmsKeyId") or None,
        csv_content_types=None if header is None else tuple(header.get("CsvContentTypes") or ()),
        json_content_types=None if header is None else tuple(header.get("JsonContentTypes") or ()),
    )


def load_capture_config(text: str) -> CaptureConfig:
    """Parse a DataCaptureConfig from JSON text (e.g. an environment variable)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaptureConfigError(
            [
                f"Value {quoted(text)} at '{ROOT_PATH}' failed to satisfy constraint: "
                f"Member must be a JSON object ({exc.msg} at line {exc.lineno} column {exc.colno})"
            ]
        ) from None
    return parse_capture_config(document)


def _destination_errors(uri: str) -> list[str]:
    if not uri.startswith("s3://"):
        constraint = "smlocal delivers captures to s3:// destinations only"
    else:
        try:
            parse_s3_uri(uri)
        except ValueError:  # s3:// with no bucket
            constraint = "Member must name a bucket (s3://bucket/prefix)"
        else:
            return []
    return [
        f"Value {quoted(uri)} at '{ROOT_PATH}.destinationS3Uri' failed to satisfy constraint: "
        + constraint
    ]
