"""Monitoring schedules and their executions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from smlocal.emulator.control.context import Context, not_found
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.control.monitoring_executions import EXECUTIONS, parse_duration, spec_of
from smlocal.emulator.errors import ResourceInUse, ResourceNotFound, ValidationException
from smlocal.emulator.hosting.endpoint_records import KIND as ENDPOINT
from smlocal.emulator.hosting.endpoint_records import stored
from smlocal.emulator.jobs.schedule_records import (
    SCHEDULE,
    MonitoringExecution,
    MonitoringSchedule,
    MonitoringScheduleConfig,
)
from smlocal.emulator.jobs.scheduler import is_now, pending, settle, to_croniter
from smlocal.emulator.statuses.monitoring import MONITORING_SCHEDULE

SCHEDULES = Kind(
    resource=SCHEDULE,
    load=MonitoringSchedule.from_document,
    noun="monitoring schedule",
    name_key="MonitoringScheduleName",
    list_key="MonitoringScheduleSummaries",
    equals={
        "EndpointName": "EndpointName",
        "StatusEquals": "MonitoringScheduleStatus",
        "MonitoringJobDefinitionName": "MonitoringJobDefinitionName",
        "MonitoringTypeEquals": "MonitoringType",
    },
    sort_keys={"Status": "MonitoringScheduleStatus"},
    missing=ResourceNotFound,
    duplicate=ResourceInUse,
)
MAX_NOW_WINDOW = timedelta(hours=24)


def _check_schedule(ctx: Context, config: MonitoringScheduleConfig) -> str | None:
    """Validate a MonitoringScheduleConfig; return the monitored endpoint (None: a batch
    transform's captures)."""
    spec = spec_of(ctx, config)
    if spec.endpoint is not None and stored(ctx, spec.endpoint) is None:
        raise not_found("endpoint", ctx.arn(ENDPOINT, spec.endpoint))
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
    config: MonitoringScheduleConfig = params["MonitoringScheduleConfig"]
    endpoint = _check_schedule(ctx, config)
    now = ctx.now()
    schedule = MonitoringSchedule(
        name=name,
        arn=ctx.arn(SCHEDULE, name),
        monitoring_type=config.get("MonitoringType", "DataQuality"),
        creation_time=now,
        last_modified_time=now,
        config=config,
        endpoint_name=endpoint,
        job_definition_name=config.get("MonitoringJobDefinitionName"),
        status="Pending",
    )
    pending(schedule, now, ctx.settings.schedule_pending_seconds)
    SCHEDULES.add(ctx, schedule, params.get("Tags", []))
    return {"MonitoringScheduleArn": schedule.arn}


def get_schedule(ctx: Context, name: str) -> MonitoringSchedule:
    """A schedule, settled, or ResourceNotFound (which the SDK waits for after a delete)."""
    return settle(ctx, SCHEDULES.get(ctx, name))


def describe_monitoring_schedule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeMonitoringSchedule."""
    return get_schedule(ctx, params["MonitoringScheduleName"]).describe()


def list_monitoring_schedules(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListMonitoringSchedules (of the schedules as settled now)."""
    settled = [settle(ctx, schedule) for schedule in SCHEDULES.records(ctx)]
    return SCHEDULES.listing(ctx, params, records=settled)


def update_monitoring_schedule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateMonitoringSchedule: a new config, Pending again (a NOW config runs again)."""
    config: MonitoringScheduleConfig = params["MonitoringScheduleConfig"]
    endpoint = _check_schedule(ctx, config)
    with ctx.store.transaction():
        schedule = get_schedule(ctx, params["MonitoringScheduleName"])
        schedule.config = config
        schedule.endpoint_name = endpoint
        schedule.job_definition_name = config.get("MonitoringJobDefinitionName")
        schedule.monitoring_type = config.get("MonitoringType", "DataQuality")
        schedule.last_modified_time = ctx.now()
        pending(schedule, ctx.now(), ctx.settings.schedule_pending_seconds)
        SCHEDULES.save(ctx, schedule)
    return {"MonitoringScheduleArn": schedule.arn}


def _set_status(ctx: Context, name: str, status: str) -> dict[str, Any]:
    with ctx.store.transaction():
        schedule = get_schedule(ctx, name)
        schedule.move(status)
        schedule.last_modified_time = ctx.now()
        schedule.settles_at = None
        SCHEDULES.save(ctx, schedule)
    return {}


def start_monitoring_schedule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StartMonitoringSchedule: Scheduled again (the next cron time fires)."""
    return _set_status(ctx, params["MonitoringScheduleName"], "Scheduled")


def stop_monitoring_schedule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StopMonitoringSchedule: no more executions until started."""
    return _set_status(ctx, params["MonitoringScheduleName"], "Stopped")


def delete_monitoring_schedule(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteMonitoringSchedule (its executions stay listed); refused while Pending."""

    def refuse_while_pending(schedule: MonitoringSchedule) -> None:
        MONITORING_SCHEDULE.require("DeleteMonitoringSchedule", schedule.status, schedule.name)

    name = params["MonitoringScheduleName"]
    with ctx.store.transaction():
        get_schedule(ctx, name)  # settled first: a schedule whose Pending time is over may go
        return SCHEDULES.delete(ctx, name, refuse_while_pending)


def list_monitoring_executions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListMonitoringExecutions (the SDK sorts by ScheduledTime, newest first)."""
    bounds = [
        (params[param].timestamp(), after)
        for param, after in (("ScheduledTimeAfter", True), ("ScheduledTimeBefore", False))
        if param in params
    ]

    def in_bounds(execution: MonitoringExecution) -> bool:
        return all((execution.scheduled_time > bound) == after for bound, after in bounds)

    return EXECUTIONS.listing(ctx, params, keep=in_bounds)


def refuse_deleting_a_monitored_endpoint(ctx: Context, name: str, arn: str) -> None:
    """DeleteEndpoint is refused while a monitoring schedule uses the endpoint, as in AWS."""
    users = [
        s.name for s in SCHEDULES.records(ctx) if (s.endpoint_name or "").lower() == name.lower()
    ]
    if users:
        raise ValidationException(
            f'Cannot delete endpoint "{arn}": monitoring schedule(s) '
            f"{', '.join(users)} use it. Delete the monitoring schedules first."
        )
