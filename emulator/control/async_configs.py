"""CreateEndpointConfig's AsyncInferenceConfig: the checks botocore's model leaves to the
service (enum values, S3 URIs, what goes with what)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smlocal.emulator.errors import ValidationException
from smlocal.emulator.support.clients import s3_location

RESPONSE_IN = {
    "SUCCESS_NOTIFICATION_TOPIC": "SuccessTopic",
    "ERROR_NOTIFICATION_TOPIC": "ErrorTopic",
}


def check_async_config(config: Mapping[str, Any], variants: list[Mapping[str, Any]]) -> None:
    """ValidationException for an AsyncInferenceConfig SageMaker would refuse."""
    if any("ServerlessConfig" in v for v in variants):
        raise ValidationException(
            "AsyncInferenceConfig is not supported for endpoint configs with serverless "
            "production variants."
        )
    output = config["OutputConfig"]
    paths = [key for key in ("S3OutputPath", "S3FailurePath") if output.get(key)]
    if not paths:
        raise ValidationException(
            "AsyncInferenceConfig.OutputConfig must specify S3OutputPath or S3FailurePath."
        )
    for key in paths:
        try:
            s3_location(output[key])
        except ValueError:
            raise ValidationException(
                f"AsyncInferenceConfig.OutputConfig.{key} '{output[key]}' is not a valid S3 URI."
            ) from None
    notification = output.get("NotificationConfig") or {}
    included = notification.get("IncludeInferenceResponseIn") or []
    if len(set(included)) != len(included):
        raise ValidationException("IncludeInferenceResponseIn must not list the same topic twice.")
    for value in included:
        topic = RESPONSE_IN.get(value)
        if topic is None:
            raise ValidationException(
                f"1 validation error detected: Value '[{', '.join(included)}]' at "
                "'asyncInferenceConfig.outputConfig.notificationConfig.includeInferenceResponseIn'"
                " failed to satisfy constraint: Member must satisfy constraint: [Member must "
                "satisfy enum value set: [SUCCESS_NOTIFICATION_TOPIC, ERROR_NOTIFICATION_TOPIC]]"
            )
        if not notification.get(topic):
            raise ValidationException(
                f"IncludeInferenceResponseIn lists {value} but NotificationConfig has no {topic}."
            )
