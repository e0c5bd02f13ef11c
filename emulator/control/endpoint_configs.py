"""Endpoint configs: CreateEndpointConfig, Describe, List, Delete."""

from __future__ import annotations

from typing import Any

from smlocal.emulator.control.context import Context, already_exists, not_found
from smlocal.emulator.control.kinds import pick
from smlocal.emulator.control.models import get_model
from smlocal.emulator.control.pagination import filtered, page, sort
from smlocal.emulator.control.tags import drop_tags, set_tags
from smlocal.emulator.errors import ValidationException

KIND = "endpoint-config"
DESCRIBE_KEYS = (
    "EndpointConfigName",
    "EndpointConfigArn",
    "ProductionVariants",
    "DataCaptureConfig",
    "KmsKeyId",
    "CreationTime",
    "AsyncInferenceConfig",
    "ExplainerConfig",
    "ShadowProductionVariants",
    "ExecutionRoleArn",
    "VpcConfig",
    "EnableNetworkIsolation",
)
SUMMARY_KEYS = ("EndpointConfigName", "EndpointConfigArn", "CreationTime")


def create_endpoint_config(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateEndpointConfig: every variant's model must exist and variant names be unique."""
    name = params["EndpointConfigName"]
    arn = ctx.arn(KIND, name)
    variants = [_variant(ctx, v) for v in params["ProductionVariants"]]
    names = [v["VariantName"].lower() for v in variants]
    if len(set(names)) != len(names):
        raise ValidationException(
            "The production variant names of an endpoint config must be unique."
        )
    if params.get("AsyncInferenceConfig"):
        raise ValidationException("smlocal does not emulate asynchronous inference endpoints yet.")
    if any("ServerlessConfig" in v for v in variants) and params.get("DataCaptureConfig"):
        raise ValidationException("Data capture is not supported for serverless endpoints.")
    with ctx.store.transaction():
        if ctx.store.get(KIND, name) is not None:
            raise already_exists("endpoint configuration", arn)
        doc = {key: params[key] for key in DESCRIBE_KEYS if key in params}
        doc.update(
            {
                "EndpointConfigName": name,
                "EndpointConfigArn": arn,
                "ProductionVariants": variants,
                "CreationTime": ctx.now(),
            }
        )
        ctx.store.put(KIND, name, doc)
        set_tags(ctx, arn, params.get("Tags", []))
    return {"EndpointConfigArn": arn}


def _variant(ctx: Context, variant: dict[str, Any]) -> dict[str, Any]:
    if "ModelName" not in variant:
        raise ValidationException(
            f"Production variant {variant['VariantName']} needs a ModelName "
            "(inference components are not emulated)."
        )
    get_model(ctx, variant["ModelName"])
    out = dict(variant)
    out.setdefault("InitialVariantWeight", 1.0)
    if "ServerlessConfig" not in out:
        out.setdefault("InitialInstanceCount", 1)
    return out


def get_endpoint_config(ctx: Context, name: str) -> dict[str, Any]:
    """An endpoint config's stored document, or the not-found error."""
    doc = ctx.store.get(KIND, name)
    if doc is None:
        raise not_found("endpoint configuration", ctx.arn(KIND, name))
    return doc


def describe_endpoint_config(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeEndpointConfig."""
    return pick(get_endpoint_config(ctx, params["EndpointConfigName"]), DESCRIBE_KEYS)


def list_endpoint_configs(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListEndpointConfigs."""
    docs = sort(
        filtered(ctx.store.all(KIND), params, "EndpointConfigName"),
        params,
        {"Name": "EndpointConfigName", "CreationTime": "CreationTime"},
    )
    chunk, token = page(docs, params)
    return {"EndpointConfigs": [pick(d, SUMMARY_KEYS) for d in chunk], "NextToken": token}


def delete_endpoint_config(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteEndpointConfig (allowed while endpoints use it, as in AWS)."""
    with ctx.store.transaction():
        doc = get_endpoint_config(ctx, params["EndpointConfigName"])
        ctx.store.delete(KIND, doc["EndpointConfigName"])
        drop_tags(ctx, doc["EndpointConfigArn"])
    return {}
