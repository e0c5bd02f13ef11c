"""A transform job's record: its kind, how it is stored and found, and how its status moves.

Both sides use these: the control plane (CreateTransformJob, StopTransformJob) and the
runner in `smlocal.emulator.jobs.transform`. The model's container (image, model data,
environment) is resolved when the job is created and kept under the private `_Container`
key, so the job runs what the model named then, as in AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Required, TypedDict

from smlocal.emulator.errors import ValidationException
from smlocal.emulator.statuses.transform_jobs import TRANSFORM_JOB
from smlocal.emulator.support.records import Document, Nested, shown
from smlocal.emulator.support.state import State

KIND = "transform-job"
MISSING = "Could not find requested job with name {name}"  # SageMaker's words, the name as given


class S3DataSource(TypedDict):
    """A TransformS3DataSource."""

    S3DataType: str
    S3Uri: str


class DataSource(TypedDict):
    """A TransformDataSource."""

    S3DataSource: S3DataSource


class TransformInput(TypedDict, total=False):
    """A job's TransformInput."""

    DataSource: Required[DataSource]
    ContentType: str
    CompressionType: str
    SplitType: str


class TransformOutput(TypedDict, total=False):
    """A job's TransformOutput."""

    S3OutputPath: Required[str]
    Accept: str
    AssembleWith: str
    KmsKeyId: str


class DataProcessing(TypedDict, total=False):
    """A job's DataProcessing (JSONPath filters and the join)."""

    InputFilter: str
    OutputFilter: str
    JoinSource: str


class BatchDataCaptureConfig(TypedDict, total=False):
    """A job's DataCaptureConfig."""

    DestinationS3Uri: Required[str]
    KmsKeyId: str
    GenerateInferenceId: bool


@dataclass(frozen=True)
class Container:
    """What the job runs: the model's image, model data and environment."""

    image: str
    model_data_url: str | None
    environment: dict[str, str]

    @classmethod
    def from_document(cls, doc: Document) -> Container:
        """The container of its stored form."""
        return cls(doc["Image"], doc.get("ModelDataUrl"), doc.get("Environment") or {})

    def to_document(self) -> Document:
        """Its stored form."""
        return {
            "Image": self.image,
            "ModelDataUrl": self.model_data_url,
            "Environment": self.environment,
        }


@dataclass
class TransformJob:
    """A transform job as CreateTransformJob recorded it."""

    name: str
    arn: str
    model_name: str
    creation_time: float
    last_modified_time: float
    transform_input: TransformInput
    transform_output: TransformOutput
    transform_resources: Nested
    container: Container
    status: str = "InProgress"
    start_time: float | None = None
    end_time: float | None = None
    failure_reason: str | None = None
    max_concurrent_transforms: int | None = None
    max_payload_in_mb: int | None = None
    batch_strategy: str | None = None
    model_client_config: Nested | None = None
    environment: dict[str, str] = field(default_factory=dict)
    data_capture_config: BatchDataCaptureConfig | None = None
    data_processing: DataProcessing | None = None
    experiment_config: Nested | None = None

    @property
    def key(self) -> str:
        """Its store key."""
        return self.name

    @classmethod
    def from_document(cls, doc: Document) -> TransformJob:
        """The job of a stored document."""
        return cls(
            name=doc["TransformJobName"],
            arn=doc["TransformJobArn"],
            model_name=doc["ModelName"],
            creation_time=doc["CreationTime"],
            last_modified_time=doc["LastModifiedTime"],
            transform_input=doc["TransformInput"],
            transform_output=doc["TransformOutput"],
            transform_resources=doc["TransformResources"],
            container=Container.from_document(doc["_Container"]),
            status=doc["TransformJobStatus"],
            start_time=doc.get("TransformStartTime"),
            end_time=doc.get("TransformEndTime"),
            failure_reason=doc.get("FailureReason"),
            max_concurrent_transforms=doc.get("MaxConcurrentTransforms"),
            max_payload_in_mb=doc.get("MaxPayloadInMB"),
            batch_strategy=doc.get("BatchStrategy"),
            model_client_config=doc.get("ModelClientConfig"),
            environment=doc.get("Environment") or {},
            data_capture_config=doc.get("DataCaptureConfig"),
            data_processing=doc.get("DataProcessing"),
            experiment_config=doc.get("ExperimentConfig"),
        )

    def to_document(self) -> Document:
        """The stored document: the Describe output and the private members."""
        return {
            **self.describe(),
            "LastModifiedTime": self.last_modified_time,
            "_Container": self.container.to_document(),
        }

    def describe(self) -> dict[str, object]:
        """DescribeTransformJob's output."""
        return shown(
            (
                ("TransformJobName", self.name),
                ("TransformJobArn", self.arn),
                ("TransformJobStatus", self.status),
                ("FailureReason", self.failure_reason),
                ("ModelName", self.model_name),
                ("MaxConcurrentTransforms", self.max_concurrent_transforms),
                ("ModelClientConfig", self.model_client_config),
                ("MaxPayloadInMB", self.max_payload_in_mb),
                ("BatchStrategy", self.batch_strategy),
                ("Environment", self.environment),
                ("TransformInput", self.transform_input),
                ("TransformOutput", self.transform_output),
                ("DataCaptureConfig", self.data_capture_config),
                ("TransformResources", self.transform_resources),
                ("CreationTime", self.creation_time),
                ("TransformStartTime", self.start_time),
                ("TransformEndTime", self.end_time),
                ("DataProcessing", self.data_processing),
                ("ExperimentConfig", self.experiment_config),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListTransformJobs' item."""
        return shown(
            (
                ("TransformJobName", self.name),
                ("TransformJobArn", self.arn),
                ("CreationTime", self.creation_time),
                ("TransformEndTime", self.end_time),
                ("LastModifiedTime", self.last_modified_time),
                ("TransformJobStatus", self.status),
                ("FailureReason", self.failure_reason),
            )
        )


def get_job(state: State, name: str) -> TransformJob:
    """A job's record, or SageMaker's error for an unknown job."""
    doc = state.store.get(KIND, name)
    if doc is None:
        raise ValidationException(MISSING.format(name=name))
    return TransformJob.from_document(doc)


def all_jobs(state: State) -> list[TransformJob]:
    """Every job, in the order they were created."""
    return [TransformJob.from_document(doc) for doc in state.store.all(KIND)]


def set_status(
    state: State, name: str, status: str, *, failure_reason: str | None = None
) -> TransformJob:
    """Move a job to a status its transitions allow; return the updated record."""
    with state.store.transaction():
        job = get_job(state, name)
        TRANSFORM_JOB.check(job.status, status)
        job.status = status
        if failure_reason is not None:
            job.failure_reason = failure_reason
        job.last_modified_time = state.now()
        if status in TRANSFORM_JOB.terminal:
            job.end_time = state.now()
        state.store.put(KIND, name, job.to_document())
    return job
