"""Processing jobs: create, describe, list, stop (run by smlocal.emulator.jobs.processing)."""

from __future__ import annotations

from typing import Any, Protocol

from smlocal.emulator.control.context import Context, wired
from smlocal.emulator.control.job_components import check_experiment_config, join_experiment
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.errors import ValidationException
from smlocal.emulator.jobs.processing_records import (
    KIND,
    MISSING,
    CaptureWindow,
    ProcessingJob,
    set_status,
)
from smlocal.emulator.statuses.processing_jobs import PROCESSING_JOB

PROCESSING_JOBS = Kind(
    resource=KIND,
    load=ProcessingJob.from_document,
    noun="processing job",
    name_key="ProcessingJobName",
    list_key="ProcessingJobSummaries",
    equals={"StatusEquals": "ProcessingJobStatus"},
    sort_keys={"Status": "ProcessingJobStatus"},
    missing_text=MISSING,
)


class ProcessingRunner(Protocol):
    """What the processing operations (and monitoring executions) ask of the job runner."""

    def start(self, name: str) -> None:
        """Run a stored InProgress job in the background."""

    def stop(self, name: str) -> None:
        """Stop a running job; its status moves to Stopped when the process ends."""


def runner(ctx: Context) -> ProcessingRunner:
    """The processing job runner."""
    return wired(ctx.managers.processing, "processing")


def new_job(
    ctx: Context,
    params: dict[str, Any],
    schedule_arn: str | None = None,
    capture_window: CaptureWindow | None = None,
) -> ProcessingJob:
    """Store a new InProgress job (from the API, or a monitoring schedule's execution with
    the window of captures it reads)."""
    name = params["ProcessingJobName"]
    now = ctx.now()
    PROCESSING_JOB.check(None, "InProgress")
    job = ProcessingJob(
        name=name,
        arn=ctx.arn(KIND, name),
        creation_time=now,
        last_modified_time=now,
        start_time=now,
        app_specification=params["AppSpecification"],
        status="InProgress",
        inputs=params.get("ProcessingInputs"),
        output_config=params.get("ProcessingOutputConfig"),
        resources=params.get("ProcessingResources"),
        stopping_condition=params.get("StoppingCondition"),
        environment=params.get("Environment"),
        network_config=params.get("NetworkConfig"),
        role_arn=params.get("RoleArn"),
        experiment_config=params.get("ExperimentConfig"),
        monitoring_schedule_arn=schedule_arn,
        capture_window=capture_window,
    )
    with ctx.store.transaction():  # the job and its trial component, or neither
        check_experiment_config(ctx, params.get("ExperimentConfig"))
        PROCESSING_JOBS.add(ctx, job, params.get("Tags", []))
        join_experiment(ctx, KIND, name, job.arn, params.get("ExperimentConfig"))
    return job


def create_processing_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateProcessingJob: runs at once, in the background."""
    for item in params.get("ProcessingInputs", []):
        if "S3Input" not in item:
            raise ValidationException(
                f"Processing input {item['InputName']} has no S3Input; smlocal reads inputs from "
                "S3 only (dataset definitions are not emulated)."
            )
    job = new_job(ctx, params)
    runner(ctx).start(job.name)
    return {"ProcessingJobArn": job.arn}


def describe_processing_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeProcessingJob."""
    return PROCESSING_JOBS.describe(ctx, params["ProcessingJobName"])


def list_processing_jobs(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListProcessingJobs."""
    return PROCESSING_JOBS.listing(ctx, params)


def stop_processing_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StopProcessingJob: only a job in progress can be stopped."""
    name = params["ProcessingJobName"]
    with ctx.store.transaction():
        job = PROCESSING_JOBS.get(ctx, name)
        PROCESSING_JOB.require("StopProcessingJob", job.status, name)
        set_status(ctx, name, "Stopping")
    runner(ctx).stop(name)
    return {}
