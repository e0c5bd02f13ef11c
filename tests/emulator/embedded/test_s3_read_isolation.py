"""A read of the embedded S3 never sees a write that is still being stored: a PUT that then
fails (a full disk) is undone, and a list that ran meanwhile must not have shown its object.
In process, with moto's real S3 behind the edge's middleware; the disk write is held open by
the test (and then fails) so the read meets the write in flight every time."""

from __future__ import annotations

import errno
import threading
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from smlocal.emulator.embedded.s3_persistence import S3Persistence
from smlocal.emulator.embedded.services import DurableWrites, moto_app

HOST = {"Host": "localhost"}
BUCKET = "read-isolation"


@pytest.fixture
def persistence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> S3Persistence:
    """S3Persistence installed on moto's S3 backend for this test only."""
    from moto.s3.models import S3Backend

    for name in ("create_bucket", "delete_bucket", "put_bucket_versioning", "put_object",
                 "delete_object", "complete_multipart_upload"):  # fmt: skip
        monkeypatch.setattr(S3Backend, name, getattr(S3Backend, name))  # put back afterwards
    store = S3Persistence(tmp_path, sync=False)
    store.install()
    return store


def test_a_list_during_a_put_that_fails_never_shows_its_object(persistence) -> None:
    client = Client(DurableWrites(moto_app(), persistence))
    assert client.put(f"/{BUCKET}", headers=HOST).status_code == 200
    writing, release = threading.Event(), threading.Event()
    stored = persistence._write

    def full_disk(account: str, bucket: str, key: str) -> None:
        if not key:
            return stored(account, bucket, key)
        writing.set()
        release.wait(30)
        raise OSError(errno.ENOSPC, "No space left on device")

    persistence._write = full_disk  # type: ignore[method-assign]
    answers: dict[str, Any] = {}
    put = threading.Thread(
        target=lambda: answers.update(put=client.put(f"/{BUCKET}/k", data=b"x", headers=HOST))
    )
    put.start()
    assert writing.wait(30)  # moto holds the object; its write to disk has not ended
    listing = threading.Thread(
        target=lambda: answers.update(
            listed=client.get(f"/{BUCKET}?list-type=2", headers=HOST).get_data()
        )
    )
    listing.start()
    listing.join(0.5)
    assert listing.is_alive(), "the list did not wait for the write in flight"
    release.set()
    put.join(30)
    listing.join(30)

    assert answers["put"].status_code == 500
    assert b"<Key>k</Key>" not in answers["listed"]
    assert b"<KeyCount>0</KeyCount>" in answers["listed"]
