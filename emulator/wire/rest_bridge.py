"""A REST-JSON service behind the edge (SageMaker Metrics): the request parsed and validated
by its botocore model in a worker thread, the handler called, the answer sent on the loop."""

from __future__ import annotations

import json

from smlocal.emulator.wire.bridges import ServiceBridge
from smlocal.emulator.wire.http_limits import Answer
from smlocal.emulator.wire.http_server import Request
from smlocal.emulator.wire.output_shapes import shape_output
from smlocal.emulator.wire.parsing import parse_rest_request, route
from smlocal.emulator.wire.responses import REST_CONTENT_TYPE
from smlocal.emulator.wire.transport import HttpRequest


class RestBridge(ServiceBridge):
    """Answers the operations of one REST-JSON service model with a handler."""

    def claims(self, method: str, path: str) -> bool:
        """True for a method and path one of the service's operations has."""
        return route(self.service_model, method, path) is not None

    def answer(self, request: Request, request_id: str) -> Answer:
        """Parse and validate the request, call the handler, shape its result."""
        http_request = HttpRequest.from_raw(
            request.method, request.path, request.headers, request.body
        )
        operation, params = parse_rest_request(self.service_model, http_request)
        result = shape_output(self.service_model, operation, self.handler(operation, params))
        headers = [("Content-Type", REST_CONTENT_TYPE), ("x-amzn-RequestId", request_id)]
        return 200, headers, json.dumps(result, default=str).encode()
