"""Hostile pipeline definitions and calls through boto3: every one is answered in
SageMaker's codes (never InternalFailure), and a pipeline with a running execution cannot
be deleted out from under it (its jobs would keep running)."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import psutil
import pytest
from botocore.exceptions import ClientError

from tests.support import ROLE, SKLEARN_IMAGE, ended, unique

BUCKET = "pipeline-hostile"
SLEEPER = "import time\nprint('hostile sleeper', flush=True)\ntime.sleep(300)\n"
# a user script that ignores SIGTERM: only the SIGKILL 10 s later ends it
STUBBORN = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + SLEEPER


def refused(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def body(steps: list[Any], **extra: Any) -> str:
    return json.dumps({"Version": "2020-12-01", "Steps": steps, **extra})


FAIL = {"Name": "F", "Type": "Fail", "Arguments": {"ErrorMessage": "x"}}


@pytest.mark.parametrize(
    ("definition", "reason"),
    [
        (body([{"Name": "C", "Type": "Condition", "Arguments": "x"}]), "Arguments"),
        (body([{**FAIL, "DependsOn": 5}]), "DependsOn"),
        (body([{**FAIL, "DependsOn": [{"x": 1}]}]), "DependsOn"),
        (body([{**FAIL, "Name": ["x"]}]), "Name"),
        (body([FAIL], Parameters=5), "Parameters"),
        (body([FAIL], Parameters=[{"Type": "String"}]), "Parameters"),
        (body([FAIL], Parameters=[{"Name": "P", "Type": "Integer", "DefaultValue": [1]}]), "P"),
        ('{"Version": "2020-12-01", "Steps": [' + "[" * 5000 + "]" * 5000 + "]}", "deep"),
    ],
)
def test_a_malformed_definition_is_a_validation_exception(
    smlocal: Any, definition: str, reason: str
) -> None:
    sm = smlocal.client("sagemaker")
    code, message = refused(sm.create_pipeline, PipelineName=unique("hostile"),
                            PipelineDefinition=definition, RoleArn=ROLE)  # fmt: skip
    assert code == "ValidationException", message
    assert message.startswith("Invalid pipeline definition: ")
    assert reason in message


def sleeping_pipeline(smlocal: Any, script: str = SLEEPER) -> str:
    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/sleeper.py", Body=script.encode())
    step = {"Name": "Sleep", "Type": "Processing", "Arguments": {
        "AppSpecification": {"ImageUri": SKLEARN_IMAGE, "ContainerEntrypoint": [
            "python3", "/opt/ml/processing/input/code/sleeper.py"]},
        "ProcessingInputs": [{"InputName": "code", "S3Input": {
            "S3Uri": f"s3://{BUCKET}/code/sleeper.py", "LocalPath": "/opt/ml/processing/input/code",
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        "ProcessingResources": {"ClusterConfig": {
            "InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}},
        "RoleArn": ROLE}}  # fmt: skip
    name = unique("sleepy")
    smlocal.client("sagemaker").create_pipeline(
        PipelineName=name, PipelineDefinition=body([step]), RoleArn=ROLE
    )
    return name


def sleepers(emulator_pid: int) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(emulator_pid).children(recursive=True):
        try:
            if "sleeper.py" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def ignores_sigterm(process: psutil.Process) -> bool:
    """True once the process has set SIGTERM to be ignored (SigIgn in /proc/PID/status)."""
    with open(f"/proc/{process.pid}/status") as status:
        for line in status:
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def wait_for(check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


def test_a_pipeline_with_a_running_execution_is_not_deleted(smlocal: Any) -> None:
    sm = smlocal.client("sagemaker")
    name = sleeping_pipeline(smlocal)
    arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    assert smlocal.proc is not None
    wait_for(lambda: sleepers(smlocal.proc.pid))
    code, message = refused(sm.delete_pipeline, PipelineName=name)
    assert code == "ConflictException"
    assert arn in message
    assert sm.describe_pipeline(PipelineName=name)["PipelineName"] == name
    sm.stop_pipeline_execution(PipelineExecutionArn=arn)
    wait_for(lambda: sm.describe_pipeline_execution(PipelineExecutionArn=arn)[
        "PipelineExecutionStatus"] == "Stopped")  # fmt: skip
    wait_for(lambda: not sleepers(smlocal.proc.pid))
    sm.delete_pipeline(PipelineName=name)


def test_smlocal_stops_cleanly_in_the_middle_of_a_pipeline_job(smlocal_factory: Any) -> None:
    emulator = smlocal_factory()
    sm = emulator.client("sagemaker")
    name = sleeping_pipeline(emulator)
    arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    pid = emulator.proc.pid
    found = wait_for(lambda: sleepers(pid))
    assert emulator.stop(timeout=45) == 0  # not killed after hanging at exit
    # SIGTERMed as the emulator stopped: they end at once (one that outlived its SIGKILL,
    # which died with the emulator, would still run after 10 s)
    wait_for(lambda: ended(found), timeout=10)
    emulator.start()
    sm = emulator.client("sagemaker")
    execution = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
    assert execution["PipelineExecutionStatus"] == "Failed"
    [step] = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    job = step["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[1]
    described = sm.describe_processing_job(ProcessingJobName=job)
    assert described["ProcessingJobStatus"] in ("Failed", "Stopped")  # as the stop raced
    assert "IllegalTransition" not in emulator.log()


@pytest.mark.parametrize("script", [SLEEPER, STUBBORN], ids=["sleeper", "ignores-sigterm"])
def test_smlocal_stops_cleanly_in_the_middle_of_a_processing_job(
    smlocal_factory: Any, script: str
) -> None:
    emulator = smlocal_factory()
    sm = emulator.client("sagemaker")
    name = sleeping_pipeline(emulator, script)
    step = json.loads(sm.describe_pipeline(PipelineName=name)["PipelineDefinition"])["Steps"][0]
    job = unique("sleeper")
    sm.create_processing_job(ProcessingJobName=job, **step["Arguments"])
    found = wait_for(lambda: sleepers(emulator.proc.pid))
    if script == STUBBORN:  # stopped only once it ignores SIGTERM
        wait_for(lambda: all(ignores_sigterm(process) for process in found))
    assert emulator.stop(timeout=45) == 0
    # SIGTERMed as the emulator stopped, SIGKILLed 10 s later when they ignore it: the
    # emulator waits for that, so they have ended (or are zombies) once it has exited. One
    # that outlived the emulator would still run 10 s later.
    wait_for(lambda: ended(found), timeout=10)
    assert "IllegalTransition" not in emulator.log()
    emulator.start()
    described = emulator.client("sagemaker").describe_processing_job(ProcessingJobName=job)
    assert described["ProcessingJobStatus"] == "Failed"
    assert "stopped while the job was running" in described["FailureReason"]
