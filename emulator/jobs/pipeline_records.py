"""A pipeline execution's record: what StartPipelineExecution stored and the executor moves on.

Both sides use it: the control plane (StartPipelineExecution, DescribePipelineExecution,
ListPipelineExecutions, ListPipelineExecutionSteps, Stop/Retry) and the pipeline executor
(`smlocal.emulator.jobs.pipelines`), which runs the definition it holds and records each
step. The stored document is the DescribePipelineExecution output plus private members: the
definition the execution runs (`_Definition`), its parameters' values (`_Parameters`) and
its steps (`_Steps`, each a ListPipelineExecutionSteps item plus its own private members).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from typing import Any, Required, TypedDict

from smlocal.emulator.errors import ResourceNotFound
from smlocal.emulator.statuses.pipelines import PIPELINE_EXECUTION, STEP
from smlocal.emulator.support.records import Document, Nested, shown
from smlocal.emulator.support.state import State

KIND = "pipeline-execution"
_ID_CHARACTERS = string.ascii_lowercase + string.digits


class StepRun(TypedDict, total=False):
    """One step of an execution: a ListPipelineExecutionSteps item, and (`_`-prefixed) what
    smlocal keeps to run it, resolve references to it and find it in the cache."""

    StepName: Required[str]
    StepDisplayName: str
    StepDescription: str
    StartTime: float
    EndTime: float
    StepStatus: Required[str]
    CacheHitResult: dict[str, str]
    FailureReason: str
    Metadata: Nested
    AttemptCount: int
    _Type: str
    _Properties: Nested  # what `Get Steps.<name>...` reads
    _CacheKey: str  # the step's type and resolved arguments, hashed


AWS_STEP_KEYS = (
    "StepName", "StepDisplayName", "StepDescription", "StartTime", "EndTime", "StepStatus",
    "CacheHitResult", "FailureReason", "Metadata", "AttemptCount",
)  # fmt: skip


def new_execution_id() -> str:
    """An execution id as SageMaker makes them: 12 lower-case letters and digits."""
    return "".join(secrets.choice(_ID_CHARACTERS) for _ in range(12))


def execution_arn(pipeline_arn: str, execution_id: str) -> str:
    """arn:...:pipeline/{name}/execution/{id}."""
    return f"{pipeline_arn}/execution/{execution_id}"


@dataclass
class PipelineExecution:
    """A pipeline execution as StartPipelineExecution recorded it and its run moved it on."""

    arn: str
    pipeline_arn: str
    pipeline_name: str
    status: str
    creation_time: float
    last_modified_time: float
    definition: str  # the pipeline definition JSON the execution runs
    parameters: dict[str, Any]  # every parameter's value, typed
    steps: list[StepRun] = field(default_factory=list)
    display_name: str | None = None
    description: str | None = None
    failure_reason: str | None = None
    experiment_config: Nested | None = None
    parallelism: Nested | None = None
    role_arn: str | None = None

    @property
    def key(self) -> str:
        """Its store key: the ARN."""
        return self.arn

    @property
    def execution_id(self) -> str:
        """The last part of its ARN."""
        return self.arn.rsplit("/", 1)[1]

    @classmethod
    def from_document(cls, doc: Document) -> PipelineExecution:
        """The execution of a stored document."""
        return cls(
            arn=doc["PipelineExecutionArn"],
            pipeline_arn=doc["PipelineArn"],
            pipeline_name=doc["_PipelineName"],
            status=doc["PipelineExecutionStatus"],
            creation_time=doc["CreationTime"],
            last_modified_time=doc["LastModifiedTime"],
            definition=doc["_Definition"],
            parameters=doc["_Parameters"],
            steps=doc.get("_Steps", []),
            display_name=doc.get("PipelineExecutionDisplayName"),
            description=doc.get("PipelineExecutionDescription"),
            failure_reason=doc.get("FailureReason"),
            experiment_config=doc.get("PipelineExperimentConfig"),
            parallelism=doc.get("ParallelismConfiguration"),
            role_arn=doc.get("RoleArn"),
        )

    def to_document(self) -> Document:
        """The stored document."""
        return {
            **self.describe(),
            "_PipelineName": self.pipeline_name,
            "_Definition": self.definition,
            "_Parameters": self.parameters,
            "_Steps": self.steps,
        }

    def describe(self) -> dict[str, object]:
        """DescribePipelineExecution's output."""
        return shown(
            (
                ("PipelineArn", self.pipeline_arn),
                ("PipelineExecutionArn", self.arn),
                ("PipelineExecutionDisplayName", self.display_name),
                ("PipelineExecutionStatus", self.status),
                ("PipelineExecutionDescription", self.description),
                ("PipelineExperimentConfig", self.experiment_config),
                ("FailureReason", self.failure_reason),
                ("CreationTime", self.creation_time),
                ("LastModifiedTime", self.last_modified_time),
                ("CreatedBy", {}),
                ("LastModifiedBy", {}),
                ("ParallelismConfiguration", self.parallelism),
                ("RoleArn", self.role_arn),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListPipelineExecutions' item."""
        return shown(
            (
                ("PipelineExecutionArn", self.arn),
                ("StartTime", self.creation_time),
                ("PipelineExecutionStatus", self.status),
                ("PipelineExecutionDescription", self.description),
                ("PipelineExecutionDisplayName", self.display_name),
                ("PipelineExecutionFailureReason", self.failure_reason),
            )
        )

    def step(self, name: str) -> StepRun | None:
        """The run of a step, if it has started."""
        return next((s for s in self.steps if s["StepName"] == name), None)

    def move(self, status: str, now: float, reason: str | None = None) -> None:
        """Move to a status its table allows (with the FailureReason of a failure)."""
        PIPELINE_EXECUTION.check(self.status, status)
        self.status = status
        self.last_modified_time = now
        if status == "Executing":
            self.failure_reason = None
        elif reason is not None:
            self.failure_reason = reason


def step_items(steps: list[StepRun]) -> list[dict[str, object]]:
    """ListPipelineExecutionSteps' items of step runs."""
    return [{k: v for k, v in run.items() if k in AWS_STEP_KEYS} for run in steps]


def move_step(run: StepRun, status: str, now: float, reason: str | None = None) -> None:
    """Move a step to a status its table allows; an ending sets EndTime."""
    STEP.check(run.get("StepStatus"), status)
    run["StepStatus"] = status
    if status == "Starting":
        run["StartTime"] = now
        run.pop("EndTime", None)
        run.pop("FailureReason", None)
    elif status in ("Succeeded", "Failed", "Stopped"):
        run["EndTime"] = now
    if reason is not None:
        run["FailureReason"] = reason


def missing_execution(arn: str) -> ResourceNotFound:
    """The not-found error of the execution operations."""
    return ResourceNotFound(f"Pipeline execution '{arn}' does not exist.")


def find_execution(state: State, arn: str) -> PipelineExecution | None:
    """The stored execution, or None."""
    doc = state.store.get(KIND, arn)
    return None if doc is None else PipelineExecution.from_document(doc)


def get_execution(state: State, arn: str) -> PipelineExecution:
    """The stored execution, or ResourceNotFound."""
    found = find_execution(state, arn)
    if found is None:
        raise missing_execution(arn)
    return found


def save_execution(state: State, execution: PipelineExecution) -> None:
    """Insert or replace an execution."""
    state.store.put(KIND, execution.key, execution.to_document())


def stored_executions(state: State) -> list[PipelineExecution]:
    """Every stored execution, oldest first."""
    return [PipelineExecution.from_document(d) for d in state.store.all(KIND)]
