"""Models: CreateModel, DescribeModel, ListModels, DeleteModel."""

from __future__ import annotations

from typing import Any

from smlocal.emulator.control.context import Context, already_exists, not_found
from smlocal.emulator.control.kinds import pick
from smlocal.emulator.control.model_packages import get_package
from smlocal.emulator.control.pagination import filtered, page, sort
from smlocal.emulator.control.tags import drop_tags, set_tags
from smlocal.emulator.errors import ValidationException

KIND = "model"
DESCRIBE_KEYS = (
    "ModelName",
    "PrimaryContainer",
    "Containers",
    "InferenceExecutionConfig",
    "ExecutionRoleArn",
    "VpcConfig",
    "CreationTime",
    "ModelArn",
    "EnableNetworkIsolation",
)
SUMMARY_KEYS = ("ModelName", "ModelArn", "CreationTime")


def create_model(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateModel; containers naming a model package are resolved to what they run."""
    name = params["ModelName"]
    arn = ctx.arn(KIND, name)
    if ("PrimaryContainer" in params) == ("Containers" in params):
        raise ValidationException("Either PrimaryContainer or Containers must be specified.")
    containers = (
        [params["PrimaryContainer"]] if "PrimaryContainer" in params else params["Containers"]
    )
    runnable = [_runnable(ctx, c) for c in containers]
    with ctx.store.transaction():
        if ctx.store.get(KIND, name) is not None:
            raise already_exists("model", arn)
        doc = {key: params.get(key) for key in DESCRIBE_KEYS if key in params}
        doc.update(
            {
                "ModelName": name,
                "ModelArn": arn,
                "CreationTime": ctx.now(),
                "EnableNetworkIsolation": params.get("EnableNetworkIsolation", False),
                "_Runnable": runnable,
            }
        )
        ctx.store.put(KIND, name, doc)
        set_tags(ctx, arn, params.get("Tags", []))
    return {"ModelArn": arn}


def _runnable(ctx: Context, container: dict[str, Any]) -> dict[str, Any]:
    """Image, model data and environment to run, with a model package's spec filled in."""
    if "ModelPackageName" not in container:
        if "Image" not in container:
            raise ValidationException("A container must specify Image or ModelPackageName.")
        return {
            "Image": container["Image"],
            "ModelDataUrl": container.get("ModelDataUrl"),
            "Environment": container.get("Environment", {}),
        }
    package = get_package(ctx, container["ModelPackageName"])
    if "ModelPackageVersion" in package and package.get("ModelApprovalStatus") != "Approved":
        raise ValidationException(
            f"Model package {package['ModelPackageArn']} has ModelApprovalStatus "
            f"{package.get('ModelApprovalStatus')}; versioned model packages must be Approved "
            "before a model can be created from them."
        )
    spec = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if not spec:
        raise ValidationException(
            f"Model package {package['ModelPackageArn']} has no InferenceSpecification containers."
        )
    source = spec[0]
    return {
        "Image": source["Image"],
        "ModelDataUrl": source.get("ModelDataUrl"),
        "Environment": {**source.get("Environment", {}), **container.get("Environment", {})},
    }


def get_model(ctx: Context, name: str) -> dict[str, Any]:
    """A model's stored document, or the not-found error."""
    doc = ctx.store.get(KIND, name)
    if doc is None:
        raise not_found("model", ctx.arn(KIND, name))
    return doc


def describe_model(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeModel."""
    return pick(get_model(ctx, params["ModelName"]), DESCRIBE_KEYS)


def list_models(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListModels."""
    docs = sort(
        filtered(ctx.store.all(KIND), params, "ModelName"),
        params,
        {"Name": "ModelName", "CreationTime": "CreationTime"},
    )
    chunk, token = page(docs, params)
    return {"Models": [pick(d, SUMMARY_KEYS) for d in chunk], "NextToken": token}


def delete_model(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteModel."""
    with ctx.store.transaction():
        doc = get_model(ctx, params["ModelName"])
        ctx.store.delete(KIND, doc["ModelName"])
        drop_tags(ctx, doc["ModelArn"])
    return {}
