"""What InvokeEndpoint (`invoke.py`) and InvokeEndpointAsync (`async_invoke.py`) check alike:
their paths, a body above the model's maximum (refused before it is read), and the error for
an endpoint that has no route to serve it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smlocal.emulator.errors import AWSError, ServiceUnavailable, ValidationError
from smlocal.emulator.wire.http_limits import Answer, RawHeaders
from smlocal.emulator.wire.parsing import parse_rest_request
from smlocal.emulator.wire.responses import new_request_id, rest_error
from smlocal.emulator.wire.transport import HttpRequest

PATH_PREFIX = "/endpoints/"
StatusOf = Callable[[str], "str | None"]  # an endpoint's stored status, None if there is none


def is_invocation(method: str, path: str, suffix: str) -> bool:
    """True for POST /endpoints/{name}{suffix}."""
    return (
        method == "POST"
        and path.startswith(PATH_PREFIX)
        and path.endswith(suffix)
        and path.count("/") == 3
    )


def too_large(model: Any, body_max: int, method: str, path: str, headers: RawHeaders) -> Answer:
    """The full parser's error for this head with a body one byte above the model's maximum,
    given before the body is read (`bytes(n)` is zero pages the parser only measures, so it
    costs no memory)."""
    request = HttpRequest.from_raw(method, path, headers, bytes(body_max + 1))
    try:
        parse_rest_request(model, request)
    except AWSError as error:
        response = rest_error(error, new_request_id())
        return response.status, list(response.headers), response.body
    raise AssertionError("a body above the model's maximum always fails validation")


def unrouted(endpoint: str, account: str, status: str | None) -> AWSError:
    """Why an endpoint with no route (its stored status: None if there is none) is not
    invoked."""
    if status is None:
        return ValidationError(f"Endpoint {endpoint} of account {account} not found.")
    if status in ("InService", "Updating", "RollingBack"):
        # serving, but its model servers are still starting after smlocal restarted: a 503,
        # which clients retry, rather than an error they would not
        return ServiceUnavailable(
            f"Endpoint {endpoint} of account {account} is being brought back after smlocal "
            "restarted; try again in a moment."
        )
    return ValidationError(
        f"Endpoint {endpoint} of account {account} is not ready to serve invocations: its "
        f"status is {status}."
    )
