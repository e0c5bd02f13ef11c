"""What the console reads, all of it the API's own: the control plane's operations, the
endpoint manager, the runtime's counters, and the emulator's boto3 clients (S3, Logs)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from smlocal.emulator.control.context import Context
from smlocal.emulator.hosting.endpoint_manager import EndpointManager
from smlocal.emulator.runtime.metrics import EndpointMetrics
from smlocal.emulator.support.clients import client

Operation = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass
class Sources:
    """The services the console reads through (no store of its own)."""

    ctx: Context
    control: Operation  # the control plane: operation name, params -> answer
    endpoints: EndpointManager
    metrics: EndpointMetrics
    _clients: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """An operation of the control plane, as the API runs it."""
        return self.control(operation, params)

    def every(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a List operation, page after page."""
        items: list[dict[str, Any]] = []
        while True:
            answer = self.call(operation, **params)
            items += answer.get(key, [])
            token = answer.get("NextToken")
            if not token or len(items) >= 1000:
                return items
            params["NextToken"] = token

    def client(self, service: str) -> Any:
        """The emulator's own client for S3 or Logs (made once, shared by the threads)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = client(self.ctx.settings, service)
            return self._clients[service]
