"""Pooled keep-alive HTTP/1.1 connections from the edge to model servers, on the event loop.

Callback-based on purpose (see smlocal.emulator.wire.http_server): a request is one
`transport.write`, the answer is parsed by httptools and handed to a callback, with no task per
request.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import httptools


@dataclass(slots=True)
class UpstreamResponse:
    """A model server's answer: status, lower-cased header names, body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header, by its lower-cased name."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


class UpstreamTimeout(Exception):
    """The model server took longer than the invocation timeout."""


class Unreachable(ConnectionError):
    """No connection to the model server could be made: the request was never sent, so
    another instance may take it."""


Done = Callable[[UpstreamResponse | None, Exception | None], None]


class _Connection(asyncio.Protocol):
    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.done: Done | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.received = False
        self.reused = False
        self.request = b""
        self.timeout = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not subclasses
        if self.pool.unix_path is None:
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, request: bytes, done: Done, timeout: float) -> None:
        assert self.transport is not None
        self.done, self.request, self.timeout = done, request, timeout
        self.headers, self.body, self.received = [], [], False
        self.timer = self.pool.loop.call_later(timeout, self._expire)
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._finish(None, ConnectionError(f"unreadable answer from the model server: {exc}"))
            self.drop()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        response = UpstreamResponse(status, self.headers, b"".join(self.body))
        keep = self.parser.should_keep_alive()
        self._finish(response, None)
        if keep and self.transport is not None and not self.transport.is_closing():
            self.reused = True
            self.pool.idle.append(self)
        else:
            self.drop()

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.pool.idle:
            self.pool.idle.remove(self)
        if self.done is None:
            return
        if self.reused and not self.received:
            # A keep-alive connection the server had already closed: one fresh try.
            done, request, timeout = self.done, self.request, self.timeout
            self._cancel_timer()
            self.done = None
            self.pool.send_fresh(request, done, timeout)
            return
        self._finish(None, ConnectionError(f"the model server closed the connection: {exc}"))

    def _expire(self) -> None:
        self._finish(None, UpstreamTimeout())
        self.drop()

    def _finish(self, response: UpstreamResponse | None, error: Exception | None) -> None:
        self._cancel_timer()
        done, self.done = self.done, None
        if done is not None:
            self.pool.busy -= 1
            done(response, error)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def drop(self) -> None:
        self.done = None
        if self.transport is not None:
            self.transport.close()


class UpstreamPool:
    """Keep-alive connections to one model server (host, port), or to its Unix socket when it
    has one for the edge (`unix_path`; `port` still names the server); used from the loop
    only."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        port: int,
        host: str = "127.0.0.1",
        unix_path: str | None = None,
    ) -> None:
        self.loop = loop
        self.host = host
        self.port = port
        self.unix_path = unix_path
        self.idle: list[_Connection] = []
        self.busy = 0  # requests sent and not answered yet (read by the drain before a stop)
        self.last_used = time.monotonic()  # when a request was last sent (serverless idling)

    def send(self, request: bytes, done: Done, timeout: float) -> None:
        """Send raw request bytes; `done(response, error)` is called once, on the loop."""
        self.busy += 1
        self.last_used = time.monotonic()
        while self.idle:
            conn = self.idle.pop()
            if conn.transport is not None and not conn.transport.is_closing():
                conn.send(request, done, timeout)
                return
        self.send_fresh(request, done, timeout)

    def send_fresh(self, request: bytes, done: Done, timeout: float) -> None:
        """Send on a new connection."""
        self.loop.create_task(self._connect_and_send(request, done, timeout))

    async def _connect_and_send(self, request: bytes, done: Done, timeout: float) -> None:
        try:
            conn = await self._connect()
        except OSError as exc:
            self.busy -= 1
            done(None, Unreachable(f"cannot connect to the model server: {exc}"))
            return
        conn.send(request, done, timeout)

    async def _connect(self) -> _Connection:
        if self.unix_path is not None:
            try:
                _, conn = await self.loop.create_unix_connection(
                    lambda: _Connection(self), self.unix_path
                )
                return conn
            except FileNotFoundError:
                # the socket's file is gone (a cleaner of /tmp, say) while its server may still
                # run: its port from now on; a server that is gone refuses both
                self.unix_path = None
        _, conn = await self.loop.create_connection(lambda: _Connection(self), self.host, self.port)
        return conn

    def close(self) -> None:
        """Close the idle connections (busy ones finish first)."""
        for conn in self.idle:
            conn.drop()
        self.idle.clear()
