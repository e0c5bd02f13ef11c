"""Transform jobs under attack through boto3: StopTransformJob while the model is busy with a
request stops the job and its model servers at once, not after the request's timeout."""

from __future__ import annotations

import io
import json
import tarfile
import time
from typing import Any

import psutil
import pytest

from tests.support import ROLE, SKLEARN_IMAGE, SKLEARN_SCRIPT_ENV, XGBOOST_IMAGE, unique

BUCKET = "transform-hostile"
# A model that takes far longer than the test waits to answer a request.
SLOW = """
import time


def model_fn(model_dir):
    return None


def predict_fn(rows, model):
    time.sleep(600)
    return rows
"""


def servers_of(emulator_pid: int, job: str) -> list[psutil.Process]:
    """The model server processes started for a job (named after it, as an endpoint)."""
    found = []
    for child in psutil.Process(emulator_pid).children(recursive=True):
        try:
            if child.environ().get("SMLOCAL_ENDPOINT_NAME") == job:
                found.append(child)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def wait_for(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


# A model that takes far longer than the test waits to load (its server never answers /ping).
SLOW_LOAD = """
import time


def model_fn(model_dir):
    time.sleep(600)
"""


def slow_model(smlocal: Any, script: str = SLOW) -> str:
    s3, sm = smlocal.client("s3"), smlocal.client("sagemaker")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script.encode()))
    s3.create_bucket(Bucket=BUCKET)
    name = unique("slow")
    s3.put_object(Bucket=BUCKET, Key=f"models/{name}.tar.gz", Body=archive.getvalue())
    s3.put_object(Bucket=BUCKET, Key="in/rows.csv", Body=b"1,2\n3,4\n")
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": SKLEARN_IMAGE, "ModelDataUrl": f"s3://{BUCKET}/models/{name}.tar.gz",
        "Environment": SKLEARN_SCRIPT_ENV})  # fmt: skip
    return name


@pytest.mark.parametrize("script", [SLOW, SLOW_LOAD], ids=["busy", "loading"])
def test_stop_while_a_request_is_in_flight_stops_the_job_and_its_servers(
    smlocal: Any, script: str
) -> None:
    sm = smlocal.client("sagemaker")
    model = slow_model(smlocal, script)
    name = unique("tj-slow")
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        TransformInput={"DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/in"}}, "ContentType": "text/csv"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{name}"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )  # fmt: skip
    assert smlocal.proc is not None
    pid = smlocal.proc.pid
    wait_for(lambda: servers_of(pid, name), 120)
    time.sleep(3)  # the request is in the model's predict_fn now
    sm.stop_transform_job(TransformJobName=name)

    def ended() -> bool:
        return sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"] != "Stopping"

    wait_for(ended, 60)  # gunicorn's graceful timeout is 30 s; the request's is 600 s
    assert sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"] == "Stopped"
    assert servers_of(pid, name) == []


@pytest.mark.parametrize(
    "manifest",
    [[{"prefix": 5}, "a"], [{"prefix": "http://x/"}, "a"], [{"prefix": "s3://"}, "a"]],
)
def test_a_manifest_whose_prefix_is_no_s3_uri_fails_the_job_as_a_client_error(
    smlocal: Any, manifest: list[Any]
) -> None:
    s3, sm = smlocal.client("s3"), smlocal.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    name = unique("tj-manifest")
    s3.put_object(Bucket=BUCKET, Key=f"manifests/{name}", Body=json.dumps(manifest).encode())
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{BUCKET}/models/none.tar.gz"})  # fmt: skip
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=name,
        TransformInput={"DataSource": {"S3DataSource": {
            "S3DataType": "ManifestFile", "S3Uri": f"s3://{BUCKET}/manifests/{name}"}}},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{name}"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )  # fmt: skip

    def ended() -> dict[str, Any] | None:
        found: dict[str, Any] = sm.describe_transform_job(TransformJobName=name)
        return None if found["TransformJobStatus"] in ("InProgress", "Stopping") else found

    described = wait_for(ended, 60)
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"].startswith(
        f"ClientError: The manifest file s3://{BUCKET}/manifests/{name} is not"
    )
