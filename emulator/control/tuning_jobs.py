"""Hyperparameter tuning jobs: Create/Describe/List/Stop/DeleteHyperParameterTuningJob and
ListTrainingJobsForHyperParameterTuningJob.

The control plane checks and records the job and hands it to the tuner
(`smlocal.emulator.jobs.tuning.tuner`), which launches its training jobs through
CreateTrainingJob and keeps its counters and best training job up to date.
"""

from __future__ import annotations

from typing import Any, Protocol

from smlocal.emulator.control.context import Context, wired
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.control.pagination import filtered, page, sort
from smlocal.emulator.control.training_jobs import training
from smlocal.emulator.errors import ResourceInUse, ResourceNotFound, ValidationException
from smlocal.emulator.jobs.training.metrics import algorithm_definitions
from smlocal.emulator.jobs.tuning.ranges import parse_ranges
from smlocal.emulator.jobs.tuning.records import (
    KIND,
    OBJECTIVE,
    TuningJob,
    child_summary,
    training_job,
)
from smlocal.emulator.jobs.tuning.strategies import grid
from smlocal.emulator.statuses.tuning_jobs import ENDED, TUNING_JOB
from smlocal.model_server.images import Role, parse_image

TUNING_JOBS = Kind(
    resource=KIND,
    load=TuningJob.from_document,
    noun="hyperparameter tuning job",
    name_key="HyperParameterTuningJobName",
    list_key="HyperParameterTuningJobSummaries",
    equals={"StatusEquals": "HyperParameterTuningJobStatus"},
    sort_keys={"Status": "HyperParameterTuningJobStatus"},
    missing=ResourceNotFound,
    missing_text="Amazon SageMaker can't find a tuning job called {name}. Type another name.",
    duplicate=ResourceInUse,
    duplicate_text=(
        "A hyperparameter tuning job with the name, {name}, already exists. Choose a "
        "different name."
    ),
)
MAX_GRID = 10_000  # SageMaker's limit on the combinations of a Grid search


class TuningRunner(Protocol):
    """What the tuning operations ask of the tuner."""

    def start(self, name: str) -> None:
        """Run a stored InProgress tuning job in the background."""

    def stop(self, name: str) -> None:
        """Wake a Stopping tuning job: it stops its training jobs."""


def tuner(ctx: Context) -> TuningRunner:
    """The tuner."""
    return wired(ctx.managers.tuning, "tuning")


def create_hyper_parameter_tuning_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateHyperParameterTuningJob: recorded InProgress; the tuner runs it."""
    name = params["HyperParameterTuningJobName"]
    config = params["HyperParameterTuningJobConfig"]
    definition = _definition(params)
    objective = config.get("HyperParameterTuningJobObjective")
    if objective is None:
        raise ValidationException(
            "HyperParameterTuningJobObjective is required in HyperParameterTuningJobConfig."
        )
    _check_config(config, definition)
    _check_objective(objective["MetricName"], definition)
    _check_parents(ctx, params.get("WarmStartConfig"))
    TUNING_JOBS.refuse_taken(ctx, name)
    missing = training(ctx).missing_input(definition)  # S3, outside the store's lock
    if missing:
        raise ValidationException(missing)
    static = {**definition.get("StaticHyperParameters", {}), OBJECTIVE: objective["MetricName"]}
    definition = _with_metrics({**definition, "StaticHyperParameters": static})
    resources = definition.get("HyperParameterTuningResourceConfig") or {}
    if "ResourceConfig" not in definition and "InstanceType" in resources:
        # AWS describes a one-instance-type tuning job's resources as ResourceConfig too
        # (the SDK's HyperparameterTuner.attach reads it)
        definition["ResourceConfig"] = {key: resources[key] for key in
            ("InstanceType", "InstanceCount", "VolumeSizeInGB", "VolumeKmsKeyId")
            if key in resources}  # fmt: skip
    now = ctx.now()
    TUNING_JOB.check(None, "InProgress")
    job = TuningJob(
        name=name,
        arn=ctx.arn(KIND, name),
        config={"TrainingJobEarlyStoppingType": "Off", **config},
        status="InProgress",
        creation_time=now,
        last_modified_time=now,
        definition=definition,
        warm_start=params.get("WarmStartConfig"),
    )
    TUNING_JOBS.add(ctx, job, params.get("Tags", []))
    tuner(ctx).start(name)
    return {"HyperParameterTuningJobArn": job.arn}


def _definition(params: dict[str, Any]) -> dict[str, Any]:
    if "TrainingJobDefinitions" in params:
        raise ValidationException(
            "TrainingJobDefinitions (a tuning job over several algorithms) is not emulated: "
            "smlocal runs tuning jobs with one TrainingJobDefinition."
        )
    if "Autotune" in params:
        raise ValidationException("Autotune is not emulated: give the ParameterRanges to search.")
    definition: dict[str, Any] | None = params.get("TrainingJobDefinition")
    if definition is None:
        raise ValidationException(
            "Either TrainingJobDefinition or TrainingJobDefinitions must be provided."
        )
    spec = definition["AlgorithmSpecification"]
    if not (spec.get("TrainingImage") or spec.get("AlgorithmName")):
        raise ValidationException(
            "AlgorithmSpecification must specify either a TrainingImage or an AlgorithmName."
        )
    resources = ("ResourceConfig", "HyperParameterTuningResourceConfig")
    if not any(key in definition for key in resources):
        raise ValidationException(
            "TrainingJobDefinition must specify either ResourceConfig or "
            "HyperParameterTuningResourceConfig."
        )
    return definition


def _check_config(config: dict[str, Any], definition: dict[str, Any]) -> None:
    ranges = parse_ranges(config.get("ParameterRanges"))
    static = definition.get("StaticHyperParameters", {})
    for found in ranges:
        if found.name in static:
            raise ValidationException(
                f"The hyperparameter {found.name} is both static (StaticHyperParameters) and "
                "tuned (ParameterRanges); give it in one of them only."
            )
    limits = config["ResourceLimits"]
    if config["Strategy"] == "Grid":
        if any(r.kind != "Categorical" for r in ranges) or not ranges:
            raise ValidationException(
                "Grid search supports only categorical hyperparameter ranges; "
                "ParameterRanges must hold CategoricalParameterRanges only."
            )
        if len(grid(ranges)) > MAX_GRID:
            raise ValidationException(
                f"The Grid search's {len(grid(ranges))} combinations are more than {MAX_GRID}."
            )
    elif "MaxNumberOfTrainingJobs" not in limits:
        raise ValidationException(
            f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {config['Strategy']} "
            "strategy."
        )
    if config["Strategy"] == "Hyperband" and config.get("TrainingJobEarlyStoppingType") == "Auto":
        raise ValidationException(
            "TrainingJobEarlyStoppingType must be Off for the Hyperband strategy: Hyperband "
            "stops training jobs early by itself."
        )


def _built_in(definition: dict[str, Any]) -> bool:
    """True for the built-in algorithm (the XGBoost image, not in script mode)."""
    image = definition["AlgorithmSpecification"].get("TrainingImage", "")
    script = "sagemaker_program" in definition.get("StaticHyperParameters", {})
    return not script and parse_image(image).has(Role.TRAINED)


def _with_metrics(definition: dict[str, Any]) -> dict[str, Any]:
    """AWS shows the built-in algorithm's MetricDefinitions in the definition's
    AlgorithmSpecification, as in a training job's (the SDK's attach reads them)."""
    spec = definition["AlgorithmSpecification"]
    if spec.get("MetricDefinitions") or not _built_in(definition):
        return definition
    spec = {**spec, "MetricDefinitions": algorithm_definitions()}
    return {**definition, "AlgorithmSpecification": spec}


def _check_objective(metric: str, definition: dict[str, Any]) -> None:
    """The objective must be one of the job's metrics: its MetricDefinitions, or those of
    the built-in algorithm."""
    names = {d["Name"] for d in _with_metrics(definition)["AlgorithmSpecification"].get(
        "MetricDefinitions", [])}  # fmt: skip
    if metric not in names:
        raise ValidationException(
            f"The objective metric for the hyperparameter tuning job, [{metric}], isn't valid "
            "for the algorithm: it must be one of the training job's MetricDefinitions "
            f"({', '.join(sorted(names)) or 'none given'})."
        )


def _check_parents(ctx: Context, warm_start: dict[str, Any] | None) -> None:
    for parent in (warm_start or {}).get("ParentHyperParameterTuningJobs", []):
        found = TUNING_JOBS.get(ctx, parent["HyperParameterTuningJobName"])
        if found.status not in ENDED:
            raise ValidationException(
                f"The parent hyperparameter tuning job {found.name} is {found.status}; a warm "
                "start needs parent jobs that have ended."
            )


def describe_hyper_parameter_tuning_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeHyperParameterTuningJob."""
    return TUNING_JOBS.describe(ctx, params["HyperParameterTuningJobName"])


def list_hyper_parameter_tuning_jobs(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListHyperParameterTuningJobs."""
    return TUNING_JOBS.listing(ctx, params)


def stop_hyper_parameter_tuning_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StopHyperParameterTuningJob: Stopping now; its running training jobs are stopped."""
    name = params["HyperParameterTuningJobName"]
    with ctx.store.transaction():
        job = TUNING_JOBS.get(ctx, name)
        TUNING_JOB.require("StopHyperParameterTuningJob", job.status, name)
        job.move("Stopping", ctx.now())
        TUNING_JOBS.save(ctx, job)
    tuner(ctx).stop(job.name)
    return {}


def delete_hyper_parameter_tuning_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteHyperParameterTuningJob: an ended job only; its training jobs stay."""
    name = params["HyperParameterTuningJobName"]
    return TUNING_JOBS.delete(
        ctx, name, lambda job: TUNING_JOB.require("DeleteHyperParameterTuningJob", job.status, name)
    )


def list_training_jobs_for_hyper_parameter_tuning_job(
    ctx: Context, params: dict[str, Any]
) -> dict[str, Any]:
    """ListTrainingJobsForHyperParameterTuningJob: StatusEquals, SortBy (Name,
    CreationTime, Status, FinalObjectiveMetricValue: jobs without a value last) and paging."""
    job = TUNING_JOBS.get(ctx, params["HyperParameterTuningJobName"])
    summaries = [child_summary(job, c, training_job(ctx, c)) for c in job.children]
    summaries = filtered(summaries, params, "TrainingJobName",
                         equals={"StatusEquals": "TrainingJobStatus"})  # fmt: skip
    if params.get("SortBy") == "FinalObjectiveMetricValue":
        scored = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        scored.sort(key=_objective, reverse=params.get("SortOrder", "Descending") == "Descending")
        summaries = scored + [s for s in summaries if s not in scored]
    else:
        keys = {"Name": "TrainingJobName", "CreationTime": "CreationTime",
                "Status": "TrainingJobStatus"}  # fmt: skip
        summaries = sort(summaries, params, keys)
    chunk, token = page(summaries, params)
    return {"TrainingJobSummaries": chunk, "NextToken": token}


def _objective(summary: dict[str, Any]) -> float:
    return float(summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
