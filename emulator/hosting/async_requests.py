"""Asynchronous inference requests as smlocal keeps them, where their results go, and the
SNS messages SageMaker sends about them. Pure: no files, no network.

An accepted InvokeEndpointAsync is one `AsyncRequest`, stored as one JSON file in the
endpoint's queue folder (`hosting/async_queue.py`) before the 202 is sent.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_TTL_SECONDS = 21600  # RequestTTLSeconds: six hours
DEFAULT_INVOCATION_TIMEOUT = 900  # InvocationTimeoutSeconds: fifteen minutes
NOTIFICATION_RESPONSE_MAX = 128 * 1024  # IncludeInferenceResponseIn: responses up to 128 KB


@dataclass
class AsyncRequest:
    """One accepted asynchronous invocation."""

    endpoint: str
    inference_id: str
    received: float  # epoch seconds
    input_location: str | None
    body_b64: str | None  # an inline Body, base64
    content_type: str | None
    accept: str | None
    custom_attributes: str | None
    output_location: str | None
    failure_location: str | None
    ttl_seconds: int
    timeout_seconds: int
    output_config: dict[str, Any]  # the endpoint's OutputConfig when it was accepted

    def to_json(self) -> bytes:
        """Its stored form."""
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> AsyncRequest:
        """The request of a stored file (ValueError/KeyError/TypeError when damaged).

        Every field's type is checked here: a file that parses but holds, say, a string
        where a number belongs would otherwise fail later, in the worker, and be retried
        forever at the head of its endpoint's queue."""
        fields = json.loads(raw)
        if not isinstance(fields, dict):
            raise TypeError("a stored request is a JSON object")
        request = cls(**fields)
        for name, kinds in _FIELD_TYPES.items():
            value = getattr(request, name)
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise TypeError(f"field {name} is a {type(value).__name__}")
        if request.body_b64 is not None:
            try:
                base64.b64decode(request.body_b64, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"body_b64 is not base64: {exc}") from None
        return request

    @property
    def body(self) -> bytes | None:
        """The inline Body, if the request carried one."""
        return None if self.body_b64 is None else base64.b64decode(self.body_b64)

    def expired(self, now: float) -> bool:
        """True once it has waited longer than its RequestTTLSeconds."""
        return now - self.received > self.ttl_seconds


_TEXT = (str,)
_MAYBE_TEXT = (str, type(None))
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "endpoint": _TEXT,
    "inference_id": _TEXT,
    "received": (int, float),
    "input_location": _MAYBE_TEXT,
    "body_b64": _MAYBE_TEXT,
    "content_type": _MAYBE_TEXT,
    "accept": _MAYBE_TEXT,
    "custom_attributes": _MAYBE_TEXT,
    "output_location": _MAYBE_TEXT,
    "failure_location": _MAYBE_TEXT,
    "ttl_seconds": (int,),
    "timeout_seconds": (int,),
    "output_config": (dict,),
}


def result_locations(
    output_config: Mapping[str, Any], name: str, extension: str | None, filename: str | None
) -> tuple[str | None, str | None]:
    """(OutputLocation, FailureLocation): `{S3OutputPath}/{uuid}.out` and
    `{S3FailurePath}/{uuid}-error.out` as SageMaker forms them, with S3OutputPathExtension
    as folders in between and Filename in place of `{uuid}.out`."""
    output_name = filename or f"{name}.out"
    failure_name = f"{filename or name}-error.out"

    def join(base: str | None, leaf: str) -> str | None:
        if not base:
            return None
        parts = [base.rstrip("/"), *([extension.strip("/")] if extension else []), leaf]
        return "/".join(parts)

    return (
        join(output_config.get("S3OutputPath"), output_name),
        join(output_config.get("S3FailurePath"), failure_name),
    )


def model_failure_reason(status: int) -> str:
    """failureReason of a model that answered an error status (0: no answer)."""
    side = "client" if 400 <= status < 500 else "server"
    return (
        f"ClientError: Received {side} error ({status}) from model. See the SageMaker "
        "Endpoint logs in your account for more information."
    )


def _iso(moment: float) -> str:
    millis = int(moment * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{millis:03d}Z"


def notification(
    request: AsyncRequest,
    region: str,
    finished: float,
    *,
    failure_reason: str | None = None,
    response_content_type: str | None = None,
    response_body: bytes | None = None,
) -> dict[str, Any]:
    """The message SageMaker publishes to the SuccessTopic (no failure_reason) or the
    ErrorTopic: the fields and order of the developer guide's example and of messages
    seen from AWS. `response_body` is included (text, or base64 when it is not UTF-8)
    when IncludeInferenceResponseIn asks for it and it is at most 128 KB."""
    message: dict[str, Any] = {
        "awsRegion": region,
        "eventTime": _iso(finished),
        "receivedTime": _iso(request.received),
        "invocationStatus": "Failed" if failure_reason else "Completed",
    }
    if failure_reason:
        message["failureReason"] = failure_reason
    params: dict[str, Any] = {}
    if request.content_type and not failure_reason:
        params["contentType"] = request.content_type
    params["endpointName"] = request.endpoint
    if request.input_location:
        params["inputLocation"] = request.input_location
    message["requestParameters"] = params
    response: dict[str, Any] = {}
    if failure_reason is None:
        if response_content_type:
            response["contentType"] = response_content_type
        if request.output_location:
            response["outputLocation"] = request.output_location
    elif request.failure_location:
        response["failureLocation"] = request.failure_location
    if response_body is not None and len(response_body) <= NOTIFICATION_RESPONSE_MAX:
        response["responseBody"] = _body_field(response_body)
    if response:
        message["responseParameters"] = response
    message.update(
        {
            "inferenceId": request.inference_id,
            "eventVersion": "1.0",
            "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult",
        }
    )
    return message


def _body_field(body: bytes) -> dict[str, str]:
    try:
        return {"content": body.decode("utf-8"), "encoding": "UTF-8"}
    except UnicodeDecodeError:
        return {"content": base64.b64encode(body).decode(), "encoding": "BASE64"}


def includes_response(output_config: Mapping[str, Any], success: bool) -> bool:
    """True when IncludeInferenceResponseIn names the topic this notification goes to."""
    included = (output_config.get("NotificationConfig") or {}).get("IncludeInferenceResponseIn")
    wanted = "SUCCESS_NOTIFICATION_TOPIC" if success else "ERROR_NOTIFICATION_TOPIC"
    return wanted in (included or [])


def topic(output_config: Mapping[str, Any], success: bool) -> str | None:
    """The SNS topic a result is published to, if any."""
    config = output_config.get("NotificationConfig") or {}
    found = config.get("SuccessTopic" if success else "ErrorTopic")
    return str(found) if found else None
