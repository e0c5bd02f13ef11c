"""Pipelines: CreatePipeline, UpdatePipeline, DescribePipeline, ListPipelines, DeletePipeline.

A pipeline holds its definition (the SDK's pipeline definition JSON, given inline or as an
S3 object); each update makes a new version. The definition is checked when it is stored:
JSON with a Steps list, unique step names, dependencies on steps that exist, no cycles.
Executions (`control.pipeline_executions`) run a copy of the definition as it was when they
started.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.errors import ConflictException, ResourceNotFound, ValidationException
from smlocal.emulator.jobs.pipeline_records import stored_executions
from smlocal.emulator.jobs.pipelines.plan import DefinitionError, parse, steps_of
from smlocal.emulator.support.clients import client
from smlocal.emulator.support.records import Document, Nested, shown

KIND = "pipeline"


def pipeline_key(name_or_arn: str) -> str:
    """The store key of a pipeline name or ARN."""
    return name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn


@dataclass
class Pipeline:
    """A pipeline as CreatePipeline stored it and UpdatePipeline changed it."""

    name: str
    arn: str
    definition: str
    role_arn: str
    creation_time: float
    last_modified_time: float
    version: int = 1
    display_name: str | None = None
    description: str | None = None
    last_run_time: float | None = None
    parallelism: Nested | None = None

    @property
    def key(self) -> str:
        """Its store key."""
        return self.name

    @classmethod
    def from_document(cls, doc: Document) -> Pipeline:
        """The pipeline of a stored document."""
        return cls(
            name=doc["PipelineName"],
            arn=doc["PipelineArn"],
            definition=doc["PipelineDefinition"],
            role_arn=doc["RoleArn"],
            creation_time=doc["CreationTime"],
            last_modified_time=doc["LastModifiedTime"],
            version=doc.get("_Version", 1),
            display_name=doc.get("PipelineDisplayName"),
            description=doc.get("PipelineDescription"),
            last_run_time=doc.get("LastRunTime"),
            parallelism=doc.get("ParallelismConfiguration"),
        )

    def to_document(self) -> Document:
        """The stored document: DescribePipeline's output and the version number."""
        return {**self.describe(), "_Version": self.version}

    def describe(self) -> dict[str, object]:
        """DescribePipeline's output."""
        return shown(
            (
                ("PipelineArn", self.arn),
                ("PipelineName", self.name),
                ("PipelineDisplayName", self.display_name or self.name),
                ("PipelineDefinition", self.definition),
                ("PipelineDescription", self.description),
                ("RoleArn", self.role_arn),
                ("PipelineStatus", "Active"),
                ("CreationTime", self.creation_time),
                ("LastModifiedTime", self.last_modified_time),
                ("LastRunTime", self.last_run_time),
                ("CreatedBy", {}),
                ("LastModifiedBy", {}),
                ("ParallelismConfiguration", self.parallelism),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListPipelines' item."""
        return shown(
            (
                ("PipelineArn", self.arn),
                ("PipelineName", self.name),
                ("PipelineDisplayName", self.display_name or self.name),
                ("PipelineDescription", self.description),
                ("RoleArn", self.role_arn),
                ("CreationTime", self.creation_time),
                ("LastModifiedTime", self.last_modified_time),
                ("LastExecutionTime", self.last_run_time),
            )
        )


PIPELINES = Kind(
    resource=KIND,
    load=Pipeline.from_document,
    noun="pipeline",
    name_key="PipelineName",
    list_key="PipelineSummaries",
    key_of=pipeline_key,
    missing=ResourceNotFound,
    missing_text="Pipeline '{arn}' does not exist.",
    duplicate_text=(
        "Pipeline names must be unique within an AWS account and region. Pipeline with name "
        "({name}) already exists."
    ),
)


def definition_of(ctx: Context, params: dict[str, Any]) -> str | None:
    """The request's definition (inline, or read from PipelineDefinitionS3Location), checked."""
    text = params.get("PipelineDefinition")
    location = params.get("PipelineDefinitionS3Location")
    if text is None and location is not None:
        extra = {"VersionId": location["VersionId"]} if location.get("VersionId") else {}
        try:
            text = (
                client(ctx.settings, "s3")
                .get_object(Bucket=location["Bucket"], Key=location["ObjectKey"], **extra)["Body"]
                .read()
                .decode()
            )
        except Exception as exc:
            raise ValidationException(
                f"Could not read the pipeline definition from s3://{location['Bucket']}/"
                f"{location['ObjectKey']}: {exc}"
            ) from None
    if text is None:
        return None
    try:
        steps_of(parse(text))
    except DefinitionError as exc:
        raise ValidationException(f"Invalid pipeline definition: {exc}.") from None
    return str(text)


def create_pipeline(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreatePipeline."""
    definition = definition_of(ctx, params)
    if definition is None:
        raise ValidationException(
            "Either PipelineDefinition or PipelineDefinitionS3Location must be provided."
        )
    name = params["PipelineName"]
    now = ctx.now()
    pipeline = Pipeline(
        name=name,
        arn=ctx.arn(KIND, name),
        definition=definition,
        role_arn=params["RoleArn"],
        creation_time=now,
        last_modified_time=now,
        display_name=params.get("PipelineDisplayName"),
        description=params.get("PipelineDescription"),
        parallelism=params.get("ParallelismConfiguration"),
    )
    PIPELINES.add(ctx, pipeline, params.get("Tags", []))
    return {"PipelineArn": pipeline.arn}


def update_pipeline(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdatePipeline: a new version of the definition and what else is given."""
    definition = definition_of(ctx, params)
    with ctx.store.transaction():
        pipeline = PIPELINES.get(ctx, params["PipelineName"])
        pipeline.definition = definition or pipeline.definition
        pipeline.role_arn = params.get("RoleArn", pipeline.role_arn)
        pipeline.display_name = params.get("PipelineDisplayName", pipeline.display_name)
        pipeline.description = params.get("PipelineDescription", pipeline.description)
        pipeline.parallelism = params.get("ParallelismConfiguration", pipeline.parallelism)
        pipeline.version += 1
        pipeline.last_modified_time = ctx.now()
        PIPELINES.save(ctx, pipeline)
    return {"PipelineArn": pipeline.arn, "PipelineVersionId": pipeline.version}


def describe_pipeline(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribePipeline."""
    return PIPELINES.describe(ctx, params["PipelineName"])


def list_pipelines(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListPipelines: PipelineNamePrefix, CreatedAfter/CreatedBefore, sorted and paged."""
    prefix = str(params.get("PipelineNamePrefix", "")).lower()
    after, before = epoch(params.get("CreatedAfter")), epoch(params.get("CreatedBefore"))

    def keep(pipeline: Pipeline) -> bool:
        return (
            pipeline.name.lower().startswith(prefix)
            and (after is None or pipeline.creation_time > after)
            and (before is None or pipeline.creation_time < before)
        )

    return PIPELINES.listing(ctx, params, keep=keep)


def epoch(value: Any) -> float | None:
    """A timestamp parameter in epoch seconds (None when not given)."""
    if value is None:
        return None
    return value.timestamp() if isinstance(value, datetime) else float(value)


def delete_pipeline(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeletePipeline: its executions stay describable, as on SageMaker. A pipeline with a
    running execution is not deleted (ConflictException): its steps' jobs would run on."""
    with ctx.store.transaction():
        pipeline = PIPELINES.get(ctx, params["PipelineName"])
        running = [e.arn for e in stored_executions(ctx) if e.pipeline_arn == pipeline.arn
                   and e.status in ("Executing", "Stopping")]  # fmt: skip
        if running:
            raise ConflictException(
                f"Pipeline '{pipeline.arn}' has running executions ({', '.join(running)}); "
                "stop them with StopPipelineExecution before deleting it."
            )
        PIPELINES.delete(ctx, params["PipelineName"])
    return {"PipelineArn": pipeline.arn}


def ran(ctx: Context, name_or_arn: str, when: float) -> Pipeline:
    """Record an execution's start on its pipeline (LastRunTime); the pipeline."""
    with ctx.store.transaction():
        pipeline = PIPELINES.get(ctx, name_or_arn)
        pipeline.last_run_time = when
        PIPELINES.save(ctx, pipeline)
    return pipeline
