"""The model registry: model package groups and (versioned or not) model packages."""

from __future__ import annotations

from typing import Any

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.control.model_package_records import (
    GROUP,
    PACKAGE,
    ModelPackage,
    ModelPackageGroup,
    group_name,
    package_key,
)
from smlocal.emulator.control.tags import set_tags
from smlocal.emulator.errors import ValidationException

GROUPS = Kind(
    resource=GROUP,
    load=ModelPackageGroup.from_document,
    noun="model package group",
    name_key="ModelPackageGroupName",
    list_key="ModelPackageGroupSummaryList",
    key_of=group_name,
)
PACKAGES = Kind(
    resource=PACKAGE,
    load=ModelPackage.from_document,
    noun="model package",
    name_key="ModelPackageName",
    list_key="ModelPackageSummaryList",
    equals={"ModelApprovalStatus": "ModelApprovalStatus"},
    default_order="Ascending",
    key_of=package_key,
    quotes_arns=True,
)


# ---- groups -----------------------------------------------------------------------------


def create_model_package_group(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateModelPackageGroup."""
    name = params["ModelPackageGroupName"]
    group = ModelPackageGroup(
        name=name,
        arn=ctx.arn(GROUP, name),
        description=params.get("ModelPackageGroupDescription"),
        creation_time=ctx.now(),
    )
    GROUPS.add(ctx, group, params.get("Tags", []))
    return {"ModelPackageGroupArn": group.arn}


def describe_model_package_group(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeModelPackageGroup."""
    return GROUPS.describe(ctx, params["ModelPackageGroupName"])


def list_model_package_groups(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListModelPackageGroups."""
    return GROUPS.listing(ctx, params)


def delete_model_package_group(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteModelPackageGroup: only once its versions are deleted, as AWS requires."""

    def refuse_while_it_holds_packages(group: ModelPackageGroup) -> None:
        if any(p.group_name == group.name for p in PACKAGES.records(ctx)):
            raise ValidationException(
                f"Model package group {group.name} still holds model packages; delete them first."
            )

    return GROUPS.delete(ctx, params["ModelPackageGroupName"], refuse_while_it_holds_packages)


# ---- packages ---------------------------------------------------------------------------


def create_model_package(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateModelPackage: versioned in a group, or unversioned by name."""
    token = params.get("ClientToken")
    with ctx.store.transaction():
        if token:
            for existing in PACKAGES.records(ctx):
                if existing.client_token == token:
                    return {"ModelPackageArn": existing.arn}
        if params.get("ModelPackageGroupName") and params.get("ModelPackageName"):
            raise ValidationException(
                "Specify either ModelPackageName (unversioned) or ModelPackageGroupName "
                "(versioned), not both."
            )
        if params.get("ModelPackageGroupName"):
            package = _new_version(ctx, params)
        elif params.get("ModelPackageName"):
            package = _new_unversioned(ctx, params)
        else:
            raise ValidationException("ModelPackageName or ModelPackageGroupName is required.")
        # Versions share their group's name, so Kind.add's check by name does not apply.
        PACKAGES.save(ctx, package)
        set_tags(ctx, package.arn, params.get("Tags", []))
    return {"ModelPackageArn": package.arn}


def _new_version(ctx: Context, params: dict[str, Any]) -> ModelPackage:
    group = GROUPS.get(ctx, params["ModelPackageGroupName"]).name
    versions = [p.version or 0 for p in PACKAGES.records(ctx) if p.group_name == group]
    version = max(versions, default=0) + 1
    return _package(
        ctx,
        params,
        name=group,
        arn=f"{ctx.arn(PACKAGE, group)}/{version}",
        approval_status=params.get("ModelApprovalStatus", "PendingManualApproval"),
        group_name=group,
        version=version,
    )


def _new_unversioned(ctx: Context, params: dict[str, Any]) -> ModelPackage:
    name = params["ModelPackageName"]
    arn = ctx.arn(PACKAGE, name)
    if PACKAGES.find(ctx, arn) is not None:
        raise ValidationException(f'ModelPackage already exists: "{arn}".')
    return _package(
        ctx, params, name=name, arn=arn, approval_status=params.get("ModelApprovalStatus")
    )


def _package(
    ctx: Context,
    params: dict[str, Any],
    *,
    name: str,
    arn: str,
    approval_status: str | None,
    group_name: str | None = None,
    version: int | None = None,
) -> ModelPackage:
    """A new package: the members of CreateModelPackage stored as given and described back."""
    now = ctx.now()
    return ModelPackage(
        name=name,
        arn=arn,
        creation_time=now,
        last_modified_time=now,
        approval_status=approval_status,
        client_token=params.get("ClientToken"),
        group_name=group_name,
        version=version,
        description=params.get("ModelPackageDescription"),
        inference_specification=params.get("InferenceSpecification"),
        source_algorithm_specification=params.get("SourceAlgorithmSpecification"),
        validation_specification=params.get("ValidationSpecification"),
        certify_for_marketplace=params.get("CertifyForMarketplace"),
        metadata_properties=params.get("MetadataProperties"),
        model_metrics=params.get("ModelMetrics"),
        domain=params.get("Domain"),
        task=params.get("Task"),
        sample_payload_url=params.get("SamplePayloadUrl"),
        customer_metadata=params.get("CustomerMetadataProperties"),
        drift_check_baselines=params.get("DriftCheckBaselines"),
        additional_inference_specifications=params.get("AdditionalInferenceSpecifications"),
        skip_model_validation=params.get("SkipModelValidation"),
        source_uri=params.get("SourceUri"),
    )


def describe_model_package(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeModelPackage."""
    return PACKAGES.describe(ctx, params["ModelPackageName"])


def update_model_package(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateModelPackage: approval, description, customer metadata, inference spec."""
    with ctx.store.transaction():
        package = PACKAGES.get(ctx, params["ModelPackageArn"])
        if "ModelApprovalStatus" in params:
            package.approval_status = params["ModelApprovalStatus"]
        if "ApprovalDescription" in params:
            package.approval_description = params["ApprovalDescription"]
        if "InferenceSpecification" in params:
            package.inference_specification = params["InferenceSpecification"]
        if "SourceUri" in params:
            package.source_uri = params["SourceUri"]
        if "ModelCard" in params:
            package.model_card = params["ModelCard"]
        metadata = dict(package.customer_metadata or {})
        metadata.update(params.get("CustomerMetadataProperties", {}))
        for key in params.get("CustomerMetadataPropertiesToRemove", []):
            metadata.pop(key, None)
        package.customer_metadata = metadata or None
        package.last_modified_time = ctx.now()
        PACKAGES.save(ctx, package)
    return {"ModelPackageArn": package.arn}


def list_model_packages(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListModelPackages: a group's versions, or unversioned packages (the API's default)."""
    group: str | None = params.get("ModelPackageGroupName")
    kind: str = params.get("ModelPackageType", "Versioned" if group else "Unversioned")

    def keep(package: ModelPackage) -> bool:
        if group and package.group_name != group_name(group):
            return False
        return kind == "Both" or (package.version is not None) == (kind == "Versioned")

    return PACKAGES.listing(ctx, params, keep)


def delete_model_package(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteModelPackage."""
    return PACKAGES.delete(ctx, params["ModelPackageName"])
