"""Monitoring schedules and their executions as typed records.

Both sides use them: the control plane (the MonitoringSchedule operations, executions,
job definitions and endpoints that check who monitors them) and the scheduler in
`smlocal.emulator.jobs.scheduler`, which fires them. A schedule keeps three private members
in its stored document: `_SettlesAt` (when Pending turns Scheduled), `_NowDue` (a NOW
schedule's one execution is still to run) and `_LastTick` (the cron time it last fired for).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Required, TypedDict

from smlocal.emulator.statuses.monitoring import MONITORING_EXECUTION, MONITORING_SCHEDULE
from smlocal.emulator.support.records import Document, Nested, shown
from smlocal.emulator.support.state import State

SCHEDULE = "monitoring-schedule"
EXECUTION = "monitoring-execution"


class ScheduleConfig(TypedDict, total=False):
    """When a schedule fires: a cron expression, or NOW with the window it analyses."""

    ScheduleExpression: Required[str]
    DataAnalysisStartTime: str
    DataAnalysisEndTime: str


class EndpointInput(TypedDict, total=False):
    """The members of an EndpointInput smlocal reads (the others are kept as given)."""

    EndpointName: Required[str]
    LocalPath: str
    StartTimeOffset: str
    EndTimeOffset: str
    InferenceAttribute: str
    ProbabilityAttribute: str
    ProbabilityThresholdAttribute: float


class BatchTransformInput(TypedDict, total=False):
    """The members of a BatchTransformInput smlocal reads (the others are kept as given)."""

    DataCapturedDestinationS3Uri: Required[str]
    DatasetFormat: Required[Nested]
    LocalPath: Required[str]
    StartTimeOffset: str
    EndTimeOffset: str


class MonitoringInput(TypedDict, total=False):
    """A monitoring job's input: an endpoint's captures, or a batch transform's."""

    EndpointInput: EndpointInput
    BatchTransformInput: BatchTransformInput


class AppSpecification(TypedDict, total=False):
    """A MonitoringAppSpecification (inline), or a definition's DataQualityAppSpecification or
    ModelQualityAppSpecification (ProblemType)."""

    ImageUri: Required[str]
    Environment: dict[str, str]
    RecordPreprocessorSourceUri: str
    PostAnalyticsProcessorSourceUri: str
    ProblemType: str
    ContainerEntrypoint: list[str]
    ContainerArguments: list[str]


class S3Resource(TypedDict, total=False):
    """A baseline file's location."""

    S3Uri: str


class BaselineConfig(TypedDict, total=False):
    """The baseline an execution compares with."""

    BaseliningJobName: str
    ConstraintsResource: S3Resource
    StatisticsResource: S3Resource


class MonitoringS3Output(TypedDict, total=False):
    """Where an execution's reports go."""

    S3Uri: Required[str]
    LocalPath: Required[str]
    S3UploadMode: str


class MonitoringOutput(TypedDict):
    """One output of a monitoring job."""

    S3Output: MonitoringS3Output


class OutputConfig(TypedDict, total=False):
    """A MonitoringOutputConfig (inline) or DataQualityJobOutputConfig (a definition)."""

    MonitoringOutputs: Required[list[MonitoringOutput]]
    KmsKeyId: str


class StoppingCondition(TypedDict):
    """How long an execution may run."""

    MaxRuntimeInSeconds: int


class MonitoringJobDefinition(TypedDict, total=False):
    """A job definition given inline in a MonitoringScheduleConfig."""

    MonitoringInputs: Required[list[MonitoringInput]]
    MonitoringAppSpecification: Required[AppSpecification]
    BaselineConfig: BaselineConfig
    MonitoringOutputConfig: Required[OutputConfig]
    MonitoringResources: Required[Nested]
    Environment: dict[str, str]
    StoppingCondition: StoppingCondition
    RoleArn: Required[str]
    NetworkConfig: Nested


class MonitoringScheduleConfig(TypedDict, total=False):
    """The members of a MonitoringScheduleConfig smlocal reads."""

    ScheduleConfig: ScheduleConfig
    MonitoringJobDefinitionName: str
    MonitoringJobDefinition: MonitoringJobDefinition
    MonitoringType: str


@dataclass
class MonitoringExecution:
    """One execution of a schedule: a processing job of the analyzer, stored under the job's
    name."""

    schedule_name: str
    scheduled_time: float
    creation_time: float
    last_modified_time: float
    processing_job_arn: str
    endpoint_name: str | None  # None: a batch transform's captures
    job_definition_name: str | None
    monitoring_type: str
    status: str
    failure_reason: str | None = None

    @property
    def key(self) -> str:
        """Its store key: its processing job's name."""
        return self.processing_job_arn.rsplit("/", 1)[-1]

    @property
    def arn(self) -> str:
        """Its processing job's ARN (an execution has none of its own)."""
        return self.processing_job_arn

    def move(self, status: str) -> None:
        """Move to a status its table allows."""
        MONITORING_EXECUTION.check(self.status, status)
        self.status = status

    @classmethod
    def from_document(cls, doc: Document) -> MonitoringExecution:
        """The execution of a stored document."""
        return cls(
            schedule_name=doc["MonitoringScheduleName"],
            scheduled_time=doc["ScheduledTime"],
            creation_time=doc["CreationTime"],
            last_modified_time=doc["LastModifiedTime"],
            processing_job_arn=doc["ProcessingJobArn"],
            endpoint_name=doc.get("EndpointName"),
            job_definition_name=doc.get("MonitoringJobDefinitionName"),
            monitoring_type=doc["MonitoringType"],
            status=doc["MonitoringExecutionStatus"],
            failure_reason=doc.get("FailureReason"),
        )

    def to_document(self) -> Document:
        """The stored document (MonitoringJobDefinitionName kept even when unset)."""
        doc: Document = {
            "MonitoringScheduleName": self.schedule_name,
            "ScheduledTime": self.scheduled_time,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "ProcessingJobArn": self.processing_job_arn,
            "EndpointName": self.endpoint_name,
            "MonitoringJobDefinitionName": self.job_definition_name,
            "MonitoringType": self.monitoring_type,
            "MonitoringExecutionStatus": self.status,
        }
        if self.failure_reason is not None:
            doc["FailureReason"] = self.failure_reason
        return doc

    def describe(self) -> dict[str, object]:
        """Its summary (SageMaker has no DescribeMonitoringExecution)."""
        return self.summary()

    def summary(self) -> dict[str, object]:
        """ListMonitoringExecutions' item, and a schedule's LastMonitoringExecutionSummary."""
        return shown(
            (
                ("MonitoringScheduleName", self.schedule_name),
                ("ScheduledTime", self.scheduled_time),
                ("CreationTime", self.creation_time),
                ("LastModifiedTime", self.last_modified_time),
                ("MonitoringExecutionStatus", self.status),
                ("ProcessingJobArn", self.processing_job_arn),
                ("EndpointName", self.endpoint_name),
                ("FailureReason", self.failure_reason),
                ("MonitoringJobDefinitionName", self.job_definition_name),
                ("MonitoringType", self.monitoring_type),
            )
        )


@dataclass
class MonitoringSchedule:
    """A monitoring schedule as Create/UpdateMonitoringSchedule recorded it, with what the
    scheduler keeps of it."""

    name: str
    arn: str
    monitoring_type: str
    creation_time: float
    last_modified_time: float
    config: MonitoringScheduleConfig
    endpoint_name: str | None  # None: a batch transform's captures
    job_definition_name: str | None
    status: str
    settles_at: float | None = None  # _SettlesAt: Pending until then
    now_due: bool = False  # _NowDue: a NOW schedule's execution is still to run
    last_tick: float | None = None  # _LastTick: the cron time it last fired for
    last_execution: MonitoringExecution | None = None  # LastMonitoringExecutionSummary

    @property
    def key(self) -> str:
        """Its store key."""
        return self.name

    @property
    def expression(self) -> str:
        """Its ScheduleExpression: NOW or cron(...)."""
        return self.config["ScheduleConfig"]["ScheduleExpression"]

    def move(self, status: str) -> None:
        """Move to a status its table allows."""
        MONITORING_SCHEDULE.check(self.status, status)
        self.status = status

    @classmethod
    def from_document(cls, doc: Document) -> MonitoringSchedule:
        """The schedule of a stored document."""
        last = doc.get("LastMonitoringExecutionSummary")
        return cls(
            name=doc["MonitoringScheduleName"],
            arn=doc["MonitoringScheduleArn"],
            monitoring_type=doc["MonitoringType"],
            creation_time=doc["CreationTime"],
            last_modified_time=doc["LastModifiedTime"],
            config=doc["MonitoringScheduleConfig"],
            endpoint_name=doc.get("EndpointName"),
            job_definition_name=doc.get("MonitoringJobDefinitionName"),
            status=doc["MonitoringScheduleStatus"],
            settles_at=doc.get("_SettlesAt"),
            now_due=doc.get("_NowDue", False),
            last_tick=doc.get("_LastTick"),
            last_execution=None if last is None else MonitoringExecution.from_document(last),
        )

    def to_document(self) -> Document:
        """The stored document: the AWS members (MonitoringJobDefinitionName kept even when
        unset), the last execution's whole record and the private members that are set."""
        doc: Document = {
            "MonitoringScheduleArn": self.arn,
            "MonitoringScheduleName": self.name,
            "MonitoringType": self.monitoring_type,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "MonitoringScheduleConfig": self.config,
            "EndpointName": self.endpoint_name,
            "MonitoringJobDefinitionName": self.job_definition_name,
            "MonitoringScheduleStatus": self.status,
        }
        private = (("_SettlesAt", self.settles_at), ("_NowDue", self.now_due or None))
        doc.update(shown((*private, ("_LastTick", self.last_tick))))
        if self.last_execution is not None:
            doc["LastMonitoringExecutionSummary"] = self.last_execution.to_document()
        return doc

    def describe(self) -> dict[str, object]:
        """DescribeMonitoringSchedule's output."""
        last = self.last_execution
        return shown(
            (
                ("MonitoringScheduleArn", self.arn),
                ("MonitoringScheduleName", self.name),
                ("MonitoringScheduleStatus", self.status),
                ("MonitoringType", self.monitoring_type),
                ("CreationTime", self.creation_time),
                ("LastModifiedTime", self.last_modified_time),
                ("MonitoringScheduleConfig", self.config),
                ("EndpointName", self.endpoint_name),
                ("LastMonitoringExecutionSummary", None if last is None else last.summary()),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListMonitoringSchedules' item."""
        return shown(
            (
                ("MonitoringScheduleName", self.name),
                ("MonitoringScheduleArn", self.arn),
                ("CreationTime", self.creation_time),
                ("LastModifiedTime", self.last_modified_time),
                ("MonitoringScheduleStatus", self.status),
                ("EndpointName", self.endpoint_name),
                ("MonitoringJobDefinitionName", self.job_definition_name),
                ("MonitoringType", self.monitoring_type),
            )
        )


def find_schedule(state: State, name: str) -> MonitoringSchedule | None:
    """A stored schedule, or None."""
    doc = state.store.get(SCHEDULE, name)
    return None if doc is None else MonitoringSchedule.from_document(doc)


def save_schedule(state: State, schedule: MonitoringSchedule) -> None:
    """Insert or replace a schedule."""
    state.store.put(SCHEDULE, schedule.key, schedule.to_document())


def stored_schedules(state: State) -> list[MonitoringSchedule]:
    """Every stored schedule, in the order they were created."""
    return [MonitoringSchedule.from_document(doc) for doc in state.store.all(SCHEDULE)]
