"""Transform job statuses: InProgress -> Completed / Failed, or Stopping -> Stopped."""

from __future__ import annotations

from smlocal.emulator.errors import AWSError, ValidationException
from smlocal.emulator.statuses.machine import StatusMachine


def _refuse(operation: str, status: str, name: str) -> AWSError:
    """StopTransformJob on a job that is not InProgress."""
    return ValidationException(
        f"The transform job {name} is {status}; only a job in progress can be stopped."
    )


TRANSFORM_JOB = StatusMachine(
    kind="transform job",
    key="TransformJobStatus",
    moves={
        "InProgress": frozenset({"Completed", "Failed", "Stopping"}),
        "Stopping": frozenset({"Stopped", "Completed", "Failed"}),
        "Completed": frozenset(),
        "Failed": frozenset(),
        "Stopped": frozenset(),
    },
    first="InProgress",
    accepts={"StopTransformJob": frozenset({"InProgress"})},
    refuse=_refuse,
)
