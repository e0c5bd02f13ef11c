"""The job runner on its own, with real processes and the log shipper writing into a real
emulator's CloudWatch Logs: jobs are known by kind and name, and nothing starts once the
emulator is stopping."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from smlocal.emulator.jobs.runner import JobExit, JobProcess, JobRunner
from smlocal.emulator.pytest_plugin import SmlocalEmulator
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.cloudwatch import LogShipper
from tests.support import ended, unique

SLEEP = "import time\nprint('started', flush=True)\ntime.sleep(120)\n"


@pytest.fixture
def runner(smlocal: SmlocalEmulator) -> JobRunner:
    return JobRunner(LogShipper(EmulatorSettings(port=smlocal.port)), owner=unique("runner"))


def job(kind: str, name: str, folder: Path) -> JobProcess:
    return JobProcess(kind=kind, name=name, argv=[sys.executable, "-c", SLEEP, kind, name],
                      folder=folder / kind, log_group=f"/test/{kind}", log_stream=name)  # fmt: skip


def in_thread(runner: JobRunner, process: JobProcess) -> tuple[threading.Thread, list[JobExit]]:
    ended: list[JobExit] = []
    thread = threading.Thread(target=lambda: ended.append(runner.run(process)), daemon=True)
    thread.start()
    return thread, ended


def started(runner: JobRunner, kind: str, name: str) -> psutil.Process:
    """The job's process (its argv ends with kind and name) once it runs and the runner has
    it (the child runs a moment before Popen returns in the runner's thread)."""
    deadline = time.monotonic() + 30
    while True:
        with runner.lock:
            known = (kind, name) in runner.running
        for child in psutil.Process(os.getpid()).children(recursive=True) if known else []:
            try:
                if child.cmdline()[-2:] == [kind, name]:
                    return child
            except psutil.NoSuchProcess:
                continue
        assert time.monotonic() < deadline, f"{kind} {name} never started"
        time.sleep(0.02)


def test_stopping_a_job_does_not_reach_a_job_of_another_kind_with_its_name(
    runner: JobRunner, tmp_path: Path
) -> None:
    name = unique("same")
    training, trained = in_thread(runner, job("training-job", name, tmp_path))
    processing, processed = in_thread(runner, job("processing-job", name, tmp_path))
    trainer = started(runner, "training-job", name)
    processor = started(runner, "processing-job", name)
    assert runner.stop("processing-job", name)
    processing.join(30)
    assert [e.stopped for e in processed] == [True]
    assert trainer.status() != psutil.STATUS_ZOMBIE  # runs on (NoSuchProcess if it ended)
    assert ended([processor])
    assert runner.stop("training-job", name)  # still known: the other's end did not drop it
    training.join(30)
    assert [e.stopped for e in trained] == [True]


def test_once_the_runner_is_closed_no_job_process_starts(runner: JobRunner, tmp_path: Path) -> None:
    name = unique("late")
    running, ran = in_thread(runner, job("processing-job", name, tmp_path))
    first = started(runner, "processing-job", name)
    runner.stop_all()  # the emulator is stopping
    running.join(30)
    assert [e.stopped for e in ran] == [True]
    assert ended([first])
    # a job whose inputs were still downloading reaches run() only now
    before = {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}
    late = runner.run(job("processing-job", unique("late"), tmp_path))
    assert (late.stopped, late.lines) == (True, [])
    assert late.returncode != 0
    after = {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}
    assert after <= before
    assert runner.running == {}
