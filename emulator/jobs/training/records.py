"""A training job's record: what CreateTrainingJob stored and the manager moves on.

Both sides use it: the control plane (CreateTrainingJob, DescribeTrainingJob,
ListTrainingJobs, StopTrainingJob) and the training manager, which loads it, moves it through
its statuses (`smlocal.emulator.statuses.training_jobs`) and saves it back. The stored
document is the DescribeTrainingJob output: the request's members as given, what the job
produced, and its statuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Required, TypedDict

from smlocal.emulator.jobs.training.metrics import (
    MetricData,
    MetricDefinition,
    algorithm_definitions,
)
from smlocal.emulator.statuses.training_jobs import (
    FIRST,
    PRIMARY,
    StatusTransition,
    advance,
    initial,
)
from smlocal.emulator.support.records import Document, Nested, shown
from smlocal.model_server.images import Role, parse_image

KIND = "training-job"


class AlgorithmSpecification(TypedDict, total=False):
    """The members of an AlgorithmSpecification smlocal reads (the others are kept as given)."""

    TrainingImage: str
    AlgorithmName: str
    TrainingInputMode: str
    MetricDefinitions: list[MetricDefinition]


class S3DataSource(TypedDict, total=False):
    """A channel's S3 source."""

    S3Uri: str
    S3DataType: str
    S3DataDistributionType: str


class DataSource(TypedDict, total=False):
    """A channel's data source: S3 is read, the others refused."""

    S3DataSource: S3DataSource
    FileSystemDataSource: Nested


class Channel(TypedDict, total=False):
    """One channel of InputDataConfig."""

    ChannelName: Required[str]
    DataSource: DataSource
    ContentType: str
    RecordWrapperType: str
    InputMode: str


class OutputDataConfig(TypedDict, total=False):
    """Where the model artifacts go."""

    S3OutputPath: Required[str]
    KmsKeyId: str


class StoppingCondition(TypedDict, total=False):
    """The job's limits; MaxRuntimeInSeconds is enforced."""

    MaxRuntimeInSeconds: int


class ModelArtifacts(TypedDict):
    """Where the model.tar.gz is uploaded."""

    S3ModelArtifacts: str


def _algorithm_image(request: Document) -> bool:
    """True when AWS shows the built-in algorithm's MetricDefinitions for the job: an
    algorithm-mode job, or a script-mode one in the algorithm's own (XGBoost) image, as
    the workshop's script-mode job showed them on AWS."""
    spec = request["AlgorithmSpecification"]
    if "sagemaker_program" not in (request.get("HyperParameters") or {}):
        return True
    return parse_image(spec.get("TrainingImage", "")).has(Role.TRAINED)


@dataclass
class TrainingJob:
    """A training job as CreateTrainingJob recorded it and its run has moved it on."""

    name: str
    arn: str
    creation_time: float
    last_modified_time: float
    status: str  # TrainingJobStatus
    secondary_status: str
    transitions: list[StatusTransition]  # SecondaryStatusTransitions
    model_artifacts: ModelArtifacts
    algorithm_specification: AlgorithmSpecification
    role_arn: str
    output_data_config: OutputDataConfig
    resource_config: Nested
    enable_network_isolation: bool = False
    enable_inter_container_traffic_encryption: bool = False
    enable_managed_spot_training: bool = False
    hyper_parameters: dict[str, str] | None = None
    input_data_config: list[Channel] | None = None
    vpc_config: Nested | None = None
    stopping_condition: StoppingCondition | None = None
    checkpoint_config: Nested | None = None
    debug_hook_config: Nested | None = None
    experiment_config: Nested | None = None
    debug_rule_configurations: list[Nested] | None = None
    tensor_board_output_config: Nested | None = None
    profiler_config: Nested | None = None
    profiler_rule_configurations: list[Nested] | None = None
    environment: dict[str, str] | None = None
    retry_strategy: Nested | None = None
    remote_debug_config: Nested | None = None
    infra_check_config: Nested | None = None
    # What the run produced.
    failure_reason: str | None = None
    training_start_time: float | None = None
    training_end_time: float | None = None
    training_time_in_seconds: int | None = None
    billable_time_in_seconds: int | None = None
    final_metric_data_list: list[MetricData] | None = None
    tuning_job_arn: str | None = None  # set by the tuner for the jobs it launches

    @property
    def key(self) -> str:
        """Its store key."""
        return self.name

    @property
    def channels(self) -> list[Channel]:
        """InputDataConfig's channels (none when it was not given)."""
        return self.input_data_config or []

    @property
    def max_runtime(self) -> int | None:
        """StoppingCondition.MaxRuntimeInSeconds, when set."""
        return (self.stopping_condition or {}).get("MaxRuntimeInSeconds")

    @classmethod
    def requested(cls, request: Document, arn: str, now: float, artifacts: str) -> TrainingJob:
        """A job CreateTrainingJob records: the request's members as given, in status
        Starting, its model to be uploaded to `artifacts`."""
        spec: AlgorithmSpecification = request["AlgorithmSpecification"]
        if not spec.get("MetricDefinitions") and _algorithm_image(request):
            spec = {**spec, "MetricDefinitions": algorithm_definitions()}
        return cls.from_document(
            {
                **request,
                "AlgorithmSpecification": spec,
                # AWS answers KmsKeyId "" when none was given (the SDK's attach reads it)
                "OutputDataConfig": {"KmsKeyId": "", **request["OutputDataConfig"]},
                "TrainingJobArn": arn,
                "CreationTime": now,
                "ModelArtifacts": ModelArtifacts(S3ModelArtifacts=artifacts),
                "SecondaryStatus": FIRST,
                "TrainingJobStatus": PRIMARY[FIRST],
                "SecondaryStatusTransitions": initial(now),
                "LastModifiedTime": now,
            }
        )

    @classmethod
    def from_document(cls, doc: Document) -> TrainingJob:
        """The training job of a stored document."""
        return cls(
            name=doc["TrainingJobName"],
            arn=doc["TrainingJobArn"],
            creation_time=doc["CreationTime"],
            last_modified_time=doc["LastModifiedTime"],
            status=doc["TrainingJobStatus"],
            secondary_status=doc["SecondaryStatus"],
            transitions=doc["SecondaryStatusTransitions"],
            model_artifacts=doc["ModelArtifacts"],
            algorithm_specification=doc["AlgorithmSpecification"],
            role_arn=doc["RoleArn"],
            output_data_config=doc["OutputDataConfig"],
            resource_config=doc["ResourceConfig"],
            enable_network_isolation=doc.get("EnableNetworkIsolation", False),
            enable_inter_container_traffic_encryption=doc.get(
                "EnableInterContainerTrafficEncryption", False
            ),
            enable_managed_spot_training=doc.get("EnableManagedSpotTraining", False),
            hyper_parameters=doc.get("HyperParameters"),
            input_data_config=doc.get("InputDataConfig"),
            vpc_config=doc.get("VpcConfig"),
            stopping_condition=doc.get("StoppingCondition"),
            checkpoint_config=doc.get("CheckpointConfig"),
            debug_hook_config=doc.get("DebugHookConfig"),
            experiment_config=doc.get("ExperimentConfig"),
            debug_rule_configurations=doc.get("DebugRuleConfigurations"),
            tensor_board_output_config=doc.get("TensorBoardOutputConfig"),
            profiler_config=doc.get("ProfilerConfig"),
            profiler_rule_configurations=doc.get("ProfilerRuleConfigurations"),
            environment=doc.get("Environment"),
            retry_strategy=doc.get("RetryStrategy"),
            remote_debug_config=doc.get("RemoteDebugConfig"),
            infra_check_config=doc.get("InfraCheckConfig"),
            failure_reason=doc.get("FailureReason"),
            training_start_time=doc.get("TrainingStartTime"),
            training_end_time=doc.get("TrainingEndTime"),
            training_time_in_seconds=doc.get("TrainingTimeInSeconds"),
            billable_time_in_seconds=doc.get("BillableTimeInSeconds"),
            final_metric_data_list=doc.get("FinalMetricDataList"),
            tuning_job_arn=doc.get("TuningJobArn"),
        )

    def to_document(self) -> Document:
        """The stored document: what DescribeTrainingJob returns."""
        return self.describe()

    def describe(self) -> dict[str, object]:
        """DescribeTrainingJob's output."""
        return shown(
            (
                ("TrainingJobName", self.name),
                ("TrainingJobArn", self.arn),
                ("TuningJobArn", self.tuning_job_arn),
                ("ModelArtifacts", self.model_artifacts),
                ("TrainingJobStatus", self.status),
                ("SecondaryStatus", self.secondary_status),
                ("FailureReason", self.failure_reason),
                ("HyperParameters", self.hyper_parameters),
                ("AlgorithmSpecification", self.algorithm_specification),
                ("RoleArn", self.role_arn),
                ("InputDataConfig", self.input_data_config),
                ("OutputDataConfig", self.output_data_config),
                ("ResourceConfig", self.resource_config),
                ("VpcConfig", self.vpc_config),
                ("StoppingCondition", self.stopping_condition),
                ("CreationTime", self.creation_time),
                ("TrainingStartTime", self.training_start_time),
                ("TrainingEndTime", self.training_end_time),
                ("LastModifiedTime", self.last_modified_time),
                ("SecondaryStatusTransitions", self.transitions),
                ("FinalMetricDataList", self.final_metric_data_list),
                ("EnableNetworkIsolation", self.enable_network_isolation),
                (
                    "EnableInterContainerTrafficEncryption",
                    self.enable_inter_container_traffic_encryption,
                ),
                ("EnableManagedSpotTraining", self.enable_managed_spot_training),
                ("CheckpointConfig", self.checkpoint_config),
                ("TrainingTimeInSeconds", self.training_time_in_seconds),
                ("BillableTimeInSeconds", self.billable_time_in_seconds),
                ("DebugHookConfig", self.debug_hook_config),
                ("ExperimentConfig", self.experiment_config),
                ("DebugRuleConfigurations", self.debug_rule_configurations),
                ("TensorBoardOutputConfig", self.tensor_board_output_config),
                ("ProfilerConfig", self.profiler_config),
                ("ProfilerRuleConfigurations", self.profiler_rule_configurations),
                ("Environment", self.environment),
                ("RetryStrategy", self.retry_strategy),
                ("RemoteDebugConfig", self.remote_debug_config),
                ("InfraCheckConfig", self.infra_check_config),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListTrainingJobs' item."""
        return shown(
            (
                ("TrainingJobName", self.name),
                ("TrainingJobArn", self.arn),
                ("CreationTime", self.creation_time),
                ("TrainingEndTime", self.training_end_time),
                ("LastModifiedTime", self.last_modified_time),
                ("TrainingJobStatus", self.status),
                ("SecondaryStatus", self.secondary_status),
            )
        )

    def advance(self, status: str, now: float) -> None:
        """Move to a secondary status its table allows (the primary status follows)."""
        advance(self.transitions, self.secondary_status, status, now)
        self.secondary_status = status
        self.status = PRIMARY[status]
        self.last_modified_time = now
