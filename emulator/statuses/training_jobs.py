"""Training job statuses: the machine moves the secondary status; each secondary status has
its primary status (TrainingJobStatus) and its message. `advance` checks one move and adds
it to SecondaryStatusTransitions as the SDK's fit() prints them; the job's record
(`smlocal.emulator.jobs.training.records`) keeps the statuses."""

from __future__ import annotations

from typing import Required, TypedDict

from smlocal.emulator.errors import AWSError, ValidationException
from smlocal.emulator.statuses.machine import StatusMachine

# secondary status -> TrainingJobStatus
PRIMARY: dict[str, str] = {
    "Starting": "InProgress",
    "Downloading": "InProgress",
    "Training": "InProgress",
    "Uploading": "InProgress",
    "Stopping": "Stopping",
    "Completed": "Completed",
    "Failed": "Failed",
    "Stopped": "Stopped",
    "MaxRuntimeExceeded": "Stopped",
}

# The StatusMessage of each secondary status, as the SDK's fit() prints them.
MESSAGES: dict[str, str] = {
    "Starting": "Starting the training job",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Stopping": "Stopping the training job",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job stopped: it ran longer than MaxRuntimeInSeconds",
}


def _refuse(operation: str, status: str, name: str) -> AWSError:
    """StopTrainingJob on a job that is not InProgress (AWS names the primary status)."""
    return ValidationException(
        f"The request was rejected because the training job is in status {PRIMARY[status]}."
    )


FIRST = "Starting"  # the secondary status of a job just created
TRAINING_JOB = StatusMachine(
    kind="training job",
    key="SecondaryStatus",
    moves={
        "Starting": frozenset({"Downloading", "Failed", "Stopping"}),
        "Downloading": frozenset({"Training", "Failed", "Stopping", "MaxRuntimeExceeded"}),
        "Training": frozenset({"Uploading", "Failed", "Stopping", "MaxRuntimeExceeded"}),
        "Uploading": frozenset({"Completed", "Failed", "Stopping"}),
        "Stopping": frozenset({"Stopped", "Failed"}),
        "Completed": frozenset(),
        "Failed": frozenset(),
        "Stopped": frozenset(),
        "MaxRuntimeExceeded": frozenset(),
    },
    first=FIRST,
    accepts={"StopTrainingJob": frozenset(s for s, p in PRIMARY.items() if p == "InProgress")},
    refuse=_refuse,
)
TERMINAL = TRAINING_JOB.terminal


class StatusTransition(TypedDict, total=False):
    """One entry of SecondaryStatusTransitions."""

    Status: Required[str]
    StartTime: Required[float]
    StatusMessage: Required[str]
    EndTime: float


def initial(now: float) -> list[StatusTransition]:
    """The SecondaryStatusTransitions of a job just created (secondary status FIRST)."""
    return advance([], None, FIRST, now)


def ending(current: str, wanted: str) -> str:
    """The end a job reaches: a job being stopped ends Stopped even if it had finished."""
    if current == "Stopping" and wanted in ("Completed", "MaxRuntimeExceeded"):
        return "Stopped"
    return wanted


def advance(
    transitions: list[StatusTransition], current: str | None, status: str, now: float
) -> list[StatusTransition]:
    """Check a move of the secondary status from `current` and add it to the transitions
    (the one it leaves ends now; a terminal one ends as it starts)."""
    TRAINING_JOB.check(current, status)
    if transitions and "EndTime" not in transitions[-1]:
        transitions[-1]["EndTime"] = now
    entry = StatusTransition(Status=status, StartTime=now, StatusMessage=MESSAGES[status])
    if status in TERMINAL:
        entry["EndTime"] = now
    transitions.append(entry)
    return transitions
