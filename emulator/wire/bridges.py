"""Bridges from the event loop to a worker thread: a request whose handling blocks (the store,
moto, a model server) is answered in the edge's executor, and its answer sent on the loop.

Every bridge answers: an AWSError in the shape of a REST-JSON error, anything else (a bug) as
a 500 InternalFailure naming it, so no client is left waiting for an answer never sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from smlocal.emulator.errors import AWSError
from smlocal.emulator.wire.http_limits import Answer
from smlocal.emulator.wire.http_server import Request, Respond
from smlocal.emulator.wire.responses import Handler, internal_failure, new_request_id, rest_error


class Bridge:
    """Answers each request with `answer` in a worker thread; subclasses say how."""

    def __init__(self, loop: asyncio.AbstractEventLoop, executor: Executor) -> None:
        self.loop = loop
        self.executor = executor

    def __call__(self, request: Request, respond: Respond) -> None:
        self.executor.submit(self._run, request, respond)

    def answer(self, request: Request, request_id: str) -> Answer:
        """The answer to one request (in a worker thread)."""
        raise NotImplementedError

    def _run(self, request: Request, respond: Respond) -> None:
        request_id = new_request_id()
        answer = answered(lambda: self.answer(request, request_id), request_id)
        self.loop.call_soon_threadsafe(respond, *answer)


class ServiceBridge(Bridge):
    """A bridge to the handler of one AWS service model's operations."""

    def __init__(
        self,
        service_model: Any,
        handler: Handler,
        loop: asyncio.AbstractEventLoop,
        executor: Executor,
    ) -> None:
        super().__init__(loop, executor)
        self.service_model = service_model
        self.handler = handler


def answered(work: Callable[[], Answer], request_id: str) -> Answer:
    """work()'s answer; if it raised, its AWSError (or a bug, as a 500 InternalFailure naming
    it) in the shape of a REST-JSON error."""
    try:
        return work()
    except AWSError as exc:
        return error_answer(exc, request_id)
    except Exception as exc:  # a bug: still answer, or the client waits forever
        return error_answer(internal_failure(exc, request_id), request_id)


def error_answer(error: AWSError, request_id: str) -> Answer:
    """An AWSError as a REST-JSON error answer."""
    response = rest_error(error, request_id)
    return response.status, list(response.headers), response.body
