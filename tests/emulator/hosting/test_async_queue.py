"""The asynchronous queue's bookkeeping without model servers: restored files, damaged
files, a deleted endpoint's queue, expiry while not serving, the backlog limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smlocal.emulator.hosting.async_queue import AsyncQueues, BacklogFull
from smlocal.emulator.hosting.async_requests import AsyncRequest
from smlocal.emulator.hosting.routing import RoutingTable
from smlocal.emulator.settings import EmulatorSettings


def request(endpoint: str = "Ep-1", received: float = 4102444800.0) -> AsyncRequest:
    return AsyncRequest(
        endpoint=endpoint,
        inference_id="i",
        received=received,
        input_location=None,
        body_b64="MQ==",
        content_type="text/csv",
        accept=None,
        custom_attributes=None,
        output_location=None,
        failure_location=None,
        ttl_seconds=60,
        timeout_seconds=900,
        output_config={"S3OutputPath": "s3://b/o"},
    )


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def queues(
    tmp_path: Path, loop: asyncio.AbstractEventLoop, status: str | None, **kw: int
) -> AsyncQueues:
    settings = EmulatorSettings(data_dir=tmp_path)
    return AsyncQueues(settings, RoutingTable(), loop, lambda name: status, **kw)


def files(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "async" / "ep-1").iterdir())


def test_restored_files_keep_the_endpoints_case_and_damaged_ones_are_set_aside(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    first = queues(tmp_path, loop, "InService")
    first.accept(request())
    first.accept(request())
    (tmp_path / "async" / "ep-1" / "0-bad.json").write_bytes(b"{not json")
    again = queues(tmp_path, loop, "InService")
    again.restore()
    again.start()
    again.stop(1)
    lane = again.lanes["ep-1"]
    assert lane.name == "Ep-1"  # the route's exact name, not the folder's
    assert [p.name for p in lane.pending if p.exists()] == [
        n for n in files(tmp_path) if n.endswith(".json")
    ]
    assert "0-bad.damaged" in files(tmp_path)
    assert again.backlog("EP-1") == 3  # the damaged one leaves when it is reached


def test_a_deleted_endpoints_queue_is_discarded(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    statuses = ["InService"]
    settings = EmulatorSettings(data_dir=tmp_path)
    gone = AsyncQueues(settings, RoutingTable(), loop, lambda name: statuses[-1])
    gone.accept(request())
    assert len(files(tmp_path)) == 1  # kept while its endpoint is (being brought back) there
    statuses.append("Deleting")
    gone._pump("ep-1")  # no route, the endpoint going: discarded
    assert files(tmp_path) == []
    assert gone.backlog("Ep-1") == 0


def test_requests_expire_while_their_endpoint_does_not_serve(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    waiting = queues(tmp_path, loop, "Creating")
    waiting.accept(request(received=0.0))  # long past its 60 s TTL
    waiting.accept(request())  # far in the future: kept
    waiting._pump("ep-1")
    assert len(files(tmp_path)) == 1
    assert waiting.backlog("Ep-1") == 1


def test_the_backlog_limit(tmp_path: Path, loop: asyncio.AbstractEventLoop) -> None:
    small = queues(tmp_path, loop, "Creating", max_backlog=2)
    small.accept(request())
    small.accept(request())
    with pytest.raises(BacklogFull):
        small.accept(request())
    assert len(files(tmp_path)) == 2  # nothing stored for the refused one


def test_files_that_parse_but_are_not_requests_are_set_aside_and_unreadable_ones_skipped(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    """A wrong type would otherwise fail in the worker and be retried forever at the head
    of the queue; a folder named *.json would stop the emulator's start."""
    first = queues(tmp_path, loop, "InService")
    first.accept(request())
    folder = tmp_path / "async" / "ep-1"
    (folder / "0-a-folder.json").mkdir()  # sorts first: read before any good file
    good = request().to_json()
    bad = {
        "1-list.json": b"[1, 2]",
        "2-received-text.json": good.replace(b'"received":4102444800.0', b'"received":"soon"'),
        "3-ttl-bool.json": good.replace(b'"ttl_seconds":60', b'"ttl_seconds":true'),
        "4-body-not-base64.json": good.replace(b'"MQ=="', b'"!!"'),
        "5-config-null.json": good.replace(b'"output_config":{', b'"output_config":null,"x":{'),
    }
    for name, raw in bad.items():
        (folder / name).write_bytes(raw)
    again = queues(tmp_path, loop, "InService")
    again.restore()
    again.start()  # does not raise
    again.stop(1)
    assert again.lanes["ep-1"].name == "Ep-1"
    for name in bad:
        assert again._load(folder / name) is None
        assert (folder / name).with_suffix(".damaged").exists(), name
    assert again._load(folder / "0-a-folder.json") is None
    assert (folder / "0-a-folder.json").is_dir()  # not ours to move: left as it was


class _Body:
    def __init__(self) -> None:
        self.closed = False

    def read(self) -> bytes:
        raise AssertionError("an input above 1 GB must not be read")

    def close(self) -> None:
        self.closed = True


class _HugeS3:
    def __init__(self) -> None:
        self.body = _Body()

    def get_object(self, Bucket: str, Key: str) -> dict[str, object]:
        return {"ContentLength": (1 << 30) + 1, "Body": self.body}


def test_an_input_above_1_gb_fails_the_request_without_being_read(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    huge = queues(tmp_path, loop, "InService")
    huge._s3 = _HugeS3()
    asked = request()
    asked.input_location, asked.body_b64 = "s3://b/huge.bin", None
    reason = huge._input(asked)
    assert isinstance(reason, str)
    assert reason.startswith("ClientError: The input s3://b/huge.bin is 1073741825 bytes")
    assert huge._s3.body.closed


def test_a_full_disk_at_accept_raises_and_queues_nothing(
    tmp_path: Path, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """InvokeEndpointAsync answers an error (never 202) when the request cannot be stored."""
    import errno

    from smlocal.emulator.hosting import async_queue

    def full(path: Path, chunks: object, sync: bool = True) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    full_disk = queues(tmp_path, loop, "InService")
    monkeypatch.setattr(async_queue, "durable_write", full)
    with pytest.raises(OSError, match="No space left"):
        full_disk.accept(request())
    assert full_disk.backlog("Ep-1") == 0
    assert files(tmp_path) == []


def test_a_symlinked_folder_in_the_queue_root_is_not_touched(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    """Files smlocal did not create are never swept, renamed or queued."""
    elsewhere = tmp_path / "user-files"
    elsewhere.mkdir()
    (elsewhere / "settings.json").write_bytes(b'{"mine": true}')
    (elsewhere / ".tmp-draft").write_bytes(b"keep me")
    data = tmp_path / "data"
    (data / "async").mkdir(parents=True)
    (data / "async" / "linked").symlink_to(elsewhere, target_is_directory=True)
    started = queues(data, loop, "InService")
    started.restore()
    started.start()
    started.stop(1)
    assert sorted(p.name for p in elsewhere.iterdir()) == [".tmp-draft", "settings.json"]
    assert started.lanes == {}


def test_a_request_stored_while_its_endpoint_is_deleted_is_refused_not_kept(
    tmp_path: Path, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DeleteEndpoint commits during the fsync: no 202 for a request that would be dropped."""
    from smlocal.emulator.hosting import async_queue
    from smlocal.emulator.hosting.async_queue import EndpointGone

    racing = queues(tmp_path, loop, "InService")
    write = async_queue.durable_write

    def write_then_delete(path: Path, chunks: list[bytes], sync: bool = True) -> None:
        write(path, chunks, sync)
        racing.forget("Ep-1")

    monkeypatch.setattr(async_queue, "durable_write", write_then_delete)
    with pytest.raises(EndpointGone):
        racing.accept(request())
    assert files(tmp_path) == []
    assert racing.backlog("Ep-1") == 0


def test_a_request_of_a_deleted_endpoint_is_not_run_by_a_new_one_of_the_same_name(
    tmp_path: Path, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One with the model when DeleteEndpoint commits comes back unfinished (its server
    stopped) after CreateEndpoint reused the name: discarded, not queued for the new one."""
    statuses = ["InService"]
    settings = EmulatorSettings(data_dir=tmp_path)
    racing = AsyncQueues(settings, RoutingTable(), loop, lambda name: statuses[-1])
    racing.accept(request())
    racing.accept(request())
    lane = racing.lanes["ep-1"]
    with racing.lock:  # as _pump starts one: it is with the model
        taken = lane.pending.popleft()
        lane.running += 1
        epoch = lane.epoch
    statuses.append("Deleting")
    racing.forget("Ep-1")  # the delete committed: the queued one goes
    statuses.append("Creating")  # ...and a new endpoint of that name is being created
    monkeypatch.setattr(racing, "_process", lambda path: True)  # its server was unreachable
    racing._work("ep-1", taken, epoch)
    assert racing.wait_idle(30)
    deadline = time.monotonic() + 60  # the queued one's file goes in a thread
    while files(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert files(tmp_path) == []
    assert racing.backlog("Ep-1") == 0


def test_a_failure_with_nowhere_to_go_is_logged(
    tmp_path: Path, loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    """No S3FailurePath and no ErrorTopic: the request is finished, never silently."""
    failing = queues(tmp_path, loop, "InService")
    failing.accept(request())
    (path,) = (tmp_path / "async" / "ep-1").glob("*.json")
    with caplog.at_level("WARNING", logger="smlocal.emulator.hosting.async_queue"):
        failing._finish_failure(request(), path, "ClientError: the model said no", b"no")
    assert "request i failed: ClientError: the model said no" in caplog.text
    assert files(tmp_path) == []


def test_a_request_whose_folder_cannot_be_synced_is_not_left_behind(
    tmp_path: Path, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is renamed into place but the folder fsync fails: the caller gets an error,
    so the file must not stay to be run at the next start."""
    import errno

    from smlocal.emulator.support import durable

    stored = queues(tmp_path, loop, "InService")
    stored.accept(request())  # creates the folder while fsync works
    before = files(tmp_path)

    def no_sync(folder: Path) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(durable, "sync_dir", no_sync)
    with pytest.raises(OSError, match="Input/output"):
        stored.accept(request())
    assert files(tmp_path) == before
    assert stored.backlog("Ep-1") == 1


def test_the_queue_of_an_endpoint_deleted_before_a_restart_is_gone_when_start_returns(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    """Not left for the ticker: once the edge serves, a CreateEndpoint of the same name must
    not find them queued."""
    before = queues(tmp_path, loop, "InService")
    before.accept(request())
    before.accept(request())
    after = queues(tmp_path, loop, None)  # the endpoint no longer exists
    after.restore()
    after.start()
    try:
        assert files(tmp_path) == []
        assert after.backlog("Ep-1") == 0
    finally:
        after.stop(1)
