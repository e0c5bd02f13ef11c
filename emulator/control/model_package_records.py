"""The model registry's records: a model package group and a model package."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from smlocal.emulator.support.records import Document, Nested, shown

GROUP = "model-package-group"
PACKAGE = "model-package"
ARN_MARKER = f":{PACKAGE}/"


def group_name(name_or_arn: str) -> str:
    """A group's name, given its name or ARN."""
    return name_or_arn.rsplit("/", 1)[-1] if ":model-package-group/" in name_or_arn else name_or_arn


def package_key(name_or_arn: str) -> str:
    """The store key of a package named by name or ARN (`group/3` for version 3)."""
    return name_or_arn.split(ARN_MARKER, 1)[1] if ARN_MARKER in name_or_arn else name_or_arn


@dataclass
class ModelPackageGroup:
    """A model package group: a name for a package's versions."""

    name: str
    arn: str
    description: str | None
    creation_time: float
    created_by: Nested = field(default_factory=dict)
    status: str = "Completed"

    @property
    def key(self) -> str:
        """Its store key."""
        return self.name

    @classmethod
    def from_document(cls, doc: Document) -> ModelPackageGroup:
        """The group of a stored document."""
        return cls(
            name=doc["ModelPackageGroupName"],
            arn=doc["ModelPackageGroupArn"],
            description=doc.get("ModelPackageGroupDescription"),
            creation_time=doc["CreationTime"],
            created_by=doc.get("CreatedBy", {}),
            status=doc.get("ModelPackageGroupStatus", "Completed"),
        )

    def to_document(self) -> Document:
        """The stored document (a missing description is stored as null)."""
        return {
            "ModelPackageGroupName": self.name,
            "ModelPackageGroupArn": self.arn,
            "ModelPackageGroupDescription": self.description,
            "CreationTime": self.creation_time,
            "CreatedBy": self.created_by,
            "ModelPackageGroupStatus": self.status,
        }

    def describe(self) -> dict[str, object]:
        """DescribeModelPackageGroup's output."""
        return shown(
            (
                ("ModelPackageGroupName", self.name),
                ("ModelPackageGroupArn", self.arn),
                ("ModelPackageGroupDescription", self.description),
                ("CreationTime", self.creation_time),
                ("CreatedBy", self.created_by),
                ("ModelPackageGroupStatus", self.status),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListModelPackageGroups' item."""
        return shown(
            (
                ("ModelPackageGroupName", self.name),
                ("ModelPackageGroupArn", self.arn),
                ("ModelPackageGroupDescription", self.description),
                ("CreationTime", self.creation_time),
                ("ModelPackageGroupStatus", self.status),
            )
        )


class PackageContainer(TypedDict, total=False):
    """The members of a ModelPackageContainerDefinition smlocal reads."""

    Image: str
    ModelDataUrl: str
    Environment: dict[str, str]


class InferenceSpecification(TypedDict, total=False):
    """The members of an InferenceSpecification smlocal reads (the others kept as given)."""

    Containers: list[PackageContainer]


@dataclass
class ModelPackage:
    """A model package: a version in a group (`version` set) or an unversioned package."""

    name: str
    arn: str
    creation_time: float
    last_modified_time: float
    approval_status: str | None
    client_token: str | None = None  # CreateModelPackage's idempotency token
    group_name: str | None = None
    version: int | None = None
    status: str = "Completed"
    status_details: Nested = field(
        default_factory=lambda: {"ValidationStatuses": [], "ImageScanStatuses": []}
    )
    created_by: Nested = field(default_factory=dict)
    description: str | None = None
    inference_specification: InferenceSpecification | None = None
    source_algorithm_specification: Nested | None = None
    validation_specification: Nested | None = None
    certify_for_marketplace: bool | None = None
    metadata_properties: Nested | None = None
    model_metrics: Nested | None = None
    approval_description: str | None = None
    domain: str | None = None
    task: str | None = None
    sample_payload_url: str | None = None
    customer_metadata: dict[str, str] | None = None
    drift_check_baselines: Nested | None = None
    additional_inference_specifications: list[Nested] | None = None
    skip_model_validation: str | None = None
    source_uri: str | None = None
    model_card: Nested | None = None  # kept from UpdateModelPackage, not described

    @property
    def key(self) -> str:
        """Its store key: the name, or `group/version`."""
        return package_key(self.arn)

    def inference_containers(self) -> list[PackageContainer]:
        """The containers of its InferenceSpecification (none when it has none)."""
        return (self.inference_specification or {}).get("Containers") or []

    @classmethod
    def from_document(cls, doc: Document) -> ModelPackage:
        """The package of a stored document."""
        return cls(
            name=doc["ModelPackageName"],
            arn=doc["ModelPackageArn"],
            creation_time=doc["CreationTime"],
            last_modified_time=doc["LastModifiedTime"],
            approval_status=doc.get("ModelApprovalStatus"),
            client_token=doc.get("_ClientToken"),
            group_name=doc.get("ModelPackageGroupName"),
            version=doc.get("ModelPackageVersion"),
            status=doc["ModelPackageStatus"],
            status_details=doc["ModelPackageStatusDetails"],
            created_by=doc.get("CreatedBy", {}),
            description=doc.get("ModelPackageDescription"),
            inference_specification=doc.get("InferenceSpecification"),
            source_algorithm_specification=doc.get("SourceAlgorithmSpecification"),
            validation_specification=doc.get("ValidationSpecification"),
            certify_for_marketplace=doc.get("CertifyForMarketplace"),
            metadata_properties=doc.get("MetadataProperties"),
            model_metrics=doc.get("ModelMetrics"),
            approval_description=doc.get("ApprovalDescription"),
            domain=doc.get("Domain"),
            task=doc.get("Task"),
            sample_payload_url=doc.get("SamplePayloadUrl"),
            customer_metadata=doc.get("CustomerMetadataProperties"),
            drift_check_baselines=doc.get("DriftCheckBaselines"),
            additional_inference_specifications=doc.get("AdditionalInferenceSpecifications"),
            skip_model_validation=doc.get("SkipModelValidation"),
            source_uri=doc.get("SourceUri"),
            model_card=doc.get("ModelCard"),
        )

    def to_document(self) -> Document:
        """The stored document: the Describe output, the approval status even when unset,
        the model card and the private `_ClientToken`."""
        return {
            **self.describe(),
            **shown((("ModelCard", self.model_card),)),
            "ModelApprovalStatus": self.approval_status,
            "_ClientToken": self.client_token,
        }

    def describe(self) -> dict[str, object]:
        """DescribeModelPackage's output."""
        return shown(
            (
                ("ModelPackageName", self.name),
                ("ModelPackageGroupName", self.group_name),
                ("ModelPackageVersion", self.version),
                ("ModelPackageArn", self.arn),
                ("ModelPackageDescription", self.description),
                ("CreationTime", self.creation_time),
                ("InferenceSpecification", self.inference_specification),
                ("SourceAlgorithmSpecification", self.source_algorithm_specification),
                ("ValidationSpecification", self.validation_specification),
                ("ModelPackageStatus", self.status),
                ("ModelPackageStatusDetails", self.status_details),
                ("CertifyForMarketplace", self.certify_for_marketplace),
                ("ModelApprovalStatus", self.approval_status),
                ("CreatedBy", self.created_by),
                ("MetadataProperties", self.metadata_properties),
                ("ModelMetrics", self.model_metrics),
                ("LastModifiedTime", self.last_modified_time),
                ("ApprovalDescription", self.approval_description),
                ("Domain", self.domain),
                ("Task", self.task),
                ("SamplePayloadUrl", self.sample_payload_url),
                ("CustomerMetadataProperties", self.customer_metadata),
                ("DriftCheckBaselines", self.drift_check_baselines),
                ("AdditionalInferenceSpecifications", self.additional_inference_specifications),
                ("SkipModelValidation", self.skip_model_validation),
                ("SourceUri", self.source_uri),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListModelPackages' item."""
        return shown(
            (
                ("ModelPackageName", self.name),
                ("ModelPackageGroupName", self.group_name),
                ("ModelPackageVersion", self.version),
                ("ModelPackageArn", self.arn),
                ("ModelPackageDescription", self.description),
                ("CreationTime", self.creation_time),
                ("ModelPackageStatus", self.status),
                ("ModelApprovalStatus", self.approval_status),
            )
        )
