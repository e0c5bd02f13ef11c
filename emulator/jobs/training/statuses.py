"""Training job statuses as data: each secondary status, its primary status, its message,
and the secondary statuses it may move to. `advance` applies one move to a job document."""

from __future__ import annotations

from typing import Any

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

# secondary status -> the secondary statuses it may move to
NEXT: dict[str, frozenset[str]] = {
    "Starting": frozenset({"Downloading", "Failed", "Stopping"}),
    "Downloading": frozenset({"Training", "Failed", "Stopping", "MaxRuntimeExceeded"}),
    "Training": frozenset({"Uploading", "Failed", "Stopping", "MaxRuntimeExceeded"}),
    "Uploading": frozenset({"Completed", "Failed", "Stopping"}),
    "Stopping": frozenset({"Stopped", "Failed"}),
    "Completed": frozenset(),
    "Failed": frozenset(),
    "Stopped": frozenset(),
    "MaxRuntimeExceeded": frozenset(),
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

TERMINAL = frozenset(s for s, moves in NEXT.items() if not moves)


class IllegalTransition(RuntimeError):
    """A move the table does not allow (a bug in the manager, not a user error)."""


def initial(now: float) -> dict[str, Any]:
    """The status fields of a job just created."""
    return {
        "TrainingJobStatus": PRIMARY["Starting"],
        "SecondaryStatus": "Starting",
        "SecondaryStatusTransitions": [
            {"Status": "Starting", "StartTime": now, "StatusMessage": MESSAGES["Starting"]}
        ],
        "LastModifiedTime": now,
    }


def ending(current: str, wanted: str) -> str:
    """The end a job reaches: a job being stopped ends Stopped even if it had finished."""
    if current == "Stopping" and wanted in ("Completed", "MaxRuntimeExceeded"):
        return "Stopped"
    return wanted


def advance(doc: dict[str, Any], status: str, now: float) -> dict[str, Any]:
    """Move a job document to a secondary status (the primary status follows)."""
    current = doc["SecondaryStatus"]
    if status not in NEXT[current]:
        raise IllegalTransition(f"training job cannot go from {current} to {status}")
    transitions = doc.setdefault("SecondaryStatusTransitions", [])
    if transitions and "EndTime" not in transitions[-1]:
        transitions[-1]["EndTime"] = now
    entry: dict[str, Any] = {"Status": status, "StartTime": now, "StatusMessage": MESSAGES[status]}
    if status in TERMINAL:
        entry["EndTime"] = now
    transitions.append(entry)
    doc.update(TrainingJobStatus=PRIMARY[status], SecondaryStatus=status, LastModifiedTime=now)
    return doc
