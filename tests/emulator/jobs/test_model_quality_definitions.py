"""Model-quality job definitions and ModelQuality schedules through boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.emulator.jobs.test_monitoring_jobs import ANALYZER, failed_endpoint_with_capture
from tests.support import ROLE, unique


@pytest.fixture(scope="module")
def sm(smlocal):
    return smlocal.client("sagemaker")


@pytest.fixture(scope="module")
def endpoint(smlocal, sm) -> str:
    smlocal.client("s3").create_bucket(Bucket="mq-defs")
    name = unique("mq-endpoint")
    failed_endpoint_with_capture(sm, name, "s3://mq-defs/capture")
    return name


def definition_request(name: str, endpoint: str, **changes) -> dict:
    """What ModelQualityMonitor.create_monitoring_schedule sends (its shape, our values)."""
    request = {
        "JobDefinitionName": name,
        "ModelQualityBaselineConfig": {"ConstraintsResource": {"S3Uri": "s3://mq-defs/base/constraints.json"}},
        "ModelQualityAppSpecification": {"ImageUri": ANALYZER, "ProblemType": "BinaryClassification",
                                         "Environment": {"publish_cloudwatch_metrics": "Enabled"}},
        "ModelQualityJobInput": {
            "EndpointInput": {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input_data",
                              "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated",
                              "ProbabilityAttribute": "0", "ProbabilityThresholdAttribute": 0.5},
            "GroundTruthS3Input": {"S3Uri": "s3://mq-defs/ground-truth"},
        },
        "ModelQualityJobOutputConfig": {"MonitoringOutputs": [{"S3Output": {
            "S3Uri": "s3://mq-defs/reports", "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]},
        "JobResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
        "RoleArn": ROLE,
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
    }  # fmt: skip
    request.update(changes)
    return request


def test_create_describe_list_delete(sm, endpoint) -> None:
    name = unique("model-quality-job-definition")
    request = definition_request(name, endpoint)
    arn = sm.create_model_quality_job_definition(**request)["JobDefinitionArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:model-quality-job-definition/{name}"
    described = sm.describe_model_quality_job_definition(JobDefinitionName=name)
    for key in (
        "ModelQualityBaselineConfig",
        "ModelQualityAppSpecification",
        "ModelQualityJobInput",
        "ModelQualityJobOutputConfig",
        "JobResources",
        "RoleArn",
        "StoppingCondition",
    ):
        assert described[key] == request[key], key
    assert (described["JobDefinitionArn"], described["JobDefinitionName"]) == (arn, name)
    listed = sm.list_model_quality_job_definitions(EndpointName=endpoint)["JobDefinitionSummaries"]
    assert [(d["MonitoringJobDefinitionName"], d["EndpointName"]) for d in listed] == [
        (name, endpoint)
    ]
    assert (
        sm.list_model_quality_job_definitions(EndpointName="other")["JobDefinitionSummaries"] == []
    )
    # a data-quality listing does not show it
    assert name not in str(sm.list_data_quality_job_definitions())
    with pytest.raises(ClientError) as caught:
        sm.create_model_quality_job_definition(**request)
    assert caught.value.response["Error"]["Code"] == "ResourceInUse"
    sm.delete_model_quality_job_definition(JobDefinitionName=name)
    with pytest.raises(ClientError) as caught:
        sm.describe_model_quality_job_definition(JobDefinitionName=name)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"
    assert caught.value.response["Error"]["Message"] == f'Could not find job definition "{arn}".'


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"ModelQualityAppSpecification": {"ImageUri": ANALYZER, "ProblemType": "Ranking"}},
            "1 validation error detected: Value 'Ranking' at "
            "'modelQualityAppSpecification.problemType' failed to satisfy constraint",
        ),
        (
            {"ModelQualityAppSpecification": {"ImageUri": ANALYZER}},
            "ModelQualityAppSpecification.ProblemType must be one of BinaryClassification, "
            "MulticlassClassification, Regression (got None).",
        ),
    ],
)
def test_a_definition_without_a_problem_type_is_refused(sm, endpoint, change, message) -> None:
    with pytest.raises(ClientError) as caught:
        sm.create_model_quality_job_definition(
            **definition_request(unique("bad"), endpoint, **change)
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["Error"]["Message"].startswith(message)


def test_a_model_quality_schedule_names_its_definition(sm, endpoint) -> None:
    definition = unique("mq-def")
    sm.create_model_quality_job_definition(**definition_request(definition, endpoint))
    schedule = unique("mq-schedule")
    config = {"ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
              "MonitoringJobDefinitionName": definition, "MonitoringType": "ModelQuality"}  # fmt: skip
    sm.create_monitoring_schedule(MonitoringScheduleName=schedule, MonitoringScheduleConfig=config)
    described = sm.describe_monitoring_schedule(MonitoringScheduleName=schedule)
    assert (described["MonitoringType"], described["EndpointName"]) == ("ModelQuality", endpoint)
    assert described["MonitoringScheduleConfig"] == config
    listed = sm.list_monitoring_schedules(MonitoringTypeEquals="ModelQuality")
    summaries = listed["MonitoringScheduleSummaries"]  # other files' schedules share the emulator
    assert schedule in [s["MonitoringScheduleName"] for s in summaries]
    assert {s["MonitoringType"] for s in summaries} == {"ModelQuality"}
    others = sm.list_monitoring_schedules(MonitoringTypeEquals="DataQuality")
    assert schedule not in [
        s["MonitoringScheduleName"] for s in others["MonitoringScheduleSummaries"]
    ]
    with pytest.raises(ClientError) as caught:
        sm.delete_model_quality_job_definition(JobDefinitionName=definition)
    assert caught.value.response["Error"]["Code"] == "ResourceInUse"
    missing = {**config, "MonitoringJobDefinitionName": "nowhere"}
    with pytest.raises(ClientError) as caught:
        sm.create_monitoring_schedule(
            MonitoringScheduleName=unique("x"), MonitoringScheduleConfig=missing
        )
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"


def test_an_execution_reads_the_ground_truth_hour_folders_of_its_window() -> None:
    """Labels are read from the hours the window covers, as SageMaker's merge job reads them:
    a label uploaded in a later hour (late) is not merged unless the window's offsets reach
    it (EndTimeOffset)."""
    from datetime import UTC, datetime

    from smlocal.emulator.control.monitoring_executions import ground_truth_inputs

    def folders(start: datetime, end: datetime) -> list[tuple[str, str, str]]:
        return [
            (i["InputName"], i["S3Input"]["S3Uri"], i["S3Input"]["LocalPath"])
            for i in ground_truth_inputs("s3://b/gt/", start, end)
        ]

    hour = datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert folders(hour, hour.replace(hour=11)) == [
        (
            "groundtruth_input_1",
            "s3://b/gt/2026/03/01/10",
            "/opt/ml/processing/groundtruth/2026/03/01/10",
        )
    ]
    assert [
        uri for _, uri, _ in folders(hour.replace(hour=8, minute=30), hour.replace(minute=5))
    ] == [
        "s3://b/gt/2026/03/01/08",
        "s3://b/gt/2026/03/01/09",
        "s3://b/gt/2026/03/01/10",
    ]


def test_a_now_execution_merges_the_window_labels_and_not_late_ones(smlocal, sm, endpoint) -> None:
    """Through the emulator: the execution's processing job downloads the window's capture
    and ground-truth hours (an hour without labels is no error), merges, and records a
    ModelQuality execution; a label in the hour after the window (late) is not merged."""
    import json
    import time
    from datetime import UTC, datetime, timedelta

    from tests.emulator.jobs.test_monitoring_jobs import capture_line

    s3 = smlocal.client("s3")
    now = datetime.now(UTC)
    lines = [capture_line(now - timedelta(seconds=30 + i), i, "1") for i in range(6)]
    s3.put_object(Bucket="mq-defs", Key=f"capture/{endpoint}/AllTraffic/{now:%Y/%m/%d/%H}/00-00-000-a.jsonl",
                  Body="".join(lines).encode())  # fmt: skip
    # capture_line's outputs are a + 2b = i + 2 (a regression); eventIds end in i
    labels = [json.dumps({"groundTruthData": {"data": str(i + 2), "encoding": "CSV"},
                          "eventMetadata": {"eventId": f"00000000-0000-4000-8000-{i:012d}"},
                          "eventVersion": "0"}) for i in range(4)]  # fmt: skip
    late = labels[3]
    s3.put_object(Bucket="mq-defs", Key=f"ground-truth/{now:%Y/%m/%d/%H}/0000.jsonl",
                  Body="\n".join(labels[:3]).encode())  # fmt: skip
    next_hour = now + timedelta(hours=1)
    s3.put_object(Bucket="mq-defs", Key=f"ground-truth/{next_hour:%Y/%m/%d/%H}/0000.jsonl",
                  Body=late.encode())  # fmt: skip
    definition = unique("mq-regression")
    sm.create_model_quality_job_definition(**definition_request(definition, endpoint,
        ModelQualityAppSpecification={"ImageUri": ANALYZER, "ProblemType": "Regression"},
        ModelQualityBaselineConfig={},
        ModelQualityJobInput={
            "EndpointInput": {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input_data",
                              "InferenceAttribute": "0"},
            "GroundTruthS3Input": {"S3Uri": "s3://mq-defs/ground-truth"}}))  # fmt: skip
    schedule = unique("mq-now")
    sm.create_monitoring_schedule(MonitoringScheduleName=schedule, MonitoringScheduleConfig={
        "ScheduleConfig": {"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT1H",
                           "DataAnalysisEndTime": "-PT0H"},
        "MonitoringJobDefinitionName": definition, "MonitoringType": "ModelQuality"})  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        found = sm.describe_monitoring_schedule(MonitoringScheduleName=schedule).get(
            "LastMonitoringExecutionSummary", {}
        )
        if found.get("MonitoringExecutionStatus") not in (None, "Pending", "InProgress"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert (found["MonitoringExecutionStatus"], found["MonitoringType"]) == (
        "Completed",
        "ModelQuality",
    )
    job = sm.describe_processing_job(ProcessingJobName=found["ProcessingJobArn"].rsplit("/", 1)[1])
    hours = [
        i["S3Input"]["S3Uri"]
        for i in job["ProcessingInputs"]
        if i["InputName"].startswith("groundtruth")
    ]
    before = now - timedelta(hours=1)
    assert hours == [
        f"s3://mq-defs/ground-truth/{before:%Y/%m/%d/%H}",
        f"s3://mq-defs/ground-truth/{now:%Y/%m/%d/%H}",
    ]
    assert job["Environment"]["problem_type"] == "Regression"
    assert job["Environment"]["inference_attribute"] == "0"
    output = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    bucket, key = output.removeprefix("s3://").split("/", 1)
    statistics = json.loads(
        s3.get_object(Bucket=bucket, Key=f"{key}/statistics.json")["Body"].read()
    )
    assert statistics["dataset"]["item_count"] == 3  # labels 0-2; 3 is late, 4 and 5 missing
    assert statistics["regression_metrics"]["mae"]["value"] == 0.0
    log = smlocal.client("logs").filter_log_events(logGroupName="/aws/sagemaker/ProcessingJobs",
                                                   logStreamNamePrefix=job["ProcessingJobName"])  # fmt: skip
    assert any(
        "Merged 3 of 6 captured records with ground truth" in e["message"] for e in log["events"]
    )
