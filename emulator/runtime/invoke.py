"""InvokeEndpoint: pick a variant and one of its instances (the one with the fewest outstanding
requests), forward to its model server, answer as SageMaker does.

This is the emulator's hot path and runs on the event loop without a thread or task per
request. Well-formed requests are checked by `InvokeParser` against the same botocore
constraints the full parser uses, compiled once; anything that fails a check goes through
the full parser (`smlocal.emulator.wire.parsing`) so the error is worded exactly like every
other one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from smlocal.capture_sink.aws_shapes.patterns import compile_pattern
from smlocal.emulator.errors import (
    AWSError,
    ModelError,
    ThrottlingException,
    ValidationError,
)
from smlocal.emulator.hosting.routing import EndpointRoute, RoutingTable, VariantRoute
from smlocal.emulator.hosting.upstream import Unreachable, UpstreamResponse, UpstreamTimeout
from smlocal.emulator.runtime.cold_starts import ColdStarts, Waker
from smlocal.emulator.runtime.containers import check_target_container, failed_container
from smlocal.emulator.runtime.invocations import (
    PATH_PREFIX,
    StatusOf,
    is_invocation,
    too_large,
    unrouted,
)
from smlocal.emulator.runtime.metrics import EndpointMetrics
from smlocal.emulator.runtime.multi_model import (
    check_target_model,
    record_model_cache,
    runtime_error,
)
from smlocal.emulator.runtime.shadow import mirror
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.wire.http_limits import Answer, BodyLimit, RawHeaders
from smlocal.emulator.wire.http_server import Headers, Request, Respond
from smlocal.emulator.wire.parsing import parse_rest_request, payload_limit
from smlocal.emulator.wire.responses import new_request_id, rest_error
from smlocal.emulator.wire.transport import HttpRequest

PATH_SUFFIX = "/invocations"
OPERATION = "InvokeEndpoint"
# What SageMaker passes on to the container (as its own local mode does).
FORWARDED = (
    b"content-type",
    b"accept",
    b"x-amzn-sagemaker-custom-attributes",
    b"x-amzn-sagemaker-target-variant",
    b"x-amzn-sagemaker-inference-id",
    b"x-amzn-sagemaker-target-model",
    b"x-amzn-sagemaker-target-container-hostname",
)
TIMEOUT_MESSAGE = (
    "Your invocation timed out while waiting for a response from container primary. Review "
    "the latency metrics for each container in Amazon CloudWatch, resolve the issue, and try "
    "again."
)


class InvokeParser:
    """InvokeEndpoint's URI and header constraints from the botocore model, compiled once."""

    def __init__(self, service_model: Any) -> None:
        shape = service_model.operation_model(OPERATION).input_shape
        self.headers: list[tuple[bytes, str, int, int, Any]] = []
        for name, member in shape.members.items():
            wire = member.serialization.get("name", name)
            check = (
                member.metadata.get("min", 0),
                member.metadata.get("max", 1 << 30),
                compile_pattern(member.metadata["pattern"])
                if "pattern" in member.metadata
                else None,
            )
            if member.serialization.get("location") == "header":
                self.headers.append((wire.lower().encode(), name, *check))
            elif member.serialization.get("location") == "uri":
                self.name_check = check
        self.body_max = payload_limit(service_model, OPERATION) or 6291456

    def parse(self, endpoint: str, request: Request) -> dict[str, Any] | None:
        """The params, or None when any constraint fails (then use the full parser)."""
        if not _fits(endpoint, *self.name_check) or len(request.body) > self.body_max:
            return None
        params: dict[str, Any] = {"EndpointName": endpoint, "Body": request.body}
        for wire, name, low, high, pattern in self.headers:
            raw = request.header(wire)
            if raw is None:
                continue
            value = raw.decode("latin-1")
            if not _fits(value, low, high, pattern):
                return None
            params[name] = value
        return params


def _fits(value: str, low: int, high: int, pattern: Any) -> bool:
    return low <= len(value) <= high and (pattern is None or pattern.fullmatch(value) is not None)


class Runtime:
    """The `sagemaker-runtime` InvokeEndpoint handler of the edge."""

    def __init__(
        self,
        service_model: Any,
        table: RoutingTable,
        settings: EmulatorSettings,
        status_of: StatusOf,
        *,
        rng: random.Random | None = None,
        metrics: EndpointMetrics | None = None,
        waker: Waker | None = None,
    ) -> None:
        self.model = service_model
        self.cold_starts = ColdStarts(waker, self.handle, self._error)
        self.metrics = metrics
        self.table = table
        self.settings = settings
        self.status_of = status_of
        self.rng = rng or random.Random()
        self.parser = InvokeParser(service_model)
        self.body_limit = BodyLimit(self.parser.body_max, self.refuse_large_body)

    @staticmethod
    def matches(request: Request) -> bool:
        """True for POST /endpoints/{name}/invocations."""
        return Runtime.is_invocation(request.method, request.path)

    @staticmethod
    def is_invocation(method: str, path: str) -> bool:
        """True for POST /endpoints/{name}/invocations."""
        return is_invocation(method, path, PATH_SUFFIX)

    def refuse_large_body(self, method: str, path: str, headers: RawHeaders) -> Answer:
        """What `handle` answers a body above the limit, before the body is read."""
        return too_large(self.model, self.parser.body_max, method, path, headers)

    def handle(self, request: Request, respond: Respond) -> None:
        """Answer one invocation (on the loop; respond is called later for the model's answer)."""
        started = time.perf_counter()
        request_id = new_request_id()
        endpoint = request.path[len(PATH_PREFIX) : -len(PATH_SUFFIX)]
        try:
            params = self.parser.parse(endpoint, request) or self._full_parse(request)
            route = self._route(endpoint)
            variant = self._variant(route, params)
            check_target_model(route.name, variant, params, request_id)
            check_target_container(route.name, variant, params)
            if variant.cold:
                self.cold_starts.hold(endpoint, variant.name, request, respond, request_id)
                return
            if variant.max_concurrency is not None and variant.in_flight >= variant.max_concurrency:
                raise ThrottlingException(
                    f"Variant {variant.name} of endpoint {endpoint} is already serving its "
                    f"MaxConcurrency of {variant.max_concurrency} invocations."
                )
        except AWSError as error:
            self._error(respond, error, request_id)
            return

        pool = variant.pick(self.rng)
        retried = False

        def done(response: UpstreamResponse | None, failure: Exception | None) -> None:
            nonlocal pool, retried
            if isinstance(failure, Unreachable) and not retried and len(variant.pools) > 1:
                # an instance that is gone (its replacement is on the way): the request was
                # never sent, so another instance takes it
                retried, pool = True, variant.pick(self.rng, avoid=pool)
                pool.send(upstream, done, self.settings.invocation_timeout)
                return
            answered = time.perf_counter()
            if response is not None and 200 <= response.status < 300:
                respond(200, self._headers(response, variant, request_id), response.body)
            else:
                error = runtime_error(response) or self._model_error(endpoint, response, failure)
                self._error(respond, error, request_id)
            if variant.multi_model and response is not None and self.metrics is not None:
                record_model_cache(self.metrics, endpoint, variant.name, response)
            if self.metrics is not None:
                overhead = sent - started + time.perf_counter() - answered
                self.metrics.record(
                    endpoint,
                    variant.name,
                    variant.instances,
                    0 if response is None else response.status,
                    model_us=None if response is None else (answered - sent) * 1e6,
                    overhead_us=overhead * 1e6,
                )

        upstream = self._upstream_request(request)
        sent = time.perf_counter()
        pool.send(upstream, done, self.settings.invocation_timeout)
        if route.shadows and "TargetVariant" not in params:
            timeout = self.settings.invocation_timeout
            answered = self._shadow_answered(endpoint)
            mirror(route, variant, upstream, self.rng, timeout, answered=answered)

    def _shadow_answered(self, endpoint: str) -> Callable[[VariantRoute, int, float], None] | None:
        """What counts a shadow's answers in its own variant's metrics, as SageMaker does."""
        metrics = self.metrics
        if metrics is None:
            return None
        return lambda shadow, status, seconds: metrics.record(
            endpoint,
            shadow.name,
            shadow.instances,
            status,
            model_us=seconds * 1e6 if status else None,
            overhead_us=0.0,
        )

    def _full_parse(self, request: Request) -> dict[str, Any]:
        http_request = HttpRequest.from_raw("POST", request.path, request.headers, request.body)
        return parse_rest_request(self.model, http_request)[1]

    def _route(self, endpoint: str) -> EndpointRoute:
        route = self.table.get(endpoint)
        if route is not None and route.async_config is not None:
            raise ValidationError(
                f"Endpoint {endpoint} of account {self.settings.account} is an asynchronous "
                "inference endpoint: invoke it with InvokeEndpointAsync."
            )
        if route is not None:
            return route
        raise unrouted(endpoint, self.settings.account, self.status_of(endpoint))

    def _variant(self, route: EndpointRoute, params: dict[str, Any]) -> VariantRoute:
        if "TargetVariant" in params:
            found = route.variant(params["TargetVariant"])
            if found is None:
                names = ", ".join(v.name for v in route.variants)
                raise ValidationError(
                    f"Endpoint {route.name} has no production variant "
                    f"{params['TargetVariant']} (it has: {names})."
                )
            return found
        chosen = route.choose(self.rng)
        if chosen is None:
            raise ValidationError(
                f"Endpoint {route.name} has no variant with a weight above 0 to route to."
            )
        return chosen

    @staticmethod
    def _upstream_request(request: Request) -> bytes:
        head = [b"POST /invocations HTTP/1.1\r\nHost: model\r\n"]
        for name, value in request.headers:
            if name in FORWARDED:
                head.append(b"%s: %s\r\n" % (name, value))
        head.append(b"Content-Length: %d\r\n\r\n" % len(request.body))
        return b"".join(head) + request.body

    @staticmethod
    def _headers(response: UpstreamResponse, variant: VariantRoute, request_id: str) -> Headers:
        headers = [("x-Amzn-Invoked-Production-Variant", variant.name)]
        content_type = response.header(b"content-type")
        if content_type is not None:
            headers.append(("Content-Type", content_type.decode("latin-1")))
        custom = response.header(b"x-amzn-sagemaker-custom-attributes")
        if custom is not None:
            headers.append(("X-Amzn-SageMaker-Custom-Attributes", custom.decode("latin-1")))
        headers.append(("x-amzn-RequestId", request_id))
        return headers

    def _model_error(
        self, endpoint: str, response: UpstreamResponse | None, failure: Exception | None
    ) -> ModelError:
        region, account = self.settings.region, self.settings.account
        group = f"/aws/sagemaker/Endpoints/{endpoint}"
        container = "primary"
        if response is not None:
            status, text = response.status, response.body.decode("utf-8", "replace")
            container = failed_container(response.header(b"x-smlocal-container"))
        elif isinstance(failure, UpstreamTimeout):
            status, text = 0, TIMEOUT_MESSAGE
        else:
            status, text = 0, f"The container did not answer: {failure}"
        side = "client" if 400 <= status < 500 else "server"
        message = (
            f'Received {side} error ({status}) from {container} with message "{text}". See '
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#logEventViewer:group={group} in account {account} for more information."
        )
        return ModelError(
            message,
            original_status_code=status,
            original_message=text,
            log_stream_arn=f"arn:aws:logs:{region}:{account}:log-group:{group}",
            error_code=f"{side.upper()}_ERROR_FROM_MODEL",
        )

    @staticmethod
    def _error(respond: Respond, error: AWSError, request_id: str) -> None:
        response = rest_error(error, request_id)
        respond(response.status, list(response.headers), response.body)
