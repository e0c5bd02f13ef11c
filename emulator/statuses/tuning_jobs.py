"""Hyperparameter tuning job statuses: InProgress -> Completed / Failed, or Stopping ->
Stopped; StopHyperParameterTuningJob only while InProgress, DeleteHyperParameterTuningJob
only once the job has ended."""

from __future__ import annotations

from smlocal.emulator.errors import AWSError, ResourceInUse, ValidationException
from smlocal.emulator.statuses.machine import StatusMachine

ENDED = frozenset({"Completed", "Failed", "Stopped"})


def _refuse(operation: str, status: str, name: str) -> AWSError:
    if operation == "DeleteHyperParameterTuningJob":
        return ResourceInUse(
            f"Hyperparameter tuning job {name} is in status {status}; only a job that has "
            "ended (Completed, Failed or Stopped) can be deleted."
        )
    return ValidationException(
        f"The request was rejected because the hyperparameter tuning job is in status {status}."
    )


TUNING_JOB = StatusMachine(
    kind="hyperparameter tuning job",
    key="HyperParameterTuningJobStatus",
    moves={
        "InProgress": frozenset({"Completed", "Failed", "Stopping"}),
        "Stopping": frozenset({"Stopped", "Failed"}),
        "Completed": frozenset(),
        "Failed": frozenset(),
        "Stopped": frozenset(),
    },
    first="InProgress",
    accepts={
        "StopHyperParameterTuningJob": frozenset({"InProgress"}),
        "DeleteHyperParameterTuningJob": ENDED,
    },
    refuse=_refuse,
)
