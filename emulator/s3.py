"""The embedded AWS services (moto), with S3 objects that survive a restart.

moto keeps its state in memory and its maintainers declined persistence, so smlocal adds it
around moto's S3 backend: bucket and object changes mark the object dirty, and after each
S3 request the edge writes the dirty objects (bytes and metadata) to the data directory.
At start-up they are put back into moto. Latest versions only; versioning history, ACLs,
bucket policies and object tags other than metadata are not kept across restarts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # account, bucket, key ("" for the bucket itself)
WSGIApp = Callable[..., Iterable[bytes]]


def moto_app() -> WSGIApp:
    """moto's server-mode WSGI app: every AWS service, picked by the request's signature."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


class S3Persistence:
    """Mirrors moto's S3 buckets and objects into a folder, and restores them from it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dirty: set[Key] = set()
        self.lock = threading.Lock()
        self.restoring = False

    # -- hooks into moto's S3 backend ------------------------------------------------------

    def install(self) -> None:
        """Wrap the S3 backend methods that change buckets or objects."""
        from moto.s3.models import S3Backend

        def marking(method: Callable[..., Any], has_key: bool) -> Callable[..., Any]:
            def wrapper(backend: Any, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
                result = method(backend, bucket_name, *args, **kwargs)
                key = (args[0] if args else kwargs.get("key_name", "")) if has_key else ""
                if not self.restoring:
                    with self.lock:
                        self.dirty.add((backend.account_id, bucket_name, key))
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
            setattr(S3Backend, name, marking(original, has_key))

    # -- writing ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write every dirty bucket and object to disk (or remove what was deleted)."""
        with self.lock:
            dirty, self.dirty = self.dirty, set()
        for account, bucket, key in sorted(dirty):
            try:
                self._write(account, bucket, key)
            except OSError:
                log.exception("could not persist s3://%s/%s", bucket, key)
                with self.lock:
                    self.dirty.add((account, bucket, key))

    def _bucket_dir(self, account: str, bucket: str) -> Path:
        return self.root / account / bucket

    def _object_path(self, account: str, bucket: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self._bucket_dir(account, bucket) / "objects" / digest

    def _write(self, account: str, bucket_name: str, key_name: str) -> None:
        from moto.s3.models import s3_backends

        backend = s3_backends[account]["aws"]
        bucket = backend.buckets.get(bucket_name)
        folder = self._bucket_dir(account, bucket_name)
        if bucket is None:
            _remove_tree(folder)
            return
        folder.mkdir(parents=True, exist_ok=True)
        _atomic_write(folder / "bucket.json", json.dumps({"region": bucket.region_name}).encode())
        if not key_name:
            return
        path = self._object_path(account, bucket_name, key_name)
        found = bucket.keys.get(key_name)
        if found is None or getattr(found, "is_delete_marker", False):
            for suffix in (".json", ".bin"):
                path.with_suffix(suffix).unlink(missing_ok=True)
            return
        meta = {
            "key": key_name,
            "metadata": dict(found.metadata),
            "encryption": found.encryption,
            "kms_key_id": found.kms_key_id,
            "last_modified": found.last_modified.replace(tzinfo=UTC).timestamp(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path.with_suffix(".bin"), found.value)
        _atomic_write(path.with_suffix(".json"), json.dumps(meta).encode())

    # -- restoring -------------------------------------------------------------------------

    def restore(self) -> int:
        """Put every persisted bucket and object back into moto; return the object count."""
        from moto.s3.models import s3_backends

        count = 0
        self.restoring = True
        try:
            for bucket_file in sorted(self.root.glob("*/*/bucket.json")):
                account, bucket_name = bucket_file.parent.parent.name, bucket_file.parent.name
                backend = s3_backends[account]["aws"]
                region = json.loads(bucket_file.read_text())["region"]
                if bucket_name not in backend.buckets:
                    backend.create_bucket(bucket_name, region)
                for meta_file in sorted((bucket_file.parent / "objects").glob("*.json")):
                    self._restore_object(backend, bucket_name, meta_file)
                    count += 1
        finally:
            self.restoring = False
        return count

    @staticmethod
    def _restore_object(backend: Any, bucket_name: str, meta_file: Path) -> None:
        meta = json.loads(meta_file.read_text())
        value = meta_file.with_suffix(".bin").read_bytes()
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


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}.{threading.get_ident()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _remove_tree(folder: Path) -> None:
    if not folder.exists():
        return
    for child in sorted(folder.rglob("*"), reverse=True):
        if child.is_dir():
            child.rmdir()
        else:
            child.unlink()
    folder.rmdir()
