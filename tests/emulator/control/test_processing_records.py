"""Processing-job records read the documents stored before them, unchanged (pure)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.operations import ControlPlane
from smlocal.emulator.control.processing_jobs import PROCESSING_JOBS
from smlocal.emulator.errors import ValidationException
from smlocal.emulator.jobs.processing_records import KIND, CaptureWindow, ProcessingJob
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.store import Store

ARN = "arn:aws:sagemaker:us-east-1:123456789012"
ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
SCHEDULE_ARN = f"{ARN}:monitoring-schedule/churn-schedule"
NAME = "model-monitoring-202401010100-1a2b3c4d"


def _s3_input(name: str, uri: str, local: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None",
        },
    }


# Documents exactly as the version before the records stored them (written by its
# new_job and set_status): a monitoring execution's job, keys in their stored order.
EXECUTION_JOB: dict[str, Any] = json.loads(
    json.dumps(
        {
            "ProcessingInputs": [
                _s3_input("endpoint_input_1", "s3://c/x/churn/", "/opt/ml/processing/input/churn"),
                _s3_input(
                    "baseline", "s3://b/statistics.json", "/opt/ml/processing/baseline/stats"
                ),
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "monitoring_output",
                        "S3Output": {
                            "S3Uri": "s3://b/reports/churn/churn-schedule/2024/01/01/01",
                            "LocalPath": "/opt/ml/processing/output",
                            "S3UploadMode": "Continuous",
                        },
                    }
                ]
            },
            "ProcessingJobName": NAME,
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.xlarge",
                    "VolumeSizeInGB": 20,
                }
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
            "AppSpecification": {"ImageUri": ANALYZER},
            "Environment": {
                "publish_cloudwatch_metrics": "Enabled",
                "dataset_format": '{"sagemakerCaptureJson": {"captureIndexNames": '
                '["endpointInput", "endpointOutput"]}}',
                "dataset_source": "/opt/ml/processing/input",
                "output_path": "/opt/ml/processing/output",
                "sagemaker_endpoint_name": "churn",
                "sagemaker_monitoring_schedule_name": "churn-schedule",
                "start_time": "2024-01-01T00:00:00Z",
                "end_time": "2024-01-01T01:00:00Z",
                "metric_time": "2024-01-01T01:00:00Z",
                "baseline_statistics": "/opt/ml/processing/baseline/stats/statistics.json",
            },
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "ProcessingJobArn": f"{ARN}:processing-job/{NAME}",
            "CreationTime": 1704070800.25,
            "LastModifiedTime": 1704070860.5,
            "ProcessingStartTime": 1704070800.25,
            "MonitoringScheduleArn": SCHEDULE_ARN,
            "_CaptureWindow": {"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T01:00:00Z"},
            "ProcessingJobStatus": "Completed",
            "ExitMessage": "CompletedWithViolations: Job completed successfully with 2 violations.",
            "ProcessingEndTime": 1704070860.5,
        }
    )
)
# an execution of an endpoint that captures nothing: no window, no inputs
EXECUTION_WITHOUT_CAPTURES = {
    "ProcessingInputs": [],
    "ProcessingOutputConfig": {"Outputs": []},
    "ProcessingJobName": "model-monitoring-202401010200-deadbeef",
    "AppSpecification": {"ImageUri": ANALYZER},
    "Environment": {"dataset_source": "/opt/ml/processing/input"},
    "ProcessingJobArn": f"{ARN}:processing-job/model-monitoring-202401010200-deadbeef",
    "CreationTime": 1704074400.0,
    "LastModifiedTime": 1704074400.0,
    "ProcessingStartTime": 1704074400.0,
    "MonitoringScheduleArn": SCHEDULE_ARN,
    "_CaptureWindow": None,
    "ProcessingJobStatus": "InProgress",
}
# CreateProcessingJob's job, stopped while running with nothing said
STOPPED_JOB = {
    "ProcessingInputs": [
        _s3_input("baseline_dataset_input", "s3://b/d.csv", "/opt/ml/processing/input/d")
    ],
    "ProcessingJobName": "baseline-job",
    "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}},
    "AppSpecification": {"ImageUri": ANALYZER},
    "NetworkConfig": {"EnableNetworkIsolation": False},
    "RoleArn": "arn:aws:iam::123456789012:role/r",
    "ExperimentConfig": {"ExperimentName": "e"},
    "ProcessingJobArn": f"{ARN}:processing-job/baseline-job",
    "CreationTime": 1700000006.0,
    "LastModifiedTime": 1700000009.0,
    "ProcessingStartTime": 1700000006.0,
    "MonitoringScheduleArn": None,
    "ProcessingJobStatus": "Stopped",
    "ExitMessage": None,
    "ProcessingEndTime": 1700000010.5,
}
# stopped by the emulator's restart: a FailureReason and no ExitMessage
ABANDONED_JOB = {
    "ProcessingJobName": "abandoned",
    "AppSpecification": {"ImageUri": ANALYZER},
    "ProcessingJobArn": f"{ARN}:processing-job/abandoned",
    "CreationTime": 1700000011.0,
    "LastModifiedTime": 1700000012.0,
    "ProcessingStartTime": 1700000011.0,
    "MonitoringScheduleArn": None,
    "ProcessingJobStatus": "Stopped",
    "FailureReason": "The emulator stopped while the job was running; run it again.",
    "ProcessingEndTime": 1700000012.0,
}
STORED = [EXECUTION_JOB, EXECUTION_WITHOUT_CAPTURES, STOPPED_JOB, ABANDONED_JOB]


@pytest.mark.parametrize("doc", STORED, ids=[d["ProcessingJobName"] for d in STORED])
def test_a_document_stored_today_loads_and_is_stored_back_unchanged(doc: dict[str, Any]) -> None:
    job = ProcessingJob.from_document(copy.deepcopy(doc))
    assert job.to_document() == doc
    assert job.key == doc["ProcessingJobName"]


def test_the_record_types_what_the_runner_reads() -> None:
    job = ProcessingJob.from_document(EXECUTION_JOB)
    assert job.monitoring_schedule_arn == SCHEDULE_ARN
    assert job.capture_window == CaptureWindow("2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z")
    assert job.capture_window.moments() == (
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 1, 1, tzinfo=UTC),
    )
    assert job.max_runtime == 1800
    assert job.app_specification["ImageUri"] == ANALYZER
    assert [i["InputName"] for i in job.inputs or []] == ["endpoint_input_1", "baseline"]
    assert "_CaptureWindow" not in job.public()
    assert job.public()["MonitoringScheduleArn"] == SCHEDULE_ARN
    assert ProcessingJob.from_document(STOPPED_JOB).max_runtime is None


def _described(doc: dict[str, Any]) -> dict[str, Any]:
    """What DescribeProcessingJob answered before the records: the set AWS keys, in order."""
    order = (
        "ProcessingInputs", "ProcessingOutputConfig", "ProcessingJobName",
        "ProcessingResources", "StoppingCondition", "AppSpecification", "Environment",
        "NetworkConfig", "RoleArn", "ExperimentConfig", "ProcessingJobArn",
        "ProcessingJobStatus", "ExitMessage", "FailureReason", "ProcessingEndTime",
        "ProcessingStartTime", "LastModifiedTime", "CreationTime", "MonitoringScheduleArn",
    )  # fmt: skip
    return {key: doc[key] for key in order if doc.get(key) is not None}


def test_a_data_directory_written_before_the_records_is_served(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    for doc in STORED:
        store.put(KIND, doc["ProcessingJobName"], doc)
    store.close()
    ctx = Context(Store(tmp_path / "state.db"), EmulatorSettings(data_dir=tmp_path))
    plane = ControlPlane(ctx)
    for doc in STORED:
        described = plane("DescribeProcessingJob", {"ProcessingJobName": doc["ProcessingJobName"]})
        assert json.dumps(described) == json.dumps(_described(doc))
    assert "_CaptureWindow" not in plane("DescribeProcessingJob", {"ProcessingJobName": NAME})
    listed = plane("ListProcessingJobs", {"StatusEquals": "Stopped", "SortBy": "Name"})
    assert listed == {
        "ProcessingJobSummaries": [
            {
                "ProcessingJobName": "baseline-job",
                "ProcessingJobArn": f"{ARN}:processing-job/baseline-job",
                "CreationTime": 1700000006.0,
                "ProcessingEndTime": 1700000010.5,
                "LastModifiedTime": 1700000009.0,
                "ProcessingJobStatus": "Stopped",
            },
            {
                "ProcessingJobName": "abandoned",
                "ProcessingJobArn": f"{ARN}:processing-job/abandoned",
                "CreationTime": 1700000011.0,
                "ProcessingEndTime": 1700000012.0,
                "LastModifiedTime": 1700000012.0,
                "ProcessingJobStatus": "Stopped",
                "FailureReason": "The emulator stopped while the job was running; run it again.",
            },
        ],
        "NextToken": None,
    }
    assert ctx.store.get(KIND, NAME) == EXECUTION_JOB  # reading wrote nothing back


def test_an_unknown_job_is_named_as_given(tmp_path: Path) -> None:
    ctx = Context(Store(), EmulatorSettings(data_dir=tmp_path))
    with pytest.raises(ValidationException) as caught:
        PROCESSING_JOBS.get(ctx, "No-Such-Job")
    assert caught.value.message == "Could not find requested job with name No-Such-Job"
