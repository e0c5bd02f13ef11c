"""Training jobs: CreateTrainingJob, DescribeTrainingJob, ListTrainingJobs, StopTrainingJob.

The control plane records the job and hands it to the training manager, which moves it
through its statuses (`smlocal.emulator.statuses.training_jobs`) while the algorithm runs.
"""

from __future__ import annotations

from typing import Any, Protocol

from smlocal.emulator.control.context import Context, wired
from smlocal.emulator.control.job_components import check_experiment_config, join_experiment
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.errors import ResourceInUse, ValidationException
from smlocal.emulator.jobs.training.records import KIND, TrainingJob
from smlocal.emulator.jobs.training.workspace import artifact_uri
from smlocal.emulator.statuses.training_jobs import TRAINING_JOB
from smlocal.emulator.support.store import Document

TRAINING_JOBS = Kind(
    resource=KIND,
    load=TrainingJob.from_document,
    noun="training job",
    name_key="TrainingJobName",
    list_key="TrainingJobSummaries",
    equals={"StatusEquals": "TrainingJobStatus"},
    sort_keys={"Status": "TrainingJobStatus"},
    missing_text="Requested resource not found.",
    duplicate=ResourceInUse,
    duplicate_text=(
        "Training job names must be unique within an AWS account and region, and a training "
        "job with this name already exists ({arn})"
    ),
)


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
    _check_request(params)
    TRAINING_JOBS.refuse_taken(ctx, name)
    missing = training(ctx).missing_input(params)  # S3, outside the store's lock
    if missing:
        raise ValidationException(missing)
    job = TrainingJob.requested(
        params,
        arn=ctx.arn(KIND, name),
        now=ctx.now(),
        artifacts=artifact_uri(params["OutputDataConfig"]["S3OutputPath"], name),
    )
    with ctx.store.transaction():  # the job and its trial component, or neither
        check_experiment_config(ctx, params.get("ExperimentConfig"))
        TRAINING_JOBS.add(ctx, job, params.get("Tags", []))
        join_experiment(ctx, KIND, name, job.arn, params.get("ExperimentConfig"))
    training(ctx).start(name)
    return {"TrainingJobArn": job.arn}


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


def describe_training_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeTrainingJob."""
    return TRAINING_JOBS.describe(ctx, params["TrainingJobName"])


def list_training_jobs(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListTrainingJobs."""
    return TRAINING_JOBS.listing(ctx, params)


def stop_training_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StopTrainingJob: Stopping now; the algorithm gets SIGTERM and keeps what it trained."""
    name = params["TrainingJobName"]
    with ctx.store.transaction():
        job = TRAINING_JOBS.get(ctx, name)
        TRAINING_JOB.require("StopTrainingJob", job.secondary_status, name)
        job.advance("Stopping", ctx.now())
        TRAINING_JOBS.save(ctx, job)
    training(ctx).stop(name)
    return {}
