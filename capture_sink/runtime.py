"""One worker's capture machinery: spool writer, background uploader, flush and stats."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from smlocal.capture_sink.counters import Counters, read_counters, total
from smlocal.capture_sink.private import write_file
from smlocal.capture_sink.session import Session
from smlocal.capture_sink.spool import (
    DiskGauge,
    Spool,
    SpoolFile,
    SpoolWriter,
    Target,
    sweep_unfinished,
)
from smlocal.capture_sink.uploader import Backoff, PutObject, Uploader

log = logging.getLogger(__name__)


class FlushError(Exception):
    """A flush could not get every record into S3; the message says what is left and why."""


class FlushTimeout(FlushError):
    """A flush could not get every record into S3 in time."""


class FlushRefused(FlushError):
    """S3 refused a capture file for a reason waiting does not cure (NoSuchBucket, ...)."""


@dataclass(frozen=True)
class WorkerOptions:
    """Timings of one worker's capture."""

    roll_seconds: float = 60.0
    disk_threshold: float = 75.0
    tick_seconds: float = 0.1
    shutdown_seconds: float = 20.0
    log_seconds: float = 60.0


class CaptureWorker:
    """Capture in one server process; the middleware's sink and control.

    Records are appended to this worker's own spool file; a daemon thread rolls files,
    answers flush rounds and uploads every closed file in the spool (any worker's, including
    those of workers that died), retrying with backoff while S3 is down.
    """

    def __init__(
        self,
        root: Path,
        session: Session,
        target: Target,
        put: PutObject,
        *,
        options: WorkerOptions | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options or WorkerOptions()
        self.session = session
        self.spool = Spool(root)
        self.worker_id, self._lock_fd = session.register_worker()
        self.counters = Counters(session.counters_path(self.worker_id))
        self._epoch_seen = session.epoch()
        session.ack(self.worker_id, self._epoch_seen)  # nothing of ours predates these rounds
        disk = DiskGauge(root, self.options.disk_threshold, clock=monotonic)
        self.target = target
        self.writer = SpoolWriter(
            self.spool,
            target,
            self.counters,
            disk,
            session_id=session.id,
            roll_seconds=self.options.roll_seconds,
            monotonic=monotonic,
        )
        self.uploader = Uploader(put, self.counters)
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._epoch_lock = threading.Lock()
        self._backoff = Backoff()
        self._next_attempt = 0.0
        self._logged: tuple[int, ...] = ()
        self._log_due = monotonic() + self.options.log_seconds

    def write(self, line: bytes, arrival: datetime) -> None:
        """Spool one record (the middleware's sink); never raises."""
        self.writer.append(line, arrival)

    def start(self) -> CaptureWorker:
        """Start the background threads (after clearing what a crashed writer left half made).

        One rolls files and answers flush rounds; the other uploads, so that an upload
        hanging on a slow S3 never holds up a flush round or a roll.
        """
        sweep_unfinished(self.spool)
        for name, tick in (
            ("capture-roller", self._roll_tick),
            ("capture-uploader", self._upload_tick),
        ):
            thread = threading.Thread(target=self._loop, args=(tick,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _loop(self, tick: Callable[[], None]) -> None:
        while not self._stop.is_set():
            try:
                tick()
            except Exception:  # a thread must outlive any surprise; say what it was
                log.exception("capture background pass failed")
            self._stop.wait(self.options.tick_seconds)

    def _roll_tick(self) -> None:
        self._answer_flush_round()
        self.writer.roll_if_due()
        now = self._monotonic()
        if now >= self._log_due:
            self._log_due = now + self.options.log_seconds
            self._log_counters()

    def _upload_tick(self) -> None:
        now = self._monotonic()
        if now < self._next_attempt:
            return
        result = self.uploader.upload_all(self.spool.files())
        if result.failed or result.refused:
            self._next_attempt = self._monotonic() + self._backoff.next_delay()
        else:
            self._backoff.reset()
        self._publish_error()

    def _answer_flush_round(self) -> None:
        epoch = self.session.epoch()
        with self._epoch_lock:
            if epoch > self._epoch_seen:
                self.writer.roll()
                self.session.ack(self.worker_id, epoch)
                self._epoch_seen = epoch

    def _publish_error(self) -> None:
        path = self.session.workers / f"{self.worker_id}.error"
        error = self.uploader.last_error
        if error is None:
            path.unlink(missing_ok=True)
        elif not path.exists() or path.read_text() != error:
            write_file(path, error)

    def _log_counters(self) -> None:
        counts = {**self.counters.snapshot(), "pending_files": len(self.spool.files())}
        values = tuple(counts.values())
        if values != self._logged:
            self._logged = values
            log.info(
                "capture worker %s: %s%s",
                self.worker_id,
                " ".join(f"{k}={v}" for k, v in counts.items()),
                f" last_upload_error={self.uploader.last_error}"
                if self.uploader.last_error
                else "",
            )

    def flush(self, timeout: float = 30.0) -> dict[str, Any]:
        """Return once every record spooled by any worker of this server before the call is
        in S3; raise FlushTimeout after `timeout` seconds."""
        started = self._monotonic()
        deadline = started + timeout
        before = self._ours_or_orphaned(self.spool.files())
        epoch = self.session.bump_epoch()
        with self._epoch_lock:
            self.writer.roll()
            self.session.ack(self.worker_id, epoch)
            self._epoch_seen = max(self._epoch_seen, epoch)
        while waiting := self.session.not_acked(epoch):
            if self._monotonic() > deadline:
                raise FlushTimeout(
                    f"capture flush timed out after {timeout:g} s: worker(s) "
                    f"{', '.join(waiting)} did not close their capture files"
                )
            time.sleep(0.01)
        self._upload_until(before, deadline, timeout)
        return {
            "flushed": True,
            "files": len(before),
            "seconds": round(self._monotonic() - started, 3),
            "stats": self.stats(),
        }

    def _ours_or_orphaned(self, files: list[SpoolFile]) -> list[SpoolFile]:
        """Files of this server, or of servers that are gone (another live server sharing
        the spool rolls its own files in its own time)."""
        alive: dict[str, bool] = {self.session.id: False}
        for file in files:
            if file.session not in alive:
                alive[file.session] = Session(self.spool.root, file.session).alive()
        return [f for f in files if not alive[f.session]]

    def _upload_until(self, files: list[SpoolFile], deadline: float, timeout: float) -> None:
        """Upload `files` (the flush's) until none is left; raise at once when S3 refuses this
        server's target, or at the deadline. Another target's refused files (a dead server's,
        with a bucket since deleted) stay for the background uploader: they do not fail the
        flush of this server."""
        backoff = Backoff(base=0.05, cap=1.0)
        while files:
            result = self.uploader.upload_all(files)
            files = sorted(result.busy + result.failed, key=lambda f: f.name)
            if self.target in result.refusals:  # the background keeps retrying; say so now
                self._publish_error()
                kept = sum(1 for f in result.refused if f.target == self.target)
                raise FlushRefused(
                    f"S3 refused the capture upload to {self.target.location('').uri}; "
                    f"{kept} capture file(s) stay in the spool and are retried in the "
                    f"background: {result.refusals[self.target]}"
                )
            if not files:
                break
            if self._monotonic() > deadline:
                self._publish_error()  # stats show why at once, not after the next tick
                raise FlushTimeout(
                    f"capture flush timed out after {timeout:g} s: {len(files)} capture "
                    f"file(s) are not in S3 yet (last upload error: "
                    f"{self.uploader.last_error or 'none; files still in use'})"
                )
            time.sleep(backoff.next_delay() if result.failed else 0.01)
        self._publish_error()

    def stats(self) -> dict[str, Any]:
        """Counters added up over every worker of this server, and what waits in the spool."""
        counts = total(read_counters(p) for p in self.session.counter_files())
        files = self.spool.files()
        errors = {}
        for path in self.session.workers.glob("*.error"):
            try:
                errors[path.stem] = path.read_text()
            except FileNotFoundError:
                continue
        return {
            "destination": self.target.location("").uri,
            "spool_dir": str(self.spool.root),
            **counts,
            "pending_files": len(files),
            "pending_bytes": sum(_size(f.path) for f in files),
            "workers": len(self.session.live_workers()),
            "upload_errors": errors,
        }

    def close(self) -> None:
        """Stop: roll, upload what can be uploaded within the shutdown time, keep the rest
        (at once when S3 refuses for a reason waiting does not cure, such as NoSuchBucket)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self.writer.roll()
        deadline = self._monotonic() + self.options.shutdown_seconds
        backoff = Backoff(base=0.1, cap=2.0)
        while True:  # refusals are not waited out: they stay for the next start
            result = self.uploader.upload_all(self.spool.files())
            if not result.failed or self._monotonic() > deadline:
                break
            time.sleep(backoff.next_delay())
        if result.failed:
            log.warning(
                "capture: %d file(s) stay in the spool %s (S3: %s); the next start uploads them",
                len(result.failed),
                self.spool.root,
                self.uploader.last_error,
            )
        for target, error in result.refusals.items():
            log.warning(
                "capture: %d file(s) for %s stay in the spool %s (S3 refused: %s); "
                "the next start uploads them",
                sum(1 for f in result.refused if f.target == target),
                target.location("").uri,
                self.spool.root,
                error,
            )
        self._log_counters()
        self._publish_error()
        os.close(self._lock_fd)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
