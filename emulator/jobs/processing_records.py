"""A processing job's stored document: its kind, how it is found, and how its status moves.

Both sides use these: the control plane (CreateProcessingJob, StopProcessingJob, monitoring
executions) and the runner in `smlocal.emulator.jobs.processing`.
"""

from __future__ import annotations

from typing import Any

from smlocal.emulator.errors import ValidationException
from smlocal.emulator.statuses.processing_jobs import PROCESSING_JOB
from smlocal.emulator.support.state import State
from smlocal.emulator.support.store import Document

KIND = "processing-job"


def get_job(state: State, name: str) -> Document:
    """A job's stored document, or SageMaker's error for an unknown job."""
    doc = state.store.get(KIND, name)
    if doc is None:
        raise ValidationException(f"Could not find requested job with name {name}")
    return doc


def set_status(state: State, name: str, status: str, **changes: Any) -> Document:
    """Move a job to a status its transitions allow; return the updated document."""
    with state.store.transaction():
        doc = get_job(state, name)
        PROCESSING_JOB.move(doc, status)
        doc.update(changes)
        doc["LastModifiedTime"] = state.now()
        if status in PROCESSING_JOB.terminal:
            doc["ProcessingEndTime"] = state.now()
        state.store.put(KIND, name, doc)
    return doc
