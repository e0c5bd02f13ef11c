"""An endpoint as the store keeps it: its plan (what each variant runs), its status and the
fields DescribeEndpoint shows.

Both sides use the record: the control plane creates and describes endpoints, the endpoint
manager moves them through their statuses. The stored document is DescribeEndpoint's
output plus private keys only smlocal reads: `_Plan` (what serves), `_PendingPlan` (what an
accepted UpdateEndpoint will serve) and `_Op` (the token of the work that may write next).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Required, TypedDict

from smlocal.emulator.support.records import Document, Nested, shown
from smlocal.emulator.support.state import State

KIND = "endpoint"
HISTORY = 50  # status moves kept per endpoint
RANDOM = "RANDOM"  # SageMaker's routing across a variant's instances when none is asked for


class DataCaptureConfig(TypedDict, total=False):
    """An endpoint config's DataCaptureConfig (the plan keeps it for the model servers)."""

    EnableCapture: bool
    InitialSamplingPercentage: Required[int]
    DestinationS3Uri: Required[str]
    KmsKeyId: str
    CaptureOptions: list[Nested]
    CaptureContentTypeHeader: Nested


class CaptureSummary(TypedDict, total=False):
    """DescribeEndpoint's DataCaptureConfig."""

    EnableCapture: Required[bool]
    CaptureStatus: Required[str]
    CurrentSamplingPercentage: Required[int]
    DestinationS3Uri: Required[str]
    KmsKeyId: str


class DeployedImage(TypedDict):
    """One image of a ProductionVariantSummary."""

    SpecifiedImage: str
    ResolvedImage: str
    ResolutionTime: float


class VariantSummary(TypedDict, total=False):
    """DescribeEndpoint's ProductionVariantSummary (also its ShadowProductionVariants items)."""

    VariantName: Required[str]
    DeployedImages: Required[list[DeployedImage]]
    CurrentWeight: Required[float]
    DesiredWeight: Required[float]
    CurrentInstanceCount: int
    DesiredInstanceCount: int
    CurrentServerlessConfig: Nested
    DesiredServerlessConfig: Nested


class PendingVariant(TypedDict, total=False):
    """A variant of PendingDeploymentSummary."""

    VariantName: Required[str]
    DesiredWeight: Required[float]
    DesiredInstanceCount: int
    DesiredServerlessConfig: Nested


class PendingDeploymentSummary(TypedDict, total=False):
    """What DescribeEndpoint shows of an update in progress."""

    EndpointConfigName: Required[str]
    StartTime: float
    ProductionVariants: list[PendingVariant]
    ShadowProductionVariants: list[PendingVariant]


@dataclass
class PlannedVariant:
    """What one production variant runs, resolved from its model when it was planned."""

    name: str
    model_name: str
    image: str
    model_data_url: str | None
    environment: dict[str, str]
    instance_count: int
    serverless: bool
    weight: float
    startup_timeout: float | None  # None: the emulator's default (plans before it was kept)
    routing: str | None = None  # its RoutingConfig's RoutingStrategy; None: RANDOM, the default
    multi_model: bool = False  # Mode MultiModel: model_data_url is the prefix of its models
    model_cache: bool = True  # its MultiModelConfig's ModelCacheSetting is not Disabled
    # a multi-container model's containers (Image, ModelDataUrl, Environment,
    # ContainerHostname; the first is also image/model_data_url/environment above) and its
    # InferenceExecutionConfig.Mode; None for a model with one container
    containers: list[Document] | None = None
    execution_mode: str | None = None
    serverless_config: Nested | None = None  # its ServerlessConfig, as the endpoint config gave it
    shadow: bool = False  # one of ShadowProductionVariants: gets copies, never answers a caller

    @property
    def max_concurrency(self) -> int | None:
        """A serverless variant's MaxConcurrency (None for a variant on instances)."""
        if self.serverless_config is None:
            return None
        return int(str(self.serverless_config["MaxConcurrency"]))

    @classmethod
    def from_document(cls, doc: Document) -> PlannedVariant:
        """The variant of its stored form (a `_Plan`'s `Variants` item)."""
        return cls(
            name=doc["VariantName"],
            model_name=doc["ModelName"],
            image=doc["Image"],
            model_data_url=doc.get("ModelDataUrl"),
            environment=doc.get("Environment") or {},
            instance_count=doc["InstanceCount"],
            serverless=bool(doc.get("Serverless")),
            weight=doc["Weight"],
            startup_timeout=doc.get("StartupTimeout"),
            routing=doc.get("RoutingStrategy"),
            multi_model="MultiModel" in doc,
            model_cache=doc.get("MultiModel", {}).get("Cache", True),
            containers=doc.get("Containers"),
            execution_mode=doc.get("ExecutionMode"),
            serverless_config=doc.get("ServerlessConfig"),
            shadow=bool(doc.get("Shadow")),
        )

    def to_document(self) -> Document:
        """Its stored form."""
        return {
            "VariantName": self.name,
            "ModelName": self.model_name,
            "Image": self.image,
            "ModelDataUrl": self.model_data_url,
            "Environment": self.environment,
            "InstanceCount": self.instance_count,
            "Serverless": self.serverless,
            "Weight": self.weight,
            "StartupTimeout": self.startup_timeout,
            **({} if self.routing is None else {"RoutingStrategy": self.routing}),
            **({"MultiModel": {"Cache": self.model_cache}} if self.multi_model else {}),
            **({} if self.containers is None else {"Containers": self.containers}),
            **({} if self.execution_mode is None else {"ExecutionMode": self.execution_mode}),
            **(
                {}
                if self.serverless_config is None
                else {"ServerlessConfig": self.serverless_config}
            ),
            **({"Shadow": True} if self.shadow else {}),
        }


@dataclass
class Plan:
    """What an endpoint runs: the config it came from, its variants and their capture."""

    endpoint_config_name: str
    variants: list[PlannedVariant]
    data_capture_config: DataCaptureConfig | None = None
    async_inference_config: Nested | None = None  # set: an asynchronous endpoint

    @classmethod
    def from_document(cls, doc: Document) -> Plan:
        """The plan of its stored form (`_Plan`, `_PendingPlan`)."""
        return cls(
            endpoint_config_name=doc["EndpointConfigName"],
            variants=[PlannedVariant.from_document(v) for v in doc["Variants"]],
            data_capture_config=doc.get("DataCaptureConfig") or None,
            async_inference_config=doc.get("AsyncInferenceConfig") or None,
        )

    def to_document(self) -> Document:
        """Its stored form."""
        return {
            "EndpointConfigName": self.endpoint_config_name,
            "Variants": [v.to_document() for v in self.variants],
            "DataCaptureConfig": self.data_capture_config,
            **(
                {"AsyncInferenceConfig": self.async_inference_config}
                if self.async_inference_config
                else {}
            ),
        }


@dataclass
class Endpoint:
    """An endpoint as the store keeps it."""

    name: str
    arn: str
    config_name: str
    creation_time: float
    plan: Plan
    status: str | None = None  # None until the endpoint manager accepts it
    last_modified_time: float | None = None
    data_capture_config: CaptureSummary | None = None
    production_variants: list[VariantSummary] | None = None
    failure_reason: str | None = None
    pending_plan: Plan | None = None
    pending_summary: PendingDeploymentSummary | None = None
    op: str | None = None  # the token of the work that may write next
    history: list[dict[str, object]] = field(default_factory=list)  # status moves (console)

    @property
    def key(self) -> str:
        """Its store key."""
        return self.name

    @classmethod
    def from_document(cls, doc: Document) -> Endpoint:
        """The endpoint of a stored document."""
        pending = doc.get("_PendingPlan")
        return cls(
            name=doc["EndpointName"],
            arn=doc["EndpointArn"],
            config_name=doc["EndpointConfigName"],
            creation_time=doc["CreationTime"],
            plan=Plan.from_document(doc["_Plan"]),
            status=doc.get("EndpointStatus"),
            last_modified_time=doc.get("LastModifiedTime"),
            data_capture_config=doc.get("DataCaptureConfig") or None,
            production_variants=[
                *(doc.get("ProductionVariants") or ()),
                *(doc.get("ShadowProductionVariants") or ()),
            ]
            or None,
            failure_reason=doc.get("FailureReason"),
            pending_plan=Plan.from_document(pending) if pending else None,
            pending_summary=doc.get("PendingDeploymentSummary") or None,
            op=doc.get("_Op"),
            history=list(doc.get("_StatusHistory") or []),
        )

    def to_document(self) -> Document:
        """The stored document: DescribeEndpoint's output and the private keys."""
        return {
            **self.describe(),
            "_Plan": self.plan.to_document(),
            "_PendingPlan": None if self.pending_plan is None else self.pending_plan.to_document(),
            "_Op": self.op,
            # only once there is one: a document stored before the history reads back as it was
            **({"_StatusHistory": self.history[-HISTORY:]} if self.history else {}),
        }

    def describe(self) -> dict[str, object]:
        """DescribeEndpoint's output (the summaries of shadow variants under their own key)."""
        shadows = {v.name for v in self.plan.variants if v.shadow}
        summaries = self.production_variants
        shadow_summaries = None
        if summaries is not None and shadows:
            shadow_summaries = [s for s in summaries if s["VariantName"] in shadows]
            summaries = [s for s in summaries if s["VariantName"] not in shadows]
        return shown(
            (
                ("EndpointName", self.name),
                ("EndpointArn", self.arn),
                ("EndpointConfigName", self.config_name),
                ("ProductionVariants", summaries),
                ("DataCaptureConfig", self.data_capture_config),
                ("EndpointStatus", self.status),
                ("FailureReason", self.failure_reason),
                ("CreationTime", self.creation_time),
                ("LastModifiedTime", self.last_modified_time),
                ("AsyncInferenceConfig", self.plan.async_inference_config),
                ("PendingDeploymentSummary", self.pending_summary),
                ("ShadowProductionVariants", shadow_summaries),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListEndpoints' item."""
        return shown(
            (
                ("EndpointName", self.name),
                ("EndpointArn", self.arn),
                ("CreationTime", self.creation_time),
                ("LastModifiedTime", self.last_modified_time),
                ("EndpointStatus", self.status),
            )
        )

    def moved(self, status: str, moment: float, reason: str | None = None) -> None:
        """Note a status move (with the failure reason it came with) in the history."""
        entry: dict[str, object] = {"Status": status, "Time": moment}
        if reason:
            entry["FailureReason"] = reason
        self.history = [*self.history[-(HISTORY - 1) :], entry]

    def clear_pending(self) -> None:
        """The update in progress is over (done, rolled back or given up)."""
        self.pending_plan = None
        self.pending_summary = None

    def promote_pending(self) -> None:
        """The update went live: its plan and config are the endpoint's now."""
        if self.pending_plan is None:
            raise ValueError(f"endpoint {self.name} has no update in progress")
        self.plan = self.pending_plan
        self.config_name = self.pending_plan.endpoint_config_name
        self.clear_pending()


def stored(state: State, name: str) -> Endpoint | None:
    """The endpoint stored under a name (any case), or None."""
    doc = state.store.get(KIND, name)
    return None if doc is None else Endpoint.from_document(doc)


def save(state: State, endpoint: Endpoint) -> None:
    """Insert or replace an endpoint's document."""
    state.store.put(KIND, endpoint.key, endpoint.to_document())
