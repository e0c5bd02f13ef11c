"""Uploading closed spool files to S3, whole, one PutObject each; deleted once stored."""

from __future__ import annotations

import enum
import fcntl
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from smlocal.capture_sink.counters import Counters
from smlocal.capture_sink.keys import S3Location
from smlocal.capture_sink.s3 import error_code
from smlocal.capture_sink.spool import SpoolFile, Target

log = logging.getLogger(__name__)

# put(location, body, kms_key_id): store one object, raising on any failure.
PutObject = Callable[[S3Location, bytes, str | None], None]
# S3 refusals that retrying in a few seconds does not cure (someone must create the bucket,
# grant access, enable the key): a flush says so at once, a stopping server stops trying.
# The files stay spooled and are retried all the same; nothing is dropped for them.
REFUSALS = frozenset({
    "NoSuchBucket", "InvalidBucketName", "AccessDenied", "AllAccessDisabled",
    "InvalidAccessKeyId", "KMS.NotFoundException", "KMS.DisabledException",
})  # fmt: skip


class Outcome(enum.Enum):
    """What happened to one spool file."""

    UPLOADED = "uploaded"
    BUSY = "busy"  # its writer or another uploader holds it
    GONE = "gone"  # someone else uploaded it meanwhile
    FAILED = "failed"  # S3 failed or did not answer; it stays in the spool
    REFUSED = "refused"  # S3 refused it for a reason in REFUSALS; it stays in the spool


@dataclass
class PassResult:
    """The outcome of one pass over a set of files."""

    uploaded: int = 0
    busy: list[SpoolFile] = field(default_factory=list)
    # S3 failed, or the pass stopped before trying them (S3 is likely down): retry soon.
    failed: list[SpoolFile] = field(default_factory=list)
    # Their target was refused (REFUSALS): one refused file stands for its whole target,
    # the others of that target are not tried in this pass; other targets carry on.
    refused: list[SpoolFile] = field(default_factory=list)
    refusals: dict[Target, str] = field(default_factory=dict)  # each refused target's error


class Uploader:
    """Uploads spool files that nobody is writing; safe to run in every worker at once."""

    def __init__(self, put: PutObject, counters: Counters) -> None:
        self._put = put
        self.counters = counters
        self.last_error: str | None = None  # for the logs and stats; may lag other threads

    def upload(self, file: SpoolFile) -> Outcome:
        """Upload one file if it is closed, then delete it."""
        return self._attempt(file)[0]

    def _attempt(self, file: SpoolFile) -> tuple[Outcome, str | None]:
        """Upload one file; the outcome, with S3's error when it failed (this call's own,
        not `last_error`, which another thread may have changed meanwhile)."""
        try:
            fd = os.open(file.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return Outcome.GONE, None
        try:
            return self._upload_locked(fd, file)
        finally:
            os.close(fd)

    def _upload_locked(self, fd: int, file: SpoolFile) -> tuple[Outcome, str | None]:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return Outcome.BUSY, None
        try:
            if os.stat(file.path).st_ino != os.fstat(fd).st_ino:
                return Outcome.GONE, None  # uploaded and deleted between our open and our lock
        except FileNotFoundError:
            return Outcome.GONE, None
        data = _read_all(fd)
        body = data[: data.rfind(b"\n") + 1]
        if len(body) < len(data):  # a record cut short by a full disk: never half a line
            log.warning("capture file %s ends with a partial record; it is dropped", file.name)
            self.counters.add("dropped")
        records = body.count(b"\n")
        if records:
            try:
                self._put(file.location, body, file.target.kms_key_id)
            except Exception as exc:  # any failure of S3 or the network: keep it, retry later
                message = self._failed(file, records, exc)
                refused = error_code(exc) in REFUSALS
                return (Outcome.REFUSED if refused else Outcome.FAILED), message
        os.unlink(file.path)
        if records:
            self.counters.add("uploaded", records)
            self.counters.add("files_uploaded")
        if self.last_error is not None:
            log.info("capture uploads work again (%s)", file.location.uri)
            self.last_error = None
        return Outcome.UPLOADED, None

    def _failed(self, file: SpoolFile, records: int, exc: Exception) -> str:
        self.counters.add("retried", records)
        message = f"{type(exc).__name__}: {exc}"
        if message != self.last_error:
            log.warning("capture upload of %s failed, will retry: %s", file.location.uri, message)
        self.last_error = message
        return message

    def upload_all(self, files: Iterable[SpoolFile]) -> PassResult:
        """One pass over `files`. A failure stops it (S3 is likely down); a refusal skips the
        rest of that file's target only (one deleted bucket must not hold up the others)."""
        result = PassResult()
        pending = list(files)
        for index, file in enumerate(pending):
            if file.target in result.refusals:
                result.refused.append(file)
                continue
            outcome, error = self._attempt(file)
            if outcome is Outcome.UPLOADED:
                result.uploaded += 1
            elif outcome is Outcome.BUSY:
                result.busy.append(file)
            elif outcome is Outcome.REFUSED:
                result.refusals[file.target] = error or "refused"
                result.refused.append(file)
            elif outcome is Outcome.FAILED:
                for rest in pending[index:]:
                    (result.refused if rest.target in result.refusals else result.failed).append(
                        rest
                    )
                break
        return result


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


class Backoff:
    """Exponential backoff with a cap: 0.2 s, 0.4 s, ... up to `cap` seconds."""

    def __init__(self, base: float = 0.2, cap: float = 5.0) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        """The wait after one more failure."""
        self.failures += 1
        return min(self.cap, self.base * 2.0 ** (self.failures - 1))

    def reset(self) -> None:
        """Back to the shortest wait after a success."""
        self.failures = 0
