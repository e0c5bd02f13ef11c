"""User scripts that leave processes behind: a job ends when its script ends, as a container
does, and nothing the script started outlives the job (not even a process in a session of
its own, which holds the job's output pipe open)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psutil
import pytest

from tests.support import ROLE, SKLEARN_IMAGE, unique

BUCKET = "script-hostile"
SPAWNER = """\
import subprocess, sys, time
subprocess.Popen(["sleep", "{seconds}"], start_new_session=True)
print("spawned", flush=True)
time.sleep(float(sys.argv[1]))
"""


def leftovers(seconds: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if process.info["cmdline"] == ["sleep", seconds]:
            found.append(process)
    return found


def wait_for(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


@pytest.mark.parametrize("stop", [False, True])
def test_processes_a_script_detaches_end_with_its_job(smlocal: Any, stop: bool) -> None:
    seconds = str(4000 + uuid.uuid4().int % 1000)  # names this test's leftover
    s3, sm = smlocal.client("s3"), smlocal.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    key = f"code/{seconds}.py"
    s3.put_object(Bucket=BUCKET, Key=key, Body=SPAWNER.format(seconds=seconds).encode())
    name = unique("spawner")
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        AppSpecification={"ImageUri": SKLEARN_IMAGE, "ContainerEntrypoint": [
            "python3", f"/opt/ml/processing/input/code/{seconds}.py"],
            "ContainerArguments": ["300" if stop else "0"]},
        ProcessingInputs=[{"InputName": "code", "S3Input": {
            "S3Uri": f"s3://{BUCKET}/{key}", "LocalPath": "/opt/ml/processing/input/code",
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        ProcessingResources={"ClusterConfig": {
            "InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}},
    )  # fmt: skip
    try:
        if stop:  # (a script that ends at once has its leftover killed at once)
            wait_for(lambda: leftovers(seconds), 60)
            sm.stop_processing_job(ProcessingJobName=name)

        def status() -> str:
            found = sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"]
            return "" if found in ("InProgress", "Stopping") else found

        assert wait_for(status, 60) == ("Stopped" if stop else "Completed")
        assert leftovers(seconds) == []
    finally:
        for process in leftovers(seconds):
            process.kill()


def test_a_killed_emulators_job_processes_end_when_it_starts_again(smlocal_factory: Any) -> None:
    """kill -9 gives the emulator no time to stop its jobs: the next emulator of the same
    data directory ends what they left running (and nothing else)."""
    seconds = str(5000 + uuid.uuid4().int % 1000)
    emulator = smlocal_factory()
    s3, sm = emulator.client("s3"), emulator.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    key = f"code/{seconds}.py"
    s3.put_object(Bucket=BUCKET, Key=key, Body=SPAWNER.format(seconds=seconds).encode())
    sm.create_processing_job(
        ProcessingJobName=unique("orphan"),
        RoleArn=ROLE,
        AppSpecification={"ImageUri": SKLEARN_IMAGE, "ContainerEntrypoint": [
            "python3", f"/opt/ml/processing/input/code/{seconds}.py"],
            "ContainerArguments": ["300"]},
        ProcessingInputs=[{"InputName": "code", "S3Input": {
            "S3Uri": f"s3://{BUCKET}/{key}", "LocalPath": "/opt/ml/processing/input/code",
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        ProcessingResources={"ClusterConfig": {
            "InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}},
    )  # fmt: skip
    bystander = psutil.Popen(["sleep", seconds])  # the same command, not started by a job
    try:
        wait_for(lambda: len(leftovers(seconds)) == 2, 60)
        emulator.proc.kill()
        emulator.proc.wait(10)
        time.sleep(1)
        assert len(leftovers(seconds)) == 2  # the job's sleeper outlived the emulator
        emulator.start()
        assert [p.pid for p in leftovers(seconds)] == [bystander.pid]
        assert "process(es) of jobs left running by a killed emulator" in emulator.log()
    finally:
        bystander.kill()
        bystander.wait(10)
        for process in leftovers(seconds):
            process.kill()
