"""CaptureMiddleware: plain WSGI around the model server, one capture record per invocation.

The wrapped app sees the request exactly as sent and the client gets the response exactly
as the app made it (streamed responses stream); the record is handed to the sink before
the last byte of the response is handed to the server, so a response that was sent in full
always has its record spooled.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qs

from smlocal.capture_sink.config import CaptureConfig
from smlocal.capture_sink.record import LineBuilder, Payload, new_event_id
from smlocal.capture_sink.sampler import Sampler

log = logging.getLogger(__name__)

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

CONTROL_PREFIX = "/_smlocal/capture/"
INFERENCE_ID = "HTTP_X_AMZN_SAGEMAKER_INFERENCE_ID"
CUSTOM_ATTRIBUTES = "HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES"
TARGET_MODEL = "HTTP_X_AMZN_SAGEMAKER_TARGET_MODEL"  # a multi-model endpoint's TargetModel
MAX_FLUSH_SECONDS = 300.0


class RecordSink(Protocol):
    """Takes finished capture lines; must not block on the network nor raise."""

    def write(self, line: bytes, arrival: datetime) -> None:
        """Store one line."""
        ...


class CaptureControl(Protocol):
    """The flush and stats behind /_smlocal/capture/*."""

    def flush(self, timeout: float) -> dict[str, Any]:
        """Deliver everything spooled so far; raise FlushRefused when S3 refuses for a reason
        waiting does not cure, FlushTimeout after `timeout` seconds."""
        ...

    def stats(self) -> dict[str, Any]:
        """Counters of the whole server."""
        ...


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def _header(environ: Environ, key: str) -> str | None:
    value = environ.get(key)
    if value is None:
        return None
    return str(value).encode("latin-1", "replace").decode("utf-8", "replace")  # PEP 3333


class _Exchange:
    """What one captured invocation carried, gathered as it passes; wraps start_response."""

    def __init__(
        self,
        environ: Environ,
        start_response: StartResponse,
        arrival: datetime,
        request: Payload | None,
        keep_body: bool,
    ) -> None:
        self._start_response = start_response
        self.arrival = arrival
        self.request = request
        self.keep_body = keep_body
        self.inference_id = _header(environ, INFERENCE_ID)
        self.custom_attributes = _header(environ, CUSTOM_ATTRIBUTES)
        self.target_model = _header(environ, TARGET_MODEL)
        self.status = ""
        self.content_type: str | None = None
        self.content_length: int | None = None
        self.chunks: list[bytes] = []
        self.done = False
        self._write: Callable[[bytes], object] | None = None

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        """The app's start_response: notes status and headers, then passes them on."""
        self.status = status
        self.content_type = self.content_length = None  # called again after an error: start over
        for key, value in headers:
            name = key.lower()
            if name == "content-type":
                self.content_type = value
            elif name == "content-length":
                self.content_length = int(value) if value.strip().isdigit() else None
        self._write = self._start_response(status, headers, exc_info)
        return self.write

    def write(self, data: bytes) -> object:
        """The legacy write callable, recorded too."""
        assert self._write is not None
        if self.keep_body:
            self.chunks.append(bytes(data))
        return self._write(data)


class CaptureMiddleware:
    """Captures sampled POST /invocations into a sink; serves /_smlocal/capture/* if given
    a control."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        config: CaptureConfig,
        sink: RecordSink,
        sampler: Sampler,
        clock: Callable[[], datetime] = utc_now,
        control: CaptureControl | None = None,
        capture_failed: bool = False,
        paths: tuple[str, ...] = ("/invocations",),
        max_body_bytes: int = 64 * 1024 * 1024,
        new_event_id: Callable[[], str] = new_event_id,
    ) -> None:
        self.app = app
        self.config = config
        self.sink = sink
        self.sampler = sampler
        self.clock = clock
        self.control = control
        self.capture_failed = capture_failed
        self.paths = paths
        self.max_body_bytes = max_body_bytes
        self.new_event_id = new_event_id
        self._lines = LineBuilder(config)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if self.control is not None and path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response, path[len(CONTROL_PREFIX) :])
        if path not in self.paths or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        arrival = self.clock()
        if not self.sampler.should_capture():
            return self.app(environ, start_response)
        request = None
        if self.config.capture_input:
            body = self._read_body(environ)
            if body is None:
                return self.app(environ, start_response)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            request = Payload(environ.get("CONTENT_TYPE"), body)
        exchange = _Exchange(
            environ, start_response, arrival, request, keep_body=self.config.capture_output
        )
        return self._respond(environ, start_response, exchange)

    def _read_body(self, environ: Environ) -> bytes | None:
        """The whole request body, or None when it cannot be taken without changing it."""
        stream = environ["wsgi.input"]
        raw = str(environ.get("CONTENT_LENGTH") or "").strip()
        if not raw:
            return stream.read() if environ.get("wsgi.input_terminated") else b""
        if not raw.isdigit() or int(raw) > self.max_body_bytes:
            return None
        remaining, chunks = int(raw), []
        while remaining > 0 and (chunk := stream.read(remaining)):
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _respond(
        self, environ: Environ, start_response: StartResponse, exchange: _Exchange
    ) -> Iterable[bytes]:
        result = self.app(environ, exchange.start_response)
        return _CapturedResponse(result, exchange, self._finish)

    def _finish(self, exchange: _Exchange) -> None:
        """Build the record and hand it to the sink; a bug here never fails the response."""
        if exchange.done:
            return
        exchange.done = True
        try:
            self._record(exchange)
        except Exception:
            log.exception("capture record could not be built; the invocation is unaffected")

    def _record(self, exchange: _Exchange) -> None:
        if not exchange.status.startswith("2") and not self.capture_failed:
            return
        response = None
        if self.config.capture_output:
            response = Payload(exchange.content_type, b"".join(exchange.chunks))
        line = self._lines.line(
            arrival=exchange.arrival,
            event_id=self.new_event_id(),
            request=exchange.request,
            response=response,
            inference_id=exchange.inference_id,
            custom_attributes=exchange.custom_attributes,
            target_model=exchange.target_model,
        )
        self.sink.write(line, exchange.arrival)

    def _control(self, environ: Environ, start_response: StartResponse, action: str) -> list[bytes]:
        assert self.control is not None
        method = environ.get("REQUEST_METHOD")
        if action == "stats" and method == "GET":
            return _json(
                start_response, "200 OK", {"config": self.config.describe(), **self.control.stats()}
            )
        if action == "flush" and method == "POST":
            return self._flush(environ, start_response)
        if action in ("stats", "flush"):
            return _json(
                start_response,
                "405 Method Not Allowed",
                {"error": f"use {'GET' if action == 'stats' else 'POST'}"},
            )
        return _json(start_response, "404 Not Found", {"error": f"no capture action {action!r}"})

    def _flush(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        from smlocal.capture_sink.runtime import FlushRefused, FlushTimeout

        query = parse_qs(environ.get("QUERY_STRING", ""))
        raw = (query.get("timeout") or ["30"])[0]
        try:
            timeout = float(raw)
        except ValueError:
            timeout = -1.0
        if not 0 < timeout <= MAX_FLUSH_SECONDS:
            message = f"timeout={raw!r} must be a number of seconds in (0, {MAX_FLUSH_SECONDS:g}]"
            return _json(start_response, "400 Bad Request", {"error": message})
        assert self.control is not None
        try:
            result = self.control.flush(timeout)
        except FlushTimeout as exc:
            return _json(start_response, "504 Gateway Timeout", {"error": str(exc)})
        except FlushRefused as exc:
            return _json(start_response, "502 Bad Gateway", {"error": str(exc)})
        return _json(start_response, "200 OK", result)


def _json(start_response: StartResponse, status: str, doc: dict[str, Any]) -> list[bytes]:
    body = json.dumps(doc).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


class _CapturedResponse:
    """The app's response iterable, passed through chunk by chunk while it is recorded."""

    def __init__(
        self,
        inner: Iterable[bytes],
        exchange: _Exchange,
        finish: Callable[[_Exchange], None],
    ) -> None:
        self._inner = inner
        self._exchange = exchange
        self._finish = finish

    def __iter__(self) -> Iterator[bytes]:
        exchange = self._exchange
        sent = 0
        for chunk in self._inner:
            if exchange.keep_body:
                exchange.chunks.append(chunk)
            sent += len(chunk)
            length = exchange.content_length
            if length is not None and sent >= length:
                self._finish(exchange)  # the client has the response once it has this chunk
            yield chunk
        self._finish(exchange)  # without a length the end is told after the iterable ends

    def close(self) -> None:
        """Close the app's iterable (the WSGI contract)."""
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()
