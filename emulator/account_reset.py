"""Empty an emulator between tests through the AWS APIs, as a test writer's cleanup would.

Order matters, as it does in AWS: monitoring schedules first (DeleteEndpoint is refused while
one watches the endpoint), then pipelines (their running executions stopped first, so no step
starts another job), then running jobs are stopped, then endpoints are deleted and
waited for (an endpoint leaves DescribeEndpoint only once its model servers are stopped and
their last captures uploaded), then configs, models, the registry, and last S3 and the log
groups, so nothing a stopping server writes comes back after its bucket is gone.

SageMaker has no delete for training, processing and transform jobs (nor for monitoring
executions), so finished jobs stay listed; the SDK names its jobs uniquely, so they do not
collide.

Two resets may run at once (two test threads): a delete of something the other one deleted
first counts as done (`_already_done`, the one place that says what "already gone" looks like).
SageMaker answers ValidationException both for that and for a refusal with a real reason (a
model package group that still holds packages), so its message decides; a refusal raises.
Objects under S3 Object Lock are deleted as an account owner would: GOVERNANCE retention
bypassed, legal holds lifted. What S3 still refuses to delete (COMPLIANCE retention that has
not ended, a bucket policy that denies s3:DeleteObject) keeps its bucket; the reset finishes
everything else first, then raises ResetIncomplete naming each object and S3's reason.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

ClientFactory = Callable[[str], Any]
POLL_SECONDS = 0.1
_RUNNING = ("InProgress", "Stopping")
# What AWS answers for a resource that is already gone.
_GONE_CODES = frozenset({
    "NoSuchBucket", "NoSuchKey", "NoSuchVersion",  # S3
    "ResourceNotFound",  # SageMaker schedules, job definitions, pipelines
    "ConflictException",  # StopPipelineExecution of an execution that has ended
    "ResourceNotFoundException",  # CloudWatch Logs
})  # fmt: skip
# SageMaker's ValidationException messages (lowercased) for an endpoint, config, model,
# package or job that is gone, or a job that is no longer in progress (stopped, finished).
_GONE_MESSAGES = (
    "could not find",  # 'Could not find model "arn..."', '... requested job with name ...'
    "does not exist",
    "requested resource not found",  # DescribeTrainingJob/StopTrainingJob of an unknown job
    "the request was rejected because the training job is in status",  # StopTrainingJob
    "only a job in progress can be stopped",  # StopProcessingJob
)
# DeleteEndpoint of an endpoint being created, updated or deleted: the loop tries again.
_IN_PROGRESS = "cannot delete in-progress endpoint"


class ResetIncomplete(RuntimeError):
    """The reset deleted everything else, but S3 refused to delete these objects (Object Lock,
    a bucket policy, ...), so their buckets stay. `kept`: bucket -> "key (Code: Message)"."""

    def __init__(self, kept: dict[str, list[str]]) -> None:
        self.kept = kept
        lines = "".join(
            f"\n  s3://{bucket}: " + "; ".join(objects) for bucket, objects in kept.items()
        )
        super().__init__(
            f"smlocal reset: {len(kept)} bucket(s) stay, S3 refused to delete these objects "
            f"(its code and reason for each):{lines}"
        )


def reset_account(client: ClientFactory, timeout: float = 120.0) -> None:
    """Delete every SageMaker resource that can be deleted, every bucket and log group."""
    deadline = time.monotonic() + timeout
    sm = client("sagemaker")
    _delete_schedules(sm, deadline)
    _delete_pipelines(sm, deadline)
    _stop_jobs(sm, deadline)
    for definition in _items(sm, "list_data_quality_job_definitions", "JobDefinitionSummaries"):
        _ignore_finished(sm.delete_data_quality_job_definition,
                         JobDefinitionName=definition["MonitoringJobDefinitionName"])  # fmt: skip
    for definition in _items(sm, "list_model_quality_job_definitions", "JobDefinitionSummaries"):
        _ignore_finished(sm.delete_model_quality_job_definition,
                         JobDefinitionName=definition["MonitoringJobDefinitionName"])  # fmt: skip
    _delete_endpoints(sm, deadline)
    for config in _items(sm, "list_endpoint_configs", "EndpointConfigs"):
        _ignore_finished(sm.delete_endpoint_config, EndpointConfigName=config["EndpointConfigName"])
    for model in _items(sm, "list_models", "Models"):
        _ignore_finished(sm.delete_model, ModelName=model["ModelName"])
    _delete_registry(sm)
    _delete_experiments(sm)
    kept = _delete_buckets(client("s3"))
    logs = client("logs")
    for group in _items(logs, "describe_log_groups", "logGroups", token="nextToken"):
        _ignore_finished(logs.delete_log_group, logGroupName=group["logGroupName"])
    if kept:
        raise ResetIncomplete(kept)


def _items(
    api: Any, operation: str, key: str, token: str = "NextToken", **params: Any
) -> Iterator[dict[str, Any]]:
    """Every item of a List* operation, page by page (collected first: callers delete)."""
    found: list[dict[str, Any]] = []
    while True:
        answer = getattr(api, operation)(**params)
        found.extend(answer.get(key, []))
        if not answer.get(token):
            return iter(found)
        params[token] = answer[token]


def _until(deadline: float, done: Callable[[], bool], what: str) -> None:
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"smlocal reset: {what} did not finish before the deadline")
        time.sleep(POLL_SECONDS)


def _delete_schedules(sm: Any, deadline: float) -> None:
    def remaining() -> bool:
        for schedule in _items(sm, "list_monitoring_schedules", "MonitoringScheduleSummaries"):
            if schedule["MonitoringScheduleStatus"] == "Pending":
                continue  # refused while Pending, as in AWS: try again on the next round
            _ignore_finished(sm.delete_monitoring_schedule,
                             MonitoringScheduleName=schedule["MonitoringScheduleName"])  # fmt: skip
        return not any(_items(sm, "list_monitoring_schedules", "MonitoringScheduleSummaries"))

    _until(deadline, remaining, "deleting monitoring schedules")


def _delete_experiments(sm: Any) -> None:
    """Trial components (taken out of their trials first), then trials, then experiments,
    the order SageMaker requires. Lineage artifacts have no List here and stay."""
    for component in _items(sm, "list_trial_components", "TrialComponentSummaries"):
        name = component["TrialComponentName"]
        with contextlib.suppress(ClientError):  # gone already: a reset running beside this one
            for trial in _items(sm, "list_trials", "TrialSummaries", TrialComponentName=name):
                _ignore_finished(sm.disassociate_trial_component,
                                 TrialComponentName=name, TrialName=trial["TrialName"])  # fmt: skip
        _ignore_finished(sm.delete_trial_component, TrialComponentName=name)
    for trial in _items(sm, "list_trials", "TrialSummaries"):
        _ignore_finished(sm.delete_trial, TrialName=trial["TrialName"])
    for experiment in _items(sm, "list_experiments", "ExperimentSummaries"):
        _ignore_finished(sm.delete_experiment, ExperimentName=experiment["ExperimentName"])


def _delete_pipelines(sm: Any, deadline: float) -> None:
    """Stop every running pipeline execution (so no step starts another job), then delete
    the pipelines; their finished executions stay describable, as in SageMaker."""
    pipelines = [p["PipelineName"] for p in _items(sm, "list_pipelines", "PipelineSummaries")]

    def stopped() -> bool:
        running = 0
        for name in pipelines:
            for execution in _items(sm, "list_pipeline_executions",
                                    "PipelineExecutionSummaries", PipelineName=name):  # fmt: skip
                status = execution["PipelineExecutionStatus"]
                if status not in ("Executing", "Stopping"):
                    continue
                running += 1
                if status == "Executing":
                    arn = execution["PipelineExecutionArn"]
                    _ignore_finished(sm.stop_pipeline_execution, PipelineExecutionArn=arn)
        return running == 0

    _until(deadline, stopped, "stopping pipeline executions")
    for name in pipelines:
        _ignore_finished(sm.delete_pipeline, PipelineName=name)


def _stop_jobs(sm: Any, deadline: float) -> None:
    kinds = [
        ("list_training_jobs", "TrainingJobSummaries", "TrainingJob", sm.stop_training_job),
        ("list_processing_jobs", "ProcessingJobSummaries", "ProcessingJob", sm.stop_processing_job),
        ("list_transform_jobs", "TransformJobSummaries", "TransformJob", sm.stop_transform_job),
    ]

    def stopped() -> bool:
        running = 0
        for operation, key, prefix, stop in kinds:
            for job in _items(sm, operation, key):
                if job[f"{prefix}Status"] not in _RUNNING:
                    continue
                running += 1
                if job[f"{prefix}Status"] == "InProgress":
                    _ignore_finished(stop, **{f"{prefix}Name": job[f"{prefix}Name"]})
        return running == 0

    _until(deadline, stopped, "stopping training, processing and transform jobs")


def _already_done(exc: ClientError) -> bool:
    """The error of a stop or delete whose resource is gone or has finished on its own."""
    error = exc.response["Error"]
    if error.get("Code") == "ValidationException":
        message = str(error.get("Message", "")).lower()
        return any(words in message for words in _GONE_MESSAGES)
    return error.get("Code") in _GONE_CODES


def _ignore_finished(call: Callable[..., Any], **params: Any) -> Any:
    """A stop or delete that may lose a race with the resource finishing or another reset
    deleting it: the answer, or None when there was nothing left to do."""
    try:
        return call(**params)
    except ClientError as exc:
        if not _already_done(exc):
            raise
    return None


def _delete_endpoints(sm: Any, deadline: float) -> None:
    def gone() -> bool:
        endpoints = list(_items(sm, "list_endpoints", "Endpoints"))
        for endpoint in endpoints:
            if endpoint["EndpointStatus"] != "Deleting":
                try:
                    _ignore_finished(sm.delete_endpoint, EndpointName=endpoint["EndpointName"])
                except ClientError as exc:  # being created or updated (or just deleted)
                    if _IN_PROGRESS not in str(exc.response["Error"].get("Message")).lower():
                        raise
        return not endpoints

    _until(deadline, gone, "deleting endpoints")


def _delete_registry(sm: Any) -> None:
    for group in _items(sm, "list_model_package_groups", "ModelPackageGroupSummaryList"):
        name = group["ModelPackageGroupName"]
        listed = _items(sm, "list_model_packages", "ModelPackageSummaryList",
                        ModelPackageGroupName=name, ModelPackageType="Both")  # fmt: skip
        for package in listed:
            _ignore_finished(sm.delete_model_package, ModelPackageName=package["ModelPackageArn"])
        _ignore_finished(sm.delete_model_package_group, ModelPackageGroupName=name)
    for package in _items(sm, "list_model_packages", "ModelPackageSummaryList"):
        _ignore_finished(sm.delete_model_package, ModelPackageName=package["ModelPackageArn"])


def _delete_buckets(s3: Any) -> dict[str, list[str]]:
    """Delete every bucket; return the objects S3 refuses to delete, by bucket (those stay)."""
    kept: dict[str, list[str]] = {}
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        refused = _delete_versions(s3, name)
        if refused:  # Object Lock: lift the legal holds, then try once more
            keys = {error["Key"] for error in refused}
            for version in _versions(s3, name):
                if version["Key"] in keys:
                    _lift_legal_hold(s3, name, version)
            refused = _delete_versions(s3, name)
        if refused:
            kept[name] = [_refusal(error) for error in refused]
            continue
        _ignore_finished(s3.delete_bucket, Bucket=name)
    return kept


def _refusal(error: dict[str, str]) -> str:
    """A kept object and S3's reason, as DeleteObjects' Errors give it; Object Lock's own
    refusal says what is left of the lock once GOVERNANCE is bypassed and holds are lifted."""
    reason = f"{error.get('Code')}: {error.get('Message')}"
    if "object lock" in reason.lower():
        reason += "; COMPLIANCE retention cannot be bypassed, it ends at its RetainUntilDate"
    return f"{error['Key']} ({reason})"


def _versions(s3: Any, bucket: str) -> list[dict[str, str]]:
    """Every object version and delete marker of a bucket ([] once the bucket is gone)."""
    try:
        return [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
    except ClientError as exc:
        if not _already_done(exc):
            raise
    return []


def _delete_versions(s3: Any, bucket: str) -> list[dict[str, str]]:
    """Delete every version (GOVERNANCE retention bypassed); return S3's refusals."""
    doomed = _versions(s3, bucket)
    refused: list[dict[str, str]] = []
    for start in range(0, len(doomed), 1000):  # DeleteObjects takes 1000 keys at most
        chunk = doomed[start : start + 1000]
        answer = _ignore_finished(s3.delete_objects, Bucket=bucket, BypassGovernanceRetention=True,
                                  Delete={"Objects": chunk, "Quiet": True})  # fmt: skip
        for error in (answer or {}).get("Errors", []):
            if error.get("Code") not in _GONE_CODES:
                refused.append(error)
    return refused


def _lift_legal_hold(s3: Any, bucket: str, version: dict[str, str]) -> None:
    """Best effort: a version S3 still refuses to delete afterwards is reported then (no hold
    to lift: no Object Lock on the bucket, a policy refusal, gone already)."""
    with contextlib.suppress(ClientError):
        s3.put_object_legal_hold(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"],
                                 LegalHold={"Status": "OFF"})  # fmt: skip
