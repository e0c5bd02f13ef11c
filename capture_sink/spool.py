"""The local spool: capture files on disk until they are in S3.

Layout under the spool root::

    spool/{destination id}/target.json        bucket, key prefix and KMS key of that folder
    spool/{destination id}/{session}.{name}   a capture file of one server (session.py), its
                                              S3 key in its name: yyyy_mm_dd_hh_MM-SS-mmm-uuid.jsonl

A file's S3 key is decided when the file is created, so uploading it again after a crash
overwrites the same object: each record lands in S3 exactly once. The writer holds an
exclusive flock on the file it appends to; a file whose lock can be taken is closed (rolled,
or its writer died) and may be uploaded by any worker.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from smlocal.capture_sink.counters import Counters
from smlocal.capture_sink.keys import (
    S3Location,
    hour_start,
    name_from_spool,
    object_key,
    object_name,
    spool_name,
)
from smlocal.capture_sink.private import make_folders, open_file, write_file

log = logging.getLogger(__name__)

TARGET_FILE = "target.json"
DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Target:
    """Where the files of one spool folder go."""

    bucket: str
    prefix: str  # endpoint variant folder, no trailing slash
    kms_key_id: str | None = None

    def location(self, name: str) -> S3Location:
        """The S3 object of a capture file name."""
        return S3Location(self.bucket, object_key(self.prefix, name))


def _target_json(target: Target) -> str:
    return json.dumps(
        {"bucket": target.bucket, "prefix": target.prefix, "kmsKeyId": target.kms_key_id},
        sort_keys=True,
    )


def read_target(folder: Path) -> Target | None:
    """The target of a spool folder, or None when it has none (yet)."""
    try:
        doc = json.loads((folder / TARGET_FILE).read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
    return Target(doc["bucket"], doc["prefix"], doc.get("kmsKeyId"))


@dataclass(frozen=True)
class SpoolFile:
    """A capture file waiting in the spool."""

    path: Path
    target: Target
    name: str  # the object name: yyyy/mm/dd/hh/MM-SS-mmm-uuid.jsonl
    session: str  # the server that wrote it

    @property
    def location(self) -> S3Location:
        """Where it goes in S3."""
        return self.target.location(self.name)


class Spool:
    """The spool folders under one root, one per target."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.base = root / "spool"
        self._targets: dict[str, Target] = {}  # folder name -> target; folders never change

    def folder(self, target: Target) -> Path:
        """The folder for one target, created with its target.json if needed."""
        text = _target_json(target)
        folder = self.base / hashlib.sha256(text.encode()).hexdigest()[:16]
        make_folders(folder)
        if not (folder / TARGET_FILE).exists():
            tmp = folder / f".{TARGET_FILE}.{os.getpid()}.{threading.get_ident()}"
            write_file(tmp, text)
            tmp.replace(folder / TARGET_FILE)
        return folder

    def _target(self, folder: os.DirEntry[str]) -> Target | None:
        target = self._targets.get(folder.name)
        if target is None and folder.is_dir():
            target = read_target(Path(folder.path))
            if target is not None:
                self._targets[folder.name] = target
        return target

    def files(self) -> list[SpoolFile]:
        """Every capture file in the spool, oldest first (by the time its name encodes)."""
        found: list[SpoolFile] = []
        try:
            folders = list(os.scandir(self.base))
        except FileNotFoundError:
            return found
        for folder in folders:
            target = self._target(folder)
            if target is None:
                continue
            for entry in os.scandir(folder.path):
                session, _, rest = entry.name.partition(".")
                name = name_from_spool(rest)
                if name is not None and session:
                    found.append(SpoolFile(Path(entry.path), target, name, session))
        found.sort(key=lambda f: f.name)  # fixed-width times: name order is time order
        return found


def sweep_unfinished(spool: Spool, older_than: float = 300.0) -> int:
    """Remove `.new` files a writer died creating (they never held a record); return how many."""
    removed = 0
    cutoff = time.time() - older_than
    for folder in spool.base.glob("*"):
        for path in folder.glob(".*.new"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
    return removed


class DiskGauge:
    """Whether the spool's file system is above a usage threshold (checked once a second)."""

    def __init__(
        self,
        path: Path,
        threshold_percent: float,
        usage: Callable[[Path], tuple[int, int, int]] = shutil.disk_usage,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 1.0,
    ) -> None:
        self.path = path
        self.threshold = threshold_percent
        self._usage = usage
        self._clock = clock
        self._interval = interval
        self._checked = -float("inf")
        self._over = False

    def percent_used(self) -> float:
        """Used space as `df` shows it: used / (used + available)."""
        _total, used, free = self._usage(self.path)
        return 100.0 * used / (used + free) if used + free else 100.0

    def over(self) -> bool:
        """True while usage is above the threshold."""
        now = self._clock()
        if now - self._checked >= self._interval:
            self._checked = now
            self._over = self.percent_used() > self.threshold
        return self._over


def _epoch(moment: datetime) -> float:
    """Seconds since the epoch; a naive datetime is UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@dataclass
class _OpenFile:
    fd: int
    path: Path
    hour: datetime
    opened: float
    size: int = 0

    def __post_init__(self) -> None:
        self.hour_begins = self.hour.timestamp()  # compared as numbers on every append


class SpoolWriter:
    """Appends capture lines to this worker's current spool file; never raises.

    The line goes to the OS with one os.write on an O_APPEND descriptor (no fsync), so it is
    safe from a crash of this process once append() returns. Files roll at an hour change,
    after roll_seconds, above max_bytes, and on roll().
    """

    def __init__(
        self,
        spool: Spool,
        target: Target,
        counters: Counters,
        disk: DiskGauge,
        *,
        session_id: str,
        roll_seconds: float,
        max_bytes: int = DEFAULT_MAX_FILE_BYTES,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.spool = spool
        self.target = target
        self.session_id = session_id
        self.counters = counters
        self.disk = disk
        self.roll_seconds = roll_seconds
        self.max_bytes = max_bytes
        self._monotonic = monotonic
        self._clock = clock
        self._lock = threading.Lock()
        self._file: _OpenFile | None = None
        self._dropping = False

    def append(self, line: bytes, arrival: datetime) -> bool:
        """Spool one record (a full line); False when it was dropped."""
        with self._lock:
            if self.disk.over():
                return self._drop("the spool's disk is above its usage threshold")
            current = self._file
            if current is None or self._due(current, _epoch(arrival)):
                self._close()
                current = self._file = self._open(arrival)
                if current is None:
                    return self._drop("a spool file could not be created")
            try:
                written = os.write(current.fd, line)
            except OSError as exc:
                written, error = 0, str(exc)
            else:
                error = "the disk took only part of a record"
            if written != len(line):
                self._close()  # a partial line may end that file; the uploader cuts it off
                return self._drop(f"writing the spool failed: {error}")
            current.size += len(line)
        self.counters.bump("sampled", "spooled")
        if self._dropping:
            self._dropping = False
            log.warning("capture resumed: records are spooled again")
        return True

    def roll(self) -> None:
        """Close the current file so that it can be uploaded."""
        with self._lock:
            self._close()

    def roll_if_due(self) -> None:
        """Close the current file when it is older than roll_seconds or its hour is over."""
        with self._lock:
            current = self._file
            if current is not None and self._due(
                current, max(_epoch(self._clock()), current.hour_begins)
            ):
                self._close()

    def _due(self, current: _OpenFile, moment: float) -> bool:
        """True when a record of `moment` (epoch seconds) must not go into `current`."""
        return (
            not current.hour_begins <= moment < current.hour_begins + 3600
            or self._monotonic() - current.opened >= self.roll_seconds
            or current.size >= self.max_bytes
        )

    def _open(self, arrival: datetime) -> _OpenFile | None:
        name = f"{self.session_id}.{spool_name(object_name(arrival))}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        try:
            folder = self.spool.folder(self.target)  # made again if someone removed it
            tmp = folder / f".{name}.new"  # invisible to uploaders until locked and renamed
            fd = open_file(tmp, flags)
        except OSError as exc:
            log.error("cannot create a capture spool file in %s: %s", self.spool.base, exc)
            return None
        final = folder / name
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(tmp, final)
        except OSError as exc:
            os.close(fd)
            log.error("cannot create capture spool file %s: %s", final, exc)
            return None
        return _OpenFile(fd, final, hour_start(arrival), self._monotonic())

    def _close(self) -> None:
        if self._file is not None:
            os.close(self._file.fd)  # releases the lock: the file is ready for upload
            self._file = None

    def _drop(self, reason: str) -> bool:
        self.counters.bump("sampled", "dropped")
        if not self._dropping:
            self._dropping = True
            log.warning("capture is dropping records: %s", reason)
        return False
