"""The embedded AWS services (moto), with S3 objects that are on disk before they are
acknowledged and that survive a restart or a crash.

moto keeps its state in memory and its maintainers declined persistence, so smlocal adds it
around moto's S3 backend. The backend methods that change buckets or objects note what they
touched for the request in progress; `DurableWrites`, a WSGI middleware around moto, writes
exactly those buckets and objects to the data directory before the request's answer leaves:
the object and its metadata in one file, written to a temporary name, fsynced, renamed into
place, and the folder fsynced. If that fails (a full disk, say), the object is put back the
way the disk has it and the request answers 500 InternalError, as S3 does when it cannot
store an object, so a capture uploader keeps its spool file and tries again.

At start-up the files are put back into moto; temporary files a crash left are removed and
files that cannot be read are moved to `quarantine/` with a warning. Latest versions only;
versioning history, ACLs, bucket policies, object tags and multipart uploads in progress are
not kept across restarts (docs/fidelity.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # account, bucket, key ("" for the bucket itself)
WSGIApp = Callable[..., Iterable[bytes]]
_TMP = ".tmp-"
_OBJECT = ".obj"
_INTERNAL_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>We '
    "encountered an internal error. Please try again.</Message><RequestId>{request_id}"
    "</RequestId></Error>"
)


def moto_app() -> WSGIApp:
    """moto's server-mode WSGI app: every AWS service, picked by the request's signature."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


class NotPersisted(Exception):
    """A change could not be written to disk; memory was put back the way the disk has it."""


class S3Persistence:
    """Mirrors moto's S3 buckets and objects into a folder, and restores them from it."""

    def __init__(self, root: Path, sync: bool = True) -> None:
        self.root = root
        self.sync = sync  # fsync files and folders (off only to measure what it costs)
        self.restoring = False
        self._local = threading.local()
        self._locks = [threading.Lock() for _ in range(64)]

    # -- hooks into moto's S3 backend ------------------------------------------------------

    def install(self) -> None:
        """Wrap the S3 backend methods that change buckets or objects."""
        from moto.s3.models import S3Backend

        def noting(method: Callable[..., Any], has_key: bool) -> Callable[..., Any]:
            def wrapper(backend: Any, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
                result = method(backend, bucket_name, *args, **kwargs)
                key = (args[0] if args else kwargs.get("key_name", "")) if has_key else ""
                if not self.restoring:
                    self.touched((backend.account_id, bucket_name, key))
                return result

            wrapper.__wrapped__ = method  # type: ignore[attr-defined]
            return wrapper

        for name, has_key in (
            ("create_bucket", False),
            ("delete_bucket", False),
            ("put_object", True),
            ("delete_object", True),
        ):
            method = getattr(S3Backend, name)
            original = getattr(method, "__wrapped__", method)
            setattr(S3Backend, name, noting(original, has_key))

    def touched(self, slot: Key) -> None:
        """Note a changed bucket or object for the request in progress (or write it now)."""
        pending: list[Key] | None = getattr(self._local, "pending", None)
        if pending is not None:
            pending.append(slot)
        else:
            self.commit([slot])

    @contextmanager
    def request(self) -> Iterator[None]:
        """Collect the changes of one request (in this thread); `commit` them after it."""
        self._local.pending = []
        try:
            yield
        finally:
            self._local.pending = None

    def pending(self) -> list[Key]:
        """What the request in progress has changed so far."""
        return list(getattr(self._local, "pending", None) or [])

    # -- writing ---------------------------------------------------------------------------

    def commit(self, slots: Iterable[Key]) -> None:
        """Write each bucket and object as moto now holds it; NotPersisted if any failed."""
        failed = []
        for slot in sorted(set(slots)):  # a bucket ("" key) before its objects
            with self._locks[hash(slot) % len(self._locks)]:
                try:
                    self._write(*slot)
                except OSError as exc:
                    failed.append(f"s3://{slot[1]}/{slot[2]}: {exc}")
                    self._revert(*slot)
        if failed:
            log.error("could not store %s; the request answers 500", "; ".join(failed))
            raise NotPersisted("; ".join(failed))

    def _bucket_dir(self, account: str, bucket: str) -> Path:
        return self.root / account / bucket

    def _object_path(self, account: str, bucket: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self._bucket_dir(account, bucket) / "objects" / f"{digest}{_OBJECT}"

    def _write(self, account: str, bucket_name: str, key_name: str) -> None:
        from moto.s3.models import s3_backends

        bucket = s3_backends[account]["aws"].buckets.get(bucket_name)
        folder = self._bucket_dir(account, bucket_name)
        if bucket is None:
            self._remove_bucket(folder)
            return
        self._ensure_dir(folder)
        if not (folder / "bucket.json").exists() or not key_name:
            document = json.dumps({"region": bucket.region_name}).encode()
            self._durable_write(folder / "bucket.json", [document])
        if not key_name:
            return
        path = self._object_path(account, bucket_name, key_name)
        found = bucket.keys.get(key_name)
        if found is None or getattr(found, "is_delete_marker", False):
            self._remove_object(path)
            return
        meta = {
            "key": key_name,
            "metadata": dict(found.metadata),
            "encryption": found.encryption,
            "kms_key_id": found.kms_key_id,
            "last_modified": found.last_modified.replace(tzinfo=UTC).timestamp(),
        }
        self._ensure_dir(path.parent)
        self._durable_write(path, [json.dumps(meta).encode(), b"\n", found.value])
        for legacy in (path.with_suffix(".json"), path.with_suffix(".bin")):
            if legacy.exists():
                legacy.unlink()

    def _durable_write(self, path: Path, chunks: list[bytes]) -> None:
        """Temporary file, fsync, rename over path, fsync of the folder."""
        tmp = path.with_name(f"{_TMP}{path.name}.{uuid.uuid4().hex[:8]}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            with os.fdopen(fd, "wb", closefd=False) as out:
                for chunk in chunks:
                    out.write(chunk)
            if self.sync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._sync_dir(path.parent)

    def _remove_object(self, path: Path) -> None:
        removed = False
        for candidate in (path, path.with_suffix(".json"), path.with_suffix(".bin")):
            if candidate.exists():
                candidate.unlink()
                removed = True
        if removed:
            self._sync_dir(path.parent)

    def _remove_bucket(self, folder: Path) -> None:
        if not folder.exists():
            return
        for child in sorted(folder.rglob("*"), reverse=True):
            if child.is_dir():
                child.rmdir()
            else:
                child.unlink()
        folder.rmdir()
        self._sync_dir(folder.parent)

    def _ensure_dir(self, folder: Path) -> None:
        if folder.is_dir():
            return
        self._ensure_dir(folder.parent)
        folder.mkdir(mode=0o700, exist_ok=True)
        self._sync_dir(folder.parent)

    def _sync_dir(self, folder: Path) -> None:
        if not self.sync:
            return
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _revert(self, account: str, bucket_name: str, key_name: str) -> None:
        """Put a bucket or object in moto back the way the disk has it."""
        from moto.s3.models import s3_backends

        backend = s3_backends[account]["aws"]
        folder = self._bucket_dir(account, bucket_name)
        self.restoring = True
        try:
            if not key_name:
                on_disk = (folder / "bucket.json").exists()
                if not on_disk:
                    backend.buckets.pop(bucket_name, None)
                elif bucket_name not in backend.buckets:
                    backend.create_bucket(bucket_name, _region(folder))
                return
            bucket = backend.buckets.get(bucket_name)
            path = self._object_path(account, bucket_name, key_name)
            if bucket is None:
                return
            if path.exists():
                self._restore_object(backend, bucket_name, path)
            elif key_name in bucket.keys:
                bucket.keys.pop(key_name)  # moto's key store takes no default
        except Exception:
            log.exception("could not put s3://%s/%s back as the disk has it", bucket_name, key_name)
        finally:
            self.restoring = False

    # -- restoring -------------------------------------------------------------------------

    def restore(self) -> int:
        """Put every persisted bucket and object back into moto; return the object count."""
        from moto.s3.models import s3_backends

        count = 0
        self.restoring = True
        try:
            for bucket_file in sorted(self.root.glob("*/*/bucket.json")):
                folder = bucket_file.parent
                account, bucket_name = folder.parent.name, folder.name
                backend = s3_backends[account]["aws"]
                if bucket_name not in backend.buckets:
                    backend.create_bucket(bucket_name, _region(folder))
                objects = folder / "objects"
                for leftover in objects.glob(f"{_TMP}*"):
                    leftover.unlink()  # a write a crash interrupted: never acknowledged
                for path in sorted(objects.glob(f"*{_OBJECT}")) + self._legacy(objects):
                    try:
                        self._restore_object(backend, bucket_name, path)
                        count += 1
                    except (OSError, ValueError, KeyError, TypeError) as exc:
                        self._quarantine(path, account, bucket_name, exc)
        finally:
            self.restoring = False
        return count

    @staticmethod
    def _legacy(objects: Path) -> list[Path]:
        """Objects written by smlocal 0.1 (metadata in .json, bytes in .bin)."""
        return [
            path
            for path in sorted(objects.glob("*.json"))
            if not path.with_suffix(_OBJECT).exists()
        ]

    def _quarantine(self, path: Path, account: str, bucket: str, exc: Exception) -> None:
        target = self.root / "quarantine" / account / bucket
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        for part in (path, path.with_suffix(".bin")) if path.suffix == ".json" else (path,):
            if part.exists():
                part.rename(target / part.name)
        log.warning(
            "an object file of bucket %s cannot be read (%s: %s); it was moved to %s and the "
            "object is left out",
            bucket, type(exc).__name__, exc, target,
        )  # fmt: skip

    @staticmethod
    def _restore_object(backend: Any, bucket_name: str, path: Path) -> None:
        if path.suffix == ".json":  # the 0.1 layout
            meta = json.loads(path.read_text())
            value = path.with_suffix(".bin").read_bytes()
        else:
            data = path.read_bytes()
            header, newline, value = data.partition(b"\n")
            if not newline:
                raise ValueError("no metadata line")
            meta = json.loads(header)
        key = backend.put_object(
            bucket_name,
            meta["key"],
            value,
            encryption=meta.get("encryption"),
            kms_key_id=meta.get("kms_key_id"),
            disable_notification=True,
        )
        key.set_metadata(meta.get("metadata") or {}, replace=True)
        key.last_modified = datetime.fromtimestamp(meta["last_modified"], UTC).replace(tzinfo=None)


def _region(folder: Path) -> str:
    """A persisted bucket's region (us-east-1, with a warning, if its file is unreadable)."""
    try:
        return str(json.loads((folder / "bucket.json").read_text())["region"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s/bucket.json cannot be read (%s); assuming us-east-1", folder, exc)
        return "us-east-1"


class DurableWrites:
    """WSGI middleware around moto: a request's S3 changes are on disk before it is answered,
    or it answers 500 InternalError and changes nothing."""

    def __init__(self, app: WSGIApp, persistence: S3Persistence) -> None:
        self.app = app
        self.persistence = persistence

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        from emulator.http_server import call_wsgi

        with self.persistence.request():
            status, headers, body = call_wsgi(self.app, environ)
            changed = self.persistence.pending()
        if changed:
            try:
                self.persistence.commit(changed)
            except NotPersisted:
                request_id = uuid.uuid4().hex[:16].upper()
                body = _INTERNAL_ERROR.format(request_id=request_id).encode()
                status, headers = 500, [("Content-Type", "application/xml")]
        start_response(f"{status} {_reason(status)}", headers)
        return [body]


def _reason(status: int) -> str:
    from emulator.http_server import reason

    return reason(status)
