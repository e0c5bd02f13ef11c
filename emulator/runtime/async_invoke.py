"""InvokeEndpointAsync: `POST /endpoints/{name}/async-invocations`, answered 202 once the
request is stored durably in the endpoint's queue (`hosting/async_queue.py`).

The request is parsed and validated on the loop by the full REST parser (it is not a hot
path like InvokeEndpoint); storing it (an fsync) runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

from smlocal.emulator.errors import AWSError, ServiceUnavailable, ValidationError
from smlocal.emulator.hosting.async_queue import AsyncQueues, BacklogFull, EndpointGone
from smlocal.emulator.hosting.async_requests import (
    DEFAULT_INVOCATION_TIMEOUT,
    DEFAULT_TTL_SECONDS,
    AsyncRequest,
    result_locations,
)
from smlocal.emulator.hosting.routing import RoutingTable
from smlocal.emulator.runtime.invocations import StatusOf, is_invocation, too_large, unrouted
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.wire.bridges import answered, error_answer
from smlocal.emulator.wire.http_limits import Answer, BodyLimit, RawHeaders
from smlocal.emulator.wire.http_server import Request, Respond
from smlocal.emulator.wire.parsing import parse_rest_request, payload_limit
from smlocal.emulator.wire.responses import new_request_id
from smlocal.emulator.wire.transport import HttpRequest

PATH_SUFFIX = "/async-invocations"
OPERATION = "InvokeEndpointAsync"


class AsyncRuntime:
    """The `sagemaker-runtime` InvokeEndpointAsync handler of the edge."""

    def __init__(
        self,
        service_model: Any,
        table: RoutingTable,
        queues: AsyncQueues,
        *,
        settings: EmulatorSettings,
        status_of: StatusOf,
        loop: asyncio.AbstractEventLoop,
        executor: Executor,
    ) -> None:
        self.model = service_model
        self.table = table
        self.queues = queues
        self.settings = settings
        self.status_of = status_of
        self.loop = loop
        self.executor = executor
        self.body_max = payload_limit(service_model, OPERATION) or 128000
        self.body_limit = BodyLimit(self.body_max, self.refuse_large_body)

    @staticmethod
    def is_invocation(method: str, path: str) -> bool:
        """True for POST /endpoints/{name}/async-invocations."""
        return is_invocation(method, path, PATH_SUFFIX)

    def refuse_large_body(self, method: str, path: str, headers: RawHeaders) -> Answer:
        """The full parser's error for an inline Body above the model's maximum, given before
        the body is read."""
        return too_large(self.model, self.body_max, method, path, headers)

    def handle(self, request: Request, respond: Respond) -> None:
        """Parse on the loop; store and answer from a worker thread."""
        request_id = new_request_id()
        try:
            http_request = HttpRequest.from_raw("POST", request.path, request.headers, request.body)
            params = parse_rest_request(self.model, http_request)[1]
        except AWSError as error:
            self._answer(respond, *error_answer(error, request_id))
            return
        self.executor.submit(self._accept, params, request_id, respond)

    def _accept(self, params: dict[str, Any], request_id: str, respond: Respond) -> None:
        self._answer(respond, *answered(lambda: self.accept(params, request_id), request_id))

    def _answer(self, respond: Respond, status: int, headers: Any, body: bytes) -> None:
        self.loop.call_soon_threadsafe(respond, status, headers, body)

    def accept(self, params: dict[str, Any], request_id: str) -> Answer:
        """Queue one validated request; the 202 answer (status, headers, body)."""
        name = params["EndpointName"]
        config = self._async_config(name)
        body = params.get("Body") or None
        location = params.get("InputLocation")
        if (body is None) == (location is None):
            raise ValidationError(
                "Provide exactly one of InputLocation and Body: they are mutually exclusive."
                if body is not None
                else "Either InputLocation or Body must be provided."
            )
        output_config = dict(config["OutputConfig"])
        inference_id = params.get("InferenceId") or str(uuid.uuid4())
        output, failure = result_locations(
            output_config,
            str(uuid.uuid4()),
            params.get("S3OutputPathExtension"),
            params.get("Filename"),
        )
        queued = AsyncRequest(
            endpoint=name,
            inference_id=inference_id,
            received=time.time(),
            input_location=location,
            body_b64=None if body is None else base64.b64encode(body).decode(),
            content_type=params.get("ContentType"),
            accept=params.get("Accept"),
            custom_attributes=params.get("CustomAttributes"),
            output_location=output,
            failure_location=failure,
            ttl_seconds=params.get("RequestTTLSeconds", DEFAULT_TTL_SECONDS),
            timeout_seconds=params.get("InvocationTimeoutSeconds", DEFAULT_INVOCATION_TIMEOUT),
            output_config=output_config,
        )
        try:
            self.queues.accept(queued)
        except BacklogFull:
            raise ServiceUnavailable(
                f"Endpoint {name} of account {self.settings.account} has "
                f"{self.queues.max_backlog} asynchronous requests queued, its limit in smlocal; "
                "try again once some have been processed."
            ) from None
        except EndpointGone:
            raise ValidationError(
                f"Endpoint {name} of account {self.settings.account} not found."
            ) from None
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
        if output:
            headers.append(("X-Amzn-SageMaker-OutputLocation", output))
        if failure:
            headers.append(("X-Amzn-SageMaker-FailureLocation", failure))
        return 202, headers, json.dumps({"InferenceId": inference_id}).encode()

    def _async_config(self, name: str) -> Mapping[str, Any]:
        """The endpoint's AsyncInferenceConfig; SageMaker's errors when it cannot take one."""
        account = self.settings.account
        route = self.table.get(name)
        if route is None:
            raise unrouted(name, account, self.status_of(name))
        if route.async_config is None:
            raise ValidationError(
                f"Endpoint {name} of account {account} is not an asynchronous inference "
                "endpoint: its endpoint config has no AsyncInferenceConfig. Invoke it with "
                "InvokeEndpoint."
            )
        return route.async_config
