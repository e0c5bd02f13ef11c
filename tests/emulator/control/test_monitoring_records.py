"""Monitoring schedules and executions read the documents stored before their records."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.operations import ControlPlane
from smlocal.emulator.errors import ResourceInUse, ResourceNotFound, ValidationException
from smlocal.emulator.hosting.endpoint_records import Endpoint, Plan
from smlocal.emulator.jobs.schedule_records import (
    EXECUTION,
    SCHEDULE,
    MonitoringExecution,
    MonitoringSchedule,
)
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.store import Store

ARN = "arn:aws:sagemaker:us-east-1:123456789012"
NOW = 1700000000.0

# Documents exactly as the version before the records stored them (written by its operations,
# its scheduler and its executions), keys in the order it wrote them.
EXECUTION_DOC = {
    "MonitoringScheduleName": "Hourly",
    "ScheduledTime": 1699999200.0,
    "CreationTime": 1699999201.5,
    "LastModifiedTime": 1699999260.25,
    "ProcessingJobArn": f"{ARN}:processing-job/model-monitoring-202311141900-0a1b2c3d",
    "EndpointName": "churn",
    "MonitoringJobDefinitionName": "dq",
    "MonitoringType": "DataQuality",
    "MonitoringExecutionStatus": "Failed",
    "FailureReason": "Job inputs had no data",
}
INLINE_EXECUTION_DOC = {
    "MonitoringScheduleName": "once",
    "ScheduledTime": 1699999500.0,
    "CreationTime": 1699999500.0,
    "LastModifiedTime": 1699999500.0,
    "ProcessingJobArn": f"{ARN}:processing-job/model-monitoring-202311141905-99887766",
    "EndpointName": "churn",
    "MonitoringJobDefinitionName": None,
    "MonitoringType": "DataQuality",
    "MonitoringExecutionStatus": "InProgress",
}
CRON_CONFIG = {
    "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
    "MonitoringJobDefinitionName": "dq",
    "MonitoringType": "DataQuality",
}
SCHEDULED = {
    "MonitoringScheduleArn": f"{ARN}:monitoring-schedule/hourly",
    "MonitoringScheduleName": "Hourly",
    "MonitoringType": "DataQuality",
    "CreationTime": 1699990000.0,
    "LastModifiedTime": 1699990000.0,
    "MonitoringScheduleConfig": CRON_CONFIG,
    "EndpointName": "churn",
    "MonitoringJobDefinitionName": "dq",
    "MonitoringScheduleStatus": "Scheduled",
    "_LastTick": 1699999200.0,
    "LastMonitoringExecutionSummary": EXECUTION_DOC,
}
NOW_CONFIG = {
    "ScheduleConfig": {
        "ScheduleExpression": "NOW",
        "DataAnalysisStartTime": "-PT1H",
        "DataAnalysisEndTime": "-PT0H",
    },
    "MonitoringJobDefinition": {
        "MonitoringInputs": [{"EndpointInput": {"EndpointName": "churn", "LocalPath": "/in"}}],
        "MonitoringOutputConfig": {
            "MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://b/r", "LocalPath": "/out"}}]
        },
        "MonitoringAppSpecification": {"ImageUri": "img"},
        "RoleArn": "arn:aws:iam::123456789012:role/r",
    },
}
PENDING_NOW = {
    "MonitoringScheduleArn": f"{ARN}:monitoring-schedule/once",
    "MonitoringScheduleName": "once",
    "MonitoringType": "DataQuality",
    "CreationTime": 1699999990.0,
    "LastModifiedTime": 1699999990.0,
    "MonitoringScheduleConfig": NOW_CONFIG,
    "EndpointName": "churn",
    "MonitoringJobDefinitionName": None,
    "MonitoringScheduleStatus": "Pending",
    "_SettlesAt": 1699999991.0,
    "_NowDue": True,
}
PENDING_LATER = {
    **PENDING_NOW,
    "MonitoringScheduleArn": f"{ARN}:monitoring-schedule/later",
    "MonitoringScheduleName": "later",
    "CreationTime": 1699999999.0,
    "LastModifiedTime": 1699999999.0,
    "_SettlesAt": NOW + 3600,
}
STORED: list[tuple[str, str, dict[str, Any], Any]] = [
    (EXECUTION, "model-monitoring-202311141900-0a1b2c3d", EXECUTION_DOC, MonitoringExecution),
    (
        EXECUTION,
        "model-monitoring-202311141905-99887766",
        INLINE_EXECUTION_DOC,
        MonitoringExecution,
    ),
    (SCHEDULE, "hourly", SCHEDULED, MonitoringSchedule),
    (SCHEDULE, "once", PENDING_NOW, MonitoringSchedule),
    (SCHEDULE, "later", PENDING_LATER, MonitoringSchedule),
]

# What DescribeMonitoringSchedule and the List operations answered for them.
EXECUTION_SUMMARY = {
    "MonitoringScheduleName": "Hourly",
    "ScheduledTime": 1699999200.0,
    "CreationTime": 1699999201.5,
    "LastModifiedTime": 1699999260.25,
    "MonitoringExecutionStatus": "Failed",
    "ProcessingJobArn": f"{ARN}:processing-job/model-monitoring-202311141900-0a1b2c3d",
    "EndpointName": "churn",
    "FailureReason": "Job inputs had no data",
    "MonitoringJobDefinitionName": "dq",
    "MonitoringType": "DataQuality",
}
INLINE_EXECUTION_SUMMARY = {
    "MonitoringScheduleName": "once",
    "ScheduledTime": 1699999500.0,
    "CreationTime": 1699999500.0,
    "LastModifiedTime": 1699999500.0,
    "MonitoringExecutionStatus": "InProgress",
    "ProcessingJobArn": f"{ARN}:processing-job/model-monitoring-202311141905-99887766",
    "EndpointName": "churn",
    "MonitoringType": "DataQuality",
}
DESCRIBED_SCHEDULED = {
    "MonitoringScheduleArn": f"{ARN}:monitoring-schedule/hourly",
    "MonitoringScheduleName": "Hourly",
    "MonitoringScheduleStatus": "Scheduled",
    "MonitoringType": "DataQuality",
    "CreationTime": 1699990000.0,
    "LastModifiedTime": 1699990000.0,
    "MonitoringScheduleConfig": CRON_CONFIG,
    "EndpointName": "churn",
    "LastMonitoringExecutionSummary": EXECUTION_SUMMARY,
}
DESCRIBED_PENDING_NOW = {
    "MonitoringScheduleArn": f"{ARN}:monitoring-schedule/once",
    "MonitoringScheduleName": "once",
    "MonitoringScheduleStatus": "Pending",
    "MonitoringType": "DataQuality",
    "CreationTime": 1699999990.0,
    "LastModifiedTime": 1699999990.0,
    "MonitoringScheduleConfig": NOW_CONFIG,
    "EndpointName": "churn",
}


def summary_of(doc: dict[str, Any], status: str) -> dict[str, Any]:
    keys = (
        "MonitoringScheduleName",
        "MonitoringScheduleArn",
        "CreationTime",
        "LastModifiedTime",
        "MonitoringScheduleStatus",
        "EndpointName",
        "MonitoringJobDefinitionName",
        "MonitoringType",
    )
    shown = {**doc, "MonitoringScheduleStatus": status}
    return {k: shown[k] for k in keys if shown.get(k) is not None}


@pytest.mark.parametrize(("kind", "key", "doc", "record"), STORED, ids=[s[1] for s in STORED])
def test_a_document_stored_before_the_records_is_stored_back_unchanged(
    kind: str, key: str, doc: dict[str, Any], record: Any
) -> None:
    loaded = record.from_document(copy.deepcopy(doc))
    assert loaded.to_document() == doc
    assert json.dumps(loaded.to_document()) == json.dumps(doc)  # the same keys, in order
    assert loaded.key.lower() == key


def test_describe_and_summaries_are_as_before() -> None:
    assert MonitoringSchedule.from_document(SCHEDULED).describe() == DESCRIBED_SCHEDULED
    assert list(MonitoringSchedule.from_document(SCHEDULED).describe()) == list(DESCRIBED_SCHEDULED)
    assert MonitoringSchedule.from_document(PENDING_NOW).describe() == DESCRIBED_PENDING_NOW
    assert list(MonitoringSchedule.from_document(PENDING_NOW).summary()) == list(
        summary_of(PENDING_NOW, "Pending")
    )
    summary = MonitoringExecution.from_document(EXECUTION_DOC).summary()
    assert list(summary.items()) == list(EXECUTION_SUMMARY.items())
    inline = MonitoringExecution.from_document(INLINE_EXECUTION_DOC).summary()
    assert list(inline.items()) == list(INLINE_EXECUTION_SUMMARY.items())


@pytest.fixture
def plane(tmp_path: Path) -> ControlPlane:
    store = Store(tmp_path / "state.db")
    for kind, key, doc, _ in STORED:
        store.put(kind, key, doc)
    store.close()
    settings = EmulatorSettings(data_dir=tmp_path)
    return ControlPlane(Context(Store(tmp_path / "state.db"), settings, clock=lambda: NOW))


def test_a_data_directory_written_before_the_records_is_served(plane: ControlPlane) -> None:
    describe = "DescribeMonitoringSchedule"
    assert plane(describe, {"MonitoringScheduleName": "HOURLY"}) == DESCRIBED_SCHEDULED
    settled = plane(describe, {"MonitoringScheduleName": "once"})
    assert settled == {**DESCRIBED_PENDING_NOW, "MonitoringScheduleStatus": "Scheduled"}
    stored = plane.ctx.store.get(SCHEDULE, "once")
    assert stored == {
        **{k: v for k, v in PENDING_NOW.items() if k != "_SettlesAt"},
        "MonitoringScheduleStatus": "Scheduled",
    }
    listed = plane("ListMonitoringSchedules", {})
    assert listed == {
        "MonitoringScheduleSummaries": [
            summary_of(PENDING_LATER, "Pending"),
            summary_of(PENDING_NOW, "Scheduled"),
            summary_of(SCHEDULED, "Scheduled"),
        ],
        "NextToken": None,
    }
    pending = plane("ListMonitoringSchedules", {"StatusEquals": "Pending"})
    assert pending["MonitoringScheduleSummaries"] == [summary_of(PENDING_LATER, "Pending")]
    by_name = plane("ListMonitoringSchedules", {"SortBy": "Name", "SortOrder": "Ascending"})
    names = [s["MonitoringScheduleName"] for s in by_name["MonitoringScheduleSummaries"]]
    assert names == ["Hourly", "later", "once"]


def test_executions_are_listed_filtered_and_sorted_as_before(plane: ControlPlane) -> None:
    def listed(**params: Any) -> list[dict[str, Any]]:
        found = plane("ListMonitoringExecutions", params)
        assert found["NextToken"] is None
        return list(found["MonitoringExecutionSummaries"])

    assert listed() == [INLINE_EXECUTION_SUMMARY, EXECUTION_SUMMARY]  # newest created first
    assert listed(MonitoringScheduleName="Hourly") == [EXECUTION_SUMMARY]
    assert listed(MonitoringScheduleName="hourly") == []  # as given, case and all
    assert listed(StatusEquals="InProgress", EndpointName="churn") == [INLINE_EXECUTION_SUMMARY]
    assert listed(MonitoringJobDefinitionName="dq") == [EXECUTION_SUMMARY]
    assert listed(SortBy="ScheduledTime", SortOrder="Ascending") == [
        EXECUTION_SUMMARY,
        INLINE_EXECUTION_SUMMARY,
    ]
    assert listed(SortBy="Status", SortOrder="Ascending") == [
        EXECUTION_SUMMARY,
        INLINE_EXECUTION_SUMMARY,
    ]
    bound = datetime.fromtimestamp(1699999200.0, UTC)
    assert listed(ScheduledTimeAfter=bound) == [INLINE_EXECUTION_SUMMARY]
    assert listed(ScheduledTimeBefore=bound) == [EXECUTION_SUMMARY]  # the bound itself too


def test_errors_are_worded_as_before(plane: ControlPlane) -> None:
    with pytest.raises(ResourceNotFound) as missing:
        plane("DescribeMonitoringSchedule", {"MonitoringScheduleName": "Nope"})
    assert (
        missing.value.message
        == f'Could not find monitoring schedule "{ARN}:monitoring-schedule/nope".'
    )
    with pytest.raises(ValidationException) as pending:
        plane("DeleteMonitoringSchedule", {"MonitoringScheduleName": "later"})
    assert pending.value.message == "Monitoring schedule in status Pending"
    churn = Endpoint("churn", f"{ARN}:endpoint/churn", "config", 1.0, Plan("config", []))
    plane.ctx.store.put("endpoint", "churn", churn.to_document())
    with pytest.raises(ResourceInUse) as taken:
        plane(
            "CreateMonitoringSchedule",
            {"MonitoringScheduleName": "ONCE", "MonitoringScheduleConfig": NOW_CONFIG},
        )
    assert taken.value.message == (
        f'Cannot create already existing monitoring schedule "{ARN}:monitoring-schedule/once".'
    )
    assert plane("DeleteMonitoringSchedule", {"MonitoringScheduleName": "once"}) == {}
    assert plane.ctx.store.get(SCHEDULE, "once") is None
