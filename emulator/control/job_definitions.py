"""Data-quality job definitions: what a monitoring schedule runs."""

from __future__ import annotations

from typing import Any

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.kinds import pick
from smlocal.emulator.control.pagination import filtered, page, sort
from smlocal.emulator.control.tags import drop_tags, set_tags
from smlocal.emulator.errors import ResourceInUse, ResourceNotFound, ValidationException
from smlocal.emulator.jobs.scheduler import SCHEDULE

KIND = "data-quality-job-definition"
DESCRIBE_KEYS = (
    "JobDefinitionArn",
    "JobDefinitionName",
    "CreationTime",
    "DataQualityBaselineConfig",
    "DataQualityAppSpecification",
    "DataQualityJobInput",
    "DataQualityJobOutputConfig",
    "JobResources",
    "NetworkConfig",
    "RoleArn",
    "StoppingCondition",
)


def endpoint_of(job_input: dict[str, Any]) -> str:
    """The monitored endpoint; batch transform inputs are refused."""
    if "EndpointInput" not in job_input:
        raise ValidationException(
            "smlocal monitors endpoints: give an EndpointInput (batch transform inputs are not "
            "emulated)."
        )
    return str(job_input["EndpointInput"]["EndpointName"])


def create_data_quality_job_definition(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateDataQualityJobDefinition."""
    name = params["JobDefinitionName"]
    arn = ctx.arn(KIND, name)
    endpoint_of(params["DataQualityJobInput"])
    with ctx.store.transaction():
        if ctx.store.get(KIND, name) is not None:
            raise ResourceInUse(f'Cannot create already existing job definition "{arn}".')
        doc = {key: params[key] for key in DESCRIBE_KEYS if key in params}
        doc.update({"JobDefinitionName": name, "JobDefinitionArn": arn, "CreationTime": ctx.now()})
        ctx.store.put(KIND, name, doc)
        set_tags(ctx, arn, params.get("Tags", []))
    return {"JobDefinitionArn": arn}


def get_definition(ctx: Context, name: str) -> dict[str, Any]:
    """A job definition, or ResourceNotFound."""
    doc = ctx.store.get(KIND, name)
    if doc is None:
        raise ResourceNotFound(f'Could not find job definition "{ctx.arn(KIND, name)}".')
    return doc


def describe_data_quality_job_definition(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeDataQualityJobDefinition."""
    return pick(get_definition(ctx, params["JobDefinitionName"]), DESCRIBE_KEYS)


def list_data_quality_job_definitions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListDataQualityJobDefinitions."""
    docs = filtered(ctx.store.all(KIND), params, "JobDefinitionName")
    if "EndpointName" in params:
        docs = [d for d in docs if endpoint_of(d["DataQualityJobInput"]) == params["EndpointName"]]
    docs = sort(docs, params, {"Name": "JobDefinitionName", "CreationTime": "CreationTime"})
    chunk, token = page(docs, params)
    return {
        "JobDefinitionSummaries": [
            {
                "MonitoringJobDefinitionName": d["JobDefinitionName"],
                "MonitoringJobDefinitionArn": d["JobDefinitionArn"],
                "CreationTime": d["CreationTime"],
                "EndpointName": endpoint_of(d["DataQualityJobInput"]),
            }
            for d in chunk
        ],
        "NextToken": token,
    }


def delete_data_quality_job_definition(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteDataQualityJobDefinition: refused while a schedule uses it."""
    name = params["JobDefinitionName"]
    with ctx.store.transaction():
        doc = get_definition(ctx, name)
        users = [
            s["MonitoringScheduleName"]
            for s in ctx.store.all(SCHEDULE)
            if (s["MonitoringScheduleConfig"].get("MonitoringJobDefinitionName") or "").lower()
            == name.lower()
        ]
        if users:
            raise ResourceInUse(
                f"Job definition {name} is used by monitoring schedule(s) {', '.join(users)}; "
                "delete them first."
            )
        ctx.store.delete(KIND, name)
        drop_tags(ctx, doc["JobDefinitionArn"])
    return {}
