"""Monitoring schedules and their executions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from smlocal.emulator.control.context import Context, not_found
from smlocal.emulator.control.kinds import pick
from smlocal.emulator.control.monitoring_executions import EXECUTION, parse_duration, spec_of
from smlocal.emulator.control.pagination import filtered, page, sort
from smlocal.emulator.control.tags import drop_tags, set_tags
from smlocal.emulator.errors import ResourceInUse, ResourceNotFound, ValidationException
from smlocal.emulator.jobs.scheduler import (
    SCHEDULE,
    SETTLES_AT,
    is_now,
    pending,
    settle,
    to_croniter,
)
from smlocal.emulator.statuses.monitoring import MONITORING_SCHEDULE

DESCRIBE_KEYS = (
    "MonitoringScheduleArn",
    "MonitoringScheduleName",
    "MonitoringScheduleStatus",
    "MonitoringType",
    "FailureReason",
    "CreationTime",
    "LastModifiedTime",
    "MonitoringScheduleConfig",
    "EndpointName",
    "LastMonitoringExecutionSummary",
)
SUMMARY_KEYS = (
    "MonitoringScheduleName",
    "MonitoringScheduleArn",
    "CreationTime",
    "LastModifiedTime",
    "MonitoringScheduleStatus",
    "EndpointName",
    "MonitoringJobDefinitionName",
    "MonitoringType",
)
EXECUTION_KEYS = (
    "MonitoringScheduleName",
    "ScheduledTime",
    "CreationTime",
    "LastModifiedTime",
    "MonitoringExecutionStatus",
    "ProcessingJobArn",
    "EndpointName",
    "FailureReason",
    "MonitoringJobDefinitionName",
    "MonitoringType",
)
MAX_NOW_WINDOW = timedelta(hours=24)


def _check_schedule(ctx: Context, config: dict[str, Any]) -> str:
    """Validate a MonitoringScheduleConfig; return the monitored endpoint."""
    spec = spec_of(ctx, config)
    if ctx.store.get("endpoint", spec.endpoint) is None:
        raise not_found("endpoint", ctx.arn("endpoint", spec.endpoint))
    schedule = config["ScheduleConfig"]
    if not is_now(schedule["ScheduleExpression"]):
        to_croniter(schedule["ScheduleExpression"])
        return spec.endpoint
    if "DataAnalysisStartTime" not in schedule or "DataAnalysisEndTime" not in schedule:
        raise ValidationException(
            "A NOW schedule needs DataAnalysisStartTime and DataAnalysisEndTime, such as -PT1H "
            "and -PT0H."
        )
    start = parse_duration(schedule["DataAnalysisStartTime"])
    end = parse_duration(schedule["DataAnalysisEndTime"])
    if not start < end <= timedelta(0) or end - start > MAX_NOW_WINDOW:
        raise ValidationException(
            "DataAnalysisStartTime must come before DataAnalysisEndTime, neither in the future, "
            "and the window may not exceed 24 hours."
        )
    return spec.endpoint


def create_monitoring_schedule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateMonitoringSchedule: Pending, then Scheduled; a NOW schedule then runs its one
    execution (the scheduler starts it)."""
    name = params["MonitoringScheduleName"]
    arn = ctx.arn(SCHEDULE, name)
    config = params["MonitoringScheduleConfig"]
    endpoint = _check_schedule(ctx, config)
    with ctx.store.transaction():
        if ctx.store.get(SCHEDULE, name) is not None:
            raise ResourceInUse(f'Cannot create already existing monitoring schedule "{arn}".')
        now = ctx.now()
        doc = {
            "MonitoringScheduleArn": arn,
            "MonitoringScheduleName": name,
            "MonitoringType": config.get("MonitoringType", "DataQuality"),
            "CreationTime": now,
            "LastModifiedTime": now,
            "MonitoringScheduleConfig": config,
            "EndpointName": endpoint,
            "MonitoringJobDefinitionName": config.get("MonitoringJobDefinitionName"),
        }
        pending(doc, now, ctx.settings.schedule_pending_seconds)
        ctx.store.put(SCHEDULE, name, doc)
        set_tags(ctx, arn, params.get("Tags", []))
    return {"MonitoringScheduleArn": arn}


def get_schedule(ctx: Context, name: str) -> dict[str, Any]:
    """A schedule, or ResourceNotFound (which the SDK waits for after a delete)."""
    doc = ctx.store.get(SCHEDULE, name)
    if doc is None:
        raise ResourceNotFound(f'Could not find monitoring schedule "{ctx.arn(SCHEDULE, name)}".')
    return settle(ctx, doc)


def describe_monitoring_schedule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeMonitoringSchedule."""
    doc = get_schedule(ctx, params["MonitoringScheduleName"])
    out = pick(doc, DESCRIBE_KEYS)
    if "LastMonitoringExecutionSummary" in out:
        out["LastMonitoringExecutionSummary"] = pick(
            out["LastMonitoringExecutionSummary"], EXECUTION_KEYS
        )
    return out


def list_monitoring_schedules(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListMonitoringSchedules."""
    docs = filtered(
        [settle(ctx, doc) for doc in ctx.store.all(SCHEDULE)],
        params,
        "MonitoringScheduleName",
        equals={
            "EndpointName": "EndpointName",
            "StatusEquals": "MonitoringScheduleStatus",
            "MonitoringJobDefinitionName": "MonitoringJobDefinitionName",
            "MonitoringTypeEquals": "MonitoringType",
        },
    )
    docs = sort(
        docs,
        params,
        {
            "Name": "MonitoringScheduleName",
            "CreationTime": "CreationTime",
            "Status": "MonitoringScheduleStatus",
        },
    )
    chunk, token = page(docs, params)
    return {
        "MonitoringScheduleSummaries": [pick(d, SUMMARY_KEYS) for d in chunk],
        "NextToken": token,
    }


def update_monitoring_schedule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateMonitoringSchedule: a new config, Pending again (a NOW config runs again)."""
    name = params["MonitoringScheduleName"]
    config = params["MonitoringScheduleConfig"]
    endpoint = _check_schedule(ctx, config)
    with ctx.store.transaction():
        doc = get_schedule(ctx, name)
        doc.update(
            {
                "MonitoringScheduleConfig": config,
                "EndpointName": endpoint,
                "MonitoringJobDefinitionName": config.get("MonitoringJobDefinitionName"),
                "MonitoringType": config.get("MonitoringType", "DataQuality"),
                "LastModifiedTime": ctx.now(),
            }
        )
        pending(doc, ctx.now(), ctx.settings.schedule_pending_seconds)
        ctx.store.put(SCHEDULE, name, doc)
    return {"MonitoringScheduleArn": doc["MonitoringScheduleArn"]}


def _set_status(ctx: Context, name: str, status: str) -> dict[str, Any]:
    with ctx.store.transaction():
        doc = get_schedule(ctx, name)
        MONITORING_SCHEDULE.move(doc, status)
        doc["LastModifiedTime"] = ctx.now()
        doc.pop(SETTLES_AT, None)
        ctx.store.put(SCHEDULE, name, doc)
    return {}


def start_monitoring_schedule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StartMonitoringSchedule: Scheduled again (the next cron time fires)."""
    return _set_status(ctx, params["MonitoringScheduleName"], "Scheduled")


def stop_monitoring_schedule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StopMonitoringSchedule: no more executions until started."""
    return _set_status(ctx, params["MonitoringScheduleName"], "Stopped")


def delete_monitoring_schedule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteMonitoringSchedule (its executions stay listed)."""
    with ctx.store.transaction():
        doc = get_schedule(ctx, params["MonitoringScheduleName"])
        MONITORING_SCHEDULE.require(
            "DeleteMonitoringSchedule",
            doc["MonitoringScheduleStatus"],
            doc["MonitoringScheduleName"],
        )
        ctx.store.delete(SCHEDULE, doc["MonitoringScheduleName"])
        drop_tags(ctx, doc["MonitoringScheduleArn"])
    return {}


def list_monitoring_executions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListMonitoringExecutions (the SDK sorts by ScheduledTime, newest first)."""
    docs = filtered(
        ctx.store.all(EXECUTION),
        params,
        "MonitoringScheduleName",
        equals={
            "MonitoringScheduleName": "MonitoringScheduleName",
            "EndpointName": "EndpointName",
            "StatusEquals": "MonitoringExecutionStatus",
            "MonitoringJobDefinitionName": "MonitoringJobDefinitionName",
            "MonitoringTypeEquals": "MonitoringType",
        },
    )
    for param, after in (("ScheduledTimeAfter", True), ("ScheduledTimeBefore", False)):
        if param in params:
            bound = params[param].timestamp()
            docs = [d for d in docs if (d["ScheduledTime"] > bound) == after]
    docs = sort(
        docs,
        params,
        {
            "CreationTime": "CreationTime",
            "ScheduledTime": "ScheduledTime",
            "Status": "MonitoringExecutionStatus",
        },
    )
    chunk, token = page(docs, params)
    return {
        "MonitoringExecutionSummaries": [pick(d, EXECUTION_KEYS) for d in chunk],
        "NextToken": token,
    }


def refuse_deleting_a_monitored_endpoint(ctx: Context, name: str, arn: str) -> None:
    """DeleteEndpoint is refused while a monitoring schedule uses the endpoint, as in AWS."""
    users = [
        s["MonitoringScheduleName"]
        for s in ctx.store.all(SCHEDULE)
        if s.get("EndpointName", "").lower() == name.lower()
    ]
    if users:
        raise ValidationException(
            f'Cannot delete endpoint "{arn}": monitoring schedule(s) '
            f"{', '.join(users)} use it. Delete the monitoring schedules first."
        )
