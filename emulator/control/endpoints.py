"""Endpoints: create, describe, list, update (blue/green), re-weigh, delete.

The control plane records what was asked (a plan: which image, model data, environment,
weight and instance count each variant runs, and the capture settings) and hands the work
to the endpoint manager, which moves the endpoint through its statuses.
"""

from __future__ import annotations

from typing import Any, Protocol

from smlocal.emulator.control.context import Context, wired
from smlocal.emulator.control.endpoint_configs import ENDPOINT_CONFIGS, EndpointConfig
from smlocal.emulator.control.endpoint_shapes import capture_summary, pending_variants, summaries
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.control.model_containers import multi_container_mode
from smlocal.emulator.control.models import MODELS
from smlocal.emulator.control.monitoring_schedules import refuse_deleting_a_monitored_endpoint
from smlocal.emulator.control.tags import drop_tags, set_tags
from smlocal.emulator.errors import ValidationException
from smlocal.emulator.hosting.endpoint_records import (
    KIND,
    CaptureSummary,
    Endpoint,
    PendingDeploymentSummary,
    Plan,
    PlannedVariant,
    VariantSummary,
)
from smlocal.emulator.statuses.endpoints import ENDPOINT

ENDPOINTS = Kind(
    resource=KIND,
    load=Endpoint.from_document,
    noun="endpoint",
    name_key="EndpointName",
    list_key="Endpoints",
    equals={"StatusEquals": "EndpointStatus"},
    sort_keys={"Status": "EndpointStatus"},
)


class EndpointHosting(Protocol):
    """What the endpoint operations ask of the endpoint manager. Each call is made inside
    the operation's store transaction: the manager writes the endpoint's new status itself
    and starts its work only once that write has committed."""

    def create(self, endpoint: Endpoint) -> None:
        """Record a new endpoint as Creating and bring it up."""

    def update(self, name: str, pending_plan: Plan, pending: PendingDeploymentSummary) -> None:
        """Move an InService endpoint to Updating and deploy its pending plan."""

    def reweigh(self, name: str, plan: Plan) -> None:
        """Apply new desired weights and instance counts."""

    def delete(self, name: str) -> None:
        """Mark Deleting, stop routing, and take the endpoint down."""


class EndpointDocuments:
    """What the endpoint manager asks of the control plane (its `EndpointRecords`):
    DescribeEndpoint's shaping of a plan that went live, and the tags of a deleted endpoint."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def live(self, plan: Plan, now: float) -> tuple[list[VariantSummary], CaptureSummary | None]:
        """ProductionVariants and DataCaptureConfig as DescribeEndpoint shows them."""
        return summaries(plan, now), capture_summary(plan.data_capture_config)

    def forget(self, endpoint: Endpoint) -> None:
        """A deleted endpoint's tags go with it."""
        drop_tags(self.ctx, endpoint.arn)


def plan(ctx: Context, config: EndpointConfig) -> Plan:
    """What each variant of an endpoint config runs, resolved now (configs and models may be
    deleted while the endpoint lives on, as in AWS)."""
    variants = []
    shadows = config.shadow_production_variants or []
    for v, shadow in [(v, False) for v in config.production_variants] + [
        (v, True) for v in shadows
    ]:
        model_name = v["ModelName"]
        model = MODELS.get(ctx, model_name)
        runnable = model.runnable
        several = len(runnable) > 1
        variants.append(
            PlannedVariant(
                name=v["VariantName"],
                model_name=model_name,
                image=runnable[0].image,
                model_data_url=runnable[0].model_data_url,
                environment=runnable[0].environment,
                instance_count=v.get("InitialInstanceCount", 1),
                serverless="ServerlessConfig" in v,
                weight=float(v.get("InitialVariantWeight", 1.0)),
                startup_timeout=v.get(
                    "ContainerStartupHealthCheckTimeoutInSeconds", ctx.settings.startup_timeout
                ),
                routing=v["RoutingConfig"]["RoutingStrategy"] if "RoutingConfig" in v else None,
                multi_model=runnable[0].multi_model,
                model_cache=runnable[0].model_cache,
                containers=[r.to_document() for r in runnable] if several else None,
                execution_mode=multi_container_mode(model.inference_execution_config, several),
                serverless_config=v.get("ServerlessConfig"),
                shadow=shadow,
            )
        )
    return Plan(config.name, variants, config.data_capture_config, config.async_inference_config)


def manager(ctx: Context) -> EndpointHosting:
    """The endpoint manager."""
    return wired(ctx.managers.endpoints, "endpoint")


def create_endpoint(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateEndpoint: recorded as Creating; the manager brings it up."""
    name = params["EndpointName"]
    config = ENDPOINT_CONFIGS.get(ctx, params["EndpointConfigName"])
    with ctx.store.transaction():
        ENDPOINTS.refuse_taken(ctx, name)
        endpoint = Endpoint(
            name=name,
            arn=ctx.arn(KIND, name),
            config_name=config.name,
            creation_time=ctx.now(),
            plan=plan(ctx, config),
            data_capture_config=capture_summary(config.data_capture_config),
        )
        set_tags(ctx, endpoint.arn, params.get("Tags", []))
        manager(ctx).create(endpoint)
    return {"EndpointArn": endpoint.arn}


def describe_endpoint(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeEndpoint."""
    return ENDPOINTS.describe(ctx, params["EndpointName"])


def list_endpoints(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListEndpoints."""
    return ENDPOINTS.listing(ctx, params)


def update_endpoint(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateEndpoint: blue/green to a new endpoint config."""
    name = params["EndpointName"]
    config = ENDPOINT_CONFIGS.get(ctx, params["EndpointConfigName"])
    with ctx.store.transaction():
        endpoint = ENDPOINTS.get(ctx, name)
        _require(endpoint, "UpdateEndpoint")
        new_plan = plan(ctx, config)
        if params.get("RetainAllVariantProperties"):
            _retain(endpoint.plan, new_plan, params.get("ExcludeRetainedVariantProperties", []))
        pending: PendingDeploymentSummary = {
            "EndpointConfigName": config.name,
            "StartTime": ctx.now(),
            "ProductionVariants": pending_variants(new_plan, shadow=False),
        }
        if any(v.shadow for v in new_plan.variants):
            pending["ShadowProductionVariants"] = pending_variants(new_plan, shadow=True)
        manager(ctx).update(name, new_plan, pending)
    return {"EndpointArn": endpoint.arn}


def _require(endpoint: Endpoint, operation: str) -> None:
    """The endpoint's status must accept the operation (AWS's error if not)."""
    ENDPOINT.require(operation, endpoint.status or "Creating", endpoint.arn)


def _retain(old: Plan, new: Plan, excluded: list[dict[str, str]]) -> None:
    """RetainAllVariantProperties: keep weights, counts and capture unless excluded."""
    skip = {e["VariantPropertyType"] for e in excluded}
    previous = {v.name: v for v in old.variants}
    for variant in new.variants:
        before = previous.get(variant.name)
        if before is None:
            continue
        if "DesiredWeight" not in skip:
            variant.weight = before.weight
        if "DesiredInstanceCount" not in skip:
            variant.instance_count = before.instance_count
    if "DataCaptureConfig" not in skip:
        new.data_capture_config = old.data_capture_config


def update_endpoint_weights_and_capacities(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateEndpointWeightsAndCapacities: new weights move traffic at once."""
    name = params["EndpointName"]
    with ctx.store.transaction():
        endpoint = ENDPOINTS.get(ctx, name)
        _require(endpoint, "UpdateEndpointWeightsAndCapacities")
        variants = {v.name: v for v in endpoint.plan.variants}
        for desired in params["DesiredWeightsAndCapacities"]:
            variant = variants.get(desired["VariantName"])
            if variant is None:
                raise ValidationException(
                    f"Variant {desired['VariantName']} does not exist for endpoint "
                    f'"{endpoint.arn}".'
                )
            if "DesiredWeight" in desired:
                variant.weight = float(desired["DesiredWeight"])
            if "DesiredInstanceCount" in desired:
                if desired["DesiredInstanceCount"] < 1:  # zero only with inference components
                    raise ValidationException(
                        f"The desired instance count of variant {desired['VariantName']} must "
                        "be at least 1 for an endpoint without inference components."
                    )
                variant.instance_count = desired["DesiredInstanceCount"]
        manager(ctx).reweigh(name, endpoint.plan)
    return {"EndpointArn": endpoint.arn}


def delete_endpoint(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteEndpoint: refused while a monitoring schedule uses the endpoint, as in AWS."""
    name = params["EndpointName"]
    with ctx.store.transaction():
        endpoint = ENDPOINTS.get(ctx, name)
        _require(endpoint, "DeleteEndpoint")
        refuse_deleting_a_monitored_endpoint(ctx, endpoint.name, endpoint.arn)
        manager(ctx).delete(name)
    return {}
