"""Processing jobs: create, describe, list, stop (run by smlocal.emulator.jobs.processing)."""

from __future__ import annotations

from typing import Any, Protocol

from smlocal.emulator.control.context import Context, already_exists, wired
from smlocal.emulator.control.kinds import pick
from smlocal.emulator.control.pagination import filtered, page, sort
from smlocal.emulator.control.tags import set_tags
from smlocal.emulator.errors import ValidationException
from smlocal.emulator.jobs.processing_records import KIND, get_job, set_status
from smlocal.emulator.statuses.processing_jobs import PROCESSING_JOB

DESCRIBE_KEYS = (
    "ProcessingInputs",
    "ProcessingOutputConfig",
    "ProcessingJobName",
    "ProcessingResources",
    "StoppingCondition",
    "AppSpecification",
    "Environment",
    "NetworkConfig",
    "RoleArn",
    "ExperimentConfig",
    "ProcessingJobArn",
    "ProcessingJobStatus",
    "ExitMessage",
    "FailureReason",
    "ProcessingEndTime",
    "ProcessingStartTime",
    "LastModifiedTime",
    "CreationTime",
    "MonitoringScheduleArn",
)
SUMMARY_KEYS = (
    "ProcessingJobName",
    "ProcessingJobArn",
    "CreationTime",
    "ProcessingEndTime",
    "LastModifiedTime",
    "ProcessingJobStatus",
    "FailureReason",
    "ExitMessage",
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
    private: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store a new InProgress job (from the API or from a monitoring schedule).

    `private` holds what only the emulator reads (keys starting with `_`), such as the
    capture window of a monitoring execution.
    """
    name = params["ProcessingJobName"]
    arn = ctx.arn(KIND, name)
    with ctx.store.transaction():
        if ctx.store.get(KIND, name) is not None:
            raise already_exists("processing job", arn)
        now = ctx.now()
        doc = {key: params[key] for key in DESCRIBE_KEYS if key in params}
        doc.update(
            {
                "ProcessingJobName": name,
                "ProcessingJobArn": arn,
                "CreationTime": now,
                "LastModifiedTime": now,
                "ProcessingStartTime": now,
                "MonitoringScheduleArn": schedule_arn,
                **(private or {}),
            }
        )
        PROCESSING_JOB.move(doc, "InProgress")
        ctx.store.put(KIND, name, doc)
        set_tags(ctx, arn, params.get("Tags", []))
    return doc


def create_processing_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateProcessingJob: runs at once, in the background."""
    for item in params.get("ProcessingInputs", []):
        if "S3Input" not in item:
            raise ValidationException(
                f"Processing input {item['InputName']} has no S3Input; smlocal reads inputs from "
                "S3 only (dataset definitions are not emulated)."
            )
    doc = new_job(ctx, params)
    runner(ctx).start(doc["ProcessingJobName"])
    return {"ProcessingJobArn": doc["ProcessingJobArn"]}


def describe_processing_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeProcessingJob."""
    return pick(get_job(ctx, params["ProcessingJobName"]), DESCRIBE_KEYS)


def list_processing_jobs(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListProcessingJobs."""
    docs = filtered(
        ctx.store.all(KIND),
        params,
        "ProcessingJobName",
        equals={"StatusEquals": "ProcessingJobStatus"},
    )
    docs = sort(
        docs,
        params,
        {
            "Name": "ProcessingJobName",
            "CreationTime": "CreationTime",
            "Status": "ProcessingJobStatus",
        },
    )
    chunk, token = page(docs, params)
    return {"ProcessingJobSummaries": [pick(d, SUMMARY_KEYS) for d in chunk], "NextToken": token}


def stop_processing_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StopProcessingJob: only a job in progress can be stopped."""
    name = params["ProcessingJobName"]
    with ctx.store.transaction():
        doc = get_job(ctx, name)
        PROCESSING_JOB.require("StopProcessingJob", doc["ProcessingJobStatus"], name)
        set_status(ctx, name, "Stopping")
    runner(ctx).stop(name)
    return {}
