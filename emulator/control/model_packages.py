"""The model registry: model package groups and (versioned or not) model packages."""

from __future__ import annotations

from typing import Any

from smlocal.emulator.control.context import Context, already_exists, not_found
from smlocal.emulator.control.kinds import pick
from smlocal.emulator.control.pagination import filtered, page, sort
from smlocal.emulator.control.tags import drop_tags, set_tags
from smlocal.emulator.errors import ValidationException

GROUP = "model-package-group"
PACKAGE = "model-package"
ARN_MARKER = ":model-package/"

GROUP_KEYS = (
    "ModelPackageGroupName",
    "ModelPackageGroupArn",
    "ModelPackageGroupDescription",
    "CreationTime",
    "CreatedBy",
    "ModelPackageGroupStatus",
)
PACKAGE_KEYS = (
    "ModelPackageName",
    "ModelPackageGroupName",
    "ModelPackageVersion",
    "ModelPackageArn",
    "ModelPackageDescription",
    "CreationTime",
    "InferenceSpecification",
    "SourceAlgorithmSpecification",
    "ValidationSpecification",
    "ModelPackageStatus",
    "ModelPackageStatusDetails",
    "CertifyForMarketplace",
    "ModelApprovalStatus",
    "CreatedBy",
    "MetadataProperties",
    "ModelMetrics",
    "LastModifiedTime",
    "ApprovalDescription",
    "Domain",
    "Task",
    "SamplePayloadUrl",
    "CustomerMetadataProperties",
    "DriftCheckBaselines",
    "AdditionalInferenceSpecifications",
    "SkipModelValidation",
    "SourceUri",
)
SUMMARY_KEYS = (
    "ModelPackageName",
    "ModelPackageGroupName",
    "ModelPackageVersion",
    "ModelPackageArn",
    "ModelPackageDescription",
    "CreationTime",
    "ModelPackageStatus",
    "ModelApprovalStatus",
)
# Members of CreateModelPackage stored as given and described back.
COPIED = (
    "ModelPackageDescription",
    "InferenceSpecification",
    "SourceAlgorithmSpecification",
    "ValidationSpecification",
    "CertifyForMarketplace",
    "MetadataProperties",
    "ModelMetrics",
    "Domain",
    "Task",
    "SamplePayloadUrl",
    "CustomerMetadataProperties",
    "DriftCheckBaselines",
    "AdditionalInferenceSpecifications",
    "SkipModelValidation",
    "SourceUri",
)


def _group_name(name_or_arn: str) -> str:
    return name_or_arn.rsplit("/", 1)[-1] if ":model-package-group/" in name_or_arn else name_or_arn


def package_key(name_or_arn: str) -> str:
    """The store key of a package named by name or ARN (`group/3` for version 3)."""
    return name_or_arn.split(ARN_MARKER, 1)[1] if ARN_MARKER in name_or_arn else name_or_arn


# ---- groups -----------------------------------------------------------------------------


def create_model_package_group(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateModelPackageGroup."""
    name = params["ModelPackageGroupName"]
    arn = ctx.arn(GROUP, name)
    with ctx.store.transaction():
        if ctx.store.get(GROUP, name) is not None:
            raise already_exists("model package group", arn)
        ctx.store.put(
            GROUP,
            name,
            {
                "ModelPackageGroupName": name,
                "ModelPackageGroupArn": arn,
                "ModelPackageGroupDescription": params.get("ModelPackageGroupDescription"),
                "CreationTime": ctx.now(),
                "CreatedBy": {},
                "ModelPackageGroupStatus": "Completed",
            },
        )
        set_tags(ctx, arn, params.get("Tags", []))
    return {"ModelPackageGroupArn": arn}


def _group(ctx: Context, name_or_arn: str) -> dict[str, Any]:
    name = _group_name(name_or_arn)
    doc = ctx.store.get(GROUP, name)
    if doc is None:
        raise not_found("model package group", ctx.arn(GROUP, name))
    return doc


def describe_model_package_group(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeModelPackageGroup."""
    return pick(_group(ctx, params["ModelPackageGroupName"]), GROUP_KEYS)


def list_model_package_groups(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListModelPackageGroups."""
    docs = filtered(ctx.store.all(GROUP), params, "ModelPackageGroupName")
    docs = sort(docs, params, {"Name": "ModelPackageGroupName", "CreationTime": "CreationTime"})
    chunk, token = page(docs, params)
    summary = ("ModelPackageGroupName", "ModelPackageGroupArn", "ModelPackageGroupDescription",
               "CreationTime", "ModelPackageGroupStatus")  # fmt: skip
    return {"ModelPackageGroupSummaryList": [pick(d, summary) for d in chunk], "NextToken": token}


def delete_model_package_group(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteModelPackageGroup: only once its versions are deleted, as AWS requires."""
    with ctx.store.transaction():
        doc = _group(ctx, params["ModelPackageGroupName"])
        name = doc["ModelPackageGroupName"]
        if any(p.get("ModelPackageGroupName") == name for p in ctx.store.all(PACKAGE)):
            raise ValidationException(
                f"Model package group {name} still holds model packages; delete them first."
            )
        ctx.store.delete(GROUP, name)
        drop_tags(ctx, doc["ModelPackageGroupArn"])
    return {}


# ---- packages ---------------------------------------------------------------------------


def create_model_package(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateModelPackage: versioned in a group, or unversioned by name."""
    token = params.get("ClientToken")
    with ctx.store.transaction():
        if token:
            for existing in ctx.store.all(PACKAGE):
                if existing.get("_ClientToken") == token:
                    return {"ModelPackageArn": existing["ModelPackageArn"]}
        if params.get("ModelPackageGroupName") and params.get("ModelPackageName"):
            raise ValidationException(
                "Specify either ModelPackageName (unversioned) or ModelPackageGroupName "
                "(versioned), not both."
            )
        if params.get("ModelPackageGroupName"):
            doc = _new_version(ctx, params)
        elif params.get("ModelPackageName"):
            doc = _new_unversioned(ctx, params)
        else:
            raise ValidationException("ModelPackageName or ModelPackageGroupName is required.")
        now = ctx.now()
        doc.update({k: params[k] for k in COPIED if k in params})
        doc.update(
            {
                "CreationTime": now,
                "LastModifiedTime": now,
                "ModelPackageStatus": "Completed",
                "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
                "CreatedBy": {},
                "_ClientToken": token,
            }
        )
        ctx.store.put(PACKAGE, package_key(doc["ModelPackageArn"]), doc)
        set_tags(ctx, doc["ModelPackageArn"], params.get("Tags", []))
    return {"ModelPackageArn": doc["ModelPackageArn"]}


def _new_version(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    group = _group(ctx, params["ModelPackageGroupName"])["ModelPackageGroupName"]
    versions = [
        p["ModelPackageVersion"]
        for p in ctx.store.all(PACKAGE)
        if p.get("ModelPackageGroupName") == group
    ]
    version = max(versions, default=0) + 1
    return {
        "ModelPackageName": group,
        "ModelPackageGroupName": group,
        "ModelPackageVersion": version,
        "ModelPackageArn": f"{ctx.arn(PACKAGE, group)}/{version}",
        "ModelApprovalStatus": params.get("ModelApprovalStatus", "PendingManualApproval"),
    }


def _new_unversioned(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ModelPackageName"]
    arn = ctx.arn(PACKAGE, name)
    if ctx.store.get(PACKAGE, package_key(arn)) is not None:
        raise ValidationException(f'ModelPackage already exists: "{arn}".')
    return {
        "ModelPackageName": name,
        "ModelPackageArn": arn,
        "ModelApprovalStatus": params.get("ModelApprovalStatus"),
    }


def get_package(ctx: Context, name_or_arn: str) -> dict[str, Any]:
    """A package by name or ARN, or the not-found error."""
    doc = ctx.store.get(PACKAGE, package_key(name_or_arn))
    if doc is None:
        arn = name_or_arn if ARN_MARKER in name_or_arn else ctx.arn(PACKAGE, name_or_arn)
        raise not_found("model package", arn)
    return doc


def describe_model_package(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeModelPackage."""
    return pick(get_package(ctx, params["ModelPackageName"]), PACKAGE_KEYS)


def update_model_package(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateModelPackage: approval, description, customer metadata, inference spec."""
    with ctx.store.transaction():
        doc = get_package(ctx, params["ModelPackageArn"])
        for key in ("ModelApprovalStatus", "ApprovalDescription", "InferenceSpecification",
                    "SourceUri", "ModelCard"):  # fmt: skip
            if key in params:
                doc[key] = params[key]
        metadata = dict(doc.get("CustomerMetadataProperties") or {})
        metadata.update(params.get("CustomerMetadataProperties", {}))
        for key in params.get("CustomerMetadataPropertiesToRemove", []):
            metadata.pop(key, None)
        doc["CustomerMetadataProperties"] = metadata or None
        doc["LastModifiedTime"] = ctx.now()
        ctx.store.put(PACKAGE, package_key(doc["ModelPackageArn"]), doc)
    return {"ModelPackageArn": doc["ModelPackageArn"]}


def list_model_packages(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListModelPackages: a group's versions, or unversioned packages (the API's default)."""
    docs = ctx.store.all(PACKAGE)
    group = params.get("ModelPackageGroupName")
    kind = params.get("ModelPackageType", "Versioned" if group else "Unversioned")
    if group:
        docs = [d for d in docs if d.get("ModelPackageGroupName") == _group_name(group)]
    if kind != "Both":
        docs = [d for d in docs if ("ModelPackageVersion" in d) == (kind == "Versioned")]
    docs = sort(
        filtered(
            docs, params, "ModelPackageName", equals={"ModelApprovalStatus": "ModelApprovalStatus"}
        ),
        params,
        {"Name": "ModelPackageName", "CreationTime": "CreationTime"},
        default_order="Ascending",
    )
    chunk, token = page(docs, params)
    return {"ModelPackageSummaryList": [pick(d, SUMMARY_KEYS) for d in chunk], "NextToken": token}


def delete_model_package(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteModelPackage."""
    with ctx.store.transaction():
        doc = get_package(ctx, params["ModelPackageName"])
        ctx.store.delete(PACKAGE, package_key(doc["ModelPackageArn"]))
        drop_tags(ctx, doc["ModelPackageArn"])
    return {}
