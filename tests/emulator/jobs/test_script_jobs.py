"""Processing jobs with user scripts through boto3: Continuous outputs, StopProcessingJob,
MaxRuntimeInSeconds, and the rewritten-paths mode (SMLOCAL_SCRIPT_NAMESPACE=0)."""

from __future__ import annotations

import io
import json
import tarfile
import time
from typing import Any

import pytest

from tests.support import ROLE, SKLEARN_IMAGE, unique

BUCKET = "script-jobs"

# Writes a Continuous output, then waits to be stopped.
LINGER = """\
import os, time
os.makedirs("/opt/ml/processing/progress", exist_ok=True)
with open("/opt/ml/processing/progress/epoch-1.txt", "w") as out:
    out.write("first")
print("wrote epoch 1", flush=True)
time.sleep(120)
"""

# Reads and writes only where its arguments and environment say.
BY_ARGUMENTS = """\
import os, sys
source, target = sys.argv[1], os.environ["OUT_DIR"]
with open(os.path.join(source, "data.csv")) as rows, open(os.path.join(target, "n.txt"), "w") as out:
    out.write(str(len(rows.read().splitlines())))
print("cwd", os.getcwd())
"""


@pytest.fixture(scope="module")
def s3(smlocal: Any) -> Any:
    client = smlocal.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="in/data.csv", Body=b"a\n1\n2\n")
    return client


def request(name: str, s3: Any, script: str, **extra: Any) -> dict[str, Any]:
    """A CreateProcessingJob request running `script` with python3 in the scikit-learn image."""
    s3.put_object(Bucket=BUCKET, Key=f"code/{name}.py", Body=script.encode())
    code = {"InputName": "code", "S3Input": {
        "S3Uri": f"s3://{BUCKET}/code/{name}.py", "LocalPath": "/opt/ml/processing/input/code",
        "S3DataType": "S3Prefix", "S3InputMode": "File"}}  # fmt: skip
    data = {"InputName": "data", "S3Input": {
        "S3Uri": f"s3://{BUCKET}/in", "LocalPath": "/opt/ml/processing/data",
        "S3DataType": "S3Prefix", "S3InputMode": "File"}}  # fmt: skip
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "AppSpecification": {
            "ImageUri": SKLEARN_IMAGE,
            "ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/{name}.py"],
        },
        "ProcessingInputs": [code, data],
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 30,
            }
        },
        **extra,
    }


def output(name: str, local: str, mode: str = "EndOfJob") -> dict[str, Any]:
    return {"OutputName": name, "S3Output": {
        "S3Uri": f"s3://{BUCKET}/out/{name}", "LocalPath": local, "S3UploadMode": mode}}  # fmt: skip


def wait_job(sm: Any, name: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = sm.describe_processing_job(ProcessingJobName=name)
        if job["ProcessingJobStatus"] not in ("InProgress", "Stopping"):
            return job  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def keys(s3: Any, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def test_continuous_outputs_arrive_while_it_runs_and_it_can_be_stopped(
    smlocal: Any, s3: Any
) -> None:
    sm = smlocal.client("sagemaker")
    name = unique("linger")
    outputs = {"Outputs": [output(name, "/opt/ml/processing/progress", "Continuous")]}
    sm.create_processing_job(**request(name, s3, LINGER, ProcessingOutputConfig=outputs))
    deadline = time.monotonic() + 60
    while not keys(s3, f"out/{name}/"):
        assert time.monotonic() < deadline, "the Continuous output never arrived"
        time.sleep(0.2)
    assert sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] == (
        "InProgress"
    )
    assert keys(s3, f"out/{name}/") == [f"out/{name}/epoch-1.txt"]
    sm.stop_processing_job(ProcessingJobName=name)
    job = wait_job(sm, name)
    assert job["ProcessingJobStatus"] == "Stopped"


def test_a_script_past_its_max_runtime_fails(smlocal: Any, s3: Any) -> None:
    sm = smlocal.client("sagemaker")
    name = unique("too-long")
    limit = {"MaxRuntimeInSeconds": 2}
    sm.create_processing_job(**request(name, s3, LINGER, StoppingCondition=limit))
    job = wait_job(sm, name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == "The job exceeded its MaxRuntimeInSeconds."


def test_an_image_without_entrypoint_fails_with_a_reason(smlocal: Any, s3: Any) -> None:
    sm = smlocal.client("sagemaker")
    name = unique("no-entrypoint")
    params = request(name, s3, LINGER)
    params["AppSpecification"] = {"ImageUri": SKLEARN_IMAGE}
    sm.create_processing_job(**params)
    job = wait_job(sm, name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(f"ClientError: {SKLEARN_IMAGE} has no ContainerEntry")


def test_rewritten_paths_mode_maps_arguments_and_environment(smlocal_factory: Any) -> None:
    emulator = smlocal_factory(env={"SMLOCAL_SCRIPT_NAMESPACE": "0"})
    s3, sm = emulator.client("s3"), emulator.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="in/data.csv", Body=b"a\n1\n2\n")
    name = unique("mapped")
    params = request(
        name,
        s3,
        BY_ARGUMENTS,
        Environment={"OUT_DIR": "/opt/ml/processing/n"},
        ProcessingOutputConfig={"Outputs": [output(name, "/opt/ml/processing/n")]},
    )
    params["AppSpecification"]["ContainerArguments"] = ["/opt/ml/processing/data"]  # fmt: skip
    sm.create_processing_job(**params)
    job = wait_job(sm, name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("ExitMessage")
    body = s3.get_object(Bucket=BUCKET, Key=f"out/{name}/n.txt")["Body"].read()
    assert body == b"3"
    folder = emulator.data_dir / "jobs" / "processing" / name / "opt" / "ml" / "processing"
    assert (folder / "n" / "n.txt").read_text() == "3"


TRAIN_THEN_WAIT = """\
import os, time
with open(os.path.join(os.environ["SM_MODEL_DIR"], "weights.txt"), "w") as out:
    out.write("epoch 1")
print("saved epoch 1", flush=True)
time.sleep(120)
"""


def create_script_training(sm: Any, s3: Any, name: str, script: str) -> None:
    """CreateTrainingJob as the SDK's SKLearn estimator sends it, for `script` as train.py."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script.encode()))
    s3.put_object(Bucket=BUCKET, Key=f"{name}/sourcedir.tar.gz", Body=archive.getvalue())
    channel = {"ChannelName": "train", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/in"}}}  # fmt: skip
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
        HyperParameters={
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/{name}/sourcedir.tar.gz"),
            "epochs": "3",
        },
        InputDataConfig=[channel],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )


def wait_training(sm: Any, name: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = sm.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] not in ("InProgress", "Stopping"):
            return job  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def model_files(s3: Any, name: str) -> dict[str, bytes]:
    body = s3.get_object(Bucket=BUCKET, Key=f"models/{name}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_a_script_mode_training_job_stops_and_keeps_its_model(smlocal: Any, s3: Any) -> None:
    sm = smlocal.client("sagemaker")
    name = unique("script-stop")
    create_script_training(sm, s3, name, TRAIN_THEN_WAIT)
    model = smlocal.data_dir / "training-jobs" / name / "model" / "weights.txt"
    deadline = time.monotonic() + 60
    while not model.exists():
        assert time.monotonic() < deadline, sm.describe_training_job(TrainingJobName=name)
        time.sleep(0.1)
    sm.stop_training_job(TrainingJobName=name)
    job = wait_training(sm, name)
    assert job["TrainingJobStatus"] == "Stopped"
    assert "MetricDefinitions" not in job["AlgorithmSpecification"]
    assert model_files(s3, name) == {"weights.txt": b"epoch 1"}


TRAIN_BY_VARIABLES = """\
import os, sys
rows = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "data.csv")).read().splitlines()
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as out:
    out.write(f"{len(rows)} {sys.argv[1:]} {os.getcwd() == os.path.dirname(__file__)}")
"""


def test_script_mode_training_in_the_rewritten_paths_mode(smlocal_factory: Any) -> None:
    emulator = smlocal_factory(env={"SMLOCAL_SCRIPT_NAMESPACE": "false"})
    s3, sm = emulator.client("s3"), emulator.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="in/data.csv", Body=b"a\n1\n2\n")
    name = unique("mapped-training")
    create_script_training(sm, s3, name, TRAIN_BY_VARIABLES)
    job = wait_training(sm, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert model_files(s3, name) == {"model.txt": b"3 ['--epochs', '3'] True"}


USES_BOTO3 = """\
import boto3
body = boto3.client("s3").get_object(Bucket="script-jobs", Key="in/data.csv")["Body"].read()
with open("/opt/ml/processing/n/rows.txt", "w") as out:
    out.write(str(len(body.splitlines())))
"""


def test_a_script_s_own_aws_clients_reach_this_emulator(smlocal: Any, s3: Any) -> None:
    sm = smlocal.client("sagemaker")
    name = unique("boto3-inside")
    outputs = {"Outputs": [output(name, "/opt/ml/processing/n")]}
    sm.create_processing_job(**request(name, s3, USES_BOTO3, ProcessingOutputConfig=outputs))
    job = wait_job(sm, name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("ExitMessage")
    assert s3.get_object(Bucket=BUCKET, Key=f"out/{name}/rows.txt")["Body"].read() == b"3"
