"""Empty an emulator between tests through the AWS APIs, as a test writer's cleanup would.

Order matters, as it does in AWS: monitoring schedules first (DeleteEndpoint is refused while
one watches the endpoint), then running jobs are stopped, then endpoints are deleted and
waited for (an endpoint leaves DescribeEndpoint only once its model servers are stopped and
their last captures uploaded), then configs, models, the registry, and last S3 and the log
groups, so nothing a stopping server writes comes back after its bucket is gone.

SageMaker has no delete for training and processing jobs (nor for monitoring executions), so
finished jobs stay listed; the SDK names its jobs uniquely, so they do not collide.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

ClientFactory = Callable[[str], Any]
POLL_SECONDS = 0.1
_RUNNING = ("InProgress", "Stopping")


def reset_account(client: ClientFactory, timeout: float = 120.0) -> None:
    """Delete every SageMaker resource that can be deleted, every bucket and log group."""
    deadline = time.monotonic() + timeout
    sm = client("sagemaker")
    _delete_schedules(sm, deadline)
    _stop_jobs(sm, deadline)
    for definition in _items(sm, "list_data_quality_job_definitions", "JobDefinitionSummaries"):
        sm.delete_data_quality_job_definition(
            JobDefinitionName=definition["MonitoringJobDefinitionName"]
        )
    _delete_endpoints(sm, deadline)
    for config in _items(sm, "list_endpoint_configs", "EndpointConfigs"):
        sm.delete_endpoint_config(EndpointConfigName=config["EndpointConfigName"])
    for model in _items(sm, "list_models", "Models"):
        sm.delete_model(ModelName=model["ModelName"])
    _delete_registry(sm)
    _delete_buckets(client("s3"))
    logs = client("logs")
    for group in _items(logs, "describe_log_groups", "logGroups", token="nextToken"):
        logs.delete_log_group(logGroupName=group["logGroupName"])


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
            sm.delete_monitoring_schedule(MonitoringScheduleName=schedule["MonitoringScheduleName"])
        return not any(_items(sm, "list_monitoring_schedules", "MonitoringScheduleSummaries"))

    _until(deadline, remaining, "deleting monitoring schedules")


def _stop_jobs(sm: Any, deadline: float) -> None:
    kinds = [
        ("list_training_jobs", "TrainingJobSummaries", "TrainingJob", sm.stop_training_job),
        ("list_processing_jobs", "ProcessingJobSummaries", "ProcessingJob", sm.stop_processing_job),
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

    _until(deadline, stopped, "stopping training and processing jobs")


def _ignore_finished(call: Callable[..., Any], **params: Any) -> None:
    """A stop or delete that may lose a race with the resource finishing on its own."""
    try:
        call(**params)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ValidationException":
            raise


def _delete_endpoints(sm: Any, deadline: float) -> None:
    def gone() -> bool:
        endpoints = list(_items(sm, "list_endpoints", "Endpoints"))
        for endpoint in endpoints:
            if endpoint["EndpointStatus"] != "Deleting":
                _ignore_finished(sm.delete_endpoint, EndpointName=endpoint["EndpointName"])
        return not endpoints

    _until(deadline, gone, "deleting endpoints")


def _delete_registry(sm: Any) -> None:
    for group in _items(sm, "list_model_package_groups", "ModelPackageGroupSummaryList"):
        name = group["ModelPackageGroupName"]
        listed = _items(sm, "list_model_packages", "ModelPackageSummaryList",
                        ModelPackageGroupName=name, ModelPackageType="Both")  # fmt: skip
        for package in listed:
            sm.delete_model_package(ModelPackageName=package["ModelPackageArn"])
        sm.delete_model_package_group(ModelPackageGroupName=name)
    for package in _items(sm, "list_model_packages", "ModelPackageSummaryList"):
        sm.delete_model_package(ModelPackageName=package["ModelPackageArn"])


def _delete_buckets(s3: Any) -> None:
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=name)
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(doomed), 1000):  # DeleteObjects takes 1000 keys at most
            chunk = doomed[start : start + 1000]
            s3.delete_objects(Bucket=name, Delete={"Objects": chunk, "Quiet": True})
        s3.delete_bucket(Bucket=name)
