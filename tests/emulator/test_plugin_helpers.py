"""The pytest plugin's helpers for test writers (issue 11, section 4): captures(), reset(),
and the SDK session fixture under `-W error`."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import textwrap
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
)

from tests.support import ROLE, SMLOCAL, deploy, refused_port

ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
ROWS = ["5.1,3.5,1.4,0.2", "6.2,2.9,4.3,1.3", "7.7,3.0,6.1,2.3"]
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": "s3://helpers/capture",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
}
MODEL_DATA = "s3://helpers/model/model.tar.gz"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory, iris_tar):
    """An emulator of this module's own (reset() empties it), spools rolling at SageMaker's
    60 s, so only a flush puts the records in S3."""
    from smlocal.emulator.pytest_plugin import SmlocalEmulator

    started = SmlocalEmulator(
        tmp_path_factory.mktemp("helpers"), {"SMLOCAL_CAPTURE_ROLL_SECONDS": "60"}
    ).start()
    yield started
    started.stop()


def upload_model(emulator, iris_tar: Path) -> None:
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="helpers")
    s3.upload_file(str(iris_tar), "helpers", "model/model.tar.gz")


def invoke(emulator, endpoint: str) -> list[str]:
    runtime = emulator.client("sagemaker-runtime")
    return [
        runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=row.encode())[
            "Body"
        ]
        .read()
        .decode()
        for row in ROWS
    ]


def model_servers(pid: int) -> list[int]:
    """The emulator's child processes that are model servers (`smlocal serve`)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += (task / "children").read_text().split()
    found = []
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"serve" in command:
            found.append(int(child))
    return found


def test_captures_flushes_and_returns_every_record_of_the_endpoint(emulator, iris_tar) -> None:
    upload_model(emulator, iris_tar)
    sm = emulator.client("sagemaker")
    variants = [{"name": v, "model_data": MODEL_DATA, "weight": 1.0} for v in ("A", "B")]
    deploy(sm, "captured", variants, capture=CAPTURE)
    # a neighbour whose name starts with the same letters: its records are not ours
    deploy(sm, "captured-too", [{"name": "A", "model_data": MODEL_DATA}], capture=CAPTURE)
    answers = invoke(emulator, "captured")
    invoke(emulator, "captured-too")

    records = emulator.captures("captured")

    # inferenceTime has whole seconds: records of one second come file by file, so the
    # two variants' records may interleave in any order within it
    pairs = sorted(
        (r["captureData"]["endpointInput"]["data"], r["captureData"]["endpointOutput"]["data"])
        for r in records
    )
    assert pairs == sorted(zip(ROWS, answers, strict=True))
    assert {r["captureData"]["endpointInput"]["encoding"] for r in records} == {"CSV"}
    times = [r["eventMetadata"]["inferenceTime"] for r in records]
    assert times == sorted(times)
    assert len(emulator.captures("captured-too")) == len(ROWS)
    emulator.reset()


def test_captures_refuses_unknown_endpoints_and_endpoints_without_capture(
    emulator, iris_tar
) -> None:
    upload_model(emulator, iris_tar)
    sm = emulator.client("sagemaker")
    with pytest.raises(ClientError) as caught:
        emulator.captures("nowhere")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "Could not find endpoint" in caught.value.response["Error"]["Message"]
    deploy(sm, "uncaptured", [{"name": "A", "model_data": MODEL_DATA}])
    with pytest.raises(ValueError, match="endpoint uncaptured has no DataCaptureConfig"):
        emulator.captures("uncaptured")
    emulator.reset()


def monitored(emulator, endpoint: str) -> None:
    """A data-quality job definition and an hourly schedule watching the endpoint."""
    sm = emulator.client("sagemaker")
    baseline = {
        "ConstraintsResource": {"S3Uri": "s3://helpers/baseline/constraints.json"},
        "StatisticsResource": {"S3Uri": "s3://helpers/baseline/statistics.json"},
    }
    endpoint_input = {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input/endpoint"}
    output = {"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://helpers/reports", "LocalPath": "/opt/ml/processing/output"}}]}  # fmt: skip
    resources = {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}}  # fmt: skip
    sm.create_data_quality_job_definition(
        JobDefinitionName="helpers-dq",
        DataQualityBaselineConfig=baseline,
        DataQualityAppSpecification={"ImageUri": ANALYZER},
        DataQualityJobInput={"EndpointInput": endpoint_input},
        DataQualityJobOutputConfig=output,
        JobResources=resources,
        RoleArn=ROLE,
    )
    sm.create_monitoring_schedule(
        MonitoringScheduleName="helpers-hourly",
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinitionName": "helpers-dq",
            "MonitoringType": "DataQuality",
        },
    )


def everything(emulator) -> dict[str, list]:
    sm, s3, logs = (emulator.client(s) for s in ("sagemaker", "s3", "logs"))
    return {
        "endpoints": sm.list_endpoints()["Endpoints"],
        "configs": sm.list_endpoint_configs()["EndpointConfigs"],
        "models": sm.list_models()["Models"],
        "schedules": sm.list_monitoring_schedules()["MonitoringScheduleSummaries"],
        "definitions": sm.list_data_quality_job_definitions()["JobDefinitionSummaries"],
        "groups": sm.list_model_package_groups()["ModelPackageGroupSummaryList"],
        "packages": sm.list_model_packages(ModelPackageType="Both")["ModelPackageSummaryList"],
        "buckets": s3.list_buckets()["Buckets"],
        "log groups": logs.describe_log_groups()["logGroups"],
    }


def test_reset_forgets_everything_and_the_emulator_serves_on(emulator, iris_tar) -> None:
    upload_model(emulator, iris_tar)
    sm = emulator.client("sagemaker")
    deploy(sm, "kept", [{"name": "A", "model_data": MODEL_DATA, "count": 2}], capture=CAPTURE)
    invoke(emulator, "kept")
    monitored(emulator, "kept")
    sm.create_model_package_group(ModelPackageGroupName="helpers-group")
    sm.create_model_package(
        ModelPackageGroupName="helpers-group",
        InferenceSpecification={
            "Containers": [{"Image": ANALYZER, "ModelDataUrl": MODEL_DATA}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )
    before = everything(emulator)
    assert all(before[k] for k in before if k != "log groups"), before
    assert model_servers(emulator.proc.pid)

    emulator.reset()

    assert everything(emulator) == {key: [] for key in before}
    assert model_servers(emulator.proc.pid) == []
    # the same names again, on a clean account
    upload_model(emulator, iris_tar)
    deploy(sm, "kept", [{"name": "A", "model_data": MODEL_DATA}], capture=CAPTURE)
    invoke(emulator, "kept")
    assert len(emulator.captures("kept")) == len(ROWS)
    emulator.reset()


def test_reset_stops_a_running_processing_job(emulator) -> None:
    from tests.emulator.jobs.test_monitoring_jobs import BASELINE_CSV, baseline_request

    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="mon")
    s3.put_object(Bucket="mon", Key="data/baseline.csv", Body=BASELINE_CSV.encode())
    s3.put_object(Bucket="mon", Key="code/slow_post.py",
                  Body=b"import time\n\ndef postprocess_handler():\n    time.sleep(600)\n")  # fmt: skip
    request = baseline_request("slow-at-reset", post_analytics_processor_script="/opt/ml/processing/input/post/slow_post.py")  # fmt: skip
    request["ProcessingInputs"].append({"InputName": "post_analytics_processor_script_input", "S3Input": {
        "S3Uri": "s3://mon/code/slow_post.py", "LocalPath": "/opt/ml/processing/input/post",
        "S3DataType": "S3Prefix", "S3InputMode": "File"}})  # fmt: skip
    sm = emulator.client("sagemaker")
    sm.create_processing_job(**request)
    assert (
        sm.describe_processing_job(ProcessingJobName="slow-at-reset")["ProcessingJobStatus"]
        == "InProgress"
    )

    emulator.reset()

    # SageMaker cannot delete a job: it stays listed, stopped
    job = sm.describe_processing_job(ProcessingJobName="slow-at-reset")
    assert job["ProcessingJobStatus"] == "Stopped"
    assert emulator.client("s3").list_buckets()["Buckets"] == []


INNER_TEST = """


def test_the_session_fixture(smlocal_sagemaker_session, smlocal):
    import sagemaker

    assert smlocal_sagemaker_session.default_bucket() == "smlocal-sagemaker"
    assert sagemaker.__version__
    print("SMLOCAL-OUTCOME: session ready")
"""


def test_the_sdk_session_fixture_sets_up_under_w_error(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_inner.py").write_text(textwrap.dedent(INNER_TEST))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "SMLOCAL_", "SAGEMAKER_", "AWS_"))
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-W", "error",
         "-p", "no:randomly", "-p", "no:cacheprovider"],
        check=False, cwd=project, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SMLOCAL-OUTCOME: session ready\n" in done.stdout, done.stdout


def spooled_records(emulator) -> int:
    """Capture records waiting in the emulator's spools on disk."""
    found = [p for p in emulator.data_dir.rglob("spool/*/*") if p.name != "target.json"]
    return sum(len(p.read_bytes().splitlines()) for p in found)


def test_a_flush_into_a_deleted_bucket_says_why_and_keeps_the_records(emulator, iris_tar) -> None:
    upload_model(emulator, iris_tar)
    s3, sm = emulator.client("s3"), emulator.client("sagemaker")
    s3.create_bucket(Bucket="helpers-gone")
    capture = {**CAPTURE, "DestinationS3Uri": "s3://helpers-gone/capture"}
    deploy(sm, "orphaned", [{"name": "A", "model_data": MODEL_DATA}], capture=capture)
    invoke(emulator, "orphaned")
    s3.delete_bucket(Bucket="helpers-gone")  # still empty: the spool rolls at 60 s

    with pytest.raises(ClientError) as caught:
        emulator.flush_captures("orphaned")

    error = caught.value.response["Error"]
    assert error["Code"] == "InternalFailure"
    assert error["Message"] == (
        "Capture flush of variant A failed: S3 refused the capture upload to "
        "s3://helpers-gone/capture/orphaned/A/; 1 capture file(s) stay in the spool and are "
        "retried in the background: NoSuchBucket: An error occurred "
        "(NoSuchBucket) when calling the PutObject operation: The specified bucket does not exist"
    )
    with pytest.raises(ClientError, match="NoSuchBucket"):
        emulator.captures("orphaned")
    done = subprocess.run(
        [*SMLOCAL, "captures", "flush", "orphaned", "--url", emulator.url],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (
        1,
        f"smlocal captures flush: InternalFailure: {error['Message']}\n",
    )
    s3.create_bucket(Bucket="helpers-gone")  # nothing was lost meanwhile
    assert len(emulator.captures("orphaned")) == len(ROWS)

    # stopped while S3 refuses: the model server keeps its records on disk, for a next start
    invoke(emulator, "orphaned")
    for stored in s3.list_objects_v2(Bucket="helpers-gone")["Contents"]:
        s3.delete_object(Bucket="helpers-gone", Key=stored["Key"])
    s3.delete_bucket(Bucket="helpers-gone")
    emulator.reset()
    assert spooled_records(emulator) == len(ROWS)


# -- an emulator that does not answer, or answers badly -------------------------------------


@contextmanager
def raw_server(answer: bytes) -> Iterator[str]:
    """http://127.0.0.1:PORT of a real server that answers each request's head with `answer`
    as it is (a cut-short body, or nothing at all) and closes the connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stopped = threading.Event()

    def serve() -> None:
        while not stopped.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head and (chunk := conn.recv(65536)):
                    head += chunk
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopped.set()
        thread.join(10)
        listener.close()


def unstarted(tmp_path: Path, url: str):
    from smlocal.emulator.pytest_plugin import SmlocalEmulator

    emulator = SmlocalEmulator(tmp_path / "data")
    emulator.url = url
    return emulator


def test_helpers_name_the_url_when_nothing_answers(tmp_path: Path) -> None:
    """flush_captures() raises what captures() and reset() raise (boto3's calls do), with the
    URL, not urllib's bare `<urlopen error [Errno 111] Connection refused>`."""
    with refused_port() as port:  # nothing listens on it all along
        base = f"http://127.0.0.1:{port}"
        down = unstarted(tmp_path, base)
        url = f"{base}/_smlocal/endpoints/a%2Fb/capture/flush"
        with pytest.raises(EndpointConnectionError) as caught:
            down.flush_captures("a/b")
        assert str(caught.value) == f'Could not connect to the endpoint URL: "{url}"'
        for helper in (lambda: down.captures("a/b"), lambda: down.reset(5)):
            with pytest.raises(EndpointConnectionError, match=f'"{base}/'):
                helper()


def test_a_flush_the_emulator_drops_without_an_answer_names_the_url(tmp_path: Path) -> None:
    with raw_server(b"") as base, pytest.raises(ConnectionClosedError) as caught:
        unstarted(tmp_path, base).flush_captures("x")
    assert f'"{base}/_smlocal/endpoints/x/capture/flush"' in str(caught.value)


def test_an_error_answer_cut_short_is_still_a_client_error(tmp_path: Path) -> None:
    """The body is read (and the answer closed) even when it stops before its Content-Length:
    ClientError with the code of the header, the HTTP reason as its message."""
    answer = (
        b"HTTP/1.1 404 Not Found\r\nx-amzn-ErrorType: ValidationException\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        b'{"Message": "Could not'
    )
    with raw_server(answer) as base, pytest.raises(ClientError) as caught:
        unstarted(tmp_path, base).flush_captures("x")
    assert caught.value.response["Error"] == {"Code": "ValidationException", "Message": "Not Found"}


def test_an_error_answer_is_read_and_closed(emulator) -> None:
    """No ResourceWarning (the suite's own filter hides unclosed sockets: look here)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(ClientError) as caught:
            emulator.flush_captures("nowhere-at-all")
        error = caught.value.response["Error"]
        del caught
        gc.collect()
    assert error["Code"] == "ValidationException"
    assert "Could not find endpoint" in error["Message"]
    assert [w for w in seen if issubclass(w.category, ResourceWarning)] == []
