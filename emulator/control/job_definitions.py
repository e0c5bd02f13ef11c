"""Data-quality job definitions: what a monitoring schedule runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.errors import ResourceInUse, ResourceNotFound, ValidationException
from smlocal.emulator.jobs.schedule_records import (
    AppSpecification,
    BaselineConfig,
    MonitoringInput,
    OutputConfig,
    StoppingCondition,
    stored_schedules,
)
from smlocal.emulator.support.records import Document, Nested, shown

KIND = "data-quality-job-definition"


DataQualityJobInput = MonitoringInput  # an endpoint's captures or a batch transform's


def endpoint_of(job_input: DataQualityJobInput) -> str | None:
    """The monitored endpoint; None for a batch transform's captures."""
    if "EndpointInput" in job_input:
        return str(job_input["EndpointInput"]["EndpointName"])
    if "BatchTransformInput" in job_input:
        return None
    raise ValidationException("Give an EndpointInput or a BatchTransformInput.")


@dataclass
class DataQualityJobDefinition:
    """A data-quality job definition as CreateDataQualityJobDefinition recorded it."""

    name: str
    arn: str
    creation_time: float
    app_specification: AppSpecification
    job_input: DataQualityJobInput
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

    @classmethod
    def from_document(cls, doc: Document) -> DataQualityJobDefinition:
        """The job definition of a stored document."""
        return cls(
            name=doc["JobDefinitionName"],
            arn=doc["JobDefinitionArn"],
            creation_time=doc["CreationTime"],
            app_specification=doc["DataQualityAppSpecification"],
            job_input=doc["DataQualityJobInput"],
            output_config=doc["DataQualityJobOutputConfig"],
            job_resources=doc["JobResources"],
            role_arn=doc["RoleArn"],
            baseline_config=doc.get("DataQualityBaselineConfig"),
            network_config=doc.get("NetworkConfig"),
            stopping_condition=doc.get("StoppingCondition"),
        )

    def to_document(self) -> Document:
        """The stored document: what DescribeDataQualityJobDefinition returns."""
        return self.describe()

    def describe(self) -> dict[str, object]:
        """DescribeDataQualityJobDefinition's output."""
        return shown(
            (
                ("JobDefinitionArn", self.arn),
                ("JobDefinitionName", self.name),
                ("CreationTime", self.creation_time),
                ("DataQualityBaselineConfig", self.baseline_config),
                ("DataQualityAppSpecification", self.app_specification),
                ("DataQualityJobInput", self.job_input),
                ("DataQualityJobOutputConfig", self.output_config),
                ("JobResources", self.job_resources),
                ("NetworkConfig", self.network_config),
                ("RoleArn", self.role_arn),
                ("StoppingCondition", self.stopping_condition),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListDataQualityJobDefinitions' item."""
        return shown(
            (
                ("MonitoringJobDefinitionName", self.name),
                ("MonitoringJobDefinitionArn", self.arn),
                ("CreationTime", self.creation_time),
                ("EndpointName", self.endpoint),
            )
        )


DEFINITIONS = Kind(
    resource=KIND,
    load=DataQualityJobDefinition.from_document,
    noun="job definition",
    name_key="JobDefinitionName",
    list_key="JobDefinitionSummaries",
    missing=ResourceNotFound,
    duplicate=ResourceInUse,
)


def create_data_quality_job_definition(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateDataQualityJobDefinition."""
    endpoint_of(params["DataQualityJobInput"])
    definition = DataQualityJobDefinition(**definition_members(ctx, params, "DataQuality", KIND))
    DEFINITIONS.add(ctx, definition, params.get("Tags", []))
    return {"JobDefinitionArn": definition.arn}


def definition_members(
    ctx: Context, params: dict[str, Any], monitoring_type: str, kind: str
) -> dict[str, Any]:
    """What every monitoring job definition's record takes from its Create request, whose
    members are named after the type (`{type}AppSpecification`, `{type}JobInput`, ...)."""
    name = params["JobDefinitionName"]
    return {
        "name": name,
        "arn": ctx.arn(kind, name),
        "creation_time": ctx.now(),
        "app_specification": params[f"{monitoring_type}AppSpecification"],
        "job_input": params[f"{monitoring_type}JobInput"],
        "output_config": params[f"{monitoring_type}JobOutputConfig"],
        "job_resources": params["JobResources"],
        "role_arn": params["RoleArn"],
        "baseline_config": params.get(f"{monitoring_type}BaselineConfig"),
        "network_config": params.get("NetworkConfig"),
        "stopping_condition": params.get("StoppingCondition"),
    }


def describe_data_quality_job_definition(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeDataQualityJobDefinition."""
    return DEFINITIONS.describe(ctx, params["JobDefinitionName"])


def list_data_quality_job_definitions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListDataQualityJobDefinitions."""
    endpoint = params.get("EndpointName")
    return DEFINITIONS.listing(
        ctx, params, keep=lambda d: endpoint is None or d.endpoint == endpoint
    )


def delete_data_quality_job_definition(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteDataQualityJobDefinition: refused while a schedule uses it."""

    name = params["JobDefinitionName"]
    return DEFINITIONS.delete(ctx, name, lambda _: refuse_while_scheduled(ctx, name))


def refuse_while_scheduled(ctx: Context, name: str) -> None:
    """ResourceInUse while a monitoring schedule names the job definition (any type)."""
    users = [
        s.name
        for s in stored_schedules(ctx)
        if (s.config.get("MonitoringJobDefinitionName") or "").lower() == name.lower()
    ]
    if users:
        raise ResourceInUse(
            f"Job definition {name} is used by monitoring schedule(s) {', '.join(users)}; "
            "delete them first."
        )
