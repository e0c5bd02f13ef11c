"""Pipeline execution and step statuses.

An execution is Executing until its steps end: Succeeded, Failed, or Stopped after
StopPipelineExecution (Stopping in between). RetryPipelineExecution takes a Failed (or
Stopped) execution back to Executing. A step is Starting, then Executing, and ends
Succeeded, Failed or Stopped; a step retried by RetryPipelineExecution starts again.
"""

from __future__ import annotations

from smlocal.emulator.errors import AWSError, ConflictException
from smlocal.emulator.statuses.machine import StatusMachine

_ACTION = {"StopPipelineExecution": "stopped", "RetryPipelineExecution": "retried"}
_WHEN = {"StopPipelineExecution": "Executing", "RetryPipelineExecution": "Failed or Stopped"}


def _refuse(operation: str, status: str, arn: str) -> AWSError:
    """Stop or Retry on an execution in another status."""
    return ConflictException(
        f"Pipeline execution '{arn}' is in status {status}; only a pipeline execution in "
        f"status {_WHEN[operation]} can be {_ACTION[operation]}."
    )


PIPELINE_EXECUTION = StatusMachine(
    kind="pipeline execution",
    key="PipelineExecutionStatus",
    moves={
        "Executing": frozenset({"Stopping", "Succeeded", "Failed", "Stopped"}),
        "Stopping": frozenset({"Stopped", "Failed", "Succeeded"}),
        "Succeeded": frozenset(),
        "Failed": frozenset({"Executing"}),
        "Stopped": frozenset({"Executing"}),
    },
    first="Executing",
    accepts={
        "StopPipelineExecution": frozenset({"Executing"}),
        "RetryPipelineExecution": frozenset({"Failed", "Stopped"}),
    },
    refuse=_refuse,
)
EXECUTION_ENDS = frozenset({"Succeeded", "Failed", "Stopped"})

STEP = StatusMachine(
    kind="pipeline step",
    key="StepStatus",
    moves={
        "Starting": frozenset({"Executing", "Succeeded", "Failed", "Stopped"}),
        "Executing": frozenset({"Stopping", "Succeeded", "Failed", "Stopped"}),
        "Stopping": frozenset({"Stopped", "Failed", "Succeeded"}),
        "Succeeded": frozenset(),
        "Failed": frozenset({"Starting"}),
        "Stopped": frozenset({"Starting"}),
    },
    first="Starting",
)
STEP_ENDS = frozenset({"Succeeded", "Failed", "Stopped"})
