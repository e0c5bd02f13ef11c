"""The edge's HTTP/1.1 server: asyncio (uvloop) with httptools parsing, and a WSGI bridge.

Why not a stock server: the runtime forwards every invocation to a model server, and on a
2-core machine each request's CPU on this hop eats into throughput. The edge's CPU per
InvokeEndpoint (`python -m bench.edge_server`, 2026-12-06): this callback design ≈ 170 µs,
the same edge handler on uvicorn (httptools) ≈ 215 µs (waitress was ≈ 850 µs), against
≈ 1.3 ms for the model server itself; end to end the two measured the same throughput. The
parser is llhttp either way; uvicorn lacks what this server adds: a header timeout, body
limits decided before a body is read, answers for half-closed clients, trailers kept out of
the headers. So the hot path (`Handler`s answer on the event loop, without a task or thread
per request) stays on the loop, and everything else (the control plane, the embedded moto)
runs as WSGI apps in a thread pool.

Handlers get a `Request` and a `respond(status, headers, body)` callable that must be called
exactly once, on the loop thread (`wsgi_bridge.WSGIBridge` hops back there for threaded
apps). Responses of pipelined requests are written in request order.

Slow, idle and too many clients, and bodies above a route's limit, are refused as
`smlocal.emulator.wire.http_limits` describes; heads that no request may have, as
`smlocal.emulator.wire.http_framing` describes (llhttp refuses ambiguous framing itself). A
refused body is answered before more of it is buffered (with `Connection: close`); the rest
of it is then read and dropped, because closing with it unread would reset the connection
and lose the answer, until the client closes, for at most `body_timeout`. The server's own
error answers (400, 408, 431, 500) end the same way; only the 503 of a connection over the
cap closes at once. A client that half-closes after its requests still gets their answers.
"""

from __future__ import annotations

import asyncio
import functools
import http
import logging
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import httptools

from smlocal.emulator.wire.http_framing import Refusal, check_head, request_target, with_host
from smlocal.emulator.wire.http_limits import (
    DEFAULT_BODY_LIMIT,
    MAX_BODY,
    SMALL_BODY,
    BodyLimit,
    BodyLimitHook,
    ConnectionLimits,
    Connections,
    RawHeaders,
    usable_connections,
)

log = logging.getLogger(__name__)

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_NO_BODY_STATUSES = (204, 304)
# What a connection waits for (the sweep's timeouts depend on it).
_WAIT, _HEAD, _BODY, _DRAIN = 0, 1, 2, 3
_KEEP, _CLOSE, _LINGER = 0, 1, 2  # what follows an answer: keep alive, close, drain then close
MAX_HEAD = 64 << 10  # bytes of request line and headers (nginx allows 32 KiB in 4 buffers)
MAX_HEADERS = 200  # headers in one request
MAX_PIPELINE = 16  # answers owed on one connection before it is read again

Headers = list[tuple[str, str]]
Respond = Callable[[int, Headers, bytes], None]
Handler = Callable[["Request", Respond], None]


@dataclass(slots=True)
class Request:
    """One parsed request; header names are lower-cased bytes, values raw bytes."""

    method: str
    path: str  # still percent-encoded, as sent
    query: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    http_version: str
    keep_alive: bool
    client: str

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header, by its lower-cased name."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


@functools.lru_cache(maxsize=256)  # asked for every answer, always of the same few statuses
def reason(status: int) -> str:
    """The reason phrase of a status (a generic one for statuses Python does not know)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def encode_response(
    status: int,
    headers: Headers,
    body: bytes,
    *,
    head_only: bool,
    keep_alive: bool,
    http10: bool = False,
) -> bytes:
    """Status line, headers and body, with Content-Length set from the body we send (an
    HTTP/1.0 client is told when its connection stays open: it assumes it closes)."""
    out = [f"HTTP/1.1 {status} {reason(status)}\r\n".encode()]
    length_given = False
    for name, value in headers:
        lowered = name.lower()
        if lowered in ("transfer-encoding", "connection"):
            continue
        if lowered == "content-length":
            if not head_only:
                continue  # ours, from the body actually sent
            length_given = True
        out.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
    if status not in _NO_BODY_STATUSES and not (head_only and length_given):
        out.append(b"Content-Length: %d\r\n" % len(body))
    if not keep_alive:
        out.append(b"Connection: close\r\n")
    elif http10:
        out.append(b"Connection: keep-alive\r\n")
    out.append(b"\r\n")
    if not head_only and status not in _NO_BODY_STATUSES:
        out.append(body)
    return b"".join(out)


class _Slot:
    __slots__ = ("after", "data")

    def __init__(self, data: bytes | None = None, after: int = _KEEP) -> None:
        self.data = data
        self.after = after


class _BodyTooLarge(Exception):
    """Raised inside the parser's callbacks to stop it at a body above its limit."""


class _AfterLast(Exception):
    """Raised at the start of a request that follows one the connection closes after (llhttp
    would read it as its own request: HTTP/1.0 with Transfer-Encoding keeps it parsing)."""


class _HeadTooLarge(Exception):
    """Raised inside the parser's callbacks at a head above MAX_HEAD or MAX_HEADERS (or
    trailers above them)."""


class HttpProtocol(asyncio.Protocol):
    """One client connection: parse requests, hand them to the handler, write answers in order."""

    def __init__(
        self,
        handler: Handler,
        on_close: Callable[[HttpProtocol], None] | None = None,
        body_limit: BodyLimitHook | None = None,
    ) -> None:
        self.handler = handler
        self.on_close = on_close
        self.body_limit = body_limit
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.pending: deque[_Slot] = deque()
        self.closed = False
        self.refused = False  # the server is full: answer 503 and close
        self.client = ""
        self.phase = _WAIT
        self.stamp = time.monotonic()  # when the current wait began
        self.served = False  # answered a request: waiting for the next is idle, not a head
        self._eof = False  # the client half-closed: close once every answer is written
        self._method = self._path = self._query = self._version = ""
        self._last = False  # the connection closes after this request's answer
        self._url = b""
        self._headers: RawHeaders = []
        self._body: list[bytes] = []
        self._size = 0
        self._head = 0  # bytes of the request head so far
        self._paused = False  # reading stopped: too many answers owed on this connection
        self._queued: deque[Request] = deque()  # read, waiting for earlier answers
        self._flushing = False
        self._limit: BodyLimit | None = None  # the route's, once asked
        self._max = MAX_BODY if body_limit is None else SMALL_BODY  # asked when passed

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not subclasses
        if self.closed:  # evicted between the server's accept and now
            transport.close()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        self.client = peer[0] if isinstance(peer, tuple) else ""
        if self.refused:
            # closed, not drained: a connection over the cap is not swept, so draining it
            # could hold a file open for as long as the client keeps sending
            self._fail(503, "too many connections", _CLOSE)

    def data_received(self, data: bytes) -> None:
        if self.phase == _BODY:
            self.stamp = time.monotonic()
        elif self.phase == _DRAIN:
            return  # the rest of a refused body, or anything after a broken request
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if not self._last:  # pragma: no cover - check_head marks every upgrade request
                self._fail(400, "protocol upgrades are not supported")
            # the request asking for it is answered (see http_framing.check_head), and then
            # the connection closes: llhttp reads nothing after it
            self.phase = _DRAIN
        except httptools.HttpParserError as exc:
            cause = exc.__context__  # what a callback of ours raised, if one did
            if isinstance(cause, _BodyTooLarge):
                self._refuse()
            elif isinstance(cause, _AfterLast):
                self.phase = _DRAIN  # dropped unread; the last answer closes the connection
            elif isinstance(cause, Refusal):
                self._enqueue(_answer_bytes(cause.status, cause.message), _LINGER)
            elif isinstance(cause, _HeadTooLarge):
                self._fail(
                    431, f"request heads are limited to {MAX_HEAD} bytes and {MAX_HEADERS} headers"
                )
            elif cause is not None:
                log.error("reading a request failed", exc_info=cause)
                self._fail(500, "internal error")
            else:
                self._fail(400, f"malformed HTTP request: {exc}")

    def eof_received(self) -> bool | None:
        """The client half-closed: still answer what it asked for, then close (asyncio
        closes the transport when this returns a false value)."""
        self._eof = True
        return True if self.pending or self._queued else None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pending.clear()
        if self.on_close is not None:
            self.on_close(self)

    def close(self) -> None:
        """Close the connection (answers not written yet are dropped)."""
        self._close()

    # -- timeouts (called by the server's sweep) -------------------------------------------

    @property
    def busy(self) -> bool:
        """A request is being handled (one whose body is still arriving can be evicted: a
        flood of slow uploads must not lock everyone else out)."""
        return bool(self.pending)

    def expire(self, now: float, limits: ConnectionLimits) -> None:
        """Close the connection if what it waits for is overdue (never while busy)."""
        if self.pending or self.closed:
            return
        waited = now - self.stamp
        if self.phase == _WAIT:
            if waited > (limits.idle_timeout if self.served else limits.header_timeout):
                self._close()
        elif self.phase == _HEAD:
            if waited > limits.header_timeout:
                self._fail(408, "the request head did not arrive in time")
        elif waited > limits.body_timeout:
            if self.phase == _BODY:
                self._fail(408, "the request body stopped arriving")
            else:
                self._close()

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._last:
            raise _AfterLast
        self._url, self._headers, self._body, self._size, self._head = b"", [], [], 0, 0
        if self._limit is not None:
            self._limit = None
            self._max = MAX_BODY if self.body_limit is None else SMALL_BODY
        if self.served:
            self.stamp = time.monotonic()
        self.phase = _HEAD

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head += len(url)
        if self._head > MAX_HEAD:
            raise _HeadTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head += len(name) + len(value) + 4
        if self.phase == _BODY:  # a trailer: counted, never merged (RFC 9110 §6.5.1)
            if self._head > MAX_HEAD:
                raise _HeadTooLarge
            return
        self._headers.append((name.lower(), value))
        if self._head > MAX_HEAD or len(self._headers) > MAX_HEADERS:
            raise _HeadTooLarge

    def on_headers_complete(self) -> None:
        self.phase = _BODY
        self.stamp = time.monotonic()
        self._method = self.parser.get_method().decode("ascii")
        self._version = self.parser.get_http_version()
        self._path, self._query, authority = request_target(self._method, self._url)
        if authority is not None:
            self._headers = with_host(self._headers, authority)
        expect = coded = False
        hosts = 0
        for name, value in self._headers:
            if name == b"content-length" and value.strip().isdigit():
                if int(value) > self._max and int(value) > self._ask_limit():
                    raise _BodyTooLarge
            elif name == b"host":
                hosts += 1
            elif name == b"transfer-encoding":
                coded = True
            elif name == b"expect" and value.lower() == b"100-continue":
                expect = True
        upgrade = self.parser.should_upgrade()
        if coded or upgrade or hosts != 1 or self._version != "1.1":
            self._last = check_head(self._version, upgrade, self._method, self._headers)
        if expect and self.transport:
            self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self._max and self._size > self._ask_limit():
            raise _BodyTooLarge
        self._body.append(body)

    def _ask_limit(self) -> int:
        """The route's body limit (asked once per request, for a body above SMALL_BODY)."""
        if self._limit is None:
            found = None
            if self.body_limit is not None:
                found = self.body_limit(self._method, self._path, self._headers)
            self._limit = found or DEFAULT_BODY_LIMIT
            self._max = self._limit.max_bytes
        return self._max

    def on_message_complete(self) -> None:
        self.phase = _WAIT
        request = Request(
            method=self._method,
            path=self._path,
            query=self._query,
            headers=self._headers,
            body=b"".join(self._body),
            http_version=self._version,
            keep_alive=self.parser.should_keep_alive() and not self._last,
            client=self.client,
        )
        if self._queued or len(self.pending) >= MAX_PIPELINE:
            # a client that pipelines is read no faster than it is answered
            self._queued.append(request)
            if not self._paused and self.transport is not None:
                self.transport.pause_reading()
                self._paused = True
            return
        self._dispatch(request)

    def _dispatch(self, request: Request) -> None:
        """Hand a request to the handler, with the slot its answer goes into."""
        slot = _Slot()
        self.pending.append(slot)

        def respond(status: int, headers: Headers, body: bytes) -> None:
            self._answer(slot, request, status, headers, body)

        try:
            self.handler(request, respond)
        except Exception:
            log.exception("handler failed for %s %s", request.method, request.path)
            respond(500, [("Content-Type", "text/plain")], b"internal error")

    # -- answers ---------------------------------------------------------------------------

    def _answer(
        self, slot: _Slot, request: Request, status: int, headers: Headers, body: bytes
    ) -> None:
        if slot.data is not None:
            return
        slot.data = encode_response(
            status,
            headers,
            body,
            head_only=request.method == "HEAD",
            keep_alive=request.keep_alive,
            http10=request.http_version == "1.0",
        )
        slot.after = _KEEP if request.keep_alive else _CLOSE
        self._flush()

    def _flush(self) -> None:
        """Write the answers that are ready, in request order; hand queued requests over as
        room frees up (in a loop, not by recursion: a handler may answer at once)."""
        if self._flushing:
            return  # the outer call goes on
        self._flushing = True
        try:
            while self._write_ready() and self._queued and len(self.pending) < MAX_PIPELINE:
                self._dispatch(self._queued.popleft())
        finally:
            self._flushing = False
        if self.closed:
            return
        if self._paused and not self._queued and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        if self._eof and not self.pending and not self._queued:
            self._close()  # the client half-closed and has every answer
            return
        if not self.pending:
            self.served = True
            self.stamp = time.monotonic()

    def _write_ready(self) -> bool:
        """Write the answers at the head of the line that are ready; False once closing."""
        while self.pending and self.pending[0].data is not None:
            ready = self.pending.popleft()
            if self.closed or self.transport is None:
                return False
            self.transport.write(ready.data or b"")
            if ready.after == _CLOSE:
                self._close()
                return False
            if ready.after == _LINGER:
                self._linger()
                return False
        return not self.closed

    def _refuse(self) -> None:
        """Answer a body above its limit (after any earlier answers), then drain and close."""
        limit = self._limit or DEFAULT_BODY_LIMIT
        status, headers, body = limit.refuse(self._method, self._path, self._headers)
        head_only = self._method == "HEAD"
        data = encode_response(status, headers, body, head_only=head_only, keep_alive=False)
        self._enqueue(data, _LINGER)

    def _fail(self, status: int, message: str, after: int = _LINGER) -> None:
        """Answer with an error of the server's own, then drain and close: a client that is
        still sending (a slow head's next line, a broken request's rest) would otherwise
        have its connection reset under the answer, and lose it."""
        self._enqueue(_answer_bytes(status, message), after)

    def _enqueue(self, data: bytes, after: int) -> None:
        """Answer with data after any earlier answers; read nothing more from the client."""
        self.phase = _DRAIN
        self.stamp = time.monotonic()
        self.pending.append(_Slot(data, after))
        self._flush()

    def _linger(self) -> None:
        """Stop writing but keep reading (and dropping) until the client closes: closing with
        its data unread would reset the connection and lose the answer on the way to it."""
        self.pending.clear()
        self.phase = _DRAIN
        self.stamp = time.monotonic()
        if self.transport is not None and self.transport.can_write_eof():
            self.transport.write_eof()
        else:
            self._close()

    def _close(self) -> None:
        self.closed = True
        self.pending.clear()
        if self.transport is not None:
            self.transport.close()


def _answer_bytes(status: int, message: str) -> bytes:
    """A plain-text answer of the server's own, closing the connection."""
    headers = [("Content-Type", "text/plain; charset=utf-8")]
    return encode_response(status, headers, message.encode(), head_only=False, keep_alive=False)


class HttpServer:
    """A listening server and its open connections."""

    def __init__(self, handler: Handler, limits: ConnectionLimits | None = None) -> None:
        self.handler = handler
        self.limits = limits or ConnectionLimits()
        self.body_limit: BodyLimitHook | None = getattr(handler, "body_limit", None)
        self.connections = Connections(self.limits)
        self.server: asyncio.Server | None = None

    def protocol(self) -> HttpProtocol:
        """A protocol for a new connection, remembered until it closes (refused with a 503
        when the server is full and every connection is busy)."""
        protocol = HttpProtocol(self.handler, self.connections.forget, self.body_limit)
        protocol.refused = not self.connections.admit(protocol)
        return protocol

    def close(self) -> None:
        """Stop listening and close every connection."""
        if self.server is not None:
            self.server.close()
        self.connections.close_all()

    async def wait_closed(self) -> None:
        """Wait until the listening socket is closed."""
        if self.server is not None:
            await self.server.wait_closed()


async def serve(
    handler: Handler, sock: socket.socket, limits: ConnectionLimits | None = None
) -> HttpServer:
    """Start serving on an already bound, listening socket."""
    loop = asyncio.get_running_loop()
    server = HttpServer(handler, limits)
    server.connections.cap = usable_connections(server.limits.max_connections)
    server.server = await loop.create_server(server.protocol, sock=sock, backlog=1024)
    server.connections.start_sweep(loop)
    return server
