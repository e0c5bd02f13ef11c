"""Asynchronous inference under faults: accepted requests survive kill -9 of the emulator,
a full queue refuses with ServiceUnavailable, and deleting an endpoint discards its queue.

The model holds every request until a gate file exists, so what is queued and what is with
the model is known without timing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.test_async_inference import wait_for_object
from tests.support import (
    ROLE,
    SKLEARN_IMAGE,
    SKLEARN_SCRIPT_ENV,
    sklearn_archive,
    unique,
    wait_for_status,
)

GATED = (
    "import os\nimport tempfile\nimport time\n\nimport joblib\n\n\n"
    "def model_fn(model_dir):\n"
    '    return joblib.load(os.path.join(model_dir, "model.joblib"))\n\n\n'
    "def predict_fn(data, model):\n"
    '    tempfile.mkstemp(dir=os.environ["SEEN"])\n'
    "    deadline = time.monotonic() + 300\n"
    '    while not os.path.exists(os.environ["GATE"]) and time.monotonic() < deadline:\n'
    "        time.sleep(0.05)\n"
    "    return model.predict([[0]])\n"
)
BUCKET = "gated"
BACKLOG = 4


def gated_endpoint(emulator: Any, gate: Path) -> str:
    """An InService async endpoint (one request at a time) whose model waits for `gate`."""
    from sklearn.dummy import DummyClassifier

    s3, sm = emulator.client("s3"), emulator.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    model = DummyClassifier(strategy="constant", constant=7).fit([[0], [1]], [7, 8])
    s3.put_object(Bucket=BUCKET, Key="model.tar.gz", Body=sklearn_archive(model, GATED))
    name = unique("Gated")
    (gate.parent / "seen").mkdir()
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz",
            "Environment": {
                **SKLEARN_SCRIPT_ENV,
                "GATE": str(gate),
                "SEEN": str(gate.parent / "seen"),
            },
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1}
        ],
        AsyncInferenceConfig={
            "OutputConfig": {
                "S3OutputPath": f"s3://{BUCKET}/out",
                "S3FailurePath": f"s3://{BUCKET}/failed",
            },
            "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 1},
        },
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    assert wait_for_status(sm, name, timeout=300)["EndpointStatus"] == "InService"
    return name


@pytest.fixture
def emulator(smlocal_factory: Any) -> Any:
    return smlocal_factory(env={"SMLOCAL_ASYNC_MAX_BACKLOG": str(BACKLOG)})


def runtime(emulator: Any) -> Any:
    return emulator.client("sagemaker-runtime", config=Config(retries={"max_attempts": 1}))


def submit(emulator: Any, name: str, count: int) -> list[str]:
    """OutputLocations of `count` accepted requests."""
    client = runtime(emulator)
    return [
        client.invoke_endpoint_async(
            EndpointName=name, Body=b"1", ContentType="text/csv", InferenceId=f"r{i}"
        )["OutputLocation"]
        for i in range(count)
    ]


def model_servers(emulator: Any, name: str) -> list[int]:
    """Pids of the emulator's processes serving an endpoint."""
    import psutil

    found = []
    for child in psutil.Process(emulator.proc.pid).children(recursive=True):
        try:
            if child.environ().get("SMLOCAL_ENDPOINT_NAME") == name:
                found.append(child.pid)
        except psutil.Error:
            continue
    return found


def queued_files(emulator: Any, name: str) -> list[Path]:
    return sorted((emulator.data_dir / "async" / name.lower()).glob("*.json"))


def test_accepted_requests_survive_kill_9_and_a_full_queue_refuses(
    emulator: Any, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    name = gated_endpoint(emulator, gate)
    outputs = submit(emulator, name, BACKLOG)  # one with the model, the rest queued
    with pytest.raises(ClientError) as caught:
        submit(emulator, name, 1)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert caught.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert (
        f"has {BACKLOG} asynchronous requests queued" in caught.value.response["Error"]["Message"]
    )
    assert len(queued_files(emulator, name)) == BACKLOG  # on disk before each 202
    seen = tmp_path / "seen"
    deadline = time.monotonic() + 120
    while not any(seen.iterdir()):
        assert time.monotonic() < deadline, "no request reached the model"
        time.sleep(0.05)
    time.sleep(1.0)  # room for a second one, if the concurrency bound did not hold
    assert len(list(seen.iterdir())) == 1  # MaxConcurrentInvocationsPerInstance 1 x 1 instance
    emulator.proc.kill()
    emulator.proc.wait(30)
    gate.touch()
    # damage that a disk, not smlocal, could leave: the start sets it aside and goes on
    queue = emulator.data_dir / "async" / name.lower()
    whole = queued_files(emulator, name)[0].read_bytes()
    (queue / "00-cut.json").write_bytes(whole[: len(whole) // 2])
    typed = {**json.loads(whole), "ttl_seconds": "21600"}  # parses, but is no request
    (queue / "99-typed.json").write_text(json.dumps(typed))
    emulator.start()
    s3 = emulator.client("s3")
    for output in outputs:
        assert wait_for_object(s3, output, timeout=300)["Body"].read() == b"[7]"
    deadline = time.monotonic() + 60
    while queued_files(emulator, name) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert queued_files(emulator, name) == []
    assert sorted(p.name for p in queue.glob("*.damaged")) == ["00-cut.damaged", "99-typed.damaged"]


def test_deleting_an_endpoint_discards_its_queue(emulator: Any, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    name = gated_endpoint(emulator, gate)
    outputs = submit(emulator, name, 3)  # the first with the model, two queued
    sm = emulator.client("sagemaker")
    sm.delete_endpoint(EndpointName=name)
    gate.touch()  # the one with the model answers; its output is still written
    deadline = time.monotonic() + 120
    while name in {e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]}:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    while queued_files(emulator, name) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert queued_files(emulator, name) == []
    assert model_servers(emulator, name) == []
    s3 = emulator.client("s3")
    assert wait_for_object(s3, outputs[0])["Body"].read() == b"[7]"
    written = {
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="out/").get("Contents", [])
    }
    assert written == {outputs[0].split("/", 3)[3]}
    # A new endpoint of the same name runs none of the old one's requests: requests are run
    # in order, one at a time, so a leftover would be written before this new one.
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    assert wait_for_status(sm, name, timeout=300)["EndpointStatus"] == "InService"
    (fresh,) = submit(emulator, name, 1)
    assert wait_for_object(s3, fresh)["Body"].read() == b"[7]"
    written = {
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="out/").get("Contents", [])
    }
    assert written == {outputs[0].split("/", 3)[3], fresh.split("/", 3)[3]}
