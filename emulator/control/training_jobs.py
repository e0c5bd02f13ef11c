"""Training jobs: CreateTrainingJob, DescribeTrainingJob, ListTrainingJobs, StopTrainingJob.

The control plane records the job and hands it to the training manager, which moves it
through its statuses (`smlocal.emulator.statuses.training_jobs`) while the algorithm runs.
"""

from __future__ import annotations

from typing import Any, Protocol

from smlocal.emulator.control.context import Context, wired
from smlocal.emulator.control.kinds import pick
from smlocal.emulator.control.pagination import filtered, page, sort
from smlocal.emulator.control.tags import set_tags
from smlocal.emulator.errors import ResourceInUse, ValidationException
from smlocal.emulator.jobs.training.manager import KIND
from smlocal.emulator.jobs.training.workspace import artifact_uri
from smlocal.emulator.statuses.training_jobs import TRAINING_JOB, advance, initial
from smlocal.emulator.support.store import Document

# Request members DescribeTrainingJob answers with as they were given.
ECHOED = (
    "HyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "VpcConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "DebugHookConfig",
    "ExperimentConfig",
    "DebugRuleConfigurations",
    "TensorBoardOutputConfig",
    "ProfilerConfig",
    "ProfilerRuleConfigurations",
    "Environment",
    "RetryStrategy",
    "RemoteDebugConfig",
    "InfraCheckConfig",
)
DESCRIBE_KEYS = (
    "TrainingJobName",
    "TrainingJobArn",
    "ModelArtifacts",
    "TrainingJobStatus",
    "SecondaryStatus",
    "FailureReason",
    "HyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "VpcConfig",
    "StoppingCondition",
    "CreationTime",
    "TrainingStartTime",
    "TrainingEndTime",
    "LastModifiedTime",
    "SecondaryStatusTransitions",
    "FinalMetricDataList",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "TrainingTimeInSeconds",
    "BillableTimeInSeconds",
    "DebugHookConfig",
    "ExperimentConfig",
    "DebugRuleConfigurations",
    "TensorBoardOutputConfig",
    "ProfilerConfig",
    "ProfilerRuleConfigurations",
    "Environment",
    "RetryStrategy",
    "RemoteDebugConfig",
    "InfraCheckConfig",
)
# Flags DescribeTrainingJob always answers with (false unless the request set them).
FLAGS = (
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
)
SUMMARY_KEYS = (
    "TrainingJobName",
    "TrainingJobArn",
    "CreationTime",
    "TrainingEndTime",
    "LastModifiedTime",
    "TrainingJobStatus",
    "SecondaryStatus",
)
NOT_FOUND = "Requested resource not found."


class TrainingRunner(Protocol):
    """What the training operations ask of the training manager."""

    def missing_input(self, params: Document) -> str | None:
        """Why a CreateTrainingJob request's S3 input cannot be read, or None."""

    def start(self, name: str) -> None:
        """Run a stored job in the background."""

    def stop(self, name: str) -> None:
        """Stop a running job; the algorithm gets SIGTERM and keeps what it trained."""


def training(ctx: Context) -> TrainingRunner:
    """The training manager."""
    return wired(ctx.managers.training, "training")


def create_training_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateTrainingJob: recorded as InProgress/Starting; the manager runs it."""
    name = params["TrainingJobName"]
    arn = ctx.arn(KIND, name)
    _check_request(params)
    _refuse_duplicate(ctx, name, arn)
    missing = training(ctx).missing_input(params)  # S3, outside the store's lock
    if missing:
        raise ValidationException(missing)
    with ctx.store.transaction():
        _refuse_duplicate(ctx, name, arn)
        now = ctx.now()
        doc = {key: params[key] for key in ECHOED if key in params}
        doc.update(
            TrainingJobName=name,
            TrainingJobArn=arn,
            CreationTime=now,
            ModelArtifacts={
                "S3ModelArtifacts": artifact_uri(params["OutputDataConfig"]["S3OutputPath"], name)
            },
            **{key: params.get(key, False) for key in FLAGS},
            **initial(now),
        )
        ctx.store.put(KIND, name, doc)
        set_tags(ctx, arn, params.get("Tags", []))
    training(ctx).start(name)
    return {"TrainingJobArn": arn}


def _check_request(params: dict[str, Any]) -> None:
    spec = params.get("AlgorithmSpecification")
    if not spec or not (spec.get("TrainingImage") or spec.get("AlgorithmName")):
        raise ValidationException(
            "AlgorithmSpecification must specify either a TrainingImage or an AlgorithmName."
        )
    names = [c["ChannelName"] for c in params.get("InputDataConfig", [])]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationException(
            f"Channel names must be unique in InputDataConfig; found {', '.join(duplicates)} "
            "more than once."
        )


def _refuse_duplicate(ctx: Context, name: str, arn: str) -> None:
    if ctx.store.get(KIND, name) is not None:
        raise ResourceInUse(
            "Training job names must be unique within an AWS account and region, and a training "
            f"job with this name already exists ({arn})"
        )


def get_training_job(ctx: Context, name: str) -> dict[str, Any]:
    """A training job's stored document, or SageMaker's not-found error."""
    doc = ctx.store.get(KIND, name)
    if doc is None:
        raise ValidationException(NOT_FOUND)
    return doc


def describe_training_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeTrainingJob."""
    return pick(get_training_job(ctx, params["TrainingJobName"]), DESCRIBE_KEYS)


def list_training_jobs(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListTrainingJobs."""
    docs = filtered(
        ctx.store.all(KIND), params, "TrainingJobName", equals={"StatusEquals": "TrainingJobStatus"}
    )
    docs = sort(
        docs,
        params,
        {"Name": "TrainingJobName", "CreationTime": "CreationTime", "Status": "TrainingJobStatus"},
    )
    chunk, token = page(docs, params)
    return {"TrainingJobSummaries": [pick(d, SUMMARY_KEYS) for d in chunk], "NextToken": token}


def stop_training_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StopTrainingJob: Stopping now; the algorithm gets SIGTERM and keeps what it trained."""
    name = params["TrainingJobName"]
    with ctx.store.transaction():
        doc = get_training_job(ctx, name)
        TRAINING_JOB.require("StopTrainingJob", doc["SecondaryStatus"], name)
        ctx.store.put(KIND, name, advance(doc, "Stopping", ctx.now()))
    training(ctx).stop(name)
    return {}
