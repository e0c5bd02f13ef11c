"""Pipeline executions: StartPipelineExecution, DescribePipelineExecution,
ListPipelineExecutions, ListPipelineExecutionSteps, StopPipelineExecution,
RetryPipelineExecution, DescribePipelineDefinitionForExecution,
ListPipelineParametersForExecution.

The control plane records the execution (with a copy of its pipeline's definition and its
parameters' values) and hands it to the pipeline executor (`smlocal.emulator.jobs.pipelines`),
which runs its steps and records them.
"""

from __future__ import annotations

from typing import Any, Protocol

from smlocal.emulator.control.context import Context, wired
from smlocal.emulator.control.experiments import pipeline_run_group
from smlocal.emulator.control.pagination import page
from smlocal.emulator.control.pipelines import PIPELINES, epoch, ran
from smlocal.emulator.errors import ValidationException
from smlocal.emulator.jobs.pipeline_records import (
    PipelineExecution,
    execution_arn,
    get_execution,
    new_execution_id,
    save_execution,
    step_items,
    stored_executions,
)
from smlocal.emulator.jobs.pipelines.expressions import Scope, StepFailed, resolve
from smlocal.emulator.jobs.pipelines.plan import DefinitionError, parameter_values, parse
from smlocal.emulator.statuses.pipelines import PIPELINE_EXECUTION
from smlocal.emulator.support.records import Nested


class PipelineRunner(Protocol):
    """What the execution operations ask of the pipeline executor."""

    def start(self, arn: str) -> None:
        """Run a stored Executing execution in the background."""

    def stop(self, arn: str) -> None:
        """Stop a running execution's steps."""


def executor(ctx: Context) -> PipelineRunner:
    """The pipeline executor."""
    return wired(ctx.managers.pipelines, "pipeline")


def start_pipeline_execution(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StartPipelineExecution: recorded Executing; the executor runs it."""
    pipeline = PIPELINES.get(ctx, params["PipelineName"])
    document = parse(pipeline.definition)
    try:
        values = parameter_values(document, params.get("PipelineParameters", []))
    except DefinitionError as exc:
        raise ValidationException(str(exc)) from None
    now = ctx.now()
    arn = execution_arn(pipeline.arn, new_execution_id())
    execution = PipelineExecution(
        arn=arn,
        pipeline_arn=pipeline.arn,
        pipeline_name=pipeline.name,
        status="Executing",
        creation_time=now,
        last_modified_time=now,
        definition=pipeline.definition,
        parameters=values,
        display_name=params.get("PipelineExecutionDisplayName"),
        description=params.get("PipelineExecutionDescription"),
        parallelism=params.get("ParallelismConfiguration") or pipeline.parallelism,
        role_arn=pipeline.role_arn,
    )
    execution.experiment_config = _experiment(document, execution)
    PIPELINE_EXECUTION.check(None, "Executing")
    with ctx.store.transaction():
        save_execution(ctx, execution)
        ran(ctx, pipeline.name, now)
        pipeline_run_group(ctx, execution.experiment_config, arn)
    executor(ctx).start(arn)
    return {"PipelineExecutionArn": arn}


def _experiment(document: dict[str, Any], execution: PipelineExecution) -> Nested | None:
    """The definition's PipelineExperimentConfig with its execution variables resolved."""
    config = document.get("PipelineExperimentConfig")
    if not isinstance(config, dict):
        return None
    variables = {
        "PipelineName": execution.pipeline_name,
        "PipelineExecutionId": execution.execution_id,
        "PipelineExecutionArn": execution.arn,
        "PipelineArn": execution.pipeline_arn,
    }

    def nothing(*_: str) -> Any:
        raise KeyError(_)

    scope = Scope(execution.parameters, variables.__getitem__, nothing, nothing, nothing)
    try:
        resolved: Nested = {k: str(resolve(v, scope)) for k, v in config.items() if v is not None}
    except (StepFailed, KeyError, TypeError, AttributeError, ValueError):
        # an expression with no value at the start (a property file, an S3 object) or
        # malformed: no experiment to join, never a failed StartPipelineExecution
        return None
    return resolved


def describe_pipeline_execution(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribePipelineExecution."""
    return get_execution(ctx, params["PipelineExecutionArn"]).describe()


def describe_pipeline_definition_for_execution(
    ctx: Context, params: dict[str, Any]
) -> dict[str, Any]:
    """DescribePipelineDefinitionForExecution: the definition the execution runs."""
    execution = get_execution(ctx, params["PipelineExecutionArn"])
    return {"PipelineDefinition": execution.definition, "CreationTime": execution.creation_time}


def list_pipeline_parameters_for_execution(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListPipelineParametersForExecution: every parameter's value the execution runs with
    (given or default), as text."""
    execution = get_execution(ctx, params["PipelineExecutionArn"])
    items: list[dict[str, Any]] = [
        {"Name": name, "Value": str(value).lower() if isinstance(value, bool) else str(value)}
        for name, value in execution.parameters.items()
    ]
    chunk, token = page(items, params, default_max=50)
    return {"PipelineParameters": chunk, "NextToken": token}


def list_pipeline_executions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListPipelineExecutions of one pipeline: CreatedAfter/Before, sorted, paged."""
    pipeline = PIPELINES.get(ctx, params["PipelineName"])
    after, before = epoch(params.get("CreatedAfter")), epoch(params.get("CreatedBefore"))
    executions = [
        e for e in stored_executions(ctx)
        if e.pipeline_arn == pipeline.arn
        and (after is None or e.creation_time > after)
        and (before is None or e.creation_time < before)
    ]  # fmt: skip
    by_arn = params.get("SortBy") == "PipelineExecutionArn"
    executions.sort(key=lambda e: e.arn if by_arn else e.creation_time,
                    reverse=params.get("SortOrder", "Descending") == "Descending")  # fmt: skip
    chunk, token = page([e.to_document() for e in executions], params)
    items = [PipelineExecution.from_document(d).summary() for d in chunk]
    return {"PipelineExecutionSummaries": items, "NextToken": token}


def list_pipeline_execution_steps(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListPipelineExecutionSteps: the steps that have started, latest first by default."""
    arn = params.get("PipelineExecutionArn")
    if not arn:
        raise ValidationException("PipelineExecutionArn is required.")
    execution = get_execution(ctx, arn)
    items = step_items(execution.steps)
    items.sort(key=lambda s: (s.get("StartTime") or 0),  # type: ignore[arg-type,return-value]
               reverse=params.get("SortOrder", "Descending") == "Descending")  # fmt: skip
    chunk, token = page(items, params, default_max=50)
    return {"PipelineExecutionSteps": chunk, "NextToken": token}


def stop_pipeline_execution(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StopPipelineExecution: Stopping; the executor stops the running steps' jobs."""
    arn = params["PipelineExecutionArn"]
    with ctx.store.transaction():
        execution = get_execution(ctx, arn)
        PIPELINE_EXECUTION.require("StopPipelineExecution", execution.status, arn)
        execution.move("Stopping", ctx.now())
        save_execution(ctx, execution)
    executor(ctx).stop(arn)
    return {"PipelineExecutionArn": arn}


def retry_pipeline_execution(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """RetryPipelineExecution: Executing again, from the steps that did not succeed."""
    arn = params["PipelineExecutionArn"]
    with ctx.store.transaction():
        execution = get_execution(ctx, arn)
        PIPELINE_EXECUTION.require("RetryPipelineExecution", execution.status, arn)
        execution.move("Executing", ctx.now())
        if params.get("ParallelismConfiguration"):
            execution.parallelism = params["ParallelismConfiguration"]
        save_execution(ctx, execution)
    executor(ctx).start(arn)
    return {"PipelineExecutionArn": arn}
