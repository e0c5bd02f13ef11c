"""Multi-container endpoints through boto3 and the AWS CLI: a serial inference pipeline (a
scikit-learn preprocessing container with a user script feeding the XGBoost container) and
the same two containers invoked directly by TargetContainerHostname, with Data Capture, the
error cases, and a container killed under a live endpoint."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
from botocore.exceptions import ClientError

from smlocal.capture_sink.validate import check_lines
from tests.support import (
    ROLE,
    SKLEARN_IMAGE,
    XGBOOST_IMAGE,
    sklearn_archive,
    unique,
    wait_for_status,
)

# The preprocessing container's script, as a PipelineModel's first model carries it: its
# output_fn answers CSV with the content type the next container reads.
PREPROCESS = """
import io
import os

import joblib
import numpy as np


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(body, content_type):
    if content_type != "text/csv":
        raise ValueError(f"{content_type} not supported by script!")
    return np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2)


def predict_fn(data, model):
    return model.transform(data)


def output_fn(prediction, accept):
    rows = "\\n".join(",".join(repr(float(x)) for x in row) for row in prediction)
    return rows + "\\n", "text/csv"
"""
ROWS = "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": "s3://multi-container/capture",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from smlocal.emulator.pytest_plugin import SmlocalEmulator

    started = SmlocalEmulator(tmp_path_factory.mktemp("multi-container")).start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def models(emulator: Any, iris_tar: Path) -> dict[str, str]:
    """A fitted iris StandardScaler (with the script) and the iris XGBoost model in S3."""
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    features, _ = load_iris(return_X_y=True)
    scaler = StandardScaler().fit(features)
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="multi-container")
    s3.put_object(
        Bucket="multi-container", Key="pre/model.tar.gz", Body=sklearn_archive(scaler, PREPROCESS)
    )
    s3.upload_file(str(iris_tar), "multi-container", "xgb/model.tar.gz")
    return {
        "pre": "s3://multi-container/pre/model.tar.gz",
        "xgb": "s3://multi-container/xgb/model.tar.gz",
    }


def containers(models: dict[str, str], hostnames: bool = True) -> list[dict[str, Any]]:
    pre = {
        "Image": SKLEARN_IMAGE,
        "ModelDataUrl": models["pre"],
        "Environment": {
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        },
    }
    xgb = {"Image": XGBOOST_IMAGE, "ModelDataUrl": models["xgb"]}
    if hostnames:
        pre["ContainerHostname"], xgb["ContainerHostname"] = "preprocess", "xgboost"
    return [pre, xgb]


def deploy(emulator: Any, name: str, model_params: dict[str, Any], capture: bool = True) -> str:
    sm = emulator.client("sagemaker")
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, **model_params)
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        **({"DataCaptureConfig": CAPTURE} if capture else {}),
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 600}
    )
    return name


@pytest.fixture(scope="module")
def serial(emulator: Any, models: dict[str, str]) -> str:
    return deploy(emulator, unique("serial"), {"Containers": containers(models, hostnames=False)})


@pytest.fixture(scope="module")
def direct(emulator: Any, models: dict[str, str]) -> str:
    params = {"Containers": containers(models), "InferenceExecutionConfig": {"Mode": "Direct"}}
    return deploy(emulator, unique("direct"), params)


def invoke(emulator: Any, endpoint: str, body: str, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    runtime = emulator.client("sagemaker-runtime")
    response = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=body, ContentType="text/csv", Accept="text/csv", **kwargs
    )
    return response["Body"].read().decode(), response


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]  # type: ignore[no-any-return]


def test_serial_pipeline_chains_the_containers_and_captures_its_input_and_final_output(
    emulator: Any, serial: str, direct: str
) -> None:
    scaled, answer = invoke(emulator, direct, ROWS, TargetContainerHostname="preprocess")
    assert answer["ContentType"] == "text/csv"
    assert np.loadtxt(io.StringIO(scaled), delimiter=",").shape == (2, 4)
    expected, _ = invoke(emulator, direct, scaled, TargetContainerHostname="xgboost")

    got, answer = invoke(emulator, serial, ROWS)
    assert got == expected
    assert len(got.split()) == 2  # one class per row (of the scaled rows)
    assert answer["InvokedProductionVariant"] == "AllTraffic"

    records = emulator.captures(serial)
    [record] = [r for r in records if r["captureData"]["endpointInput"]["data"] == ROWS]
    assert record["captureData"]["endpointInput"]["observedContentType"] == "text/csv"
    assert record["captureData"]["endpointOutput"]["data"] == got
    assert record["captureData"]["endpointOutput"]["encoding"] == "CSV"
    described = emulator.client("sagemaker").describe_model(ModelName=serial)
    assert [c.get("ContainerHostname") for c in described["Containers"]] == [None, None]
    endpoint = emulator.client("sagemaker").describe_endpoint(EndpointName=serial)
    [variant] = endpoint["ProductionVariants"]
    images = [i["SpecifiedImage"] for i in variant["DeployedImages"]]
    assert images == [SKLEARN_IMAGE, XGBOOST_IMAGE]
    _check_capture_files(emulator, serial)


def test_direct_invocation_captures_the_target_containers_exchange(
    emulator: Any, direct: str
) -> None:
    scaled, _ = invoke(emulator, direct, ROWS, TargetContainerHostname="preprocess")
    predicted, _ = invoke(emulator, direct, ROWS, TargetContainerHostname="xgboost")
    records = emulator.captures(direct)
    pairs = [
        (r["captureData"]["endpointInput"]["data"], r["captureData"]["endpointOutput"]["data"])
        for r in records
    ]
    assert (ROWS, scaled) in pairs
    assert (ROWS, predicted) in pairs
    _check_capture_files(emulator, direct)


def test_racing_clients_across_direct_targets_get_their_targets_answers(
    emulator: Any, direct: str
) -> None:
    """Threads invoking both targets at once: each answer is its target's (no kept
    connection of the front crosses containers), each invocation captured once with it."""
    expected = {
        t: invoke(emulator, direct, ROWS, TargetContainerHostname=t)[0]
        for t in ("preprocess", "xgboost")
    }
    assert expected["preprocess"] != expected["xgboost"]
    calls = [(f"race-{k}", ("preprocess", "xgboost")[k % 2]) for k in range(24)]

    def call(item: tuple[str, str]) -> tuple[str, str]:
        inference_id, target = item
        got, _ = invoke(
            emulator, direct, ROWS, TargetContainerHostname=target, InferenceId=inference_id
        )
        return target, got

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(call, calls))
    assert all(got == expected[target] for target, got in answers)
    records = [
        r
        for r in emulator.captures(direct)
        if r["eventMetadata"].get("inferenceId", "")[:5] == "race-"
    ]
    by_id = {r["eventMetadata"]["inferenceId"]: r for r in records}
    assert len(records) == len(by_id) == len(calls)
    for inference_id, target in calls:
        assert by_id[inference_id]["captureData"]["endpointOutput"]["data"] == expected[target]
    _check_capture_files(emulator, direct)


def _check_capture_files(emulator: Any, endpoint: str) -> None:
    s3 = emulator.client("s3")
    listed = s3.list_objects_v2(Bucket="multi-container", Prefix=f"capture/{endpoint}/AllTraffic/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert keys
    for key in keys:
        body = s3.get_object(Bucket="multi-container", Key=key)["Body"].read()
        assert list(check_lines(body, key)) == []


def test_target_container_hostname_errors(emulator: Any, serial: str, direct: str) -> None:
    runtime = emulator.client("sagemaker-runtime")

    def call(endpoint: str, **kwargs: Any) -> Any:
        return lambda: runtime.invoke_endpoint(
            EndpointName=endpoint, Body=ROWS, ContentType="text/csv", **kwargs
        )

    missing = error_of(call(direct))
    assert missing["Code"] == "ValidationError"
    assert "configured for direct invocation" in missing["Message"]
    unknown = error_of(call(direct, TargetContainerHostname="nope"))
    assert unknown["Code"] == "ValidationError"
    assert "TargetContainerHostname nope does not exist" in unknown["Message"]
    on_serial = error_of(call(serial, TargetContainerHostname="container-1"))
    assert on_serial["Code"] == "ValidationError"
    assert "not configured for direct invocation" in on_serial["Message"]


def test_an_error_in_a_container_names_it(emulator: Any, serial: str, direct: str) -> None:
    runtime = emulator.client("sagemaker-runtime")
    # the preprocessing script refuses JSON: the first container of the pipeline fails
    error = error_of(
        lambda: runtime.invoke_endpoint(
            EndpointName=serial, Body="[1]", ContentType="application/json"
        )
    )
    assert error["Code"] == "ModelError"
    assert "Received server error (500) from container-1 with message" in error["Message"]
    # a container named by TargetContainerHostname is named in the error
    error = error_of(
        lambda: runtime.invoke_endpoint(
            EndpointName=direct,
            Body="a,b",
            ContentType="text/csv",
            TargetContainerHostname="xgboost",
        )
    )
    assert error["Code"] == "ModelError"
    assert "from xgboost with message" in error["Message"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {
                "Containers": [
                    {"Image": XGBOOST_IMAGE, "ContainerHostname": "a"},
                    {"Image": XGBOOST_IMAGE, "ContainerHostname": "a"},
                ]
            },
            "ContainerHostname a is used by more than one container",
        ),
        (
            {
                "Containers": [
                    {"Image": XGBOOST_IMAGE, "ContainerHostname": "a"},
                    {"Image": XGBOOST_IMAGE},
                ]
            },
            "ContainerHostname must be specified for every container",
        ),
        (
            {
                "PrimaryContainer": {"Image": XGBOOST_IMAGE},
                "InferenceExecutionConfig": {"Mode": "Direct"},
            },
            "needs a model with more than one container",
        ),
        (
            {"Containers": [{"Image": XGBOOST_IMAGE, "Mode": "MultiModel"}] * 2},
            "More than one container in MultiModel mode is not supported with inference pipeline.",
        ),
    ],
)
def test_create_model_refusals(emulator: Any, params: dict[str, Any], message: str) -> None:
    sm = emulator.client("sagemaker")
    error = error_of(
        lambda: sm.create_model(ModelName=unique("bad"), ExecutionRoleArn=ROLE, **params)
    )
    assert error["Code"] == "ValidationException"
    assert message in error["Message"]


def test_sixteen_containers_are_refused_by_the_model_shape(emulator: Any) -> None:
    sm = emulator.client("sagemaker")
    many = [{"Image": XGBOOST_IMAGE}] * 16
    # botocore validates the request before it is sent: the emulator validates it too
    client = emulator.client("sagemaker", config=_unvalidated())
    error = error_of(
        lambda: client.create_model(
            ModelName=unique("many"), ExecutionRoleArn=ROLE, Containers=many
        )
    )
    assert error["Code"] == "ValidationException"
    assert "15" in error["Message"]
    assert sm is not None


def _unvalidated() -> Any:
    from botocore.config import Config

    return Config(parameter_validation=False)


def test_cli_invokes_a_direct_container(emulator: Any, direct: str, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    body = tmp_path / "rows.csv"
    body.write_text(ROWS)
    env = {**os.environ, **emulator.env, "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "awscli",
            "sagemaker-runtime",
            "invoke-endpoint",
            "--endpoint-name",
            direct,
            "--body",
            f"fileb://{body}",
            "--content-type",
            "text/csv",
            "--accept",
            "text/csv",
            "--target-container-hostname",
            "xgboost",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [float(x) for x in out.read_text().split()] == [0.0, 2.0]
    assert json.loads(done.stdout)["InvokedProductionVariant"] == "AllTraffic"


def servers_of(emulator: Any, endpoint: str) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(emulator.proc.pid).children():
        try:
            if (
                child.environ().get("SMLOCAL_ENDPOINT_NAME") == endpoint
                and child.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def marked(endpoint: str) -> set[int]:
    """Every live process on the machine carrying the endpoint's mark, whoever its parent."""
    found = set()
    for proc in psutil.process_iter():
        try:
            if (
                proc.environ().get("SMLOCAL_ENDPOINT_NAME") == endpoint
                and proc.status() != psutil.STATUS_ZOMBIE
            ):
                found.add(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_a_dead_container_gets_its_instance_replaced(emulator: Any, models: dict[str, str]) -> None:
    name = deploy(emulator, unique("heal"), {"Containers": containers(models)}, capture=False)
    before = servers_of(emulator, name)
    assert len(before) == 3  # two containers and the front
    [xgb] = [p for p in before if "sagemaker-xgboost" in p.environ().get("SMLOCAL_IMAGE", "")]
    os.kill(xgb.pid, signal.SIGKILL)
    deadline = time.monotonic() + 300
    while True:
        try:
            got, _ = invoke(emulator, name, ROWS)
            now = servers_of(emulator, name)
            if {p.pid for p in now}.isdisjoint(p.pid for p in before) and len(now) == 3:
                break
        except ClientError:
            pass
        assert time.monotonic() < deadline, "the instance was not replaced"
        time.sleep(0.5)
    assert len(got.split()) == 2
    described = emulator.client("sagemaker").describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "InService"


def test_captures_survive_a_killed_front_each_once(emulator: Any, models: dict[str, str]) -> None:
    """kill -9 of an instance's front (its capture process) loses no accepted record and
    duplicates none: the spooled records reach S3 from the instance that replaces it."""
    name = deploy(emulator, unique("front"), {"Containers": containers(models)})
    ids = [f"id-{k}" for k in range(8)]
    for inference_id in ids[:4]:
        invoke(emulator, name, ROWS, InferenceId=inference_id)
    before = servers_of(emulator, name)
    [front] = [p for p in before if "SMLOCAL_PIPELINE" in p.environ()]
    os.kill(front.pid, signal.SIGKILL)
    deadline = time.monotonic() + 300
    while True:  # until the instance is replaced
        now = servers_of(emulator, name)
        if {p.pid for p in now}.isdisjoint(p.pid for p in before) and len(now) == 3:
            break
        assert time.monotonic() < deadline, "the instance was not replaced"
        time.sleep(0.5)
    for inference_id in ids[4:]:
        while True:
            try:
                invoke(emulator, name, ROWS, InferenceId=inference_id)
                break
            except ClientError:  # until the new instance is healthy
                assert time.monotonic() < deadline, "the new instance never answered"
                time.sleep(0.5)
    records = emulator.captures(name)
    got = sorted(r["eventMetadata"].get("inferenceId", "") for r in records)
    assert got == ids


@pytest.mark.parametrize("action", ["delete", "update"])
def test_deleting_an_endpoint_mid_pipeline_drains_it_and_leaves_nothing_running(
    emulator: Any, models: dict[str, str], action: str
) -> None:
    """DeleteEndpoint (or UpdateEndpoint to one container) while an invocation waits in the
    first container: the front drains it (its containers still up), then every process of
    the old instance ends."""
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    slow_script = PREPROCESS.replace(
        "def predict_fn(data, model):\n",
        "def predict_fn(data, model):\n    import time\n\n    time.sleep(8 if data[0][0] > 100 else 0)\n",
    )
    assert slow_script != PREPROCESS
    scaler = StandardScaler().fit(load_iris(return_X_y=True)[0])
    emulator.client("s3").put_object(
        Bucket="multi-container", Key="slow/model.tar.gz", Body=sklearn_archive(scaler, slow_script)
    )
    parts = containers(models)
    parts[0]["ModelDataUrl"] = "s3://multi-container/slow/model.tar.gz"
    name = deploy(emulator, unique("drain"), {"Containers": parts}, capture=False)
    old = marked(name)
    assert len(old) >= 3
    sm = emulator.client("sagemaker")
    if action == "update":
        single = f"{name}-one"
        sm.create_model(ModelName=single, ExecutionRoleArn=ROLE, PrimaryContainer=parts[1])
        variant = {"VariantName": "AllTraffic", "ModelName": single, "InitialInstanceCount": 1}
        sm.create_endpoint_config(EndpointConfigName=single, ProductionVariants=[variant])
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(invoke, emulator, name, "500,3.5,1.4,0.2\n")
        time.sleep(2)  # the request is in the first container's predict_fn
        assert not pending.done()
        if action == "update":
            sm.update_endpoint(EndpointName=name, EndpointConfigName=single)
        else:
            sm.delete_endpoint(EndpointName=name)
        got, _ = pending.result(timeout=120)
    assert len(got.split()) == 1
    deadline = time.monotonic() + 180
    while old & marked(name):
        assert time.monotonic() < deadline, f"left running: {old & marked(name)}"
        time.sleep(0.5)
    if action == "update":
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 600}
        )
        assert len(servers_of(emulator, name)) == 1
        sm.delete_endpoint(EndpointName=name)


def test_a_container_that_cannot_load_fails_the_endpoint_naming_it(
    emulator: Any, models: dict[str, str]
) -> None:
    sm = emulator.client("sagemaker")
    name = unique("broken")
    parts = containers(models)
    junk = io.BytesIO()
    with tarfile.open(fileobj=junk, mode="w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"junk"))
    emulator.client("s3").put_object(
        Bucket="multi-container", Key="junk.tar.gz", Body=junk.getvalue()
    )
    parts[1]["ModelDataUrl"] = "s3://multi-container/junk.tar.gz"  # XGBoost cannot load it
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, Containers=parts)
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1}
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_for_status(sm, name, ("InService", "Failed"), timeout=240)
    assert described["EndpointStatus"] == "Failed"
    assert "did not pass the ping health check" in described["FailureReason"]
    assert "container xgboost" in described["FailureReason"]
    assert servers_of(emulator, name) == []


def test_update_from_one_container_to_a_direct_pair_and_back(
    emulator: Any, models: dict[str, str]
) -> None:
    sm = emulator.client("sagemaker")
    single = {"PrimaryContainer": {"Image": XGBOOST_IMAGE, "ModelDataUrl": models["xgb"]}}
    name = deploy(emulator, unique("update"), single, capture=False)
    pair = f"{name}-pair"
    sm.create_model(
        ModelName=pair,
        ExecutionRoleArn=ROLE,
        Containers=containers(models),
        InferenceExecutionConfig={"Mode": "Direct"},
    )
    variant = {"VariantName": "AllTraffic", "ModelName": pair, "InitialInstanceCount": 1}
    sm.create_endpoint_config(EndpointConfigName=pair, ProductionVariants=[variant])
    waiter = {"Delay": 0.5, "MaxAttempts": 600}
    sm.update_endpoint(EndpointName=name, EndpointConfigName=pair)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=waiter)
    got, _ = invoke(emulator, name, ROWS, TargetContainerHostname="xgboost")
    assert [float(x) for x in got.split()] == [0.0, 2.0]

    sm.update_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=waiter)
    got, _ = invoke(emulator, name, ROWS)
    assert [float(x) for x in got.split()] == [0.0, 2.0]
    runtime = emulator.client("sagemaker-runtime")
    error = error_of(
        lambda: runtime.invoke_endpoint(
            EndpointName=name, Body=ROWS, ContentType="text/csv", TargetContainerHostname="xgboost"
        )
    )
    assert error["Code"] == "ValidationError"


def test_a_pipeline_comes_back_after_smlocal_restarts(emulator: Any, serial: str) -> None:
    """Last but one in the file: it restarts the module's emulator."""
    before, _ = invoke(emulator, serial, ROWS)
    emulator.restart()
    deadline = time.monotonic() + 240
    while True:
        try:
            after, _ = invoke(emulator, serial, ROWS)
            break
        except ClientError:  # 503 while its model servers come back
            assert time.monotonic() < deadline, "the pipeline did not come back"
            time.sleep(0.5)
    assert after == before
    assert len(servers_of(emulator, serial)) == 3


def test_killing_smlocal_leaves_no_server_of_the_pipeline_running(
    emulator: Any, serial: str
) -> None:
    """After the restart test: kill -9 of the emulator stops the front and every container
    (they watch their parent); the next emulator brings the pipeline back with no orphans."""
    invoke(emulator, serial, ROWS)
    before = {p.pid for p in servers_of(emulator, serial)}
    assert len(before) == 3
    assert before <= marked(serial)
    emulator.proc.kill()
    emulator.proc.wait(30)
    deadline = time.monotonic() + 120
    while marked(serial):
        assert time.monotonic() < deadline, f"left running: {marked(serial)}"
        time.sleep(0.5)
    emulator.restart()
    deadline = time.monotonic() + 240
    while True:
        try:
            invoke(emulator, serial, ROWS)
            break
        except ClientError:
            assert time.monotonic() < deadline, "the pipeline did not come back"
            time.sleep(0.5)
    servers = servers_of(emulator, serial)
    assert len(servers) == 3
    workers = {w.pid for p in servers for w in p.children(recursive=True)}
    assert marked(serial) == {p.pid for p in servers} | workers  # none but the new instance's
