"""Limits of the edge's HTTP server: how long it waits for a client, how many clients it
keeps, and how large a body it takes (`smlocal.emulator.wire.http_server` applies them).

Slow or idle clients (`ConnectionLimits`) are found by one sweep over the connections a few
times a second, not by a timer per request (the runtime's hot path counts microseconds): a
request head must be complete within `header_timeout` of connecting (or of its first byte,
on a kept-alive connection); a body must keep arriving, at most `body_timeout` between two
reads; a kept-alive connection may wait `idle_timeout` for its next request. A connection
whose request is being handled is never cut (an invocation may wait 60 s for its model).
At the cap (`max_connections`, lowered to what the open-file limit allows), a new
connection evicts the oldest one that has no request in progress (it sent nothing, half a
head, or is idle), so a flood of half-open connections cannot lock legitimate clients out.

Body limits: a handler may have `body_limit(method, path, headers) -> BodyLimit | None`,
asked before a body above SMALL_BODY is buffered (when the head declares a larger length,
or when a chunked body grows past it); None means the server's own MAX_BODY. Smaller bodies
are always taken, so the hook costs nothing on the runtime's hot path of small invocations.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

MAX_BODY = 1 << 30  # an emulator buffers bodies in memory; refuse anything above 1 GiB
SMALL_BODY = 64 << 10  # no route's limit is lower: bodies up to this size need no hook
# Open files kept free for everything but client connections (model-server pools, logs,
# the store, child processes' pipes): 128, or a quarter of a smaller limit.
FD_RESERVE = 128

RawHeaders = list[tuple[bytes, bytes]]
Answer = tuple[int, list[tuple[str, str]], bytes]  # status, headers, body


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long the server waits for a client, and how many clients it keeps.

    The defaults: 10 s for a request head (a real client sends its head in one packet; nginx
    and Node allow 60 s, but 10 s still only catches the stuck and the malicious); 60 s
    between two reads of a body (nginx's client_body_timeout); 75 s idle between requests
    (nginx's keepalive_timeout: above the 60 s after which the AWS SDK for Java and load
    balancers drop idle connections, so the server rarely closes a pooled connection just as
    a client reuses it; botocore checks a pooled connection before reusing it anyway).
    """

    header_timeout: float = 10.0
    body_timeout: float = 60.0
    idle_timeout: float = 75.0
    max_connections: int = 1000

    @property
    def sweep_interval(self) -> float:
        """How often the connections are checked: once a second, or faster for short limits."""
        return min(1.0, self.header_timeout / 4, self.body_timeout / 4, self.idle_timeout / 4)


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """The largest body a request may send, and `refuse(method, path, headers)`: the whole
    answer when it sends more (the server adds `Connection: close`)."""

    max_bytes: int
    refuse: Callable[[str, str, RawHeaders], Answer]

    def __post_init__(self) -> None:
        if self.max_bytes < SMALL_BODY:
            raise ValueError(f"a body limit must be at least {SMALL_BODY} bytes")


BodyLimitHook = Callable[[str, str, RawHeaders], "BodyLimit | None"]


def _too_large(method: str, path: str, headers: RawHeaders) -> Answer:
    message = f"request bodies above {MAX_BODY} bytes are not accepted"
    return 413, [("Content-Type", "text/plain; charset=utf-8")], message.encode()


DEFAULT_BODY_LIMIT = BodyLimit(MAX_BODY, _too_large)


class Connection(Protocol):
    """What the registry needs of a connection."""

    @property
    def busy(self) -> bool:
        """A request is being handled, or its body is arriving."""

    def close(self) -> None:
        """Close now."""

    def expire(self, now: float, limits: ConnectionLimits) -> None:
        """Close if what the connection waits for is overdue (never while busy)."""


class Connections:
    """The open connections, oldest first, at most `cap` of them, swept for timeouts."""

    def __init__(self, limits: ConnectionLimits, cap: int | None = None) -> None:
        self.limits = limits
        self.cap = limits.max_connections if cap is None else cap
        self._open: dict[Connection, None] = {}  # insertion-ordered: oldest first
        self._sweeper: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._open)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._open))

    def admit(self, connection: Connection) -> bool:
        """Remember a new connection, evicting the oldest idle one at the cap; False when
        every connection is busy (the new one is then refused)."""
        if len(self._open) >= self.cap and not self._evict():
            return False
        self._open[connection] = None
        return True

    def forget(self, connection: Connection) -> None:
        """A connection closed."""
        self._open.pop(connection, None)

    def _evict(self) -> bool:
        for connection in self._open:
            if not connection.busy:
                del self._open[connection]  # now: its close completes on a later loop turn
                connection.close()
                return True
        return False

    def start_sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Check every connection's timeouts from now on."""
        self._sweeper = loop.call_later(self.limits.sweep_interval, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = time.monotonic()
        for connection in list(self._open):
            connection.expire(now, self.limits)
        self._sweeper = loop.call_later(self.limits.sweep_interval, self._sweep, loop)

    def close_all(self) -> None:
        """Stop sweeping and close every connection."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        for connection in list(self._open):
            connection.close()


def usable_connections(wanted: int) -> int:
    """As many of `wanted` connections as the open-file limit allows (its soft limit is
    raised towards the hard one first), keeping FD_RESERVE files for everything else."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    usable = max(1, soft - min(FD_RESERVE, soft // 4))
    log.warning("%d open files at most: serving %d connections, not %d", soft, usable, wanted)
    return usable
