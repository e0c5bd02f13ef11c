"""A multi-model worker's cache: pure units over a folder prefix and a stand-in loader, and
one real model server (`smlocal serve`) run as SageMaker runs a multi-model container."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import threading
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from smlocal.model_server.environment import ServerSettings, SettingsError
from smlocal.model_server.errors import ModelLoadError
from smlocal.model_server.multi_model import (
    ModelCache,
    TargetModelMissing,
    TargetModelTooLarge,
    TargetModelUnusable,
)
from smlocal.model_server.predictors.base import HandlerPredictor
from tests.support import model_server


def archive(prefix: Path, name: str, size: int) -> None:
    """A model.tar.gz at prefix/name holding one file of `size` bytes."""
    folder = prefix / f".src-{name}"
    folder.mkdir()
    (folder / "weights").write_bytes(b"x" * size)
    with tarfile.open(prefix / name, "w:gz") as tar:
        tar.add(folder / "weights", arcname="weights")


class Loads:
    """A loader that counts loads per folder and hands out distinct stand-ins."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, settings: ServerSettings) -> HandlerPredictor:
        assert (settings.model_dir / "weights").is_file()
        self.count += 1
        return object()  # type: ignore[return-value]


def cache(tmp_path: Path, budget: int, *, keep: bool = True) -> tuple[ModelCache, Loads, Path]:
    prefix, root = tmp_path / "prefix", tmp_path / "root"
    prefix.mkdir(exist_ok=True)
    root.mkdir(exist_ok=True)
    settings = replace(
        ServerSettings(),
        model_dir=root,
        model_prefix=str(prefix),
        model_cache=keep,
        multi_model_memory_bytes=budget,
    )
    loads = Loads()
    return ModelCache(settings, loads), loads, prefix


def test_least_recently_used_is_unloaded_first(tmp_path: Path) -> None:
    models, loads, prefix = cache(tmp_path, budget=250)
    for name in ("a.tar.gz", "b.tar.gz", "c.tar.gz"):
        archive(prefix, name, 100)
    assert not models.get("a.tar.gz").hit
    assert not models.get("b.tar.gz").hit
    assert models.get("a.tar.gz").hit  # a is now the most recent
    models.get("c.tar.gz")  # 300 > 250: b goes, not a
    assert models.names() == ["a.tar.gz", "c.tar.gz"]
    assert not models.get("b.tar.gz").hit
    assert loads.count == 4
    assert models.unload("b.tar.gz")
    assert not models.unload("b.tar.gz")


def test_errors_name_the_target(tmp_path: Path) -> None:
    models, _, prefix = cache(tmp_path, budget=150)
    archive(prefix, "big.tar.gz", 200)
    (prefix / "bad.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(TargetModelMissing, match=r"key: nope\.tar\.gz\)"):
        models.get("nope.tar.gz")
    with pytest.raises(TargetModelMissing):
        models.get("../prefix/../../etc/passwd")  # never outside the prefix
    with pytest.raises(TargetModelUnusable, match=r"Failed to load model bad\.tar\.gz"):
        models.get("bad.tar.gz")
    with pytest.raises(TargetModelTooLarge):
        models.get("big.tar.gz")
    assert models.names() == []


def test_without_caching_every_call_loads_and_nothing_stays(tmp_path: Path) -> None:
    models, loads, prefix = cache(tmp_path, budget=1000, keep=False)
    archive(prefix, "a.tar.gz", 10)
    for _ in range(3):
        assert not models.get("a.tar.gz").hit
    assert loads.count == 3
    assert models.names() == []
    assert [p.name for p in (tmp_path / "root").iterdir() if not p.name.startswith(".")] == []


def test_concurrent_first_calls_load_once(tmp_path: Path) -> None:
    models, loads, prefix = cache(tmp_path, budget=1000)
    archive(prefix, "a.tar.gz", 10)
    threads = [threading.Thread(target=models.get, args=("a.tar.gz",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert loads.count == 1


def test_the_settings_need_a_prefix_in_multi_model_mode() -> None:
    assert ServerSettings.from_env({}).model_prefix is None
    with pytest.raises(SettingsError, match="SMLOCAL_MODEL_PREFIX"):
        ServerSettings.from_env({"SAGEMAKER_MULTI_MODEL": "true"})
    settings = ServerSettings.from_env(
        {
            "SAGEMAKER_MULTI_MODEL": "true",
            "SMLOCAL_MODEL_PREFIX": "s3://b/p/",
            "SMLOCAL_MULTI_MODEL_MEMORY_MB": "3",
            "SMLOCAL_MODEL_CACHE": "0",
        }
    )
    assert settings.model_prefix == "s3://b/p/"
    assert settings.multi_model_memory_bytes == 3 * 1048576
    assert not settings.model_cache


def post(url: str, target: str | None) -> tuple[int, bytes, dict[str, str]]:
    """POST one CSV row to /invocations, naming the target model if given."""
    headers = {"Content-Type": "text/csv"}
    if target:
        headers["X-Amzn-SageMaker-Target-Model"] = target
    request = urllib.request.Request(url + "/invocations", data=b"7.7,3.0,6.1,2.3", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def test_a_multi_model_server_serves_each_target(tmp_path: Path, iris_softmax: Path) -> None:
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    for name in ("iris.tar.gz", "race.tar.gz"):
        with tarfile.open(prefix / name, "w:gz") as tar:
            for path in iris_softmax.iterdir():
                tar.add(path, arcname=path.name)
    (tmp_path / "model").mkdir()
    env = {"SAGEMAKER_MULTI_MODEL": "true", "SMLOCAL_MODEL_PREFIX": str(prefix)}
    log = tmp_path / "server.log"
    with model_server(tmp_path / "model", log, env=env) as server:
        server.wait_ready()

        status, body, headers = post(server.url, "iris.tar.gz")
        assert (status, body.strip(), headers["X-Smlocal-Model-Cache"]) == (200, b"2.0", "miss")
        assert post(server.url, "iris.tar.gz")[2]["X-Smlocal-Model-Cache"] == "hit"
        status, body, headers = post(server.url, "gone.tar.gz")
        assert status == 400
        assert headers["X-Smlocal-Runtime-Error"] == "ValidationError"
        assert post(server.url, None)[0] == 400
        with urllib.request.urlopen(server.url + "/models", timeout=30) as listed:
            assert json.load(listed) == {"models": [{"modelName": "iris.tar.gz"}]}
        delete = urllib.request.Request(server.url + "/models/iris.tar.gz", method="DELETE")
        with urllib.request.urlopen(delete, timeout=30) as gone:
            assert gone.status == 200
        assert post(server.url, "iris.tar.gz")[2]["X-Smlocal-Model-Cache"] == "miss"

    # two workers race to a new target: each loads it, the archive is unpacked once
    from concurrent.futures import ThreadPoolExecutor

    with model_server(tmp_path / "model", log, env=env, workers=2) as server:
        server.wait_ready()
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: post(server.url, "race.tar.gz"), range(16)))
    assert {(status, body.strip()) for status, body, _ in answers} == {(200, b"2.0")}
    unpacked = [p for p in (tmp_path / "model").iterdir() if not p.name.startswith(".")]
    assert len(unpacked) == 2  # iris and race, one folder each


def test_a_read_only_model_folder_unpacks_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smlocal.model_server import multi_model

    root = tmp_path / "root"
    real_access = os.access
    monkeypatch.setattr(
        multi_model.os, "access", lambda p, mode: Path(p) != root and real_access(p, mode)
    )
    models, _, prefix = cache(tmp_path, budget=1000)
    archive(prefix, "a.tar.gz", 10)
    assert models.root != root
    assert not models.get("a.tar.gz").hit
    assert list(root.iterdir()) == []
    shutil.rmtree(models.root)


class Strict(Loads):
    """A loader that fails as the real one does when the model file is missing."""

    def __init__(self, other: ModelCache | None = None, target: str = "") -> None:
        super().__init__()
        self.other, self.target = other, target

    def __call__(self, settings: ServerSettings) -> HandlerPredictor:
        if not (settings.model_dir / "weights").is_file():
            raise ModelLoadError(f"no model file in {settings.model_dir}")
        if self.other is not None:  # another worker loads the same target meanwhile
            self.other.get(self.target)
        return super().__call__(settings)


def test_a_model_that_failed_to_load_is_fetched_again(tmp_path: Path) -> None:
    models, _, prefix = cache(tmp_path, budget=1000)
    models.loader = Strict()
    folder = prefix / ".src-bad"
    folder.mkdir()
    (folder / "README").write_text("no model here")
    with tarfile.open(prefix / "m.tar.gz", "w:gz") as tar:
        tar.add(folder / "README", arcname="README")
    with pytest.raises(TargetModelUnusable, match="no model file"):
        models.get("m.tar.gz")
    (prefix / "m.tar.gz").unlink()
    archive(prefix, "m.tar.gz", 10)  # the user uploads a fixed archive under the same key
    assert not models.get("m.tar.gz").hit
    assert models.names() == ["m.tar.gz"]


def test_without_caching_a_worker_never_removes_a_folder_another_is_loading(
    tmp_path: Path,
) -> None:
    first, _, prefix = cache(tmp_path, budget=1000, keep=False)
    second, _, _ = cache(tmp_path, budget=1000, keep=False)  # the same instance's disk
    second.loader = Strict()
    first.loader = Strict(other=second, target="a.tar.gz")
    archive(prefix, "a.tar.gz", 10)
    assert not first.get("a.tar.gz").hit
    assert first.loader.count == second.loader.count == 1
    assert [p.name for p in (tmp_path / "root").iterdir() if not p.name.endswith(".lock")] == []


def test_a_download_that_fills_the_disk_is_a_clear_error_leaving_nothing(tmp_path: Path) -> None:
    """RLIMIT_FSIZE stands in for a full disk: writes past it fail with EFBIG."""
    import resource
    import signal

    models, loads, prefix = cache(tmp_path, budget=10_000_000)
    (prefix / "big.tar.gz").write_bytes(os.urandom(256 * 1024))  # the copy itself is too big
    archive(prefix, "unpacks-big.tar.gz", 256 * 1024)  # compresses small, unpacks big
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(TargetModelUnusable, match=r"big\.tar\.gz: cannot download .*too large"):
            models.get("big.tar.gz")
        with pytest.raises(TargetModelUnusable, match=r"unpacks-big\.tar\.gz: cannot extract"):
            models.get("unpacks-big.tar.gz")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
    assert [p.name for p in (tmp_path / "root").iterdir() if not p.name.endswith(".lock")] == []
    assert loads.count == 0
    assert not models.get("unpacks-big.tar.gz").hit  # room again: it loads


def test_what_a_killed_worker_left_is_swept_unless_another_is_fetching(tmp_path: Path) -> None:
    import fcntl

    root = tmp_path / "root"
    root.mkdir()
    for name in ("dead", "busy"):  # a worker killed mid-fetch, and one fetching now
        (root / f".{name}.lock").touch()
        (root / f".{name}.partial-1a2b3c4d").mkdir()
        (root / f".{name}.partial-1a2b3c4d" / "weights").write_bytes(b"half")
        (root / f".{name}.download-x1y2").mkdir()
    (root / "dead").mkdir()  # a complete model stays
    (root / f".once-{2**22 + 1}-abc").mkdir()  # above Linux's pid_max: a process long gone
    (root / f".once-{os.getpid()}-def").mkdir()  # this process's uncached load
    (root / "dead" / "weights").write_bytes(b"whole")
    with open(root / ".busy.lock", "a") as busy:
        fcntl.flock(busy, fcntl.LOCK_EX)
        models, _, prefix = cache(tmp_path, budget=1000)  # a worker starts (again)
    assert sorted(p.name for p in root.iterdir()) == [
        ".busy.download-x1y2",
        ".busy.lock",
        ".busy.partial-1a2b3c4d",
        ".dead.lock",
        f".once-{os.getpid()}-def",
        "dead",
    ]
    archive(prefix, "a.tar.gz", 10)
    models.get("a.tar.gz")
    assert not [p for p in root.iterdir() if ".download-" in p.name and "busy" not in p.name]


def test_an_s3_download_cut_short_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An S3 that answers HEAD, then drops every GET's body halfway (s3transfer retries,
    then gives up with boto3's own RetriesExceededError)."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    head = b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nETag: "e"\r\nContent-Type: x/y\r\n'

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                request = connection.recv(65536)
                body = b"" if request.startswith(b"HEAD") else b"x" * 10
                connection.sendall(head + b"Connection: close\r\n\r\n" + body)

    threading.Thread(target=serve, daemon=True).start()
    port = listener.getsockname()[1]
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    models, loads, _ = cache(tmp_path, budget=1000)
    models.prefix = "s3://bucket/models/"
    try:
        with pytest.raises(
            TargetModelUnusable, match=r"Failed to load model m\.tar\.gz: cannot download"
        ):
            models.get("m.tar.gz")
    finally:
        listener.close()
    assert loads.count == 0
    assert [p.name for p in (tmp_path / "root").iterdir() if not p.name.endswith(".lock")] == []


def test_names_asked_for_leave_no_loading_gate_behind(tmp_path: Path) -> None:
    models, _, prefix = cache(tmp_path, budget=1000)
    archive(prefix, "a.tar.gz", 10)
    for n in range(50):  # hostile clients asking for ever new names
        with pytest.raises(TargetModelMissing):
            models.get(f"nope-{n}.tar.gz")
    models.get("a.tar.gz")
    assert models._loading == {}


def test_racing_clients_under_evictions_always_get_their_own_models_answer(
    tmp_path: Path, iris_softmax: Path, iris_softprob: Path
) -> None:
    """Two workers, a 1 MB budget and three 600 KB models: nearly every call evicts another
    model, and every answer still comes from the model it named."""
    from concurrent.futures import ThreadPoolExecutor

    prefix = tmp_path / "prefix"
    prefix.mkdir()
    sources = {"a.tar.gz": iris_softmax, "b.tar.gz": iris_softprob, "c.tar.gz": iris_softmax}
    for name, source in sources.items():
        with tarfile.open(prefix / name, "w:gz") as tar:
            tar.add(source / "xgboost-model", arcname="xgboost-model")
            filler = tmp_path / f"filler-{name}"
            filler.write_bytes(os.urandom(600 * 1024))
            tar.add(filler, arcname="filler.bin")
    (tmp_path / "model").mkdir()
    env = {
        "SAGEMAKER_MULTI_MODEL": "true",
        "SMLOCAL_MODEL_PREFIX": str(prefix),
        "SMLOCAL_MULTI_MODEL_MEMORY_MB": "1",
    }
    with model_server(tmp_path / "model", tmp_path / "server.log", env=env, workers=2) as server:
        server.wait_ready()
        targets = [name for _ in range(12) for name in sources]
        with ThreadPoolExecutor(9) as pool:
            answers = list(pool.map(lambda t: (t, post(server.url, t)), targets))
    for target, (status, body, headers) in answers:
        assert status == 200, body
        assert body.count(b",") == (2 if target == "b.tar.gz" else 0), (target, body)
        assert int(headers["X-Smlocal-Loaded-Models"]) == 1  # never two 600 KB models in 1 MB
    assert "unloaded model" in (tmp_path / "server.log").read_text()
    unpacked = sorted(p.name for p in (tmp_path / "model").iterdir() if not p.name.startswith("."))
    assert len(unpacked) == 3  # each unpacked once, whole, nothing partial beside them
    assert [p.name for p in (tmp_path / "model").iterdir() if "partial" in p.name] == []
