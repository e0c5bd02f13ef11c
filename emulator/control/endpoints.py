"""Endpoints: create, describe, list, update (blue/green), re-weigh, delete.

The control plane records what was asked (a plan: which image, model data, environment,
weight and instance count each variant runs, and the capture settings) and hands the work
to the endpoint manager, which moves the endpoint through its statuses.
"""

from __future__ import annotations

from typing import Any, Protocol

from smlocal.emulator.control.context import Context, already_exists, not_found, wired
from smlocal.emulator.control.endpoint_configs import get_endpoint_config
from smlocal.emulator.control.endpoint_shapes import capture_summary, live_fields
from smlocal.emulator.control.kinds import pick
from smlocal.emulator.control.models import get_model
from smlocal.emulator.control.monitoring_schedules import refuse_deleting_a_monitored_endpoint
from smlocal.emulator.control.pagination import filtered, page, sort
from smlocal.emulator.control.tags import drop_tags, set_tags
from smlocal.emulator.errors import ValidationException
from smlocal.emulator.hosting.endpoint_manager import KIND
from smlocal.emulator.statuses.endpoints import ENDPOINT
from smlocal.emulator.support.store import Document

DESCRIBE_KEYS = (
    "EndpointName",
    "EndpointArn",
    "EndpointConfigName",
    "ProductionVariants",
    "DataCaptureConfig",
    "EndpointStatus",
    "FailureReason",
    "CreationTime",
    "LastModifiedTime",
    "PendingDeploymentSummary",
)
SUMMARY_KEYS = ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")


class EndpointHosting(Protocol):
    """What the endpoint operations ask of the endpoint manager. Each call is made inside
    the operation's store transaction: the manager writes the endpoint's new status itself
    and starts its work only once that write has committed."""

    def create(self, doc: Document) -> None:
        """Record a new endpoint as Creating and bring it up."""

    def update(self, name: str, pending_plan: Document, pending_summary: Document) -> None:
        """Move an InService endpoint to Updating and deploy its pending plan."""

    def reweigh(self, name: str, plan: Document) -> None:
        """Apply new desired weights and instance counts."""

    def delete(self, name: str) -> None:
        """Mark Deleting, stop routing, and take the endpoint down."""


class EndpointDocuments:
    """What the endpoint manager asks of the control plane (its `EndpointRecords`):
    DescribeEndpoint's shaping of a plan that went live, and the tags of a deleted endpoint."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def live(self, plan: Document, now: float) -> Document:
        """ProductionVariants and DataCaptureConfig as DescribeEndpoint shows them."""
        return live_fields(plan, now)

    def forget(self, doc: Document) -> None:
        """A deleted endpoint's tags go with it."""
        drop_tags(self.ctx, doc["EndpointArn"])


def plan(ctx: Context, config: dict[str, Any]) -> dict[str, Any]:
    """What each variant of an endpoint config runs, resolved now (configs and models may be
    deleted while the endpoint lives on, as in AWS)."""
    variants = []
    for v in config["ProductionVariants"]:
        runnable = get_model(ctx, v["ModelName"])["_Runnable"]
        if len(runnable) != 1:
            raise ValidationException(
                f"Model {v['ModelName']} has {len(runnable)} containers; smlocal serves models "
                "with one container (inference pipelines are not emulated)."
            )
        variants.append(
            {
                "VariantName": v["VariantName"],
                "ModelName": v["ModelName"],
                "Image": runnable[0]["Image"],
                "ModelDataUrl": runnable[0].get("ModelDataUrl"),
                "Environment": runnable[0].get("Environment") or {},
                "InstanceCount": v.get("InitialInstanceCount", 1),
                "Serverless": "ServerlessConfig" in v,
                "Weight": float(v.get("InitialVariantWeight", 1.0)),
                "StartupTimeout": v.get(
                    "ContainerStartupHealthCheckTimeoutInSeconds", ctx.settings.startup_timeout
                ),
            }
        )
    return {
        "EndpointConfigName": config["EndpointConfigName"],
        "Variants": variants,
        "DataCaptureConfig": config.get("DataCaptureConfig"),
    }


def create_endpoint(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateEndpoint: recorded as Creating; the manager brings it up."""
    name = params["EndpointName"]
    arn = ctx.arn(KIND, name)
    config = get_endpoint_config(ctx, params["EndpointConfigName"])
    with ctx.store.transaction():
        if ctx.store.get(KIND, name) is not None:
            raise already_exists("endpoint", arn)
        the_plan = plan(ctx, config)
        set_tags(ctx, arn, params.get("Tags", []))
        manager(ctx).create(
            {
                "EndpointName": name,
                "EndpointArn": arn,
                "EndpointConfigName": config["EndpointConfigName"],
                "CreationTime": ctx.now(),
                "DataCaptureConfig": capture_summary(config.get("DataCaptureConfig")),
                "_Plan": the_plan,
            }
        )
    return {"EndpointArn": arn}


def manager(ctx: Context) -> EndpointHosting:
    """The endpoint manager."""
    return wired(ctx.managers.endpoints, "endpoint")


def get_endpoint(ctx: Context, name: str) -> dict[str, Any]:
    """An endpoint's stored document, or the not-found error."""
    doc = ctx.store.get(KIND, name)
    if doc is None:
        raise not_found("endpoint", ctx.arn(KIND, name))
    return doc


def describe_endpoint(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeEndpoint."""
    return pick(get_endpoint(ctx, params["EndpointName"]), DESCRIBE_KEYS)


def list_endpoints(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListEndpoints."""
    docs = filtered(
        ctx.store.all(KIND), params, "EndpointName", equals={"StatusEquals": "EndpointStatus"}
    )
    docs = sort(
        docs,
        params,
        {"Name": "EndpointName", "CreationTime": "CreationTime", "Status": "EndpointStatus"},
    )
    chunk, token = page(docs, params)
    return {"Endpoints": [pick(d, SUMMARY_KEYS) for d in chunk], "NextToken": token}


def update_endpoint(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateEndpoint: blue/green to a new endpoint config."""
    name = params["EndpointName"]
    config = get_endpoint_config(ctx, params["EndpointConfigName"])
    with ctx.store.transaction():
        doc = get_endpoint(ctx, name)
        ENDPOINT.require("UpdateEndpoint", doc["EndpointStatus"], doc["EndpointArn"])
        new_plan = plan(ctx, config)
        if params.get("RetainAllVariantProperties"):
            _retain(doc["_Plan"], new_plan, params.get("ExcludeRetainedVariantProperties", []))
        manager(ctx).update(
            name,
            new_plan,
            {
                "EndpointConfigName": config["EndpointConfigName"],
                "StartTime": ctx.now(),
                "ProductionVariants": [
                    {
                        "VariantName": v["VariantName"],
                        "DesiredWeight": v["Weight"],
                        "DesiredInstanceCount": v["InstanceCount"],
                    }
                    for v in new_plan["Variants"]
                ],
            },
        )
    return {"EndpointArn": doc["EndpointArn"]}


def _retain(old: dict[str, Any], new: dict[str, Any], excluded: list[dict[str, str]]) -> None:
    """RetainAllVariantProperties: keep weights, counts and capture unless excluded."""
    skip = {e["VariantPropertyType"] for e in excluded}
    previous = {v["VariantName"]: v for v in old["Variants"]}
    for variant in new["Variants"]:
        before = previous.get(variant["VariantName"])
        if before is None:
            continue
        if "DesiredWeight" not in skip:
            variant["Weight"] = before["Weight"]
        if "DesiredInstanceCount" not in skip:
            variant["InstanceCount"] = before["InstanceCount"]
    if "DataCaptureConfig" not in skip:
        new["DataCaptureConfig"] = old.get("DataCaptureConfig")


def update_endpoint_weights_and_capacities(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateEndpointWeightsAndCapacities: new weights move traffic at once."""
    name = params["EndpointName"]
    with ctx.store.transaction():
        doc = get_endpoint(ctx, name)
        ENDPOINT.require(
            "UpdateEndpointWeightsAndCapacities", doc["EndpointStatus"], doc["EndpointArn"]
        )
        variants = {v["VariantName"]: v for v in doc["_Plan"]["Variants"]}
        for desired in params["DesiredWeightsAndCapacities"]:
            variant = variants.get(desired["VariantName"])
            if variant is None:
                raise ValidationException(
                    f"Variant {desired['VariantName']} does not exist for endpoint "
                    f'"{doc["EndpointArn"]}".'
                )
            if "DesiredWeight" in desired:
                variant["Weight"] = float(desired["DesiredWeight"])
            if "DesiredInstanceCount" in desired:
                if desired["DesiredInstanceCount"] < 1:  # zero only with inference components
                    raise ValidationException(
                        f"The desired instance count of variant {desired['VariantName']} must "
                        "be at least 1 for an endpoint without inference components."
                    )
                variant["InstanceCount"] = desired["DesiredInstanceCount"]
        manager(ctx).reweigh(name, doc["_Plan"])
    return {"EndpointArn": doc["EndpointArn"]}


def delete_endpoint(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteEndpoint: refused while a monitoring schedule uses the endpoint, as in AWS."""
    name = params["EndpointName"]
    with ctx.store.transaction():
        doc = get_endpoint(ctx, name)
        ENDPOINT.require("DeleteEndpoint", doc["EndpointStatus"], doc["EndpointArn"])
        refuse_deleting_a_monitored_endpoint(ctx, doc)
        manager(ctx).delete(name)
    return {}
