"""Endpoint configs: CreateEndpointConfig, Describe, List, Delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Required, TypedDict

from smlocal.emulator.control.async_configs import check_async_config
from smlocal.emulator.control.context import Context
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.control.models import MODELS
from smlocal.emulator.control.variant_checks import check_shadows, check_variant
from smlocal.emulator.errors import ValidationException
from smlocal.emulator.hosting.endpoint_records import DataCaptureConfig
from smlocal.emulator.support.records import Document, Nested, shown

KIND = "endpoint-config"


class RoutingConfig(TypedDict):
    """How a variant's traffic is spread over its instances."""

    RoutingStrategy: str


class ProductionVariant(TypedDict, total=False):
    """The members of a ProductionVariant smlocal reads (the others are kept as given)."""

    VariantName: Required[str]
    ModelName: str
    InitialInstanceCount: int
    InitialVariantWeight: float
    InstanceType: str
    ServerlessConfig: Nested
    ContainerStartupHealthCheckTimeoutInSeconds: int
    RoutingConfig: RoutingConfig


@dataclass
class EndpointConfig:
    """An endpoint config as CreateEndpointConfig recorded it (variants with defaults)."""

    name: str
    arn: str
    creation_time: float
    production_variants: list[ProductionVariant]
    data_capture_config: DataCaptureConfig | None = None
    kms_key_id: str | None = None
    async_inference_config: Nested | None = None
    explainer_config: Nested | None = None
    shadow_production_variants: list[ProductionVariant] | None = None
    execution_role_arn: str | None = None
    vpc_config: Nested | None = None
    enable_network_isolation: bool | None = None

    @property
    def key(self) -> str:
        """Its store key."""
        return self.name

    @classmethod
    def from_document(cls, doc: Document) -> EndpointConfig:
        """The endpoint config of a stored document."""
        return cls(
            name=doc["EndpointConfigName"],
            arn=doc["EndpointConfigArn"],
            creation_time=doc["CreationTime"],
            production_variants=doc["ProductionVariants"],
            data_capture_config=doc.get("DataCaptureConfig"),
            kms_key_id=doc.get("KmsKeyId"),
            async_inference_config=doc.get("AsyncInferenceConfig"),
            explainer_config=doc.get("ExplainerConfig"),
            shadow_production_variants=doc.get("ShadowProductionVariants"),
            execution_role_arn=doc.get("ExecutionRoleArn"),
            vpc_config=doc.get("VpcConfig"),
            enable_network_isolation=doc.get("EnableNetworkIsolation"),
        )

    def to_document(self) -> Document:
        """The stored document: what DescribeEndpointConfig returns."""
        return self.describe()

    def describe(self) -> dict[str, object]:
        """DescribeEndpointConfig's output."""
        return shown(
            (
                ("EndpointConfigName", self.name),
                ("EndpointConfigArn", self.arn),
                ("ProductionVariants", self.production_variants),
                ("DataCaptureConfig", self.data_capture_config),
                ("KmsKeyId", self.kms_key_id),
                ("CreationTime", self.creation_time),
                ("AsyncInferenceConfig", self.async_inference_config),
                ("ExplainerConfig", self.explainer_config),
                ("ShadowProductionVariants", self.shadow_production_variants),
                ("ExecutionRoleArn", self.execution_role_arn),
                ("VpcConfig", self.vpc_config),
                ("EnableNetworkIsolation", self.enable_network_isolation),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListEndpointConfigs' item."""
        return {
            "EndpointConfigName": self.name,
            "EndpointConfigArn": self.arn,
            "CreationTime": self.creation_time,
        }


ENDPOINT_CONFIGS = Kind(
    resource=KIND,
    load=EndpointConfig.from_document,
    noun="endpoint configuration",
    name_key="EndpointConfigName",
    list_key="EndpointConfigs",
)


def create_endpoint_config(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateEndpointConfig: every variant's model must exist and variant names be unique."""
    name = params["EndpointConfigName"]
    variants = [_variant(ctx, v) for v in params["ProductionVariants"]]
    shadows = [_variant(ctx, v) for v in params.get("ShadowProductionVariants") or ()]
    check_shadows(variants, shadows)
    names = [v["VariantName"].lower() for v in variants]
    if len(set(names)) != len(names):
        raise ValidationException(
            "The production variant names of an endpoint config must be unique."
        )
    if params.get("AsyncInferenceConfig"):
        check_async_config(params["AsyncInferenceConfig"], variants)  # type: ignore[arg-type]
    if any("ServerlessConfig" in v for v in variants + shadows) and params.get("DataCaptureConfig"):
        raise ValidationException("Data capture is not supported for serverless endpoints.")
    config = EndpointConfig(
        name=name,
        arn=ctx.arn(KIND, name),
        creation_time=ctx.now(),
        production_variants=variants,
        data_capture_config=params.get("DataCaptureConfig"),
        kms_key_id=params.get("KmsKeyId"),
        async_inference_config=params.get("AsyncInferenceConfig"),
        explainer_config=params.get("ExplainerConfig"),
        shadow_production_variants=shadows or None,
        execution_role_arn=params.get("ExecutionRoleArn"),
        vpc_config=params.get("VpcConfig"),
        enable_network_isolation=params.get("EnableNetworkIsolation"),
    )
    ENDPOINT_CONFIGS.add(ctx, config, params.get("Tags", []))
    return {"EndpointConfigArn": config.arn}


def _variant(ctx: Context, variant: ProductionVariant) -> ProductionVariant:
    if "ModelName" not in variant:
        raise ValidationException(
            f"Production variant {variant['VariantName']} needs a ModelName "
            "(inference components are not emulated)."
        )
    MODELS.get(ctx, variant["ModelName"])
    check_variant(variant)
    out = variant.copy()
    out.setdefault("InitialVariantWeight", 1.0)
    if "ServerlessConfig" not in out:
        out.setdefault("InitialInstanceCount", 1)
    return out


def describe_endpoint_config(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeEndpointConfig."""
    return ENDPOINT_CONFIGS.describe(ctx, params["EndpointConfigName"])


def list_endpoint_configs(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListEndpointConfigs."""
    return ENDPOINT_CONFIGS.listing(ctx, params)


def delete_endpoint_config(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteEndpointConfig (allowed while endpoints use it, as in AWS)."""
    return ENDPOINT_CONFIGS.delete(ctx, params["EndpointConfigName"])
