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
