"""The one place where results and AWS errors become HTTP responses.

JSON 1.1 (`sagemaker`): botocore reads the error code from the body's `__type` and the
message from `message` (or `Message`); modeled members are read from the body by name.
REST-JSON (`sagemaker-runtime`): botocore reads the code from the `x-amzn-ErrorType`
header and the message and modeled members (`OriginalStatusCode`, …) from the JSON body.
Both responses carry both, and every response carries `x-amzn-RequestId`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from smlocal.capture_sink.record import new_event_id
from smlocal.emulator.errors import AWSError, InternalFailure
from smlocal.emulator.wire.output_shapes import shape_output
from smlocal.emulator.wire.parsing import parse_json_request
from smlocal.emulator.wire.transport import HttpRequest, HttpResponse

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
REST_CONTENT_TYPE = "application/json"
INTERNAL_FAILURE_MESSAGE = "We encountered an internal error. Please try again."

Handler = Callable[[str, dict[str, Any]], Mapping[str, Any]]
log = logging.getLogger(__name__)


def new_request_id() -> str:
    """A request id in SageMaker's form (a random UUID), from batched randomness: one
    `getrandom` syscall per invocation was a fifth of the edge's syscalls on the hot path."""
    return new_event_id()


def json_error(error: AWSError, request_id: str) -> HttpResponse:
    """A JSON 1.1 error: `{"__type": code, "message": …, <members>}` plus x-amzn-ErrorType."""
    document: dict[str, Any] = {"__type": error.code, "message": error.message}
    if error.modeled:
        document["Message"] = error.message
    document.update(error.members)
    return HttpResponse(
        error.status, _headers(JSON_CONTENT_TYPE, request_id, error.code), _json(document)
    )


def rest_error(error: AWSError, request_id: str) -> HttpResponse:
    """A REST-JSON error: x-amzn-ErrorType header, `{"Message": …, <members>}` body."""
    document: dict[str, Any] = {"Message": error.message, **error.members}
    return HttpResponse(
        error.status, _headers(REST_CONTENT_TYPE, request_id, error.code), _json(document)
    )


def json_success(
    service_model: Any,
    operation_name: str,
    result: Mapping[str, Any],
    request_id: str,
    *,
    strict: bool = False,
) -> HttpResponse:
    """A JSON 1.1 success: the shaped output document."""
    document = shape_output(service_model, operation_name, result, strict=strict)
    return HttpResponse(200, _headers(JSON_CONTENT_TYPE, request_id), _json(document))


def handle_json(
    service_model: Any,
    request: HttpRequest,
    handler: Handler,
    *,
    request_id: str | None = None,
    strict: bool = False,
) -> HttpResponse:
    """Parse and validate a JSON 1.1 request, call handler(operation, params), answer."""
    request_id = request_id or new_request_id()
    try:
        operation_name, params = parse_json_request(service_model, request)
        result = handler(operation_name, params)
        return json_success(service_model, operation_name, result, request_id, strict=strict)
    except AWSError as error:
        return json_error(error, request_id)
    except Exception as exc:
        return json_error(internal_failure(exc, request_id), request_id)


def internal_failure(exc: Exception, request_id: str) -> InternalFailure:
    """An unexpected exception is a bug: log it, answer 500 with its type in the message."""
    log.exception("request %s failed", request_id)
    return InternalFailure(f"{INTERNAL_FAILURE_MESSAGE} ({type(exc).__name__}: {exc})")


def _headers(
    content_type: str, request_id: str, error_code: str | None = None
) -> tuple[tuple[str, str], ...]:
    headers = [("Content-Type", content_type), ("x-amzn-RequestId", request_id)]
    if error_code is not None:
        headers.append(("x-amzn-ErrorType", error_code))
    return tuple(headers)


def _json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, default=str).encode("utf-8")
