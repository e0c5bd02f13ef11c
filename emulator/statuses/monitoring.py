"""Monitoring schedule and monitoring execution statuses.

A schedule is Pending when created or updated, then Scheduled; StartMonitoringSchedule and
StopMonitoringSchedule move it to Scheduled or Stopped from any status. SageMaker's Failed
is not emulated (smlocal refuses a schedule it cannot run when it is created or updated),
and no status is an end: deleting a schedule removes it. An execution runs as its
processing job does and ends with the job's outcome; a completed job's exit message tells
Completed from CompletedWithViolations.
"""

from __future__ import annotations

from smlocal.emulator.errors import AWSError, ValidationException
from smlocal.emulator.statuses.machine import StatusMachine

_ANY_SCHEDULE = frozenset({"Pending", "Scheduled", "Stopped"})


def _refuse(operation: str, status: str, name: str) -> AWSError:
    """DeleteMonitoringSchedule while the schedule is Pending."""
    return ValidationException(f"Monitoring schedule in status {status}")


MONITORING_SCHEDULE = StatusMachine(
    kind="monitoring schedule",
    key="MonitoringScheduleStatus",
    moves={"Pending": _ANY_SCHEDULE, "Scheduled": _ANY_SCHEDULE, "Stopped": _ANY_SCHEDULE},
    first="Pending",
    accepts={"DeleteMonitoringSchedule": _ANY_SCHEDULE - {"Pending"}},
    refuse=_refuse,
)

MONITORING_EXECUTION = StatusMachine(
    kind="monitoring execution",
    key="MonitoringExecutionStatus",
    moves={
        "InProgress": frozenset({"Completed", "CompletedWithViolations", "Failed", "Stopped"}),
        "Completed": frozenset(),
        "CompletedWithViolations": frozenset(),
        "Failed": frozenset(),
        "Stopped": frozenset(),
    },
    first="InProgress",
)
