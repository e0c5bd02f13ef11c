"""The emulator as a process: restart persistence, clean stops, the AWS CLI, health."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psutil
import pytest
import requests

from tests.support import deploy, ended, engine_answers, unique, wait_for_status


def test_health_answers_ready_with_its_settings(smlocal) -> None:
    response = requests.get(f"{smlocal.url}/_smlocal/health", timeout=5)
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ready"
    assert (health["region"], health["account"], health["s3"]) == (
        "us-east-1",
        "123456789012",
        "embedded",
    )


def test_state_and_s3_survive_a_restart_and_no_child_is_left_behind(
    smlocal_factory, iris_tar
) -> None:
    emulator = smlocal_factory()
    s3, sm = emulator.client("s3"), emulator.client("sagemaker")
    s3.create_bucket(Bucket="keep")
    s3.upload_file(str(iris_tar), "keep", "iris/model.tar.gz")
    s3.put_object(
        Bucket="keep",
        Key="notes/a b.txt",
        Body=b"hello",
        ContentType="text/plain",
        Metadata={"who": "me"},
    )
    name = unique("Survivor")
    deploy(sm, name, [{"name": "AllTraffic", "model_data": "s3://keep/iris/model.tar.gz"}])
    children = psutil.Process(emulator.proc.pid).children(recursive=True)
    assert children, "the endpoint's model server runs as a child process"

    emulator.restart()
    assert ended(children)
    s3, sm = emulator.client("s3"), emulator.client("sagemaker")
    described = wait_for_status(sm, name)
    assert described["EndpointStatus"] == "InService"
    runtime = emulator.client("sagemaker-runtime")
    assert (
        runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=b"7.7,3.0,6.1,2.3")[
            "Body"
        ].read()
        == b"2.0\n"
    )
    note = s3.get_object(Bucket="keep", Key="notes/a b.txt")
    assert note["Body"].read() == b"hello"
    assert (note["ContentType"], note["Metadata"]) == ("text/plain", {"who": "me"})
    s3.delete_object(Bucket="keep", Key="notes/a b.txt")

    pid = emulator.proc.pid
    children = psutil.Process(pid).children(recursive=True)
    assert emulator.stop() == 0
    assert ended(children)
    emulator.start()
    keys = [o["Key"] for o in emulator.client("s3").list_objects_v2(Bucket="keep")["Contents"]]
    assert keys == ["iris/model.tar.gz"]  # the deleted object stays deleted


def test_the_aws_cli_drives_the_emulator(smlocal, iris_model_data, tmp_path) -> None:
    sm = smlocal.client("sagemaker")
    name = unique("cli")
    deploy(sm, name, [{"name": "AllTraffic", "model_data": iris_model_data}])
    env = {**os.environ, **smlocal.env}
    aws = [sys.executable, "-m", "awscli"]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*aws, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    listed = cli("sagemaker", "describe-endpoint", "--endpoint-name", name)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["EndpointStatus"] == "InService"
    out = tmp_path / "out.txt"
    invoked = cli("sagemaker-runtime", "invoke-endpoint", "--endpoint-name", name, "--content-type", "text/csv",
                  "--body", "7.7,3.0,6.1,2.3", str(out))  # fmt: skip
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout)["InvokedProductionVariant"] == "AllTraffic"
    assert out.read_text() == "2.0\n"
    missing = cli("sagemaker", "describe-endpoint", "--endpoint-name", "nothing-like-it")
    assert missing.returncode == 255  # the CLI v1 exit status of a service error
    assert (
        "An error occurred (ValidationException) when calling the DescribeEndpoint operation: "
        'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/nothing-like-it".'
    ) in missing.stderr
    s3 = cli("s3", "ls", "s3://models/iris/")
    assert s3.returncode == 0, s3.stderr
    assert "model.tar.gz" in s3.stdout


def test_model_servers_do_not_outlive_a_killed_emulator(smlocal_factory, iris_tar) -> None:
    emulator = smlocal_factory()
    s3, sm = emulator.client("s3"), emulator.client("sagemaker")
    s3.create_bucket(Bucket="orphan-models")
    s3.upload_file(str(iris_tar), "orphan-models", "model.tar.gz")
    deploy(
        sm,
        unique("orphan"),
        [{"name": "AllTraffic", "model_data": "s3://orphan-models/model.tar.gz"}],
    )
    children = psutil.Process(emulator.proc.pid).children(recursive=True)
    assert children
    emulator.proc.kill()  # no chance to stop them itself
    emulator.proc.wait()
    _, alive = psutil.wait_procs(children, timeout=30)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []


@pytest.mark.docker
def test_the_docker_backend_runs_variants_in_containers(smlocal_factory, iris_tar) -> None:
    reason = engine_answers()
    if reason:
        pytest.skip(reason)
    emulator = smlocal_factory(args=("--backend", "docker"))
    s3, sm = emulator.client("s3"), emulator.client("sagemaker")
    s3.create_bucket(Bucket="docker-models")
    s3.upload_file(str(iris_tar), "docker-models", "model.tar.gz")
    described = deploy(
        sm,
        unique("in-docker"),
        [{"name": "AllTraffic", "model_data": "s3://docker-models/model.tar.gz"}],
    )
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    runtime = emulator.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(
        EndpointName=described["EndpointName"], ContentType="text/csv", Body=b"7.7,3.0,6.1,2.3"
    )
    assert answer["Body"].read() == b"2.0\n"


def test_the_example_endpoint_serves_captures_and_is_created_once(smlocal_factory) -> None:
    """What `make run` starts: `smlocal up --example` with the iris endpoint and its captures."""
    emulator = smlocal_factory(args=("--example",))
    health = requests.get(f"{emulator.url}/_smlocal/health", timeout=5).json()
    assert "invoke-endpoint --endpoint-name iris-example" in health["detail"]
    sm, s3 = emulator.client("sagemaker"), emulator.client("s3")
    assert sm.describe_endpoint(EndpointName="iris-example")["EndpointStatus"] == "InService"
    runtime = emulator.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(
        EndpointName="iris-example", ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2"
    )
    assert answer["Body"].read() == b"0.0\n"
    prefix = "datacapture/iris-example/AllTraffic/"
    deadline = time.monotonic() + 30
    while not s3.list_objects_v2(Bucket="smlocal-example", Prefix=prefix).get("KeyCount"):
        assert time.monotonic() < deadline, "no capture file reached S3"
        time.sleep(0.2)
    (key,) = [
        o["Key"] for o in s3.list_objects_v2(Bucket="smlocal-example", Prefix=prefix)["Contents"]
    ]
    record = json.loads(s3.get_object(Bucket="smlocal-example", Key=key)["Body"].read())
    assert record["captureData"]["endpointInput"]["data"] == "5.1,3.5,1.4,0.2"
    assert record["captureData"]["endpointOutput"]["data"] == "0.0\n"

    emulator.restart("--example")
    sm = emulator.client("sagemaker")
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == ["iris-example-model"]
    assert wait_for_status(sm, "iris-example")["EndpointStatus"] == "InService"
