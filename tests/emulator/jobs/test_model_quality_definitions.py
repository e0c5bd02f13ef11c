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
    assert [s["MonitoringScheduleName"] for s in listed["MonitoringScheduleSummaries"]] == [
        schedule
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
