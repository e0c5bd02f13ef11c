"""Worker processes are forked from a single-threaded caller (warm, every module imported)
and spawned next to other threads; either way a job writes the same files."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from test_fast_paths import GOLDEN, _jobs
from varied_data import write_varied_csv

from smlocal.model_monitor import engine

SEEN_BY_WORKERS = {"set after import": False}


def _seen() -> bool:
    return SEEN_BY_WORKERS["set after import"]


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_a_single_threaded_caller_forks_and_a_threaded_one_spawns() -> None:
    # pytest's own process may run helper threads (servers of other fixtures); wait for
    # none here, only check the rule both ways.
    if threading.active_count() == 1:
        assert engine.start_method() == "fork"
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert engine.start_method() == "spawn"
    finally:
        release.set()
        other.join()


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_forked_workers_start_from_the_callers_memory(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "start_method", lambda: method)
    monkeypatch.setitem(SEEN_BY_WORKERS, "set after import", True)
    with engine.process_pool(1) as pool:
        assert pool.submit(_seen).result(timeout=120) is (method == "fork")


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_forked_and_spawned_workers_write_the_files_of_the_code_before(
    method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if method == "fork" and sys.platform != "linux":
        pytest.skip("workers are forked on Linux only")
    monkeypatch.setattr(engine, "start_method", lambda: method)
    data = write_varied_csv(tmp_path / "varied.csv", 60_000)
    assert _jobs(data, tmp_path / method, 2) == GOLDEN[60_000]
