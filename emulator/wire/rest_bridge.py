"""A REST-JSON service behind the edge (SageMaker Metrics): the request parsed and validated
by its botocore model in a worker thread, the handler called, the answer sent on the loop."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import Executor
from typing import Any

from smlocal.emulator.errors import AWSError
from smlocal.emulator.wire.http_server import Request, Respond
from smlocal.emulator.wire.output_shapes import shape_output
from smlocal.emulator.wire.parsing import parse_rest_request, route
from smlocal.emulator.wire.responses import (
    REST_CONTENT_TYPE,
    Handler,
    internal_failure,
    new_request_id,
    rest_error,
)
from smlocal.emulator.wire.transport import HttpRequest


class RestBridge:
    """Answers the operations of one REST-JSON service model with a handler."""

    def __init__(
        self,
        service_model: Any,
        handler: Handler,
        loop: asyncio.AbstractEventLoop,
        executor: Executor,
    ) -> None:
        self.service_model = service_model
        self.handler = handler
        self.loop = loop
        self.executor = executor

    def claims(self, method: str, path: str) -> bool:
        """True for a method and path one of the service's operations has."""
        return route(self.service_model, method, path) is not None

    def __call__(self, request: Request, respond: Respond) -> None:
        self.executor.submit(self._run, request, respond)

    def _run(self, request: Request, respond: Respond) -> None:
        request_id = new_request_id()
        http_request = HttpRequest.from_raw(
            request.method, request.path, request.headers, request.body
        )
        try:
            operation, params = parse_rest_request(self.service_model, http_request)
            result = shape_output(self.service_model, operation, self.handler(operation, params))
            headers = [("Content-Type", REST_CONTENT_TYPE), ("x-amzn-RequestId", request_id)]
            answer = (200, headers, json.dumps(result, default=str).encode())
        except AWSError as exc:
            error = rest_error(exc, request_id)
            answer = (error.status, list(error.headers), error.body)
        except Exception as exc:  # a bug: still answer, or the client waits forever
            error = rest_error(internal_failure(exc, request_id), request_id)
            answer = (error.status, list(error.headers), error.body)
        self.loop.call_soon_threadsafe(respond, *answer)
