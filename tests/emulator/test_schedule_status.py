"""A new or updated monitoring schedule is Pending, then Scheduled (issue 10, item 8)."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from tests.emulator.test_monitoring_jobs import (
    BASELINE_CSV,
    baseline_files,
    failed_endpoint_with_capture,
    job_definition,
)
from tests.support import unique


@pytest.fixture(scope="module")
def sm(smlocal):
    return smlocal.client("sagemaker")


@pytest.fixture(scope="module")
def s3(smlocal):
    client = smlocal.client("s3")
    client.create_bucket(Bucket="mon")
    client.put_object(Bucket="mon", Key="data/baseline.csv", Body=BASELINE_CSV.encode())
    return client


def status(sm, name: str) -> str:
    return sm.describe_monitoring_schedule(MonitoringScheduleName=name)["MonitoringScheduleStatus"]


def wait_scheduled(sm, name: str, timeout: float = 10) -> float:
    started = time.monotonic()
    while status(sm, name) == "Pending":
        assert time.monotonic() - started < timeout
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_new_schedule_is_pending_then_scheduled(sm, s3) -> None:
    statistics, constraints = baseline_files(sm, s3)
    endpoint = unique("pending")
    failed_endpoint_with_capture(sm, endpoint, "s3://mon/capture")
    definition = unique("dq-def")
    job_definition(sm, definition, endpoint, statistics, constraints)
    name = unique("hourly")
    config = {"ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
              "MonitoringJobDefinitionName": definition, "MonitoringType": "DataQuality"}  # fmt: skip
    sm.create_monitoring_schedule(MonitoringScheduleName=name, MonitoringScheduleConfig=config)
    assert status(sm, name) == "Pending"
    listed = sm.list_monitoring_schedules(StatusEquals="Pending")["MonitoringScheduleSummaries"]
    assert name in [s["MonitoringScheduleName"] for s in listed]
    with pytest.raises(ClientError) as caught:
        sm.delete_monitoring_schedule(MonitoringScheduleName=name)
    assert caught.value.response["Error"]["Message"] == "Monitoring schedule in status Pending"
    assert 0.5 < wait_scheduled(sm, name) < 5
    assert status(sm, name) == "Scheduled"
    sm.update_monitoring_schedule(MonitoringScheduleName=name, MonitoringScheduleConfig=config)
    assert status(sm, name) == "Pending"
    wait_scheduled(sm, name)
    sm.stop_monitoring_schedule(MonitoringScheduleName=name)
    assert status(sm, name) == "Stopped"
    sm.delete_monitoring_schedule(MonitoringScheduleName=name)
    sm.delete_data_quality_job_definition(JobDefinitionName=definition)
