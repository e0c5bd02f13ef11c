"""Invocations that meet a serverless variant scaled to zero wait for its cold start.

The first such request asks for a wake; later ones join it. Once the variant is warm every
held request is handled again from the start (routed to the new servers); if the cold start
failed they get the 503 a client retries.
"""

from __future__ import annotations

from collections.abc import Callable

from smlocal.emulator.errors import AWSError, ServiceUnavailable
from smlocal.emulator.wire.http_server import Request, Respond

Handle = Callable[[Request, Respond], None]
Fail = Callable[[Respond, AWSError, str], None]
# wakes a serverless variant scaled to zero: (endpoint, variant, done(ok) on the loop)
Waker = Callable[[str, str, Callable[[bool], None]], None]


class ColdStarts:
    """The requests held per (endpoint, variant) while it starts; used on the loop only."""

    def __init__(self, waker: Waker | None, handle: Handle, fail: Fail) -> None:
        self.waker = waker
        self.handle = handle
        self.fail = fail
        self.held: dict[tuple[str, str], list[tuple[Request, Respond, str]]] = {}

    def hold(
        self, endpoint: str, variant: str, request: Request, respond: Respond, request_id: str
    ) -> None:
        """Keep the request until the variant is warm (asking for a wake if none is on)."""
        key = (endpoint, variant)
        waiting = self.held.get(key)
        if waiting is not None:
            waiting.append((request, respond, request_id))
            return
        if self.waker is None:
            self.fail(respond, _unavailable(endpoint, variant), request_id)
            return
        self.held[key] = [(request, respond, request_id)]
        self.waker(endpoint, variant, lambda ok: self._woken(key, ok))

    def _woken(self, key: tuple[str, str], ok: bool) -> None:
        for request, respond, request_id in self.held.pop(key, []):
            if ok:
                self.handle(request, respond)
            else:
                self.fail(respond, _unavailable(*key), request_id)


def _unavailable(endpoint: str, variant: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"The serverless variant {variant} of endpoint {endpoint} could not be started "
        "after it scaled to zero; try again."
    )
