"""Worker processes are forked from a single-threaded caller (warm, every module imported)
and spawned next to other threads; either way a job writes the same files, and the workers
end when the job's process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
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


KILLED_JOB = """
import os, sys, time
from smlocal.model_monitor import engine

engine.start_method = lambda: sys.argv[1]
if __name__ == "__main__":
    pool = engine.process_pool(1)
    print(pool.submit(os.getpid).result(timeout=120), flush=True)
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="workers follow their parent on Linux")
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_workers_end_when_their_job_is_killed(method: str, tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(KILLED_JOB)
    job = subprocess.Popen([sys.executable, str(script), method], stdout=subprocess.PIPE, text=True)
    assert job.stdout is not None
    worker = int(job.stdout.readline())
    try:
        assert _alive(worker)
        job.kill()
        job.wait(timeout=60)
        deadline = time.monotonic() + 60
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker)
    finally:
        job.kill()
        job.wait(timeout=60)
        job.stdout.close()
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)
