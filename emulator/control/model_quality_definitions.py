"""Model-quality job definitions: what a `ModelQuality` monitoring schedule runs.

Like a data-quality definition, plus where the ground truth is (`GroundTruthS3Input`), the
problem type (`ModelQualityAppSpecification.ProblemType`) and how the monitored output holds
the prediction (InferenceAttribute, ProbabilityAttribute and ProbabilityThresholdAttribute of
the `EndpointInput`, or of the `BatchTransformInput` for a transform job's captures).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.job_definitions import (
    definition_members,
    endpoint_of,
    refuse_while_scheduled,
)
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.errors import ResourceInUse, ResourceNotFound, ValidationException
from smlocal.emulator.jobs.schedule_records import (
    AppSpecification,
    BaselineConfig,
    MonitoringInput,
    OutputConfig,
    StoppingCondition,
)
from smlocal.emulator.support.records import Document, Nested, shown

KIND = "model-quality-job-definition"
PROBLEM_TYPES = ("BinaryClassification", "MulticlassClassification", "Regression")


class GroundTruthS3Input(TypedDict, total=False):
    """Where the labels are: `{S3Uri}/yyyy/mm/dd/hh/*.jsonl`."""

    S3Uri: str


class ModelQualityJobInput(MonitoringInput, total=False):
    """An endpoint's captures or a batch transform's, and the ground truth."""

    GroundTruthS3Input: GroundTruthS3Input


@dataclass
class ModelQualityJobDefinition:
    """A model-quality job definition as CreateModelQualityJobDefinition recorded it."""

    name: str
    arn: str
    creation_time: float
    app_specification: AppSpecification
    job_input: ModelQualityJobInput
    output_config: OutputConfig
    job_resources: Nested
    role_arn: str
    baseline_config: BaselineConfig | None = None
    network_config: Nested | None = None
    stopping_condition: StoppingCondition | None = None

    @property
    def key(self) -> str:
        """Its store key."""
        return self.name

    @property
    def endpoint(self) -> str | None:
        """The endpoint it monitors (None: a batch transform's captures)."""
        return endpoint_of(self.job_input)

    @property
    def problem_type(self) -> str:
        """BinaryClassification, MulticlassClassification or Regression."""
        return self.app_specification.get("ProblemType", "")

    @property
    def ground_truth_uri(self) -> str:
        """The S3 prefix of the ground truth hour folders."""
        return str((self.job_input.get("GroundTruthS3Input") or {}).get("S3Uri", ""))

    def analyzer_environment(self) -> dict[str, str]:
        """What an execution's analyzer is told: the definition's Environment, the analysis,
        the problem type and where the monitored output holds the prediction."""
        monitored: Mapping[str, Any] = (
            self.job_input.get("EndpointInput") or self.job_input.get("BatchTransformInput") or {}
        )
        attributes = (
            ("inference_attribute", monitored.get("InferenceAttribute")),
            ("probability_attribute", monitored.get("ProbabilityAttribute")),
            ("probability_threshold_attribute", monitored.get("ProbabilityThresholdAttribute")),
        )
        return {
            **(self.app_specification.get("Environment") or {}),
            "analysis_type": "MODEL_QUALITY",
            "problem_type": self.problem_type,
            **{key: str(value) for key, value in attributes if value is not None},
        }

    @classmethod
    def from_document(cls, doc: Document) -> ModelQualityJobDefinition:
        """The job definition of a stored document."""
        return cls(
            name=doc["JobDefinitionName"],
            arn=doc["JobDefinitionArn"],
            creation_time=doc["CreationTime"],
            app_specification=doc["ModelQualityAppSpecification"],
            job_input=doc["ModelQualityJobInput"],
            output_config=doc["ModelQualityJobOutputConfig"],
            job_resources=doc["JobResources"],
            role_arn=doc["RoleArn"],
            baseline_config=doc.get("ModelQualityBaselineConfig"),
            network_config=doc.get("NetworkConfig"),
            stopping_condition=doc.get("StoppingCondition"),
        )

    def to_document(self) -> Document:
        """The stored document: what DescribeModelQualityJobDefinition returns."""
        return self.describe()

    def describe(self) -> dict[str, object]:
        """DescribeModelQualityJobDefinition's output."""
        return shown(
            (
                ("JobDefinitionArn", self.arn),
                ("JobDefinitionName", self.name),
                ("CreationTime", self.creation_time),
                ("ModelQualityBaselineConfig", self.baseline_config),
                ("ModelQualityAppSpecification", self.app_specification),
                ("ModelQualityJobInput", self.job_input),
                ("ModelQualityJobOutputConfig", self.output_config),
                ("JobResources", self.job_resources),
                ("NetworkConfig", self.network_config),
                ("RoleArn", self.role_arn),
                ("StoppingCondition", self.stopping_condition),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListModelQualityJobDefinitions' item."""
        return shown(
            (
                ("MonitoringJobDefinitionName", self.name),
                ("MonitoringJobDefinitionArn", self.arn),
                ("CreationTime", self.creation_time),
                ("EndpointName", self.endpoint),
            )
        )


MODEL_QUALITY_DEFINITIONS = Kind(
    resource=KIND,
    load=ModelQualityJobDefinition.from_document,
    noun="job definition",
    name_key="JobDefinitionName",
    list_key="JobDefinitionSummaries",
    missing=ResourceNotFound,
    duplicate=ResourceInUse,
)


def _check(params: dict[str, Any]) -> None:
    """The problem type and the ground truth are what a model-quality job cannot go without."""
    job_input = params["ModelQualityJobInput"]
    if ("EndpointInput" in job_input) == ("BatchTransformInput" in job_input):
        raise ValidationException(
            "ModelQualityJobInput needs exactly one of EndpointInput and BatchTransformInput."
        )
    batch = job_input.get("BatchTransformInput")
    if batch is not None and not set(batch["DatasetFormat"]) & {"Csv", "Json"}:
        raise ValidationException(
            "smlocal monitors the model quality of batch transform output in Csv or Json "
            "datasets; Parquet is not emulated."
        )
    problem = params["ModelQualityAppSpecification"].get("ProblemType")
    if problem not in PROBLEM_TYPES:
        raise ValidationException(
            f"ModelQualityAppSpecification.ProblemType must be one of {', '.join(PROBLEM_TYPES)}"
            f" (got {problem!r})."
        )
    if not str((job_input.get("GroundTruthS3Input") or {}).get("S3Uri", "")).startswith("s3://"):
        raise ValidationException(
            "ModelQualityJobInput.GroundTruthS3Input.S3Uri must be an s3:// URI."
        )


def create_model_quality_job_definition(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateModelQualityJobDefinition."""
    _check(params)
    members = definition_members(ctx, params, "ModelQuality", KIND)
    definition = ModelQualityJobDefinition(**members)
    MODEL_QUALITY_DEFINITIONS.add(ctx, definition, params.get("Tags", []))
    return {"JobDefinitionArn": definition.arn}


def describe_model_quality_job_definition(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeModelQualityJobDefinition."""
    return MODEL_QUALITY_DEFINITIONS.describe(ctx, params["JobDefinitionName"])


def list_model_quality_job_definitions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListModelQualityJobDefinitions."""
    endpoint = params.get("EndpointName")
    return MODEL_QUALITY_DEFINITIONS.listing(
        ctx, params, keep=lambda d: endpoint is None or d.endpoint == endpoint
    )


def delete_model_quality_job_definition(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteModelQualityJobDefinition: refused while a schedule uses it."""
    name = params["JobDefinitionName"]
    return MODEL_QUALITY_DEFINITIONS.delete(ctx, name, lambda _: refuse_while_scheduled(ctx, name))
