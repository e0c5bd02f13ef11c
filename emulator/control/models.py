"""Models: CreateModel, DescribeModel, ListModels, DeleteModel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.control.model_containers import execution_mode, hostnames, refuse_multi_model
from smlocal.emulator.control.model_packages import PACKAGES
from smlocal.emulator.errors import ValidationException
from smlocal.emulator.support.records import Document, Nested, shown

KIND = "model"
MULTI_MODEL = "MultiModel"


class ContainerDefinition(TypedDict, total=False):
    """The members of a ContainerDefinition smlocal reads (the others are kept as given)."""

    Image: str
    ModelDataUrl: str
    ModelDataSource: dict[str, Any]
    Environment: dict[str, str]
    ModelPackageName: str
    Mode: str
    MultiModelConfig: dict[str, str]


@dataclass
class Runnable:
    """What a container runs: image, model data and environment, a package's spec filled in.

    Stored under the model's private `_Runnable` key; endpoints plan from it."""

    image: str
    model_data_url: str | None
    environment: dict[str, str]
    multi_model: bool = False  # Mode MultiModel: model_data_url is the models' prefix
    model_cache: bool = True  # MultiModelConfig.ModelCacheSetting is not Disabled
    hostname: str | None = (
        None  # its ContainerHostname (given or assigned) in a multi-container model
    )

    @classmethod
    def from_document(cls, doc: Document) -> Runnable:
        """The runnable of its stored form."""
        return cls(
            doc["Image"],
            doc.get("ModelDataUrl"),
            doc.get("Environment") or {},
            doc.get("Mode") == MULTI_MODEL,
            doc.get("ModelCache", True),
            doc.get("ContainerHostname"),
        )

    def to_document(self) -> Document:
        """Its stored form."""
        mode = {"Mode": MULTI_MODEL, "ModelCache": self.model_cache} if self.multi_model else {}
        return {
            "Image": self.image,
            "ModelDataUrl": self.model_data_url,
            "Environment": self.environment,
            **mode,
            **({} if self.hostname is None else {"ContainerHostname": self.hostname}),
        }


@dataclass
class Model:
    """A model as CreateModel recorded it."""

    name: str
    arn: str
    creation_time: float
    runnable: list[Runnable]
    enable_network_isolation: bool = False
    primary_container: ContainerDefinition | None = None
    containers: list[ContainerDefinition] | None = None
    inference_execution_config: Nested | None = None
    execution_role_arn: str | None = None
    vpc_config: Nested | None = None

    @property
    def key(self) -> str:
        """Its store key."""
        return self.name

    @classmethod
    def from_document(cls, doc: Document) -> Model:
        """The model of a stored document."""
        return cls(
            name=doc["ModelName"],
            arn=doc["ModelArn"],
            creation_time=doc["CreationTime"],
            runnable=[Runnable.from_document(r) for r in doc["_Runnable"]],
            enable_network_isolation=doc.get("EnableNetworkIsolation", False),
            primary_container=doc.get("PrimaryContainer"),
            containers=doc.get("Containers"),
            inference_execution_config=doc.get("InferenceExecutionConfig"),
            execution_role_arn=doc.get("ExecutionRoleArn"),
            vpc_config=doc.get("VpcConfig"),
        )

    def to_document(self) -> Document:
        """The stored document: the Describe output and the private `_Runnable`."""
        return {**self.describe(), "_Runnable": [r.to_document() for r in self.runnable]}

    def describe(self) -> dict[str, object]:
        """DescribeModel's output."""
        return shown(
            (
                ("ModelName", self.name),
                ("PrimaryContainer", self.primary_container),
                ("Containers", self.containers),
                ("InferenceExecutionConfig", self.inference_execution_config),
                ("ExecutionRoleArn", self.execution_role_arn),
                ("VpcConfig", self.vpc_config),
                ("CreationTime", self.creation_time),
                ("ModelArn", self.arn),
                ("EnableNetworkIsolation", self.enable_network_isolation),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListModels' item."""
        return {"ModelName": self.name, "ModelArn": self.arn, "CreationTime": self.creation_time}


MODELS = Kind(
    resource=KIND, load=Model.from_document, noun="model", name_key="ModelName", list_key="Models"
)


def create_model(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """CreateModel; containers naming a model package are resolved to what they run."""
    name = params["ModelName"]
    if ("PrimaryContainer" in params) == ("Containers" in params):
        raise ValidationException("Either PrimaryContainer or Containers must be specified.")
    containers = (
        [params["PrimaryContainer"]] if "PrimaryContainer" in params else params["Containers"]
    )
    runnable = [_runnable(ctx, c) for c in containers]
    if execution_mode(params) is not None:
        refuse_multi_model(containers)
        for each, hostname in zip(runnable, hostnames(containers), strict=True):
            each.hostname = hostname
    model = Model(
        name=name,
        arn=ctx.arn(KIND, name),
        creation_time=ctx.now(),
        runnable=runnable,
        enable_network_isolation=params.get("EnableNetworkIsolation", False),
        primary_container=params.get("PrimaryContainer"),
        containers=params.get("Containers"),
        inference_execution_config=params.get("InferenceExecutionConfig"),
        execution_role_arn=params.get("ExecutionRoleArn"),
        vpc_config=params.get("VpcConfig"),
    )
    MODELS.add(ctx, model, params.get("Tags", []))
    return {"ModelArn": model.arn}


def _runnable(ctx: Context, container: ContainerDefinition) -> Runnable:
    """Image, model data and environment to run, with a model package's spec filled in."""
    if "ModelPackageName" not in container:
        if "Image" not in container:
            raise ValidationException("A container must specify Image or ModelPackageName.")
        return Runnable(
            container["Image"],
            model_data_url(container),
            container.get("Environment", {}),
            *multi_model_mode(container),
        )
    package = PACKAGES.get(ctx, container["ModelPackageName"])
    if package.version is not None and package.approval_status != "Approved":
        raise ValidationException(
            f"Model package {package.arn} has ModelApprovalStatus "
            f"{package.approval_status}; versioned model packages must be Approved "
            "before a model can be created from them."
        )
    spec = package.inference_containers()
    if not spec:
        raise ValidationException(
            f"Model package {package.arn} has no InferenceSpecification containers."
        )
    source = spec[0]
    return Runnable(
        source["Image"],
        source.get("ModelDataUrl"),
        {**source.get("Environment", {}), **container.get("Environment", {})},
    )


def model_data_url(container: ContainerDefinition) -> str | None:
    """Where the container's model data is: ModelDataUrl, or the model.tar.gz a
    ModelDataSource names (what the SDK's `create_model_from_job` sends); an uncompressed
    S3 prefix is refused, as smlocal loads model archives only."""
    source = container.get("ModelDataSource", {}).get("S3DataSource")
    if source is None:
        return container.get("ModelDataUrl")
    if "ModelDataUrl" in container:
        raise ValidationException(
            "Either ModelDataUrl or ModelDataSource can be specified, but not both."
        )
    if source.get("CompressionType") != "Gzip" or source.get("S3DataType") != "S3Object":
        raise ValidationException(
            "smlocal loads model data from a model.tar.gz only: ModelDataSource.S3DataSource "
            "needs S3DataType S3Object and CompressionType Gzip."
        )
    return str(source["S3Uri"])


def multi_model_mode(container: ContainerDefinition) -> tuple[bool, bool]:
    """(Mode is MultiModel, its models are cached), with SageMaker's checks of the pair."""
    multi = container.get("Mode", "SingleModel") == MULTI_MODEL
    config = container.get("MultiModelConfig")
    if config is not None and not multi:
        raise ValidationException(
            "MultiModelConfig can only be specified for a container with Mode MultiModel."
        )
    if multi and not container.get("ModelDataUrl"):
        raise ValidationException(
            "ModelDataUrl must be specified for a container with Mode MultiModel: the S3 "
            "prefix that holds the models (TargetModel is relative to it)."
        )
    return multi, (config or {}).get("ModelCacheSetting", "Enabled") != "Disabled"


def describe_model(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeModel."""
    return MODELS.describe(ctx, params["ModelName"])


def list_models(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListModels."""
    return MODELS.listing(ctx, params)


def delete_model(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteModel."""
    return MODELS.delete(ctx, params["ModelName"])
