"""The edge: one URL for the SageMaker control plane, the runtime, health, and moto.

Routing by request: `X-Amz-Target: SageMaker.*` is the control plane; a POST to
/endpoints/{name}/invocations (or /async-invocations) signed for `sagemaker` (or not signed)
is the runtime; a REST-JSON request signed for `sagemaker` on a path of SageMaker Metrics
(PUT /BatchPutMetrics) is that service; /_smlocal/health and POST
/_smlocal/endpoints/{name}/capture/flush are ours, and so are the console's pages (GET
/_smlocal/ and below, handed to the console server.py wires in) and every other path under
/_smlocal (404; no S3 bucket name can start with `_`); everything else
(S3, STS, IAM, CloudWatch, Logs) goes to moto.

Each route has its own body limit (`Edge.body_limit`, asked by the server before a body is
read): InvokeEndpoint its model's 6 MB, the control plane `CONTROL_PLANE_MAX_BODY`, moto the
server's 1 GiB (it takes S3 uploads).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Protocol

from smlocal.emulator.errors import UnknownOperationException
from smlocal.emulator.hosting.capture_flush import flush_endpoint
from smlocal.emulator.hosting.endpoint_manager import EndpointManager
from smlocal.emulator.runtime.async_invoke import AsyncRuntime
from smlocal.emulator.runtime.invoke import Runtime
from smlocal.emulator.wire.bridges import Bridge, ServiceBridge
from smlocal.emulator.wire.http_limits import Answer, BodyLimit, RawHeaders
from smlocal.emulator.wire.http_server import Request, Respond
from smlocal.emulator.wire.responses import (
    handle_json,
    new_request_id,
    rest_error,
)
from smlocal.emulator.wire.service_models import sagemaker_model
from smlocal.emulator.wire.transport import HttpRequest
from smlocal.emulator.wire.validation import validate

OWN_PREFIX = "/_smlocal"
HEALTH_PATH = "/_smlocal/health"
FLUSH_ROUTE = re.compile(r"^/_smlocal/endpoints/([^/]*)/capture/flush$")
_SIGNED_FOR_SAGEMAKER = b"/sagemaker/aws4_request"
# SageMaker documents no request size for its JSON API. AWS's front end refuses a request
# above its service's limit itself, before the service sees it: HTTP 413 with the text
# `HTTP content length exceeded N bytes.` and no error code, which botocore reports as code
# "413" (seen for SQS with N = 1662976, and for SageMaker's own InvokeEndpoint with
# N = 5246976 = 5 MiB + 4 KiB before its limit became 6 MB). We take that SageMaker N: it
# is above every request the model allows in practice (its largest member, CreatePipeline's
# PipelineDefinition, holds at most 1 MiB of characters: about 2 MiB as escaped JSON), and
# one thread parsing it holds tens of MB, where a 1 GiB body took gigabytes.
CONTROL_PLANE_MAX_BODY = 5246976


def control_plane_too_large(method: str, path: str, headers: RawHeaders) -> Answer:
    """AWS's front-end answer to a control-plane request above CONTROL_PLANE_MAX_BODY."""
    message = f"HTTP content length exceeded {CONTROL_PLANE_MAX_BODY} bytes."
    headers_out = [("Content-Type", "text/plain"), ("x-amzn-RequestId", new_request_id())]
    return 413, headers_out, message.encode()


CONTROL_PLANE_LIMIT = BodyLimit(CONTROL_PLANE_MAX_BODY, control_plane_too_large)


class ControlBridge(ServiceBridge):
    """Runs a JSON 1.1 control-plane request in a worker thread, answers on the loop."""

    def answer(self, request: Request, request_id: str) -> Answer:
        """The control plane's answer (its errors in the JSON 1.1 shape)."""
        http_request = HttpRequest.from_raw(
            request.method, request.path, request.headers, request.body
        )
        response = handle_json(
            self.service_model, http_request, self.handler, request_id=request_id
        )
        return response.status, list(response.headers), response.body


class FlushBridge(Bridge):
    """POST /_smlocal/endpoints/{name}/capture/flush: flush in a worker thread, answer JSON."""

    def __init__(
        self, endpoints: EndpointManager, loop: asyncio.AbstractEventLoop, executor: Executor
    ) -> None:
        super().__init__(loop, executor)
        self.endpoints = endpoints

    def answer(self, request: Request, request_id: str) -> Answer:
        """What the flush did, per variant (its failures as REST-JSON errors)."""
        found = FLUSH_ROUTE.match(request.path)
        assert found is not None
        name = found.group(1)
        if request.method != "POST":
            return (405, [("Content-Type", "application/json"), ("Allow", "POST")],
                    b'{"Message": "use POST"}')  # fmt: skip
        # the name as DescribeEndpoint would check it
        validate(sagemaker_model(), "DescribeEndpoint", {"EndpointName": name})
        result = flush_endpoint(self.endpoints, name)
        return 200, [("Content-Type", "application/json")], json.dumps(result).encode()


class OwnPages(Protocol):
    """The console: the paths under /_smlocal it serves, and its handler."""

    def claims(self, method: str, path: str) -> bool:
        """True for a path (and method) the console serves."""
        ...

    def __call__(self, request: Request, respond: Respond) -> None:
        """Answer one of its requests."""
        ...


class RestService(Protocol):
    """Another REST-JSON service signed for `sagemaker` (SageMaker Metrics)."""

    def claims(self, method: str, path: str) -> bool:
        """True for a method and path of one of its operations."""
        ...

    def __call__(self, request: Request, respond: Respond) -> None:
        """Answer one of its requests."""
        ...


class Edge:
    """The edge's request handler."""

    def __init__(
        self,
        runtime: Runtime,
        control: Callable[[Request, Respond], None],
        aws: Callable[[Request, Respond], None],
        health: Callable[[], tuple[int, dict[str, Any]]],
        flush: Callable[[Request, Respond], None] | None = None,
        *,
        console: OwnPages | None = None,
        metrics: RestService | None = None,
        async_runtime: AsyncRuntime | None = None,
    ) -> None:
        self.runtime = runtime
        self.async_runtime = async_runtime
        self.control = control
        self.aws = aws
        self.health = health
        self.flush = flush
        self.console = console
        self.metrics = metrics

    def __call__(self, request: Request, respond: Respond) -> None:
        runtime = self._runtime_handler(request)
        if runtime is not None:
            runtime(request, respond)
            return
        target = request.header(b"x-amz-target")
        if target is not None and target.startswith(b"SageMaker."):
            self.control(request, respond)
            return
        if request.path == HEALTH_PATH:
            status, document = self.health()
            body = json.dumps(document).encode()
            respond(status, [("Content-Type", "application/json")], body)
            return
        if self.flush is not None and FLUSH_ROUTE.match(request.path):
            self.flush(request, respond)
            return
        if request.path == OWN_PREFIX or request.path.startswith(OWN_PREFIX + "/"):
            if self.console is not None and self.console.claims(request.method, request.path):
                self.console(request, respond)
                return
            error = rest_error(no_such_route(request.method, request.path), new_request_id())
            respond(error.status, list(error.headers), error.body)
            return
        metrics = self.metrics is not None and self._for_metrics(
            request.method, request.path, request.headers
        )
        (self.metrics if metrics and self.metrics is not None else self.aws)(request, respond)

    def body_limit(self, method: str, path: str, headers: RawHeaders) -> BodyLimit | None:
        """The body limit of the route a request will take (None: the server's own)."""
        if Runtime.is_invocation(method, path) and _signed_for_sagemaker(
            _header(headers, b"authorization")
        ):
            return self.runtime.body_limit
        if self._async(method, path, _header(headers, b"authorization")):
            assert self.async_runtime is not None
            return self.async_runtime.body_limit
        target = _header(headers, b"x-amz-target")
        if target is not None and target.startswith(b"SageMaker."):
            return CONTROL_PLANE_LIMIT
        if self._for_metrics(method, path, headers):
            return CONTROL_PLANE_LIMIT
        return None

    def _for_metrics(self, method: str, path: str, headers: RawHeaders) -> bool:
        return (
            self.metrics is not None
            and self.metrics.claims(method, path)
            and _signed_for_sagemaker(_header(headers, b"authorization"))
        )

    def _runtime_handler(self, request: Request) -> Callable[[Request, Respond], None] | None:
        """InvokeEndpoint's or InvokeEndpointAsync's handler, for a request to either."""
        if Runtime.matches(request) and _for_sagemaker(request):
            return self.runtime.handle
        if self._async(request.method, request.path, request.header(b"authorization")):
            assert self.async_runtime is not None
            return self.async_runtime.handle
        return None

    def _async(self, method: str, path: str, auth: bytes | None) -> bool:
        """True for InvokeEndpointAsync (when this edge serves it)."""
        return (
            self.async_runtime is not None
            and AsyncRuntime.is_invocation(method, path)
            and _signed_for_sagemaker(auth)
        )


class NoSuchRoute(UnknownOperationException):
    """A path under /_smlocal that smlocal does not serve (404, as REST services answer)."""

    code = "UnknownOperationException"
    status = 404


def no_such_route(method: str, path: str) -> NoSuchRoute:
    """The error naming the paths smlocal does serve."""
    return NoSuchRoute(
        f"smlocal has no route {method} {path[:200]}; it serves GET {HEALTH_PATH}, "
        "POST /_smlocal/endpoints/{name}/capture/flush and the console's pages at GET /_smlocal/"
    )


def _for_sagemaker(request: Request) -> bool:
    """Not an S3 request that happens to look like one (a bucket named `endpoints`)."""
    return _signed_for_sagemaker(request.header(b"authorization"))


def _signed_for_sagemaker(auth: bytes | None) -> bool:
    return auth is None or _SIGNED_FOR_SAGEMAKER in auth


def _header(headers: RawHeaders, name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None
