"""A model server's output into CloudWatch Logs, as SageMaker ships an endpoint's container
logs: group `/aws/sagemaker/Endpoints/{EndpointName}`, one stream per instance named
`{VariantName}/i-{17 hex digits}` (an EC2 instance id).

The server still writes its log file (the backends own it), one file per instance; a
follower thread sends what is appended to it. Each server start is a new instance, so a
restart by the supervisor, an UpdateEndpoint and an smlocal restart get new streams (as a
replaced instance does in AWS) and lines of an earlier instance are never sent again.
"""

from __future__ import annotations

import logging
import secrets
import threading
from pathlib import Path

from smlocal.emulator.hosting.backends import VariantPlan
from smlocal.emulator.support.cloudwatch import LogShipper, LogStream

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2
CHUNK = 1 << 16
MAX_LINE = 256 * 1024 - 26  # CloudWatch's event size limit, less its per-event overhead


def log_group(endpoint: str) -> str:
    """The endpoint's log group, as named in ModelError."""
    return f"/aws/sagemaker/Endpoints/{endpoint}"


def instance_id() -> str:
    """A new EC2-style instance id."""
    return "i-" + secrets.token_hex(9)[:17]


class FileFollower:
    """Sends the lines appended to a file to a log stream until stopped, then the rest."""

    def __init__(self, shipper: LogShipper, path: Path, group: str, stream: str) -> None:
        self.shipper = shipper
        self.path = path
        self.group = group
        self.stream_name = stream
        self.offset = 0
        self.partial = b""
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"logs {stream}")
        self.thread.start()

    def stop(self) -> None:
        """Send what the file holds now, then stop."""
        self.stopped.set()
        self.thread.join(10)

    def _run(self) -> None:
        stream = self._open()
        if stream is None:
            return
        try:
            while not self.stopped.wait(POLL_SECONDS):
                self._read(stream)
            self._read(stream)
            if self.partial:
                stream.append(self.partial.decode("utf-8", "replace"))
        finally:
            stream.close()

    def _open(self) -> LogStream | None:
        try:
            return self.shipper.stream(self.group, self.stream_name)
        except Exception:  # logs must never fail an endpoint
            log.exception("could not create log stream %s in %s", self.stream_name, self.group)
            return None

    def _read(self, stream: LogStream) -> None:
        size = file_size(self.path)
        if size < self.offset:  # rewritten (the docker backend writes the file at stop)
            self.offset, self.partial = 0, b""
        while size > self.offset:
            with open(self.path, "rb") as file:
                file.seek(self.offset)
                chunk = file.read(CHUNK)
            if not chunk:
                return
            self.offset += len(chunk)
            *lines, self.partial = (self.partial + chunk).split(b"\n")
            if len(self.partial) > MAX_LINE:
                lines.append(self.partial)
                self.partial = b""
            for line in lines:
                stream.append(line.decode("utf-8", "replace")[:MAX_LINE])


def file_size(path: Path) -> int:
    """The file's size (0 while it does not exist)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


class EndpointLogs:
    """Follows the log file of every running model server (keyed by the server object)."""

    def __init__(self, shipper: LogShipper) -> None:
        self.shipper = shipper
        self.followers: dict[int, FileFollower] = {}
        self.lock = threading.Lock()

    def follow(self, plan: VariantPlan, server: object, path: Path) -> None:
        """Ship a newly started server's log file to its instance's stream."""
        stream = f"{plan.variant}/{plan.instance_id}"
        group = plan.log_group or log_group(plan.endpoint)
        follower = FileFollower(self.shipper, path, group, stream)
        with self.lock:
            self.followers[id(server)] = follower

    def unfollow(self, server: object) -> None:
        """After the server stopped: send its last lines and stop shipping."""
        with self.lock:
            follower = self.followers.pop(id(server), None)
        if follower is not None:
            follower.stop()
