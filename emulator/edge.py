"""The edge: one URL for the SageMaker control plane, the runtime, health, and moto.

Routing by request: `X-Amz-Target: SageMaker.*` is the control plane; a POST to
/endpoints/{name}/invocations signed for `sagemaker` (or not signed) is the runtime;
/_smlocal/health is ours; everything else (S3, STS, IAM, CloudWatch, Logs) goes to moto.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from emulator.http_server import Request, Respond
from emulator.runtime import Runtime
from emulator.transport import HttpRequest
from emulator.wire import Handler, handle_json

HEALTH_PATH = "/_smlocal/health"
_SIGNED_FOR_SAGEMAKER = b"/sagemaker/aws4_request"


class ControlBridge:
    """Runs a JSON 1.1 control-plane request in a worker thread, answers on the loop."""

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

    def __call__(self, request: Request, respond: Respond) -> None:
        self.executor.submit(self._run, request, respond)

    def _run(self, request: Request, respond: Respond) -> None:
        http_request = HttpRequest.from_raw(
            request.method, request.path, request.headers, request.body
        )
        response = handle_json(self.service_model, http_request, self.handler)
        self.loop.call_soon_threadsafe(
            respond, response.status, list(response.headers), response.body
        )


class Edge:
    """The edge's request handler."""

    def __init__(
        self,
        runtime: Runtime,
        control: Callable[[Request, Respond], None],
        aws: Callable[[Request, Respond], None],
        health: Callable[[], tuple[int, dict[str, Any]]],
    ) -> None:
        self.runtime = runtime
        self.control = control
        self.aws = aws
        self.health = health

    def __call__(self, request: Request, respond: Respond) -> None:
        if Runtime.matches(request) and _for_sagemaker(request):
            self.runtime.handle(request, respond)
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
        self.aws(request, respond)


def _for_sagemaker(request: Request) -> bool:
    """Not an S3 request that happens to look like one (a bucket named `endpoints`)."""
    auth = request.header(b"authorization")
    return auth is None or _SIGNED_FOR_SAGEMAKER in auth
