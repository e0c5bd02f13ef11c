"""Processing jobs, job definitions, schedules and executions through boto3."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.support import ROLE, unique

ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
BASELINE_CSV = "prediction,a,b\n" + "".join(
    f"{a + 2 * b}.5,{a},{b}\n" for a in range(5) for b in range(4)
)


@pytest.fixture(scope="module")
def sm(smlocal):
    return smlocal.client("sagemaker")


@pytest.fixture(scope="module")
def s3(smlocal):
    client = smlocal.client("s3")
    client.create_bucket(Bucket="mon")
    client.put_object(Bucket="mon", Key="data/baseline.csv", Body=BASELINE_CSV.encode())
    return client


def baseline_request(name: str, dataset: str = "s3://mon/data/baseline.csv", **env) -> dict:
    """What DefaultModelMonitor.suggest_baseline sends."""
    return {
        "ProcessingJobName": name,
        "ProcessingInputs": [{"InputName": "baseline_dataset_input", "S3Input": {
            "S3Uri": dataset, "LocalPath": "/opt/ml/processing/input/baseline_dataset_input",
            "S3DataType": "S3Prefix", "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None"}}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "monitoring_output", "S3Output": {
            "S3Uri": f"s3://mon/baselines/{name}", "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
        "AppSpecification": {"ImageUri": ANALYZER},
        "Environment": {
            "dataset_format": json.dumps({"csv": {"header": True, "output_columns_position": "START"}}),
            "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
            "output_path": "/opt/ml/processing/output",
            "publish_cloudwatch_metrics": "Disabled",
            **env,
        },
        "RoleArn": ROLE,
    }  # fmt: skip


def wait_job(sm, name: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = sm.describe_processing_job(ProcessingJobName=name)
        if job["ProcessingJobStatus"] not in ("InProgress", "Stopping"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def test_a_baseline_processing_job(sm, s3, smlocal) -> None:
    name = unique("baseline-suggestion-job")
    arn = sm.create_processing_job(**baseline_request(name))["ProcessingJobArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:processing-job/{name}"
    job = wait_job(sm, name)
    assert job["ProcessingJobStatus"] == "Completed"
    assert job["ExitMessage"] == "Completed: Job completed successfully with no violations."
    keys = sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket="mon", Prefix=f"baselines/{name}/")["Contents"]
    )
    assert keys == [f"baselines/{name}/constraints.json", f"baselines/{name}/statistics.json"]
    statistics = json.loads(
        s3.get_object(Bucket="mon", Key=f"baselines/{name}/statistics.json")["Body"].read()
    )
    assert statistics["dataset"]["item_count"] == 20
    assert [f["inferred_type"] for f in statistics["features"]] == [
        "Fractional",
        "Integral",
        "Integral",
    ]
    logs = smlocal.client("logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=f"{name}/"
    )
    stream = streams["logStreams"][0]["logStreamName"]
    assert stream.startswith(f"{name}/algo-1-")
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=stream
    )["events"]
    text = "\n".join(e["message"] for e in events)
    assert "DefaultDataAnalyzer - INFO - Performing analysis with input:" in text
    assert "Completed: Job completed successfully with no violations." in text
    listed = sm.list_processing_jobs(NameContains=name)["ProcessingJobSummaries"]
    assert [(j["ProcessingJobName"], j["ProcessingJobStatus"]) for j in listed] == [
        (name, "Completed")
    ]


def test_processing_jobs_fail_with_the_reason(sm, s3) -> None:
    missing = unique("no-data")
    sm.create_processing_job(**baseline_request(missing, dataset="s3://mon/nothing-here/"))
    job = wait_job(sm, missing)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == (
        'ClientError: No S3 objects found under S3 URL "s3://mon/nothing-here/" given in input data '
        "source. Please ensure that the bucket exists in the selected region (us-east-1), that "
        f'objects exist under that S3 prefix, and that the role "{ROLE}" has "s3:ListBucket" '
        'permissions on bucket "mon".'
    )
    other = unique("other-image")
    request = baseline_request(other)
    request["AppSpecification"] = {
        "ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-processing:1"
    }
    sm.create_processing_job(**request)
    job = wait_job(sm, other)
    assert job["FailureReason"] == (
        "smlocal runs processing jobs of the sagemaker-model-monitor-analyzer image, and user "
        "scripts in the sagemaker-xgboost and sagemaker-scikit-learn repositories; "
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-processing:1 is not emulated."
    )
    with pytest.raises(ClientError) as caught:
        sm.describe_processing_job(ProcessingJobName="never-created")
    assert caught.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Could not find requested job with name never-created",
    }


def test_a_running_job_can_be_stopped(sm, s3) -> None:
    s3.put_object(
        Bucket="mon",
        Key="code/slow_post.py",
        Body=b"import time\n\ndef postprocess_handler():\n    time.sleep(60)\n",
    )
    name = unique("slow")
    request = baseline_request(
        name, post_analytics_processor_script="/opt/ml/processing/input/post/slow_post.py"
    )
    request["ProcessingInputs"].append({"InputName": "post_analytics_processor_script_input", "S3Input": {
        "S3Uri": "s3://mon/code/slow_post.py", "LocalPath": "/opt/ml/processing/input/post",
        "S3DataType": "S3Prefix", "S3InputMode": "File"}})  # fmt: skip
    sm.create_processing_job(**request)
    deadline = time.monotonic() + 60
    while "slow_post.py" not in str(list_files(s3)) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # the analysis is done and the post-processor sleeps
    sm.stop_processing_job(ProcessingJobName=name)
    assert sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    job = wait_job(sm, name)
    assert job["ProcessingJobStatus"] == "Stopped"
    with pytest.raises(ClientError) as caught:
        sm.stop_processing_job(ProcessingJobName=name)
    assert caught.value.response["Error"]["Message"] == (
        f"The processing job {name} is Stopped; only a job in progress can be stopped."
    )


def list_files(s3) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket="mon").get("Contents", [])]


def capture_line(moment: datetime, a: int, b: str) -> str:
    record = {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": f"{a},{b}",
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": "text/csv; charset=utf-8",
                "mode": "OUTPUT",
                "data": f"{a + 2 * float(b)}\n",
                "encoding": "CSV",
            },
        },
        "eventMetadata": {
            "eventId": f"00000000-0000-4000-8000-{a:012d}",
            "inferenceTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "eventVersion": "0",
    }
    return json.dumps(record) + "\n"


def failed_endpoint_with_capture(sm, name: str, destination: str) -> None:
    """An endpoint record with a capture config (its image fails at once; captures are seeded)."""
    sm.create_model(
        ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "example.com/x:1"}
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
        DataCaptureConfig={"EnableCapture": True, "InitialSamplingPercentage": 100, "DestinationS3Uri": destination,
                           "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                           "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]}},
    )  # fmt: skip
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


def baseline_files(sm, s3) -> tuple[str, str]:
    name = unique("baseline-for-schedule")
    sm.create_processing_job(**baseline_request(name))
    assert wait_job(sm, name)["ProcessingJobStatus"] == "Completed"
    return (
        f"s3://mon/baselines/{name}/statistics.json",
        f"s3://mon/baselines/{name}/constraints.json",
    )


def job_definition(sm, name: str, endpoint: str, statistics: str, constraints: str) -> None:
    sm.create_data_quality_job_definition(
        JobDefinitionName=name,
        DataQualityBaselineConfig={"ConstraintsResource": {"S3Uri": constraints}, "StatisticsResource": {"S3Uri": statistics}},
        DataQualityAppSpecification={"ImageUri": ANALYZER, "Environment": {"publish_cloudwatch_metrics": "Enabled"}},
        DataQualityJobInput={"EndpointInput": {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input/endpoint"}},
        DataQualityJobOutputConfig={"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://mon/reports", "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "Continuous"}}]},
        JobResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
        RoleArn=ROLE,
        StoppingCondition={"MaxRuntimeInSeconds": 1800},
    )  # fmt: skip


def wait_execution(sm, schedule: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sm.describe_monitoring_schedule(MonitoringScheduleName=schedule).get(
            "LastMonitoringExecutionSummary"
        )
        if found and found["MonitoringExecutionStatus"] not in (
            "Pending",
            "InProgress",
            "Stopping",
        ):
            return found
        time.sleep(0.3)
    raise TimeoutError(schedule)


def test_now_schedules_empty_windows_and_schedule_errors(sm, s3) -> None:
    statistics, constraints = baseline_files(sm, s3)
    endpoint = unique("empty-window")
    failed_endpoint_with_capture(sm, endpoint, "s3://mon/capture")
    definition = unique("dq-def")
    job_definition(sm, definition, endpoint, statistics, constraints)
    schedule = unique("now")
    config = {"ScheduleConfig": {"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT1H", "DataAnalysisEndTime": "-PT0H"},
              "MonitoringJobDefinitionName": definition, "MonitoringType": "DataQuality"}  # fmt: skip
    sm.create_monitoring_schedule(MonitoringScheduleName=schedule, MonitoringScheduleConfig=config)
    execution = wait_execution(sm, schedule)
    assert (execution["MonitoringExecutionStatus"], execution["FailureReason"]) == (
        "Failed",
        "Job inputs had no data",
    )
    assert (
        sm.list_monitoring_executions(MonitoringScheduleName=schedule)[
            "MonitoringExecutionSummaries"
        ][0]["ProcessingJobArn"]
        == execution["ProcessingJobArn"]
    )

    def refused(**kwargs) -> dict:
        with pytest.raises(ClientError) as caught:
            sm.create_monitoring_schedule(MonitoringScheduleName=unique("bad"), **kwargs)
        return caught.value.response["Error"]

    no_times = {**config, "ScheduleConfig": {"ScheduleExpression": "NOW"}}
    assert refused(MonitoringScheduleConfig=no_times)["Message"] == (
        "A NOW schedule needs DataAnalysisStartTime and DataAnalysisEndTime, such as -PT1H and -PT0H."
    )
    bad_cron = {**config, "ScheduleConfig": {"ScheduleExpression": "cron(every hour)"}}
    assert refused(MonitoringScheduleConfig=bad_cron)["Message"].startswith(
        "Invalid ScheduleExpression 'cron(every hour)'"
    )
    with pytest.raises(ClientError) as caught:
        sm.describe_monitoring_schedule(MonitoringScheduleName="nothing")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as caught:
        sm.delete_data_quality_job_definition(JobDefinitionName=definition)
    assert caught.value.response["Error"]["Code"] == "ResourceInUse"
    sm.delete_monitoring_schedule(MonitoringScheduleName=schedule)
    sm.delete_data_quality_job_definition(JobDefinitionName=definition)


# How long before the hour the hourly test's emulator clock starts: the test must create its
# schedule before the hour strikes (a handful of requests, and the emulator's start-up once
# its clock runs), and it waits for the hour itself, so this is slack for a loaded machine.
HOURLY_SLACK = timedelta(seconds=40)


def test_an_hourly_cron_schedule_fires_at_the_hour(smlocal_factory, sm, s3) -> None:
    # The baseline job runs on the shared emulator, before this test's clock starts: only
    # quick requests stand between the clock's start and the hourly schedule's creation.
    statistics, constraints = baseline_files(sm, s3)
    baselines = {uri: s3.get_object(Bucket="mon", Key=uri.removeprefix("s3://mon/"))["Body"].read()
                 for uri in (statistics, constraints)}  # fmt: skip
    start = datetime.now(UTC).replace(minute=59, second=0, microsecond=0)
    start += timedelta(minutes=1) - HOURLY_SLACK
    emulator = smlocal_factory(env={"SMLOCAL_CLOCK_START": start.strftime("%Y-%m-%dT%H:%M:%SZ")})
    sm, s3 = emulator.client("sagemaker"), emulator.client("s3")
    s3.create_bucket(Bucket="mon")
    for uri, body in baselines.items():
        s3.put_object(Bucket="mon", Key=uri.removeprefix("s3://mon/"), Body=body)
    endpoint = unique("Hourly")
    failed_endpoint_with_capture(sm, endpoint, "s3://mon/capture")
    hour = start.replace(minute=0, second=0)
    next_hour = hour + timedelta(hours=1)
    lines = "".join(
        capture_line(hour + timedelta(minutes=10 + i), i, "3.50" if i % 2 else "3")
        for i in range(10)
    )
    s3.put_object(
        Bucket="mon",
        Key=f"capture/{endpoint}/AllTraffic/{hour:%Y/%m/%d/%H}/10-00-000-abc.jsonl",
        Body=lines.encode(),
    )
    inline = {
        "BaselineConfig": {"ConstraintsResource": {"S3Uri": constraints}, "StatisticsResource": {"S3Uri": statistics}},
        "MonitoringInputs": [{"EndpointInput": {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input/endpoint"}}],
        "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://mon/reports", "LocalPath": "/opt/ml/processing/output"}}]},
        "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
        "MonitoringAppSpecification": {"ImageUri": ANALYZER},
        "RoleArn": ROLE,
    }  # fmt: skip
    # A NOW schedule written with blanks runs once and is no cron: the scheduler must pass
    # over it rather than fail on it and starve the schedules stored after it.
    padded = {"ScheduleExpression": " now ", "DataAnalysisStartTime": "-PT1H", "DataAnalysisEndTime": "-PT0H"}  # fmt: skip
    sm.create_monitoring_schedule(
        MonitoringScheduleName="padded-now",
        MonitoringScheduleConfig={"ScheduleConfig": padded, "MonitoringJobDefinition": inline},
    )
    sm.create_monitoring_schedule(
        MonitoringScheduleName="hourly",
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinition": inline,
        },
    )
    created = sm.describe_monitoring_schedule(MonitoringScheduleName="hourly")["CreationTime"]
    assert created < next_hour, (
        f"the hourly schedule was created at {created:%H:%M:%S} on the emulator's clock, after "
        f"the hour it should fire at ({next_hour:%H:%M}): this run took longer than the "
        f"{HOURLY_SLACK.seconds} s of slack (HOURLY_SLACK) to get there"
    )
    assert wait_execution(sm, "padded-now")["ScheduledTime"] < next_hour
    # the rest of the hour on the emulator's clock, then the monitoring job's run
    execution = wait_execution(sm, "hourly", timeout=(next_hour - created).seconds + 120)
    assert execution["CreationTime"] >= next_hour  # it fired at the hour, not when created
    assert execution["ScheduledTime"] == next_hour
    assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations"
    prefix = f"reports/{endpoint}/hourly/{next_hour:%Y/%m/%d/%H}/"
    keys = sorted(
        o["Key"][len(prefix) :] for o in s3.list_objects_v2(Bucket="mon", Prefix=prefix)["Contents"]
    )
    assert keys == ["constraint_violations.json", "constraints.json", "statistics.json"]
    violations = json.loads(
        s3.get_object(Bucket="mon", Key=prefix + "constraint_violations.json")["Body"].read()
    )
    assert {"feature_name": "b", "constraint_check_type": "data_type_check",
            "description": "Data type match requirement is not met. Expected data type: Integral, "
                           "Expected match: 100.0%. Observed: Only 50.0% of data is Integral."} in violations["violations"]  # fmt: skip
    metrics = emulator.client("cloudwatch").list_metrics(
        Namespace="aws/sagemaker/Endpoints/data-metrics",
        Dimensions=[{"Name": "MonitoringSchedule", "Value": "hourly"}],
    )["Metrics"]
    names = {m["MetricName"] for m in metrics}
    # no drift metric: a and b hold few distinct values, so their drift is not compared
    assert {"feature_data_a", "feature_non_null_b"} <= names
    dimensions = {d["Name"]: d["Value"] for d in metrics[0]["Dimensions"]}
    assert dimensions == {"Endpoint": endpoint, "MonitoringSchedule": "hourly"}


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        (
            "malformed constraints",
            "Baseline constraints file /opt/ml/processing/baseline/constraints/constraints.json is not valid JSON: ",
        ),
        (
            "broken preprocessor",
            "There is an exception raised in preprocessor script. Please double check the preprocessor script.",
        ),
        (
            "missing statistics",
            'ClientError: No S3 objects found under S3 URL "s3://mon/nowhere/statistics.json" given in input data source.',
        ),
    ],
)
def test_bad_monitoring_inputs_fail_with_the_real_message_and_write_nothing(
    sm, s3, case, reason
) -> None:
    statistics, constraints = baseline_files(sm, s3)
    endpoint = unique("bad-inputs")
    failed_endpoint_with_capture(sm, endpoint, "s3://mon/capture")
    now = datetime.now(UTC)
    s3.put_object(Bucket="mon", Key=f"capture/{endpoint}/AllTraffic/{now:%Y/%m/%d/%H}/00-00-000-x.jsonl",
                  Body="".join(capture_line(now - timedelta(seconds=5), i, "3") for i in range(4)).encode())  # fmt: skip
    app: dict = {"ImageUri": ANALYZER}
    if case == "malformed constraints":
        s3.put_object(
            Bucket="mon", Key=f"broken/{endpoint}/constraints.json", Body=b'{"features": ['
        )
        constraints = f"s3://mon/broken/{endpoint}/constraints.json"
    if case == "broken preprocessor":
        s3.put_object(
            Bucket="mon",
            Key="code/pre.py",
            Body=b"def preprocess_handler(record):\n    return 1 / 0\n",
        )
        app["RecordPreprocessorSourceUri"] = "s3://mon/code/pre.py"
    if case == "missing statistics":
        statistics = "s3://mon/nowhere/statistics.json"
    inline = {
        "BaselineConfig": {"ConstraintsResource": {"S3Uri": constraints}, "StatisticsResource": {"S3Uri": statistics}},
        "MonitoringInputs": [{"EndpointInput": {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input/endpoint"}}],
        "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {"S3Uri": f"s3://mon/bad-reports/{endpoint}", "LocalPath": "/opt/ml/processing/output"}}]},
        "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
        "MonitoringAppSpecification": app,
        "RoleArn": ROLE,
    }  # fmt: skip
    schedule = unique("bad")
    sm.create_monitoring_schedule(
        MonitoringScheduleName=schedule,
        MonitoringScheduleConfig={"ScheduleConfig": {"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT1H", "DataAnalysisEndTime": "-PT0H"},
                                  "MonitoringJobDefinition": inline},
    )  # fmt: skip
    execution = wait_execution(sm, schedule)
    assert execution["MonitoringExecutionStatus"] == "Failed"
    assert execution["FailureReason"].startswith(reason)
    assert "Contents" not in s3.list_objects_v2(Bucket="mon", Prefix=f"bad-reports/{endpoint}/")


@pytest.mark.parametrize(
    ("exit_call", "reason"),
    [
        (
            "sys.exit(0)",
            "There is an exception raised in preprocessor script. Please double check the "
            "preprocessor script. preprocess_handler called sys.exit(0) instead of returning rows.",
        ),
        (
            "os._exit(0)",  # no SystemExit: the analyzer process just ends with 0
            "The analyzer exited with code 0 but wrote no statistics.json to "
            "/opt/ml/processing/output: the job has no results.",
        ),
    ],
    ids=["sys.exit", "os._exit"],
)
def test_a_preprocessor_that_exits_fails_the_processing_job(sm, s3, exit_call, reason) -> None:
    key = f"code/exits-{exit_call[:-3].replace('.', '-')}.py"
    body = f"import os\nimport sys\n\ndef preprocess_handler(line):\n    {exit_call}\n"
    s3.put_object(Bucket="mon", Key=key, Body=body.encode())
    name = unique("exiting-preprocessor")
    script = key.rsplit("/", 1)[1]
    request = baseline_request(
        name, record_preprocessor_script=f"/opt/ml/processing/input/pre/{script}"
    )
    request["ProcessingInputs"].append({"InputName": "pre_processor_script_input", "S3Input": {
        "S3Uri": f"s3://mon/{key}", "LocalPath": "/opt/ml/processing/input/pre",
        "S3DataType": "S3Prefix", "S3InputMode": "File"}})  # fmt: skip
    sm.create_processing_job(**request)
    job = wait_job(sm, name)
    assert (job["ProcessingJobStatus"], job["FailureReason"]) == ("Failed", reason)
    assert "Contents" not in s3.list_objects_v2(Bucket="mon", Prefix=f"baselines/{name}/")


def test_job_paths_cannot_leave_the_jobs_folder(sm, s3, tmp_path) -> None:
    outside = tmp_path / "user"
    outside.mkdir()
    (outside / "statistics.json").write_text("mine")
    escape = "/opt/ml/processing/" + "../" * 8 + str(outside).lstrip("/")
    cases = {
        "input": lambda r: r["ProcessingInputs"][0]["S3Input"].update(LocalPath=f"{escape}/in"),
        "output": lambda r: r["ProcessingOutputConfig"]["Outputs"][0]["S3Output"].update(
            LocalPath=escape
        ),
        "output_path": lambda r: r["Environment"].update(output_path=escape),
        "absolute": lambda r: r["Environment"].update(output_path=str(outside)),
    }
    for case, change in cases.items():
        name = unique(f"escape-{case}".replace("_", "-"))
        request = baseline_request(name)
        change(request)
        sm.create_processing_job(**request)
        job = wait_job(sm, name)
        assert job["ProcessingJobStatus"] == "Failed", case
        assert "is not a path under /opt/ml/" in job["FailureReason"], (case, job["FailureReason"])
    assert sorted(p.name for p in outside.iterdir()) == ["statistics.json"]
    assert (outside / "statistics.json").read_text() == "mine"


@pytest.mark.parametrize(
    "destination",
    ["s3://mon/capture", "s3://mon/capture/", "s3://mon", "s3://mon//capture"],
)
def test_an_execution_reads_the_captures_where_the_sink_writes_them(destination) -> None:
    from types import SimpleNamespace

    from smlocal.capture_sink.keys import capture_prefix
    from smlocal.emulator.control.monitoring_executions import _captures_of
    from smlocal.emulator.hosting.endpoint_records import Endpoint, Plan

    capture = {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 100,
        "DestinationS3Uri": destination,
    }
    capturing = Endpoint("Ep", "arn:ep", "c", 1.0, Plan("c", []), data_capture_config=capture)  # type: ignore[arg-type]
    quiet = Endpoint("quiet", "arn:quiet", "c", 1.0, Plan("c", []))
    docs = {("endpoint", "Ep"): capturing.to_document(), ("endpoint", "quiet"): quiet.to_document()}
    ctx = SimpleNamespace(store=SimpleNamespace(get=lambda kind, name: docs.get((kind, name))))
    written = capture_prefix(destination, "Ep", "AllTraffic")  # the sink's variant folder
    assert f"{_captures_of(ctx, 'Ep')}/AllTraffic" == written.uri
    assert _captures_of(ctx, "quiet") is None
    assert _captures_of(ctx, "gone") is None
