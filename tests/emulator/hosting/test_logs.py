"""A model server's output lands in CloudWatch Logs where ModelError points: group
/aws/sagemaker/Endpoints/{endpoint}, one stream per instance, `{variant}/i-{17 hex}`."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support import SKLEARN_IMAGE, deploy, unique

FAILING_SCRIPT = b"""
import os
import joblib
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
def predict_fn(data, model):
    if data[0][0] > 100:
        raise ValueError("smlocal-marker: the model refuses %s" % data[0][0])
    return model.predict(data)
"""
# two rows: the scikit-learn container squeezes one CSV row to 1-D, which predict refuses
TWO_ROWS = b"500,3.5,1.4,0.2\n5.1,3.5,1.4,0.2"
STREAM = re.compile(r"^AllTraffic/i-[0-9a-f]{17}$")


def failing_model(emulator, tmp_path: Path) -> str:
    """A scikit-learn model whose predict_fn raises for a first value above 100; its name."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=300).fit(features, labels), tmp_path / "model.joblib")
    model_tar, code_tar = io.BytesIO(), io.BytesIO()
    with tarfile.open(fileobj=model_tar, mode="w:gz") as tar:
        tar.add(tmp_path / "model.joblib", arcname="model.joblib")
    with tarfile.open(fileobj=code_tar, mode="w:gz") as tar:
        info = tarfile.TarInfo("failing.py")
        info.size = len(FAILING_SCRIPT)
        tar.addfile(info, io.BytesIO(FAILING_SCRIPT))
    s3 = emulator.client("s3")
    bucket = unique("failing").lower()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="model.tar.gz", Body=model_tar.getvalue())
    s3.put_object(Bucket=bucket, Key="sourcedir.tar.gz", Body=code_tar.getvalue())
    name = unique("failing")
    env = {
        "SAGEMAKER_PROGRAM": "failing.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/sourcedir.tar.gz",
    }
    variant = {
        "name": "AllTraffic",
        "model_data": f"s3://{bucket}/model.tar.gz",
        "image": SKLEARN_IMAGE,
        "env": env,
    }
    assert deploy(emulator.client("sagemaker"), name, [variant])["EndpointStatus"] == "InService"
    return name


def events_until(logs, group: str, text: str, timeout: float = 10) -> list[dict]:
    """filter_log_events on the group until some event holds the text."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            events = []
        if any(text in e["message"] for e in events):
            return events
        assert time.monotonic() < deadline, f"no event with {text!r} in {group}: {events}"
        time.sleep(0.1)


def test_a_model_traceback_is_in_the_log_group_the_model_error_names(smlocal, tmp_path) -> None:
    name = failing_model(smlocal, tmp_path)
    runtime = smlocal.client("sagemaker-runtime", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=TWO_ROWS)
    arn = caught.value.response["LogStreamArn"]
    group = arn.split(":log-group:")[1]
    assert group == f"/aws/sagemaker/Endpoints/{name}"
    logs = smlocal.client("logs")
    events = events_until(logs, group, "smlocal-marker")
    text = "\n".join(e["message"] for e in events)
    assert "Traceback (most recent call last):" in text
    assert "ValueError: smlocal-marker: the model refuses 500.0" in text
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams if STREAM.match(s["logStreamName"])] == [
        s["logStreamName"] for s in streams
    ]
    assert len(streams) == 1
    assert {e["logStreamName"] for e in events} == {streams[0]["logStreamName"]}
    # the file is kept too, one per instance as the streams
    log_file = smlocal.data_dir / "logs" / "endpoints" / name / f"{streams[0]['logStreamName']}.log"
    assert "smlocal-marker" in log_file.read_text()


def test_an_update_writes_new_streams_and_a_delete_sends_the_tail(smlocal, tmp_path) -> None:
    name = failing_model(smlocal, tmp_path)
    sm, logs = smlocal.client("sagemaker"), smlocal.client("logs")
    group = f"/aws/sagemaker/Endpoints/{name}"
    events_until(logs, group, "Booting worker")  # gunicorn's start-up lines arrive
    first = [
        s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]
    ]
    config = sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]
    variants = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
    sm.create_endpoint_config(EndpointConfigName=f"{name}-2", ProductionVariants=variants)
    sm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-2")
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(
        EndpointName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    names = [s["logStreamName"] for s in streams]
    assert len(names) == 2
    assert set(first) < set(names)
    assert all(STREAM.match(n) for n in names)
    for stream in names:  # each instance's shutdown lines were sent before the delete ended
        events = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
        assert any("Shutting down" in e["message"] for e in events), (stream, events)


@pytest.mark.skipif(
    not (Path(sys.executable).parent / "aws").exists(), reason="the AWS CLI is not installed"
)
def test_the_aws_cli_reads_the_endpoint_log(smlocal, tmp_path) -> None:
    """The venv's CLI is version 1, which has no `logs tail` (a version 2 command that reads
    with FilterLogEvents, as this does)."""
    name = failing_model(smlocal, tmp_path)
    runtime = smlocal.client("sagemaker-runtime", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError):
        runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=TWO_ROWS)
    group = f"/aws/sagemaker/Endpoints/{name}"
    events_until(smlocal.client("logs"), group, "smlocal-marker")
    command = ["logs", "filter-log-events", "--log-group-name", group, "--output", "json"]
    out = subprocess.run(
        [str(Path(sys.executable).parent / "aws"), *command],
        env={**os.environ, **smlocal.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    events = json.loads(out)["events"]
    assert any("ValueError: smlocal-marker" in e["message"] for e in events)
    assert all(STREAM.match(e["logStreamName"]) for e in events)


def bare_sklearn_endpoint(emulator, tmp_path: Path) -> dict:  # type: ignore[no-untyped-def]
    """model.joblib alone (no inference.py, no SAGEMAKER_PROGRAM) on the scikit-learn image."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=300).fit(features, labels), tmp_path / "model.joblib")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        tar.add(tmp_path / "model.joblib", arcname="model.joblib")
    bucket = unique("bare").lower()
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="model.tar.gz", Body=archive.getvalue())
    variant = {
        "name": "AllTraffic",
        "model_data": f"s3://{bucket}/model.tar.gz",
        "image": SKLEARN_IMAGE,
    }
    return deploy(emulator.client("sagemaker"), unique("bare"), [variant])


def test_a_scikit_learn_model_without_model_fn_fails_its_ping_as_in_sagemaker(
    smlocal, tmp_path
) -> None:
    """No SAGEMAKER_PROGRAM: the container's lazy app raises on GET /ping, so creation fails."""
    described = bare_sklearn_endpoint(smlocal, tmp_path)
    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"] == (
        "The primary container for production variant AllTraffic did not pass the ping "
        "health check. Please check CloudWatch logs for this endpoint."
    )
    group = f"/aws/sagemaker/Endpoints/{described['EndpointName']}"
    events = events_until(smlocal.client("logs"), group, "Error handling request")
    text = "\n".join(e["message"] for e in events)
    assert "Encountered an unexpected error." in text
    assert "AttributeError: 'NoneType' object has no attribute 'startswith'" in text


def test_a_lenient_emulator_loads_model_joblib_itself(smlocal_factory, tmp_path) -> None:
    emulator = smlocal_factory(args=("--lenient-containers",))
    described = bare_sklearn_endpoint(emulator, tmp_path)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    runtime = emulator.client("sagemaker-runtime", config=Config(retries={"max_attempts": 1}))
    answer = runtime.invoke_endpoint(
        EndpointName=described["EndpointName"], ContentType="text/csv", Body=TWO_ROWS
    )
    assert answer["Body"].read() == b"[1, 0]"
