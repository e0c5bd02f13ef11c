"""Transform jobs: create, describe, list, stop (run by smlocal.emulator.jobs.transform)."""

from __future__ import annotations

from typing import Any, Protocol

from smlocal.emulator.control.context import Context, wired
from smlocal.emulator.control.job_components import check_experiment_config, join_experiment
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.control.models import MODELS
from smlocal.emulator.errors import ResourceInUse, ValidationException
from smlocal.emulator.jobs.transform_jsonpath import JsonPathError, parse
from smlocal.emulator.jobs.transform_records import (
    KIND,
    MISSING,
    Container,
    TransformJob,
    set_status,
)
from smlocal.emulator.statuses.transform_jobs import TRANSFORM_JOB

TRANSFORM_JOBS = Kind(
    resource=KIND,
    load=TransformJob.from_document,
    noun="transform job",
    name_key="TransformJobName",
    list_key="TransformJobSummaries",
    equals={"StatusEquals": "TransformJobStatus"},
    sort_keys={"Status": "TransformJobStatus"},
    missing_text=MISSING,
    duplicate=ResourceInUse,
    duplicate_text=(
        "Job name must be unique within an AWS account and region, and a job with this name "
        "already exists ({arn})"
    ),
)
MAX_PAYLOAD_MB = 100  # SageMaker's ceiling for MaxPayloadInMB


class TransformRunner(Protocol):
    """What the transform operations ask of the transform job runner."""

    def start(self, name: str) -> None:
        """Run a stored InProgress job in the background."""

    def stop(self, name: str) -> None:
        """Stop a running job; its status moves to Stopped when it has stopped."""


def runner(ctx: Context) -> TransformRunner:
    """The transform job runner."""
    return wired(ctx.managers.transform, "transform")


def _check(params: dict[str, Any]) -> None:
    """Refuse what SageMaker refuses, and what smlocal does not run, before storing."""
    source = params["TransformInput"]["DataSource"]["S3DataSource"]
    if source["S3DataType"] not in ("S3Prefix", "ManifestFile"):
        raise ValidationException(
            f"S3DataType {source['S3DataType']} is not supported for batch transform; smlocal "
            "reads S3Prefix and ManifestFile inputs."
        )
    split = params["TransformInput"].get("SplitType", "None")
    if split not in ("None", "Line"):
        raise ValidationException(
            f"SplitType {split} is not emulated: smlocal splits input files by Line or not at all."
        )
    if params.get("MaxPayloadInMB", 0) > MAX_PAYLOAD_MB:
        raise ValidationException(
            f"MaxPayloadInMB {params['MaxPayloadInMB']} is above the maximum of "
            f"{MAX_PAYLOAD_MB} MB."
        )
    for member in ("InputFilter", "OutputFilter"):
        expression = params.get("DataProcessing", {}).get(member)
        if expression is None:
            continue
        try:
            parse(expression)
        except JsonPathError as exc:
            raise ValidationException(
                f"{member} is not a JSONPath expression batch transform supports: {exc}"
            ) from None


def create_transform_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateTransformJob: runs at once, in the background."""
    _check(params)
    model = MODELS.get(ctx, params["ModelName"])
    if len(model.runnable) != 1:
        raise ValidationException(
            f"Model {model.name} has {len(model.runnable)} containers; smlocal runs transform "
            "jobs of models with one container (inference pipelines are not emulated)."
        )
    [runnable] = model.runnable
    name = params["TransformJobName"]
    now = ctx.now()
    TRANSFORM_JOB.check(None, "InProgress")
    job = TransformJob(
        name=name,
        arn=ctx.arn(KIND, name),
        model_name=params["ModelName"],
        creation_time=now,
        last_modified_time=now,
        start_time=now,
        transform_input=params["TransformInput"],
        transform_output=params["TransformOutput"],
        transform_resources=params["TransformResources"],
        container=Container(runnable.image, runnable.model_data_url, runnable.environment),
        max_concurrent_transforms=params.get("MaxConcurrentTransforms"),
        max_payload_in_mb=params.get("MaxPayloadInMB"),
        batch_strategy=params.get("BatchStrategy"),
        model_client_config=params.get("ModelClientConfig"),
        environment=params.get("Environment") or {},
        data_capture_config=params.get("DataCaptureConfig"),
        data_processing=params.get("DataProcessing"),
        experiment_config=params.get("ExperimentConfig"),
    )
    with ctx.store.transaction():  # the job and its trial component, or neither
        check_experiment_config(ctx, params.get("ExperimentConfig"))
        TRANSFORM_JOBS.add(ctx, job, params.get("Tags", []))
        join_experiment(ctx, KIND, name, job.arn, params.get("ExperimentConfig"))
    runner(ctx).start(job.name)
    return {"TransformJobArn": job.arn}


def describe_transform_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeTransformJob."""
    return TRANSFORM_JOBS.describe(ctx, params["TransformJobName"])


def list_transform_jobs(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListTransformJobs."""
    return TRANSFORM_JOBS.listing(ctx, params)


def stop_transform_job(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """StopTransformJob: only a job in progress can be stopped."""
    name = params["TransformJobName"]
    with ctx.store.transaction():
        job = TRANSFORM_JOBS.get(ctx, name)
        TRANSFORM_JOB.require("StopTransformJob", job.status, name)
        set_status(ctx, name, "Stopping")
    runner(ctx).stop(name)
    return {}
