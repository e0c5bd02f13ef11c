"""A processing job's record: its kind, how it is stored and found, and how its status moves.

Both sides use these: the control plane (CreateProcessingJob, StopProcessingJob, monitoring
executions) and the runner in `smlocal.emulator.jobs.processing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Required, TypedDict

from smlocal.emulator.errors import ValidationException
from smlocal.emulator.statuses.processing_jobs import PROCESSING_JOB
from smlocal.emulator.support.records import Document, Nested, shown
from smlocal.emulator.support.state import State

KIND = "processing-job"
MISSING = "Could not find requested job with name {name}"  # SageMaker's words, the name as given


class S3Input(TypedDict, total=False):
    """The members of a ProcessingS3Input smlocal reads (the others are kept as given)."""

    S3Uri: Required[str]
    LocalPath: Required[str]
    S3DataType: str
    S3InputMode: str
    S3DataDistributionType: str
    S3CompressionType: str


class ProcessingInput(TypedDict, total=False):
    """One of ProcessingInputs: smlocal reads S3 inputs only (CreateProcessingJob checks)."""

    InputName: Required[str]
    AppManaged: bool
    S3Input: S3Input
    DatasetDefinition: Nested


class S3Output(TypedDict, total=False):
    """The members of a ProcessingS3Output smlocal reads."""

    S3Uri: Required[str]
    LocalPath: Required[str]
    S3UploadMode: str


class ProcessingOutput(TypedDict, total=False):
    """One of ProcessingOutputConfig's Outputs."""

    OutputName: Required[str]
    AppManaged: bool
    S3Output: S3Output
    FeatureStoreOutput: Nested


class ProcessingOutputConfig(TypedDict, total=False):
    """A job's ProcessingOutputConfig."""

    Outputs: list[ProcessingOutput]
    KmsKeyId: str


class AppSpecification(TypedDict, total=False):
    """What the job runs: the Model Monitor analyzer image, or a user's command in the
    scikit-learn or XGBoost image."""

    ImageUri: Required[str]
    ContainerEntrypoint: list[str]
    ContainerArguments: list[str]


class ProcessingResources(TypedDict, total=False):
    """A job's ProcessingResources (kept as given: smlocal runs one local process)."""

    ClusterConfig: Nested


class StoppingCondition(TypedDict, total=False):
    """A job's StoppingCondition."""

    MaxRuntimeInSeconds: int


@dataclass(frozen=True)
class CaptureWindow:
    """The window of captures a monitoring execution analyses, as `...Z` UTC timestamps.

    Stored under the job's private `_CaptureWindow` key; the runner downloads only the
    capture files whose hour folders can hold records of it."""

    start: str
    end: str

    @classmethod
    def from_document(cls, doc: dict[str, str]) -> CaptureWindow:
        """The window of its stored form."""
        return cls(doc["start"], doc["end"])

    def to_document(self) -> dict[str, str]:
        """Its stored form."""
        return {"start": self.start, "end": self.end}

    def moments(self) -> tuple[datetime, datetime]:
        """Its start and end as aware datetimes."""
        return _moment(self.start), _moment(self.end)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class ProcessingJob:
    """A processing job as CreateProcessingJob (or a monitoring schedule) recorded it."""

    name: str
    arn: str
    creation_time: float
    last_modified_time: float
    start_time: float
    app_specification: AppSpecification
    status: str = "InProgress"
    inputs: list[ProcessingInput] | None = None
    output_config: ProcessingOutputConfig | None = None
    resources: ProcessingResources | None = None
    stopping_condition: StoppingCondition | None = None
    environment: dict[str, str] | None = None
    network_config: Nested | None = None
    role_arn: str | None = None
    experiment_config: Nested | None = None
    exit_message: str | None = None
    failure_reason: str | None = None
    end_time: float | None = None
    # set on a monitoring execution's job, with the window of captures it reads (None when
    # the endpoint captures nothing)
    monitoring_schedule_arn: str | None = None
    capture_window: CaptureWindow | None = None

    @property
    def key(self) -> str:
        """Its store key."""
        return self.name

    @property
    def max_runtime(self) -> int | None:
        """StoppingCondition's MaxRuntimeInSeconds, if given."""
        return (self.stopping_condition or {}).get("MaxRuntimeInSeconds")

    @classmethod
    def from_document(cls, doc: Document) -> ProcessingJob:
        """The job of a stored document."""
        window = doc.get("_CaptureWindow")
        return cls(
            name=doc["ProcessingJobName"],
            arn=doc["ProcessingJobArn"],
            creation_time=doc["CreationTime"],
            last_modified_time=doc["LastModifiedTime"],
            start_time=doc["ProcessingStartTime"],
            app_specification=doc["AppSpecification"],
            status=doc["ProcessingJobStatus"],
            inputs=doc.get("ProcessingInputs"),
            output_config=doc.get("ProcessingOutputConfig"),
            resources=doc.get("ProcessingResources"),
            stopping_condition=doc.get("StoppingCondition"),
            environment=doc.get("Environment"),
            network_config=doc.get("NetworkConfig"),
            role_arn=doc.get("RoleArn"),
            experiment_config=doc.get("ExperimentConfig"),
            exit_message=doc.get("ExitMessage"),
            failure_reason=doc.get("FailureReason"),
            end_time=doc.get("ProcessingEndTime"),
            monitoring_schedule_arn=doc.get("MonitoringScheduleArn"),
            capture_window=None if window is None else CaptureWindow.from_document(window),
        )

    def to_document(self) -> Document:
        """The stored document: the Describe output, with MonitoringScheduleArn even when
        unset; a monitoring execution's `_CaptureWindow` even when it has none; and the
        ExitMessage of a job its process stopped even when the process said nothing."""
        doc: Document = {**self.describe(), "MonitoringScheduleArn": self.monitoring_schedule_arn}
        if self.status == "Stopped" and self.failure_reason is None:
            doc["ExitMessage"] = self.exit_message
        if self.monitoring_schedule_arn is not None:
            window = self.capture_window
            doc["_CaptureWindow"] = None if window is None else window.to_document()
        return doc

    def public(self) -> dict[str, object]:
        """Its document without the private keys (the job config the analyzer reads)."""
        doc = self.to_document()
        return {key: value for key, value in doc.items() if not key.startswith("_")}

    def describe(self) -> dict[str, object]:
        """DescribeProcessingJob's output."""
        return shown(
            (
                ("ProcessingInputs", self.inputs),
                ("ProcessingOutputConfig", self.output_config),
                ("ProcessingJobName", self.name),
                ("ProcessingResources", self.resources),
                ("StoppingCondition", self.stopping_condition),
                ("AppSpecification", self.app_specification),
                ("Environment", self.environment),
                ("NetworkConfig", self.network_config),
                ("RoleArn", self.role_arn),
                ("ExperimentConfig", self.experiment_config),
                ("ProcessingJobArn", self.arn),
                ("ProcessingJobStatus", self.status),
                ("ExitMessage", self.exit_message),
                ("FailureReason", self.failure_reason),
                ("ProcessingEndTime", self.end_time),
                ("ProcessingStartTime", self.start_time),
                ("LastModifiedTime", self.last_modified_time),
                ("CreationTime", self.creation_time),
                ("MonitoringScheduleArn", self.monitoring_schedule_arn),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListProcessingJobs' item."""
        return shown(
            (
                ("ProcessingJobName", self.name),
                ("ProcessingJobArn", self.arn),
                ("CreationTime", self.creation_time),
                ("ProcessingEndTime", self.end_time),
                ("LastModifiedTime", self.last_modified_time),
                ("ProcessingJobStatus", self.status),
                ("FailureReason", self.failure_reason),
                ("ExitMessage", self.exit_message),
            )
        )


def get_job(state: State, name: str) -> ProcessingJob:
    """A job's record, or SageMaker's error for an unknown job."""
    doc = state.store.get(KIND, name)
    if doc is None:
        raise ValidationException(MISSING.format(name=name))
    return ProcessingJob.from_document(doc)


def all_jobs(state: State) -> list[ProcessingJob]:
    """Every job, in the order they were created."""
    return [ProcessingJob.from_document(doc) for doc in state.store.all(KIND)]


def set_status(
    state: State,
    name: str,
    status: str,
    *,
    failure_reason: str | None = None,
    exit_message: str | None = None,
) -> ProcessingJob:
    """Move a job to a status its transitions allow, with the reason or message given;
    return the updated record."""
    with state.store.transaction():
        job = get_job(state, name)
        PROCESSING_JOB.check(job.status, status)
        job.status = status
        if failure_reason is not None:
            job.failure_reason = failure_reason
        if exit_message is not None:
            job.exit_message = exit_message
        job.last_modified_time = state.now()
        if status in PROCESSING_JOB.terminal:
            job.end_time = state.now()
        state.store.put(KIND, name, job.to_document())
    return job
