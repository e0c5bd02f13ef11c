"""A new or updated monitoring schedule is Pending, then Scheduled (issue 10, item 8)."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from smlocal.emulator.settings import EmulatorSettings
from tests.emulator.jobs.test_monitoring_jobs import (
    BASELINE_CSV,
    baseline_files,
    failed_endpoint_with_capture,
    job_definition,
)
from tests.support import unique

# This module's emulator keeps a new or updated schedule Pending for this long (the setting
# SMLOCAL_SCHEDULE_PENDING_SECONDS, 1 s by default), so that a loaded machine makes the
# requests that must see it Pending well inside the window.
PENDING_SECONDS = 5.0


@pytest.fixture
def emulator(smlocal_factory):
    return smlocal_factory(env={"SMLOCAL_SCHEDULE_PENDING_SECONDS": str(PENDING_SECONDS)})


@pytest.fixture
def sm(emulator):
    return emulator.client("sagemaker")


@pytest.fixture
def s3(emulator):
    client = emulator.client("s3")
    client.create_bucket(Bucket="mon")
    client.put_object(Bucket="mon", Key="data/baseline.csv", Body=BASELINE_CSV.encode())
    return client


def status(sm, name: str) -> str:
    return sm.describe_monitoring_schedule(MonitoringScheduleName=name)["MonitoringScheduleStatus"]


def wait_scheduled(sm, name: str, since: float) -> float:
    """Seconds from `since` (time.monotonic() before the create or update) until the schedule
    is seen out of Pending."""
    while status(sm, name) == "Pending":
        assert time.monotonic() - since < PENDING_SECONDS + 30, f"{name} stays Pending"
        time.sleep(0.05)
    return time.monotonic() - since


# The emulator's timestamps are rounded to the millisecond.
ROUNDING = 0.002


def test_the_pending_time_is_a_setting() -> None:
    assert EmulatorSettings.from_env({}).schedule_pending_seconds == 1.0
    settings = EmulatorSettings.from_env({"SMLOCAL_SCHEDULE_PENDING_SECONDS": "2.5"})
    assert settings.schedule_pending_seconds == 2.5
    with pytest.raises(ValueError, match="SMLOCAL_SCHEDULE_PENDING_SECONDS='0'"):
        EmulatorSettings.from_env({"SMLOCAL_SCHEDULE_PENDING_SECONDS": "0"})


def test_a_new_schedule_is_pending_then_scheduled(sm, s3) -> None:
    statistics, constraints = baseline_files(sm, s3)
    endpoint = unique("pending")
    failed_endpoint_with_capture(sm, endpoint, "s3://mon/capture")
    definition = unique("dq-def")
    job_definition(sm, definition, endpoint, statistics, constraints)
    name = unique("hourly")
    config = {"ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
              "MonitoringJobDefinitionName": definition, "MonitoringType": "DataQuality"}  # fmt: skip
    before = time.monotonic()
    sm.create_monitoring_schedule(MonitoringScheduleName=name, MonitoringScheduleConfig=config)
    assert status(sm, name) == "Pending"
    listed = sm.list_monitoring_schedules(StatusEquals="Pending")["MonitoringScheduleSummaries"]
    assert name in [s["MonitoringScheduleName"] for s in listed]
    with pytest.raises(ClientError) as caught:
        sm.delete_monitoring_schedule(MonitoringScheduleName=name)
    assert caught.value.response["Error"]["Message"] == "Monitoring schedule in status Pending"
    assert wait_scheduled(sm, name, before) >= PENDING_SECONDS - ROUNDING
    assert status(sm, name) == "Scheduled"
    before = time.monotonic()
    sm.update_monitoring_schedule(MonitoringScheduleName=name, MonitoringScheduleConfig=config)
    assert status(sm, name) == "Pending"
    assert wait_scheduled(sm, name, before) >= PENDING_SECONDS - ROUNDING
    sm.stop_monitoring_schedule(MonitoringScheduleName=name)
    assert status(sm, name) == "Stopped"
    sm.delete_monitoring_schedule(MonitoringScheduleName=name)
    sm.delete_data_quality_job_definition(JobDefinitionName=definition)
