"""moto's S3 buckets and objects, mirrored into the data directory as they change.

The backend methods that change a bucket or an object are wrapped: each notes, in the
calling thread's *scope* (one per request), what it touched and what that looked like before.
When the scope ends, every touched bucket and object is written as moto now holds it
(`smlocal.emulator.support.durable`: temporary file, fsync, rename, folder fsync). If a write
fails, moto is put back the way it was before the request — the object's versions, the bucket,
the multipart upload a CompleteMultipartUpload consumed — and NotPersisted is raised, so the
request answers 500 InternalError and can be retried.

A request holds the write lock from its first change until its scope ends, so no other
request changes S3 between a change, its write to disk and, if that fails, its undoing (S3
writes are serialized; moto handles a request in milliseconds, an fsync costs half of one).
Reads (GET, HEAD) hold it too (`reading`): none sees a change that may still be undone, as a
list that showed an object whose PUT then answered 500 would.
Versions a request replaces are not freed (moto closes their buffers) until its outcome is
known, so an undone overwrite puts back an object that can still be read.

On disk: `{root}/{account}/{bucket}/bucket.json` (region, versioning) and
`objects/{sha256(key)}.obj` (a JSON metadata line, then the bytes). Accounts must be twelve
digits and bucket names plain names, so no request can make a path outside the root.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smlocal.emulator.support.durable import (
    durable_unlink,
    durable_write,
    ensure_dir,
    sweep_temporaries,
)

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # account, bucket, key ("" for the bucket itself)
OBJECT_SUFFIX = ".obj"
_ACCOUNT = re.compile(r"\d{12}")
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


class NotPersisted(Exception):
    """A change could not be written; moto was put back the way it was before the request."""


@dataclass
class Scope:
    """What one request changed, and how it was before."""

    before: dict[Key, Any] = field(default_factory=dict)
    touched: list[Key] = field(default_factory=list)
    multiparts: list[tuple[Any, str, Any]] = field(default_factory=list)  # bucket, id, upload
    kept: list[tuple[Any, str, Any]] = field(default_factory=list)  # bucket, key, version
    locked: bool = False


class S3Persistence:
    """Mirrors moto's S3 buckets and objects into a folder, and restores them from it."""

    def __init__(self, root: Path, sync: bool = True) -> None:
        self.root = root
        self.sync = sync  # fsync files and folders (off only to measure what it costs)
        self._local = threading.local()
        self._write_lock = threading.RLock()

    # -- hooks into moto's S3 backend ------------------------------------------------------

    def install(self) -> None:
        """Wrap the S3 backend methods that change buckets or objects."""
        from moto.s3.models import S3Backend

        for name, has_key in (
            ("create_bucket", False),
            ("delete_bucket", False),
            ("put_bucket_versioning", False),
            ("put_object", True),
            ("delete_object", True),
        ):
            method = getattr(S3Backend, name)
            original = getattr(method, "__wrapped__", method)
            setattr(S3Backend, name, self._noting(original, has_key))
        method = S3Backend.complete_multipart_upload
        original = getattr(method, "__wrapped__", method)
        S3Backend.complete_multipart_upload = self._completing(original)  # type: ignore[method-assign]

    def _noting(self, method: Callable[..., Any], has_key: bool) -> Callable[..., Any]:
        def wrapper(backend: Any, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
            if self._restoring:
                return method(backend, bucket_name, *args, **kwargs)
            key = (args[0] if args else kwargs.get("key_name", "")) if has_key else ""
            slot = (backend.account_id, bucket_name, key)
            with self.scope() as scope:
                self._lock(scope)
                if slot not in scope.before:
                    scope.before[slot] = _snapshot(backend, bucket_name, key)
                    _keep_versions(scope, backend, bucket_name, key)
                result = method(backend, bucket_name, *args, **kwargs)
                scope.touched.append(slot)
            return result

        wrapper.__wrapped__ = method  # type: ignore[attr-defined]
        return wrapper

    def _completing(self, method: Callable[..., Any]) -> Callable[..., Any]:
        """CompleteMultipartUpload consumes the upload (and moto frees its parts): keep the
        parts until the object is stored, so a refused completion can be tried again."""

        def wrapper(backend: Any, bucket_name: str, multipart_id: str, *args: Any) -> Any:
            bucket = backend.buckets.get(bucket_name)
            upload = bucket.multiparts.get(multipart_id) if bucket is not None else None
            with self.scope() as scope:
                self._lock(scope)
                if upload is None:
                    return method(backend, bucket_name, multipart_id, *args)
                scope.multiparts.append((bucket, multipart_id, upload))
                upload.dispose = _keep  # freed in `scope` once the object is stored
                try:
                    return method(backend, bucket_name, multipart_id, *args)
                finally:
                    del upload.dispose

        wrapper.__wrapped__ = method  # type: ignore[attr-defined]
        return wrapper

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Read S3 as stored: wait for a write in flight to be on disk or undone."""
        with self._write_lock:
            yield

    def _lock(self, scope: Scope) -> None:
        """Hold the write lock until the scope ends (from its first change on)."""
        if not scope.locked:
            self._write_lock.acquire()
            scope.locked = True

    @property
    def _restoring(self) -> bool:
        return bool(getattr(self._local, "restoring", False))

    @contextmanager
    def scope(self) -> Iterator[Scope]:
        """One request's changes (reentrant); written when the outermost scope ends."""
        current: Scope | None = getattr(self._local, "scope", None)
        if current is not None:
            yield current
            return
        current = self._local.scope = Scope()
        try:
            yield current
        finally:
            self._local.scope = None
            try:
                if current.touched:
                    self.commit(current)
            finally:
                _release(current)
                if current.locked:
                    self._write_lock.release()

    # -- writing ---------------------------------------------------------------------------

    def commit(self, scope: Scope) -> None:
        """Write every touched bucket and object; on a failure put moto back, NotPersisted."""
        failed = []
        for slot in sorted(set(scope.touched)):  # a bucket ("" key) before its objects
            try:
                self._write(*slot)
            except Exception as exc:
                failed.append(f"s3://{slot[1]}/{slot[2]}: {type(exc).__name__}: {exc}")
                self._revert(slot, scope)
        if failed:
            log.error("could not store %s; the request answers 500", "; ".join(failed))
            raise NotPersisted("; ".join(failed))

    def _bucket_dir(self, account: str, bucket: str) -> Path:
        if not _ACCOUNT.fullmatch(account) or not _BUCKET.fullmatch(bucket):
            raise ValueError(f"account {account!r} / bucket {bucket!r} cannot be stored")
        return self.root / account / bucket

    def _object_path(self, account: str, bucket: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self._bucket_dir(account, bucket) / "objects" / f"{digest}{OBJECT_SUFFIX}"

    def _write(self, account: str, bucket_name: str, key_name: str) -> None:
        from moto.s3.models import FakeKey, s3_backends

        bucket = s3_backends[account]["aws"].buckets.get(bucket_name)
        folder = self._bucket_dir(account, bucket_name)
        if bucket is None:
            self._remove_bucket(folder)
            return
        ensure_dir(folder, self.sync)
        if not key_name or not (folder / "bucket.json").exists():
            document = {"region": bucket.region_name, "versioning": bucket.versioning_status}
            durable_write(folder / "bucket.json", [json.dumps(document).encode()], self.sync)
        if not key_name:
            return
        path = self._object_path(account, bucket_name, key_name)
        found = bucket.keys.get(key_name)
        if not isinstance(found, FakeKey):  # gone, or a versioned bucket's delete marker
            self._remove_object(path)
            return
        ensure_dir(path.parent, self.sync)
        meta = json.dumps(_metadata(found)).encode()
        durable_write(path, [meta, b"\n", found.value], self.sync)
        for legacy in (path.with_suffix(".json"), path.with_suffix(".bin")):
            durable_unlink(legacy, self.sync)

    def _remove_object(self, path: Path) -> None:
        for candidate in (path, path.with_suffix(".json"), path.with_suffix(".bin")):
            durable_unlink(candidate, self.sync)

    def _remove_bucket(self, folder: Path) -> None:
        """Remove the files smlocal writes for a bucket; anything else stays (and its folder)."""
        objects = folder / "objects"
        if objects.is_dir():
            for path in objects.iterdir():
                ours = path.suffix in (OBJECT_SUFFIX, ".json", ".bin")
                if ours and path.is_file() and not path.is_symlink():
                    path.unlink()
        durable_unlink(folder / "bucket.json", self.sync)
        for empty in (objects, folder):
            try:
                empty.rmdir()
            except OSError:
                return  # not ours alone, or not there

    def _revert(self, slot: Key, scope: Scope) -> None:
        """Put a bucket or object back the way it was before the request."""
        from moto.s3.models import s3_backends

        account, bucket_name, key_name = slot
        backend = s3_backends[account]["aws"]
        before = scope.before.get(slot)
        if not key_name:
            from moto.s3.models import s3_backends as registry

            if before is None:
                backend.buckets.pop(bucket_name, None)
                registry.bucket_accounts.pop(bucket_name, None)  # moto's global name registry
            else:
                backend.buckets[bucket_name], before[0].versioning_status = before
                registry.bucket_accounts[bucket_name] = (before[0].partition, account)
            return
        bucket = backend.buckets.get(bucket_name)
        if bucket is None:
            return
        for dropped in bucket.keys.getlist(key_name, []):
            if not any(dropped is kept for kept in before or []):
                dropped.multipart = None  # its disposal must not free an upload put back
        if before:
            bucket.keys.setlist(key_name, before)
        elif key_name in bucket.keys:
            bucket.keys.pop(key_name)  # moto's key store takes no default
        for owner, upload_id, upload in scope.multiparts:
            if upload.key_name == key_name and upload_id not in owner.multiparts:
                owner.multiparts[upload_id] = upload  # CompleteMultipartUpload can be retried

    # -- restoring -------------------------------------------------------------------------

    def restore(self) -> int:
        """Put every stored bucket and object back into moto; return the object count."""
        from moto.s3.models import s3_backends

        count = 0
        self._local.restoring = True
        try:
            for account_dir in sorted(self.root.glob("*")):
                if not account_dir.is_dir() or not _ACCOUNT.fullmatch(account_dir.name):
                    continue
                backend = s3_backends[account_dir.name]["aws"]
                for folder in sorted(account_dir.glob("*/")):
                    if not (folder / "bucket.json").is_file():
                        continue
                    if _BUCKET.fullmatch(folder.name):
                        count += self._restore_bucket(backend, folder)
                    else:
                        log.warning("%s is not a bucket's folder; it is left out", folder)
        finally:
            self._local.restoring = False
        return count

    def _restore_bucket(self, backend: Any, folder: Path) -> int:
        document = _bucket_document(folder)
        try:
            if folder.name not in backend.buckets:
                backend.create_bucket(folder.name, document.get("region") or "us-east-1")
            if document.get("versioning"):
                backend.put_bucket_versioning(folder.name, document["versioning"])
        except Exception as exc:
            log.warning("bucket folder %s cannot be restored (%s); it is left out", folder, exc)
            return 0
        objects = folder / "objects"
        if not objects.is_dir():
            return 0
        sweep_temporaries(objects)  # writes a crash interrupted: never acknowledged
        count = 0
        for path in sorted(objects.glob(f"*{OBJECT_SUFFIX}")) + _legacy(objects):
            try:
                _restore_object(backend, folder.name, path)
                count += 1
            except Exception as exc:
                self._quarantine(path, folder, exc)
        return count

    def _quarantine(self, path: Path, folder: Path, exc: Exception) -> None:
        target = self.root / "quarantine" / folder.parent.name / folder.name
        try:
            target.mkdir(mode=0o700, parents=True, exist_ok=True)
            parts = (path, path.with_suffix(".bin")) if path.suffix == ".json" else (path,)
            for part in parts:
                if part.exists():
                    part.rename(target / f"{part.name}.{int(time.time())}")
            where = f"it was moved to {target}"
        except OSError as move_error:
            where = f"it could not be moved aside ({move_error}) and stays where it is"
        log.warning(
            "object file %s of bucket %s cannot be read (%s: %s); %s, and the object is left "
            "out",
            path.name, folder.name, type(exc).__name__, exc, where,
        )  # fmt: skip


def _keep() -> None:
    """Stands in for an upload's dispose while its completion may still be refused."""


def _keep_versions(scope: Scope, backend: Any, bucket_name: str, key: str) -> None:
    """Stop moto from freeing an object's current versions while the scope may undo."""
    bucket = backend.buckets.get(bucket_name)
    if not key or bucket is None:
        return
    for version in bucket.keys.getlist(key, []):
        if hasattr(version, "dispose") and "dispose" not in vars(version):  # not markers
            version.dispose = _keep
            scope.kept.append((bucket, key, version))


def _release(scope: Scope) -> None:
    """After the outcome: free what the request replaced, and uploads it completed."""
    for bucket, key, version in scope.kept:
        del version.dispose
        if not any(version is current for current in bucket.keys.getlist(key, [])):
            version.dispose()
    for owner, upload_id, upload in scope.multiparts:
        if upload_id not in owner.multiparts:  # completed and stored
            upload.dispose()


def _snapshot(backend: Any, bucket_name: str, key: str) -> Any:
    """How a bucket (the object itself) or an object (its versions) looks now."""
    bucket = backend.buckets.get(bucket_name)
    if not key:
        return None if bucket is None else (bucket, bucket.versioning_status)
    return None if bucket is None else list(bucket.keys.getlist(key, []))


def _metadata(found: Any) -> dict[str, Any]:
    """What is kept of an object besides its bytes."""
    meta: dict[str, Any] = {
        "key": found.name,
        "metadata": dict(found.metadata),
        "encryption": found.encryption,
        "kms_key_id": found.kms_key_id,
        "storage_class": found.storage_class,
        "last_modified": found.last_modified.replace(tzinfo=UTC).timestamp(),
    }
    if found._etag and "-" in found._etag:  # a multipart ETag cannot be computed again
        meta["etag"] = found._etag
    if found.checksum_algorithm:
        meta["checksum"] = [found.checksum_algorithm, found.checksum_value]
    return meta


def _bucket_document(folder: Path) -> dict[str, Any]:
    """A stored bucket's region and versioning ({} with a warning if unreadable)."""
    try:
        document = json.loads((folder / "bucket.json").read_text())
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        return document
    except (OSError, ValueError) as exc:
        log.warning("%s/bucket.json cannot be read (%s); assuming us-east-1", folder, exc)
        return {}


def _legacy(objects: Path) -> list[Path]:
    """Objects written by smlocal 0.1 (metadata in .json, bytes in .bin)."""
    return [
        path
        for path in sorted(objects.glob("*.json"))
        if not path.with_suffix(OBJECT_SUFFIX).exists()
    ]


def _restore_object(backend: Any, bucket_name: str, path: Path) -> None:
    if path.suffix == ".json":  # the 0.1 layout
        meta = json.loads(path.read_text())
        value = path.with_suffix(".bin").read_bytes()
    else:
        header, newline, value = path.read_bytes().partition(b"\n")
        if not newline:
            raise ValueError("no metadata line")
        meta = json.loads(header)
    key_name, modified = meta["key"], meta["last_modified"]
    user_metadata = meta.get("metadata") or {}
    if not isinstance(key_name, str) or not isinstance(user_metadata, dict):
        raise ValueError("the key or the metadata has the wrong type")
    if not isinstance(modified, int | float) or not math.isfinite(modified):
        raise ValueError(f"last_modified {modified!r} is not a time")
    stamp = datetime.fromtimestamp(modified, UTC).replace(tzinfo=None)
    checksum = meta.get("checksum") or [None, None]
    key = backend.put_object(
        bucket_name,
        key_name,
        value,
        storage=meta.get("storage_class"),
        etag=meta.get("etag"),
        encryption=meta.get("encryption"),
        kms_key_id=meta.get("kms_key_id"),
        checksum_value=checksum[1],
        disable_notification=True,
    )
    key.checksum_algorithm = checksum[0]
    key.set_metadata({str(k): str(v) for k, v in user_metadata.items()}, replace=True)
    key.last_modified = stamp
