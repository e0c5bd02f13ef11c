"""Spool writer, uploader and one worker's runtime, with an in-memory S3 (no HTTP)."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smlocal.capture_sink.counters import Counters
from smlocal.capture_sink.keys import S3Location
from smlocal.capture_sink.runtime import (
    CaptureWorker,
    FlushRefused,
    FlushTimeout,
    WorkerOptions,
)
from smlocal.capture_sink.session import Session
from smlocal.capture_sink.spool import DiskGauge, Spool, SpoolWriter, Target
from smlocal.capture_sink.uploader import Outcome, Uploader

TARGET = Target("bucket", "capture/Ep/AllTraffic")
T0 = datetime(2024, 1, 19, 12, 59, 59, 900000, tzinfo=UTC)


class MemoryS3:
    """PutObject into a dict; can be made to fail."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts = 0
        self.kms: list[str | None] = []
        self.failing = False
        self.fail_after_store = False
        self.lock = threading.Lock()

    def __call__(self, location: S3Location, body: bytes, kms: str | None) -> None:
        with self.lock:
            if self.failing:
                raise ConnectionError("S3 is down")
            self.puts += 1
            self.objects[location.key] = body
            self.kms.append(kms)
            if self.fail_after_store:
                self.fail_after_store = False
                raise TimeoutError("the answer was lost")  # stored, but we never heard back


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def never_full(_path: Path) -> tuple[int, int, int]:
    return 100, 10, 90


def make_writer(
    tmp_path: Path, clock: Clock, roll: float = 60.0, usage=never_full, target: Target = TARGET
):
    spool = Spool(tmp_path)
    counters = Counters(tmp_path / "counters")
    disk = DiskGauge(tmp_path, 75, usage=usage, clock=clock)
    writer = SpoolWriter(
        spool,
        target,
        counters,
        disk,
        session_id="s1",
        roll_seconds=roll,
        monotonic=clock,
        clock=lambda: T0,
    )
    return spool, counters, writer


def line(n: int) -> bytes:
    return b'{"n":%d}\n' % n


def test_files_roll_at_an_hour_change(tmp_path):
    clock = Clock()
    spool, counters, writer = make_writer(tmp_path, clock)
    writer.append(line(1), T0)
    writer.append(line(2), T0 + timedelta(milliseconds=50))
    writer.append(line(3), T0 + timedelta(milliseconds=200))  # 13:00:00.100
    writer.roll()
    s3 = MemoryS3()
    Uploader(s3, counters).upload_all(spool.files())
    keys = sorted(s3.objects)
    assert len(keys) == 2
    assert keys[0].startswith("capture/Ep/AllTraffic/2024/01/19/12/59-59-900-")
    assert keys[1].startswith("capture/Ep/AllTraffic/2024/01/19/13/00-00-100-")
    assert s3.objects[keys[0]] == line(1) + line(2)
    assert s3.objects[keys[1]] == line(3)
    assert spool.files() == []
    snap = counters.snapshot()
    assert (snap["sampled"], snap["spooled"], snap["uploaded"], snap["files_uploaded"]) == (
        3,
        3,
        3,
        2,
    )


def test_files_roll_after_the_interval(tmp_path):
    clock = Clock()
    spool, _, writer = make_writer(tmp_path, clock, roll=60)
    writer.append(line(1), T0)
    clock.now = 59.9
    writer.roll_if_due()
    writer.append(line(2), T0)
    clock.now = 60.0
    writer.roll_if_due()
    writer.append(line(3), T0)
    assert len(spool.files()) == 2


def test_an_idle_file_rolls_when_its_hour_is_over(tmp_path):
    spool = Spool(tmp_path)
    counters = Counters(tmp_path / "counters")
    disk = DiskGauge(tmp_path, 75, usage=never_full)
    now = {"t": T0}
    writer = SpoolWriter(
        spool, TARGET, counters, disk, session_id="s1", roll_seconds=3600, clock=lambda: now["t"]
    )
    writer.append(line(1), T0)
    writer.roll_if_due()
    uploader = Uploader(MemoryS3(), counters)
    assert uploader.upload_all(spool.files()).busy
    now["t"] = T0 + timedelta(milliseconds=100)  # 13:00:00.000
    writer.roll_if_due()
    assert uploader.upload_all(spool.files()).uploaded == 1


def test_a_removed_spool_folder_is_made_again(tmp_path):
    clock = Clock()
    spool, counters, writer = make_writer(tmp_path, clock)
    import shutil

    writer.append(line(1), T0)
    writer.roll()
    shutil.rmtree(spool.base)
    assert writer.append(line(2), T0) is True
    writer.roll()
    s3 = MemoryS3()
    Uploader(s3, counters).upload_all(Spool(tmp_path).files())
    assert list(s3.objects.values()) == [line(2)]


def test_an_open_file_is_not_uploaded_until_rolled(tmp_path):
    clock = Clock()
    spool, counters, writer = make_writer(tmp_path, clock)
    writer.append(line(1), T0)
    uploader = Uploader(MemoryS3(), counters)
    [file] = spool.files()
    assert uploader.upload(file) is Outcome.BUSY
    writer.roll()
    assert uploader.upload(file) is Outcome.UPLOADED
    assert uploader.upload(file) is Outcome.GONE


def test_a_failed_upload_keeps_the_file_and_counts_a_retry(tmp_path):
    clock = Clock()
    spool, counters, writer = make_writer(tmp_path, clock)
    for n in range(3):
        writer.append(line(n), T0)
    writer.roll()
    s3 = MemoryS3()
    s3.failing = True
    uploader = Uploader(s3, counters)
    result = uploader.upload_all(spool.files())
    assert len(result.failed) == 1
    assert "S3 is down" in (uploader.last_error or "")
    assert counters.snapshot()["retried"] == 3
    s3.failing = False
    assert uploader.upload_all(spool.files()).uploaded == 1
    assert uploader.last_error is None
    assert counters.snapshot()["uploaded"] == 3


def test_a_lost_answer_means_the_same_key_is_written_again(tmp_path):
    clock = Clock()
    spool, counters, writer = make_writer(tmp_path, clock)
    writer.append(line(1), T0)
    writer.roll()
    s3 = MemoryS3()
    s3.fail_after_store = True
    uploader = Uploader(s3, counters)
    assert uploader.upload_all(spool.files()).failed
    assert uploader.upload_all(spool.files()).uploaded == 1
    assert s3.puts == 2
    assert list(s3.objects.values()) == [line(1)]  # one object, one copy of the record


def test_a_cut_last_line_is_not_uploaded(tmp_path):
    clock = Clock()
    spool, counters, writer = make_writer(tmp_path, clock)
    writer.append(line(1), T0)
    writer.roll()
    [file] = spool.files()
    with file.path.open("ab") as f:
        f.write(b'{"n":2')  # a record the disk took only half of
    s3 = MemoryS3()
    Uploader(s3, counters).upload_all(spool.files())
    assert list(s3.objects.values()) == [line(1)]
    assert counters.snapshot()["dropped"] == 1


def test_kms_key_goes_with_the_upload(tmp_path):
    spool = Spool(tmp_path)
    counters = Counters(tmp_path / "c")
    target = Target("bucket", "p", "arn:aws:kms:us-east-1:123456789012:key/abcd")
    disk = DiskGauge(tmp_path, 75, usage=never_full)
    writer = SpoolWriter(spool, target, counters, disk, session_id="s1", roll_seconds=60)
    writer.append(line(1), T0)
    writer.roll()
    s3 = MemoryS3()
    Uploader(s3, counters).upload_all(spool.files())
    assert s3.kms == ["arn:aws:kms:us-east-1:123456789012:key/abcd"]


def test_capture_stops_above_the_disk_threshold_and_resumes(tmp_path):
    clock = Clock()
    usage = {"used": 80}
    _spool, counters, writer = make_writer(
        tmp_path, clock, usage=lambda _p: (100, usage["used"], 100 - usage["used"])
    )
    assert writer.append(line(1), T0) is False
    assert writer.append(line(2), T0) is False
    usage["used"] = 50
    assert writer.append(line(3), T0) is False  # checked at most once a second
    clock.now = 1.0
    assert writer.append(line(4), T0) is True
    snap = counters.snapshot()
    assert (snap["sampled"], snap["spooled"], snap["dropped"]) == (4, 1, 3)


def test_a_write_error_drops_the_record_without_raising(tmp_path, monkeypatch):
    clock = Clock()
    _, counters, writer = make_writer(tmp_path, clock)

    def full(_fd, _data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("smlocal.capture_sink.spool.os.write", full)
    assert writer.append(line(1), T0) is False
    assert counters.snapshot()["dropped"] == 1


# --- workers sharing a session --------------------------------------------------------------


def worker(tmp_path, session, s3, **options):
    opts = WorkerOptions(**{"tick_seconds": 0.02, "shutdown_seconds": 2, **options})
    return CaptureWorker(tmp_path, session, TARGET, s3, options=opts).start()


def test_flush_in_one_worker_delivers_what_every_worker_spooled(tmp_path):
    session = Session.create(tmp_path)
    s3 = MemoryS3()
    a, b = worker(tmp_path, session, s3), worker(tmp_path, session, s3)
    try:
        for n in range(5):
            a.write(line(n), T0)
            b.write(line(100 + n), T0)
        result = a.flush(timeout=10)
        assert result["files"] == 2
        assert sorted(b"".join(s3.objects.values()).splitlines()) == sorted(
            [line(n).strip() for n in range(5)] + [line(100 + n).strip() for n in range(5)]
        )
        stats = a.stats()
        assert (stats["sampled"], stats["spooled"], stats["uploaded"]) == (10, 10, 10)
        assert stats["pending_files"] == 0
        assert stats["workers"] == 2
    finally:
        a.close()
        b.close()


def test_flush_times_out_while_s3_is_down_and_says_why(tmp_path):
    session = Session.create(tmp_path)
    s3 = MemoryS3()
    s3.failing = True
    a = worker(tmp_path, session, s3)
    try:
        a.write(line(1), T0)
        with pytest.raises(FlushTimeout, match="1 capture file"):
            a.flush(timeout=0.3)
        assert "S3 is down" in a.stats()["upload_errors"][a.worker_id]
        s3.failing = False
        a.flush(timeout=10)
        assert list(s3.objects.values()) == [line(1)]
    finally:
        a.close()


class NoSuchBucketS3(MemoryS3):
    """S3 where buckets were deleted (all of them while `failing`): each PutObject into one is
    refused, and counted."""

    def __init__(self, *gone: str) -> None:
        super().__init__()
        self.gone = set(gone)
        self.refused = 0

    def __call__(self, location: S3Location, body: bytes, kms: str | None) -> None:
        from botocore.exceptions import ClientError

        if not self.failing and location.bucket not in self.gone:
            return super().__call__(location, body, kms)
        with self.lock:
            self.refused += 1
        error = {"Code": "NoSuchBucket", "Message": "The specified bucket does not exist"}
        raise ClientError({"Error": error}, "PutObject")


def test_a_refusal_fails_the_flush_at_once_and_the_records_stay(tmp_path):
    session = Session.create(tmp_path)
    s3 = NoSuchBucketS3()
    s3.failing = True
    a = worker(tmp_path, session, s3)
    try:
        a.write(line(1), T0)
        with pytest.raises(FlushRefused) as refused:
            a.flush(timeout=300)  # not waited out: the first refusal answers
        assert str(refused.value) == (
            "S3 refused the capture upload to s3://bucket/capture/Ep/AllTraffic/; 1 capture "
            "file(s) stay in the spool and are retried in the background: ClientError: An "
            "error occurred (NoSuchBucket) when calling the PutObject operation: The specified "
            "bucket does not exist"
        )
        assert "NoSuchBucket" in a.stats()["upload_errors"][a.worker_id]
        assert a.stats()["pending_files"] == 1
        s3.failing = False  # the bucket is back: the same records go up
        a.flush(timeout=10)
        assert list(s3.objects.values()) == [line(1)]
    finally:
        a.close()


def test_a_refusal_stops_the_uploads_at_shutdown_and_the_records_stay(tmp_path):
    session = Session.create(tmp_path)
    s3 = NoSuchBucketS3()
    s3.failing = True
    a = worker(tmp_path, session, s3, tick_seconds=3600, shutdown_seconds=3600)  # no retries
    a.write(line(1), T0)

    a.close()  # one try, not an hour of them
    assert session.lock_fd is not None
    os.close(session.lock_fd)  # the server has gone: its files are orphans now

    assert s3.refused == 1
    assert len(Spool(tmp_path).files()) == 1
    s3.failing = False
    b = worker(tmp_path, Session.create(tmp_path), s3)  # the next start uploads them
    try:
        b.flush(timeout=10)
        assert list(s3.objects.values()) == [line(1)]
    finally:
        b.close()


def test_a_refused_bucket_holds_up_only_its_own_files(tmp_path):
    gone = Target("gone", "capture/Old/AllTraffic")
    clock = Clock()
    spool, counters, old = make_writer(tmp_path, clock, target=gone)  # a dead server's
    for n in range(3):
        old.append(line(n), T0)
        old.roll()
    _, _, new = make_writer(tmp_path, clock)
    new.append(line(9), T0)
    new.roll()
    s3 = NoSuchBucketS3("gone")

    result = Uploader(s3, counters).upload_all(spool.files())

    assert (result.uploaded, result.failed, s3.refused) == (1, [], 1)  # tried once, not thrice
    assert [f.target for f in result.refused] == [gone] * 3
    assert "NoSuchBucket" in result.refusals[gone]
    assert list(s3.objects.values()) == [line(9)]


def test_another_targets_refusal_does_not_fail_this_servers_flush(tmp_path):
    _, _, old = make_writer(tmp_path, Clock(), target=Target("gone", "capture/Old/AllTraffic"))
    old.append(line(1), T0)  # left by a server that is gone, for a bucket since deleted
    old.roll()
    s3 = NoSuchBucketS3("gone")
    a = worker(tmp_path, Session.create(tmp_path), s3, tick_seconds=3600)
    try:
        a.write(line(2), T0)
        assert a.flush(timeout=10)["files"] == 2
        assert list(s3.objects.values()) == [line(2)]
        assert len(Spool(tmp_path).files()) == 1  # the refused one stays, for later
    finally:
        a.close()


def test_a_dead_workers_file_is_uploaded_by_another(tmp_path):
    session = Session.create(tmp_path)
    s3 = MemoryS3()
    _spool, _, writer = make_writer(tmp_path, Clock())
    writer.append(line(1), T0)
    writer._close()  # what the kernel does when a worker is killed: the lock goes
    survivor = worker(tmp_path, session, s3)
    try:
        survivor.flush(timeout=10)
        assert list(s3.objects.values()) == [line(1)]
    finally:
        survivor.close()


def test_flush_does_not_wait_for_another_live_servers_open_file(tmp_path):
    s3 = MemoryS3()
    other = worker(tmp_path, Session.create(tmp_path), s3, roll_seconds=3600)
    mine = worker(tmp_path, Session.create(tmp_path), s3)
    try:
        now = datetime.now(UTC)  # so that no hour change rolls the other server's file
        other.write(line(1), now)
        mine.write(line(2), now)
        assert mine.flush(timeout=5)["files"] == 1
        assert list(s3.objects.values()) == [line(2)]
    finally:
        mine.close()
        other.close()
    assert sorted(s3.objects.values()) == [line(1), line(2)]


def test_close_uploads_what_is_left(tmp_path):
    session = Session.create(tmp_path)
    s3 = MemoryS3()
    a = worker(tmp_path, session, s3, roll_seconds=3600)
    a.write(line(1), T0)
    a.close()
    assert list(s3.objects.values()) == [line(1)]


def test_a_new_session_forgets_dead_sessions(tmp_path):
    first = Session.create(tmp_path)
    assert first.lock_fd is not None
    os.close(first.lock_fd)
    second = Session.create(tmp_path)
    assert not first.folder.exists()
    assert second.folder.exists()


def test_half_made_files_are_swept_and_empty_files_need_no_upload(tmp_path):
    import os

    from smlocal.capture_sink.spool import sweep_unfinished

    spool = Spool(tmp_path)
    folder = spool.folder(TARGET)
    stale = folder / ".s1.2024_01_19_12_59-59-900-x.jsonl.new"
    stale.write_bytes(b"")
    os.utime(stale, (0, 0))
    fresh = folder / ".s1.2024_01_19_12_59-59-901-y.jsonl.new"
    fresh.write_bytes(b"")
    assert sweep_unfinished(spool) == 1
    assert not stale.exists()
    assert fresh.exists()
    (folder / "s1.2024_01_19_12_59-59-900-fb33b08e-de02-414b-ba16-969c14d7e0f1.jsonl").touch()
    s3 = MemoryS3()
    counters = Counters(tmp_path / "c")
    assert Uploader(s3, counters).upload_all(spool.files()).uploaded == 1
    assert s3.puts == 0
    assert counters.snapshot()["files_uploaded"] == 0


# --- what capture writes to disk is private ---------------------------------------------------


def test_spooled_records_and_state_are_private_whatever_the_umask(tmp_path):
    import json
    import os
    import stat
    import time

    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    from smlocal.capture_sink.config import load_capture_config
    from smlocal.capture_sink.serving import CaptureServing
    from smlocal.capture_sink.settings import CaptureSettings

    home = tmp_path / "home"  # the user's, not ours: its mode is left alone
    home.mkdir(mode=0o755)
    config = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": "s3://bucket/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }
    settings = CaptureSettings(
        config=load_capture_config(json.dumps(config)),
        endpoint_name="Ep",
        spool_dir=home / "smlocal" / "spool-root",
    )
    s3 = MemoryS3()
    s3.failing = True  # so that the worker also writes its .error file
    previous = os.umask(0o022)
    try:
        serving = CaptureServing(settings, put_factory=lambda: s3)
        app = serving.wrap(Response("1.0\n"))
        Client(app).post("/invocations", data="1,2", headers={"Content-Type": "text/csv"})
        assert serving.worker is not None
        with pytest.raises(FlushTimeout, match="S3 is down"):
            serving.worker.flush(timeout=0.5)
        deadline = time.monotonic() + 5  # the background uploader publishes its error
        while not any(serving.session.workers.glob("*.error")) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        os.umask(previous)
    try:
        made = [home / "smlocal", *sorted((home / "smlocal").rglob("*"))]
        modes = {p: stat.S_IMODE(p.stat().st_mode) for p in made}
        files = [p.name for p in made if p.is_file()]
    finally:
        s3.failing = False
        serving.worker_exit()
    assert stat.S_IMODE(home.stat().st_mode) == 0o755
    assert {name.rsplit(".", 1)[-1] for name in files} >= {"lock", "counters", "epoch", "json"}
    assert any(name.endswith(".error") for name in files), "the upload failure was published"
    assert any(name.endswith(".jsonl") for name in files), "the record was spooled"
    wrong = {p.name: oct(mode) for p, mode in modes.items() if mode != 0o600 and p.name in files}
    wrong |= {
        p.name: oct(mode) for p, mode in modes.items() if mode != 0o700 and p.name not in files
    }
    assert wrong == {}
