"""Transform jobs through boto3 against a real emulator: the built-in XGBoost container in
batch mode, inputs and outputs in S3, every data option, the capture manifests."""

from __future__ import annotations

import gzip
import io
import json
import re
import time
from datetime import UTC

import pytest
import xgboost as xgb
from botocore.exceptions import ClientError
from sklearn.datasets import load_iris

from smlocal.model_server.predictors.xgboost_model import load_booster
from tests.support import ROLE, SKLEARN_IMAGE, SKLEARN_SCRIPT_ENV, XGBOOST_IMAGE, unique

BUCKET = "transform-data"
END = ("Completed", "Failed", "Stopped")
FEATURES, LABELS = load_iris(return_X_y=True)
ROWS = [",".join(str(v) for v in row) for row in FEATURES]


@pytest.fixture(scope="module")
def sm(smlocal):
    return smlocal.client("sagemaker")


@pytest.fixture(scope="module")
def s3(smlocal):
    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="iris/part-a.csv", Body="\n".join(ROWS[:100]) + "\n")
    s3.put_object(Bucket=BUCKET, Key="iris/part-b.csv", Body="\n".join(ROWS[100:]))
    return s3


@pytest.fixture(scope="module")
def model(sm, iris_model_data, iris_tar) -> str:
    name = unique("iris-batch")
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": iris_model_data},
    )
    return name


@pytest.fixture(scope="module")
def expected(iris_tar, tmp_path_factory) -> list[str]:
    """What the iris model predicts for each row, as the container prints it."""
    import tarfile

    folder = tmp_path_factory.mktemp("iris-model")
    with tarfile.open(iris_tar) as tar:
        tar.extractall(folder, filter="data")
    booster = load_booster(folder / "xgboost-model")
    return [str(p) for p in booster.predict(xgb.DMatrix(FEATURES)).tolist()]


def run(sm, model: str, *, source: str = f"s3://{BUCKET}/iris", wait: bool = True,
        data_type: str = "S3Prefix", content_type: str | None = "text/csv",
        split: str | None = "Line", output: dict | None = None, **extra) -> dict:  # fmt: skip
    name = unique("tj")
    transform_input: dict = {"DataSource": {"S3DataSource": {"S3DataType": data_type,
                                                             "S3Uri": source}}}  # fmt: skip
    if content_type:
        transform_input["ContentType"] = content_type
    if split:
        transform_input["SplitType"] = split
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        TransformInput=transform_input,
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{name}", **(output or {})},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        **extra,
    )
    return wait_for(sm, name) if wait else {"TransformJobName": name}


def wait_for(sm, name: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] in END or time.monotonic() > deadline:
            return described
        time.sleep(0.2)


def data_log(smlocal, job: dict) -> list[str]:
    """The lines of the job's data log stream (`{job}/{instance}/data-log`)."""
    logs = smlocal.client("logs")
    group = "/aws/sagemaker/TransformJobs"
    prefix = job["TransformJobName"] + "/"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix)
    names = [s["logStreamName"] for s in streams["logStreams"]]
    [stream] = [n for n in names if n.endswith("/data-log")]
    events = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
    return [e["message"] for e in events]


def out(s3, job: dict, name: str) -> str:
    key = f"out/{job['TransformJobName']}/{name}"
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def test_csv_lines_give_one_prediction_a_line_in_file_out(sm, s3, model, expected) -> None:
    job = run(sm, model, BatchStrategy="MultiRecord", output={"AssembleWith": "Line"})
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert out(s3, job, "part-a.csv.out") == "".join(f"{p}\n" for p in expected[:100])
    assert out(s3, job, "part-b.csv.out") == "".join(f"{p}\n" for p in expected[100:])


# A scikit-learn container script that answers, for each row of a request, how many rows the
# request held (so the tests see how records were packed); with the job's Environment
# ANSWER=accept, the Accept it was sent; with ANSWER=concurrency, the most requests it has
# had in flight at once (each holds on for 0.3 s); with ANSWER=pid, its process id.
COUNTING_SCRIPT = """
import os
import threading
import time

_lock = threading.Lock()
_state = {"now": 0, "most": 0}


def model_fn(model_dir):
    return None


def input_fn(body, content_type):
    text = body if isinstance(body, str) else body.decode()
    return text.splitlines()


def predict_fn(rows, model):
    if os.environ.get("ANSWER") == "concurrency":
        with _lock:
            _state["now"] += 1
            _state["most"] = max(_state["most"], _state["now"])
        time.sleep(0.3)
        with _lock:
            _state["now"] -= 1
    return rows


def output_fn(rows, accept):
    answer = os.environ.get("ANSWER", "count")
    value = {
        "count": len(rows), "accept": accept, "concurrency": _state["most"], "pid": os.getpid()
    }[answer]
    return "".join(f"{value}\\n" for _ in rows)
"""


@pytest.fixture(scope="module")
def counting_model(sm, s3) -> str:
    import tarfile

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        data = COUNTING_SCRIPT.encode()
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    s3.put_object(Bucket=BUCKET, Key="models/counting.tar.gz", Body=archive.getvalue())
    name = unique("counting")
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": f"s3://{BUCKET}/models/counting.tar.gz",
            "Environment": SKLEARN_SCRIPT_ENV,
        },
    )
    return name


def test_single_record_sends_one_row_a_request(sm, s3, smlocal, counting_model) -> None:
    job = run(sm, counting_model, BatchStrategy="SingleRecord", output={"AssembleWith": "Line"})
    assert job["TransformJobStatus"] == "Completed", data_log(smlocal, job)
    assert out(s3, job, "part-a.csv.out") == "1\n" * 100


def test_multi_record_packs_rows_up_to_max_payload(sm, s3, counting_model) -> None:
    job = run(sm, counting_model, BatchStrategy="MultiRecord", MaxPayloadInMB=1)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert out(s3, job, "part-a.csv.out") == "100\n" * 100
    assert job["MaxPayloadInMB"] == 1
    assert job["BatchStrategy"] == "MultiRecord"


def test_multi_record_splits_requests_at_max_payload(sm, s3, counting_model) -> None:
    row = "x" * 1000
    s3.put_object(Bucket=BUCKET, Key="wide/rows.csv", Body="\n".join([row] * 3000))
    job = run(sm, counting_model, source=f"s3://{BUCKET}/wide", BatchStrategy="MultiRecord",
              MaxPayloadInMB=1)  # fmt: skip
    counts = [int(c) for c in out(s3, job, "rows.csv.out").split()]
    per_request = 1024 * 1024 // 1001  # 1000 bytes and a newline each
    assert counts[:per_request] == [per_request] * per_request
    assert len(counts) == 3000
    assert sum(1 for c in counts if c != per_request) == 3000 % per_request


def test_split_none_sends_each_file_whole(sm, s3, counting_model) -> None:
    job = run(sm, counting_model, split=None, BatchStrategy="MultiRecord")
    assert out(s3, job, "part-a.csv.out") == "100\n" * 100
    assert out(s3, job, "part-b.csv.out") == "50\n" * 50


def test_assemble_none_concatenates_the_answers(sm, s3, model, expected) -> None:
    job = run(sm, model, BatchStrategy="SingleRecord", output={"AssembleWith": "None"})
    assert out(s3, job, "part-a.csv.out") == "".join(f"{p}\n" for p in expected[:100])


def test_a_record_over_max_payload_fails_the_job_as_sagemaker_does(sm, s3, smlocal, model) -> None:
    s3.put_object(Bucket=BUCKET, Key="huge/rows.csv", Body="1," * (1024 * 1024))
    job = run(sm, model, source=f"s3://{BUCKET}/huge", MaxPayloadInMB=1)
    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"] == "ClientError: See job logs for more information"
    logs = smlocal.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TransformJobs",
                                        logStreamNamePrefix=job["TransformJobName"] + "/")  # fmt: skip
    [data_log] = [
        s["logStreamName"]
        for s in streams["logStreams"]
        if s["logStreamName"].endswith("/data-log")
    ]
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TransformJobs", logStreamName=data_log
    )
    assert any("Too much data for max payload size" in e["message"] for e in events["events"])


def test_accept_reaches_the_container(sm, s3, model, counting_model) -> None:
    job = run(sm, counting_model, output={"Accept": "application/jsonlines"},
              Environment={"ANSWER": "accept"})  # fmt: skip
    assert out(s3, job, "part-b.csv.out") == "application/jsonlines\n" * 50
    refused = run(sm, model, output={"Accept": "text/html"})
    assert refused["TransformJobStatus"] == "Failed"  # XGBoost answers 406, as it does on AWS


@pytest.mark.parametrize(("concurrent", "most"), [(1, {1}), (4, {2, 3, 4})])
def test_max_concurrent_transforms_requests_are_in_flight_at_once(
    sm, s3, counting_model, concurrent, most
) -> None:
    s3.put_object(Bucket=BUCKET, Key="twelve/rows.csv", Body="\n".join(ROWS[:12]))
    job = run(sm, counting_model, source=f"s3://{BUCKET}/twelve", BatchStrategy="SingleRecord",
              MaxConcurrentTransforms=concurrent, Environment={"ANSWER": "concurrency"})  # fmt: skip
    assert job["TransformJobStatus"] == "Completed"
    assert job["MaxConcurrentTransforms"] == concurrent
    assert max(int(v) for v in out(s3, job, "rows.csv.out").split()) in most


def test_a_manifest_names_the_inputs(sm, s3, model, expected) -> None:
    manifest = [{"prefix": f"s3://{BUCKET}/iris/"}, "part-b.csv"]
    s3.put_object(Bucket=BUCKET, Key="manifests/b.manifest", Body=json.dumps(manifest))
    job = run(sm, model, source=f"s3://{BUCKET}/manifests/b.manifest", data_type="ManifestFile",
              output={"AssembleWith": "Line"})  # fmt: skip
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert out(s3, job, "part-b.csv.out") == "".join(f"{p}\n" for p in expected[100:])


def test_gzip_inputs_are_read_uncompressed(sm, s3, model, expected) -> None:
    s3.put_object(Bucket=BUCKET, Key="gz/rows.csv.gz", Body=gzip.compress("\n".join(ROWS).encode()))
    name = unique("gz")
    sm.create_transform_job(
        TransformJobName=name, ModelName=model,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/gz"}}, "ContentType": "text/csv",
                        "SplitType": "Line", "CompressionType": "Gzip"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{name}"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )  # fmt: skip
    job = wait_for(sm, name)
    assert out(s3, job, "rows.csv.gz.out") == "".join(f"{p}\n" for p in expected)


def test_input_filter_join_and_output_filter(sm, s3, model, expected) -> None:
    with_ids = [f"id{i},{row}" for i, row in enumerate(ROWS)]
    s3.put_object(Bucket=BUCKET, Key="ids/rows.csv", Body="\n".join(with_ids))
    job = run(sm, model, source=f"s3://{BUCKET}/ids", output={"AssembleWith": "Line"},
              DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input",
                              "OutputFilter": "$[0,-1]"})  # fmt: skip
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    lines = out(s3, job, "rows.csv.out").splitlines()
    assert lines == [f"id{i},{p}" for i, p in enumerate(expected)]


def test_join_source_input_keeps_every_input_column(sm, s3, model, expected) -> None:
    job = run(sm, model, output={"AssembleWith": "Line"}, DataProcessing={"JoinSource": "Input"})
    lines = out(s3, job, "part-b.csv.out").splitlines()
    assert lines == [f"{row},{p}" for row, p in zip(ROWS[100:], expected[100:], strict=True)]


def test_json_records_are_joined_under_sagemaker_output(sm, s3, counting_model) -> None:
    records = [{"id": i, "features": [1, 2]} for i in range(3)]
    body = "\n".join(json.dumps(r) for r in records)
    s3.put_object(Bucket=BUCKET, Key="jsonl/rows.jsonl", Body=body)
    job = run(sm, counting_model, source=f"s3://{BUCKET}/jsonl", content_type="application/jsonlines",
              BatchStrategy="SingleRecord", output={"AssembleWith": "Line"},
              DataProcessing={"InputFilter": "$.features", "JoinSource": "Input",
                              "OutputFilter": "$['id','SageMakerOutput']"})  # fmt: skip
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    lines = [json.loads(line) for line in out(s3, job, "rows.jsonl.out").splitlines()]
    assert lines == [{"id": i, "SageMakerOutput": 1} for i in range(3)]


def test_list_and_stop(sm, s3, model) -> None:
    started = run(sm, model, wait=False, BatchStrategy="SingleRecord")
    name = started["TransformJobName"]
    names = [
        j["TransformJobName"]
        for j in sm.list_transform_jobs(NameContains=name)["TransformJobSummaries"]
    ]
    assert names == [name]
    sm.stop_transform_job(TransformJobName=name)
    final = wait_for(sm, name)
    assert final["TransformJobStatus"] == "Stopped"
    with pytest.raises(ClientError, match="only a job in progress can be stopped"):
        sm.stop_transform_job(TransformJobName=name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ModelName": "no-such-model"}, 'Could not find model "arn:aws:sagemaker:'),
        ({"MaxPayloadInMB": 101}, "MaxPayloadInMB 101 is above the maximum of 100 MB."),
        ({"DataProcessing": {"InputFilter": "$..x"}}, "InputFilter is not a JSONPath"),
    ],
)
def test_bad_requests_are_refused(sm, model, change, message) -> None:
    params = {
        "TransformJobName": unique("bad"), "ModelName": model,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                           "S3Uri": f"s3://{BUCKET}/iris"}}},
        "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/out"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}, **change,
    }  # fmt: skip
    with pytest.raises(
        ClientError, match=message.replace("$", r"\$").replace("(", r"\(")
    ) as caught:
        sm.create_transform_job(**params)
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_unknown_and_duplicate_names(sm, model) -> None:
    with pytest.raises(ClientError, match="Could not find requested job with name nope"):
        sm.describe_transform_job(TransformJobName="nope")
    job = run(sm, model)
    with pytest.raises(ClientError, match="a job with this name already exists") as caught:
        sm.create_transform_job(TransformJobName=job["TransformJobName"], ModelName=model,
                                TransformInput=job["TransformInput"],
                                TransformOutput=job["TransformOutput"],
                                TransformResources=job["TransformResources"])  # fmt: skip
    assert caught.value.response["Error"]["Code"] == "ResourceInUse"


def test_an_empty_prefix_fails_the_job(sm, model) -> None:
    job = run(sm, model, source=f"s3://{BUCKET}/nothing-here")
    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"].startswith('ClientError: No S3 objects found under S3 URL "s3://')


CAPTURE_KEY = re.compile(
    r"capture/(?P<job>[^/]+)/(?P<side>input|output)/(?P<hour>\d{4}/\d{2}/\d{2}/\d{2})/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.json"
)


def captures(s3, job: dict) -> dict[str, tuple[str, list]]:
    """The job's capture files: side -> (key, parsed manifest)."""
    prefix = f"capture/{job['TransformJobName']}/"
    found = {}
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []):
        match = CAPTURE_KEY.fullmatch(item["Key"])
        assert match, item["Key"]
        body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        assert b"\n" not in body  # compact JSON, as the real files print back
        assert match["side"] not in found
        found[match["side"]] = (item["Key"], json.loads(body))
    return found


def capture_config(name: str, **extra) -> dict:
    return {"DestinationS3Uri": f"s3://{BUCKET}/capture/{name}", **extra}


def test_capture_writes_input_and_output_manifests_in_the_start_hour(sm, s3, model) -> None:
    name = unique("cap")
    job = run(sm, model, output={"AssembleWith": "Line"},
              DataCaptureConfig={"DestinationS3Uri": f"s3://{BUCKET}/capture/{name}/"})  # fmt: skip
    assert job["TransformJobStatus"] == "Completed"
    job["TransformJobName"] = name  # the capture folder is named after `name` here
    found = captures(s3, job)
    assert set(found) == {"input", "output"}
    hour = job["TransformStartTime"].astimezone(UTC).strftime("%Y/%m/%d/%H")
    assert all(f"/{hour}/" in key for key, _ in found.values())
    assert found["input"][1] == [{"prefix": f"s3://{BUCKET}/iris"}, "/part-a.csv", "/part-b.csv"]
    output_path = job["TransformOutput"]["S3OutputPath"]
    assert found["output"][1] == [{"prefix": f"{output_path}/"}, "part-a.csv.out", "part-b.csv.out"]
    for _, (head, *items) in found.values():  # a prefix followed by an item names an object
        for item in items:
            where = (head["prefix"] + item).removeprefix(f"s3://{BUCKET}/")
            s3.head_object(Bucket=BUCKET, Key=where)
    assert job["DataCaptureConfig"] == {"DestinationS3Uri": f"s3://{BUCKET}/capture/{name}/"}


def test_an_object_uri_is_captured_as_the_prefix_with_an_empty_item(sm, s3, model) -> None:
    name = unique("cap")
    job = run(sm, model, source=f"s3://{BUCKET}/iris/part-b.csv",
              DataCaptureConfig={"DestinationS3Uri": f"s3://{BUCKET}/capture/{name}"})  # fmt: skip
    job["TransformJobName"] = name
    manifest = captures(s3, job)["input"][1]
    assert manifest == [{"prefix": f"s3://{BUCKET}/iris/part-b.csv"}, ""]


def test_generate_inference_id_appends_an_id_per_record_and_the_start_time(sm, s3, model) -> None:
    name = unique("cap")
    job = run(sm, model, output={"AssembleWith": "Line"}, DataProcessing={"JoinSource": "Input"},
              DataCaptureConfig={"DestinationS3Uri": f"s3://{BUCKET}/capture/{name}",
                                 "GenerateInferenceId": True})  # fmt: skip
    assert job["TransformJobStatus"] == "Completed"
    rows = [line.split(",") for line in out(s3, job, "part-a.csv.out").splitlines()]
    started = job["TransformStartTime"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {row[-1] for row in rows} == {started}
    ids = [row[-2] for row in rows]
    assert len(set(ids)) == 100
    assert all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in ids)
    assert rows[0][:4] == ROWS[0].split(",")


def test_capture_files_are_encrypted_with_the_kms_key(sm, s3, model) -> None:
    name = unique("cap")
    key_id = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    output_key = key_id.replace("1234abcd", "5678abcd")
    job = run(sm, model, DataCaptureConfig={"DestinationS3Uri": f"s3://{BUCKET}/capture/{name}",
                                            "KmsKeyId": key_id},
              output={"KmsKeyId": output_key})  # fmt: skip
    out_head = s3.head_object(Bucket=BUCKET, Key=f"out/{job['TransformJobName']}/part-a.csv.out")
    assert out_head["SSEKMSKeyId"] == output_key  # TransformOutput's own key for the .out files
    job["TransformJobName"] = name
    for key, _ in captures(s3, job).values():
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == key_id


def test_a_parquet_batch_transform_schedule_is_refused(sm) -> None:
    name = unique("dq-parquet")
    sm.create_data_quality_job_definition(
        JobDefinitionName=name,
        DataQualityAppSpecification={
            "ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
        },
        DataQualityJobInput={"BatchTransformInput": {
            "DataCapturedDestinationS3Uri": f"s3://{BUCKET}/capture",
            "DatasetFormat": {"Parquet": {}}, "LocalPath": "/opt/ml/processing/input"}},
        DataQualityJobOutputConfig={"MonitoringOutputs": [{"S3Output": {
            "S3Uri": f"s3://{BUCKET}/reports", "LocalPath": "/opt/ml/processing/output"}}]},
        JobResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                        "VolumeSizeInGB": 20}},
        RoleArn=ROLE,
    )  # fmt: skip
    listed = sm.list_data_quality_job_definitions(NameContains=name)["JobDefinitionSummaries"]
    assert "EndpointName" not in listed[0]
    with pytest.raises(ClientError, match="Parquet is not emulated"):
        sm.create_monitoring_schedule(
            MonitoringScheduleName=name,
            MonitoringScheduleConfig={
                "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                "MonitoringJobDefinitionName": name, "MonitoringType": "DataQuality"},
        )  # fmt: skip


def test_the_model_servers_log_goes_to_the_jobs_log_group(sm, s3, smlocal, model) -> None:
    job = run(sm, model)
    logs = smlocal.client("logs")
    group = "/aws/sagemaker/TransformJobs"
    prefix = job["TransformJobName"] + "/"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix)
    names = sorted(s["logStreamName"] for s in streams["logStreams"])
    assert len(names) == 2
    instance, data = names  # {job}/{instance id} and {job}/{instance id}/data-log
    assert re.fullmatch(re.escape(prefix) + r"i-[0-9a-f]{17}", instance)
    assert data == f"{instance}/data-log"
    lines = [e["message"] for e in logs.get_log_events(
        logGroupName=group, logStreamName=instance, startFromHead=True)["events"]]  # fmt: skip
    assert sum("Starting gunicorn" in line for line in lines) == 1


def test_an_output_bucket_that_does_not_exist_fails_with_s3s_words(sm, model) -> None:
    job = run(sm, model, source=f"s3://{BUCKET}/iris/part-b.csv")
    name = unique("nobucket")
    sm.create_transform_job(
        TransformJobName=name, ModelName=model, TransformInput=job["TransformInput"],
        TransformOutput={"S3OutputPath": "s3://no-such-bucket-here/out"},
        TransformResources=job["TransformResources"],
    )  # fmt: skip
    failed = wait_for(sm, name)
    assert failed["TransformJobStatus"] == "Failed"
    assert failed["FailureReason"].startswith("ClientError: NoSuchBucket: ")


def test_a_job_running_when_the_emulator_stops_has_failed_after_its_restart(
    smlocal_factory, tmp_path
) -> None:
    """As processing jobs: the emulator's stop stops the job, which is then Failed with the
    reason (not InProgress for ever, nor Stopped as if the user had stopped it)."""
    import tarfile

    emulator = smlocal_factory()
    s3, sm = emulator.client("s3"), emulator.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        data = COUNTING_SCRIPT.encode()
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    s3.put_object(Bucket=BUCKET, Key="models/counting.tar.gz", Body=archive.getvalue())
    s3.put_object(Bucket=BUCKET, Key="slow/rows.csv", Body="\n".join(ROWS))
    sm.create_model(ModelName="slow", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": SKLEARN_IMAGE, "ModelDataUrl": f"s3://{BUCKET}/models/counting.tar.gz",
        "Environment": SKLEARN_SCRIPT_ENV})  # fmt: skip
    job = run(sm, "slow", source=f"s3://{BUCKET}/slow", wait=False, BatchStrategy="SingleRecord",
              Environment={"ANSWER": "concurrency"})  # 150 requests of 0.3 s: 45 s  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _serving(emulator, job["TransformJobName"]):
        time.sleep(0.2)
    emulator.restart()
    sm = emulator.client("sagemaker")
    ended = sm.describe_transform_job(TransformJobName=job["TransformJobName"])
    assert ended["TransformJobStatus"] == "Failed"
    assert ended["FailureReason"] == "The emulator stopped while the job was running; run it again."
    assert "IllegalTransition" not in emulator.log()  # the stop moved no status the wrong way


def _serving(emulator, name: str) -> bool:
    """True once the job's data log stream exists (its servers answered /ping)."""
    logs = emulator.client("logs")
    try:
        streams = logs.describe_log_streams(
            logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix=name + "/"
        )["logStreams"]
    except ClientError:
        return False
    return any(s["logStreamName"].endswith("/data-log") for s in streams)


def test_an_execution_reads_only_the_files_of_manifests_in_its_window(s3, tmp_path) -> None:
    from datetime import datetime

    from smlocal.emulator.jobs.transform_s3 import download_batch_captures

    root = f"capture/{unique('window')}/input"
    inside = [{"prefix": f"s3://{BUCKET}/iris/"}, "part-a.csv", "part-b.csv"]
    outside = [{"prefix": f"s3://{BUCKET}/iris/part-b.csv"}, ""]
    s3.put_object(Bucket=BUCKET, Key=f"{root}/2024/01/19/10/a.json", Body=json.dumps(inside))
    s3.put_object(Bucket=BUCKET, Key=f"{root}/2024/01/19/12/b.json", Body=json.dumps(outside))
    s3.put_object(Bucket=BUCKET, Key=f"{root}/2024/01/19/10/notes.txt", Body=b"not a manifest")
    window = (datetime(2024, 1, 19, 10, 0, tzinfo=UTC), datetime(2024, 1, 19, 11, 0, tzinfo=UTC))
    files = download_batch_captures(s3, f"s3://{BUCKET}/{root}", tmp_path, window)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in files) == [
        "0/part-a.csv",
        "0/part-b.csv",
    ]
    assert (tmp_path / "0/part-a.csv").read_text() == "\n".join(ROWS[:100]) + "\n"


def test_two_instances_share_the_requests(sm, s3, smlocal, counting_model) -> None:
    name = unique("two")
    sm.create_transform_job(
        TransformJobName=name, ModelName=counting_model, BatchStrategy="SingleRecord",
        Environment={"ANSWER": "pid"},
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/iris/part-b.csv"}}, "ContentType": "text/csv",
                        "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{name}", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 2},
    )  # fmt: skip
    job = wait_for(sm, name)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    pids = out(s3, job, "part-b.csv.out").split()
    assert len(pids) == 50
    assert len(set(pids)) == 2  # each instance's server answered some of the 50 requests
    logs = smlocal.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TransformJobs",
                                        logStreamNamePrefix=name + "/")["logStreams"]  # fmt: skip
    names = [s["logStreamName"] for s in streams]
    assert len([n for n in names if not n.endswith("/data-log")]) == 2
