"""Job and endpoint logs into CloudWatch Logs (moto's, at the edge), batched."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from smlocal.capture_sink.s3 import error_code
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.clients import client

log = logging.getLogger(__name__)
FLUSH_SECONDS = 0.5
MAX_BATCH = 200


class LogStream:
    """Lines for one log stream; sent in batches at least every half second."""

    def __init__(self, logs: Any, group: str, name: str) -> None:
        self.logs = logs
        self.group = group
        self.name = name
        self.buffer: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def append(self, line: str) -> None:
        """Queue a line (an empty one is sent as a space: CloudWatch refuses empty events)."""
        with self.lock:
            self.buffer.append({"timestamp": int(time.time() * 1000), "message": line or " "})
            full = len(self.buffer) >= MAX_BATCH
        if full:
            self.flush()

    def flush(self) -> None:
        """Send what is queued."""
        with self.lock:
            batch, self.buffer = self.buffer, []
        if not batch:
            return
        try:
            self.logs.put_log_events(
                logGroupName=self.group, logStreamName=self.name, logEvents=batch
            )
        except Exception:  # a log line must never fail a job
            log.exception("could not send %d log lines to %s", len(batch), self.group)

    def close(self) -> None:
        """Send the rest and stop."""
        self.closed.set()
        self.thread.join(5)
        self.flush()

    def _pump(self) -> None:
        while not self.closed.wait(FLUSH_SECONDS):
            self.flush()


class LogShipper:
    """Creates log groups and streams on demand and hands out LogStreams."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self._logs: Any = None
        self._making = threading.Lock()

    @property
    def logs(self) -> Any:
        """The Logs client, made once on first use (under a lock: jobs starting together, a
        tuning job's parallel training jobs, share it)."""
        with self._making:
            if self._logs is None:
                self._logs = client(self.settings, "logs")
            return self._logs

    def stream(self, group: str, name: str) -> LogStream:
        """A stream in a group, both created when missing."""
        logs = self.logs
        _create(logs.create_log_group, logGroupName=group)
        _create(logs.create_log_stream, logGroupName=group, logStreamName=name)
        return LogStream(logs, group, name)


def _create(call: Any, **kwargs: str) -> None:
    """Create a log group or stream unless it exists (told by the error's code: two jobs
    starting together share the client, see `error_code`)."""
    try:
        call(**kwargs)
    except Exception as exc:
        if error_code(exc) != "ResourceAlreadyExistsException":
            raise
