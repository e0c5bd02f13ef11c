"""Trial components' records: the component (the SDK's run) and its metrics' summaries.

A job's component (`control.job_components`) stores only what names its job; the rest is
read from the job whenever the component is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.experiments import TRIAL_COMPONENT, entity_key, entity_kind
from smlocal.emulator.support.records import Document, Nested, audited, shown

MAX_ARTIFACTS = 60  # per direction; the SDK's Run stops at 30 itself
MAX_PARAMETERS = 300


@dataclass
class MetricSummary:
    """What is kept of one metric's values: enough for SageMaker's summary (Welford's mean
    and sum of squared deviations, so nothing grows with the number of values)."""

    name: str
    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    last: float = 0.0
    last_time: float = -math.inf

    @classmethod
    def from_document(cls, doc: Document) -> MetricSummary:
        """The summary of a stored document."""
        return cls(doc["MetricName"], doc["Count"], doc["Mean"], doc["M2"], doc["Min"],
                   doc["Max"], doc["Last"], doc["LastTime"])  # fmt: skip

    def to_document(self) -> Document:
        """The stored document."""
        return {"MetricName": self.name, "Count": self.count, "Mean": self.mean, "M2": self.m2,
                "Min": self.minimum, "Max": self.maximum, "Last": self.last,
                "LastTime": self.last_time}  # fmt: skip

    def add(self, value: float, timestamp: float) -> bool:
        """Take one value in; the latest timestamp's value is the Last (ties: the later call).
        False, and nothing changed, for a value the summary cannot hold: one whose mean or
        spread with the others overflows a double (1.7e308 after -1.7e308)."""
        count = self.count + 1
        delta = value - self.mean
        mean = self.mean + delta / count
        m2 = self.m2 + delta * (value - mean)
        if not (math.isfinite(value) and math.isfinite(mean) and math.isfinite(m2)):
            return False
        self.count, self.mean, self.m2 = count, mean, m2
        self.minimum, self.maximum = min(self.minimum, value), max(self.maximum, value)
        if timestamp >= self.last_time:
            self.last, self.last_time = value, timestamp
        return True

    def shown(self, source_arn: str) -> dict[str, object]:
        """TrialComponentMetricSummary; StdDev is the sample standard deviation (0 for one)."""
        deviation = math.sqrt(max(self.m2, 0.0) / (self.count - 1)) if self.count > 1 else 0.0
        return {"MetricName": self.name, "SourceArn": source_arn, "TimeStamp": self.last_time,
                "Max": self.maximum, "Min": self.minimum, "Last": self.last,
                "Count": self.count, "Avg": self.mean, "StdDev": deviation}  # fmt: skip


@dataclass
class TrialComponent:
    """A trial component as CreateTrialComponent stored it and later calls changed it."""

    name: str
    arn: str
    creation_time: float
    last_modified_time: float
    display_name: str | None = None
    status: Nested | None = None
    start_time: float | None = None
    end_time: float | None = None
    parameters: dict[str, Nested] = field(default_factory=dict)
    input_artifacts: dict[str, Nested] = field(default_factory=dict)
    output_artifacts: dict[str, Nested] = field(default_factory=dict)
    metadata_properties: Nested | None = None
    source: Nested | None = None  # {"SourceArn", "SourceType"} of a job's component
    job: Nested | None = None  # {"Kind", "Name"}: the job's store kind and key
    run_name: str | None = None  # the ExperimentConfig's RunName of a job's component
    metrics: dict[str, MetricSummary] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Its store key."""
        return entity_key(self.name)

    @classmethod
    def from_document(cls, doc: Document) -> TrialComponent:
        """The component of a stored document."""
        return cls(
            name=doc["TrialComponentName"],
            arn=doc["TrialComponentArn"],
            creation_time=doc["CreationTime"],
            last_modified_time=doc["LastModifiedTime"],
            display_name=doc.get("DisplayName"),
            status=doc.get("Status"),
            start_time=doc.get("StartTime"),
            end_time=doc.get("EndTime"),
            parameters=doc.get("Parameters", {}),
            input_artifacts=doc.get("InputArtifacts", {}),
            output_artifacts=doc.get("OutputArtifacts", {}),
            metadata_properties=doc.get("MetadataProperties"),
            source=doc.get("Source"),
            job=doc.get("_Job"),
            run_name=doc.get("_RunName"),
            metrics={
                m["MetricName"]: MetricSummary.from_document(m) for m in doc.get("_Metrics", [])
            },
        )

    def to_document(self) -> Document:
        """The stored document: DescribeTrialComponent's members, the job it stands for,
        and the metrics' running summaries."""
        doc = {k: v for k, v in self.describe().items() if k != "Metrics"}
        return {**doc, **shown((("_Job", self.job), ("_RunName", self.run_name))),
                "_Metrics": [m.to_document() for m in self.metrics.values()]}  # fmt: skip

    def describe(self) -> dict[str, object]:
        """DescribeTrialComponent's output."""
        source_arn = (self.source or {}).get("SourceArn", self.arn)
        return shown(
            (
                *self._heading("Source"),
                ("Parameters", self.parameters),
                ("InputArtifacts", self.input_artifacts),
                ("OutputArtifacts", self.output_artifacts),
                ("MetadataProperties", self.metadata_properties),
                ("Metrics", [m.shown(str(source_arn)) for m in self.metrics.values()]),
                ("Sources", [self.source] if self.source else None),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListTrialComponents' item."""
        return shown(self._heading("TrialComponentSource"))

    def _heading(self, source_key: str) -> tuple[tuple[str, object], ...]:
        """The members DescribeTrialComponent's output and ListTrialComponents' item begin
        with alike (the source under its own key in each)."""
        return (
            ("TrialComponentName", self.name),
            ("TrialComponentArn", self.arn),
            ("DisplayName", self.display_name or self.name),
            (source_key, self.source),
            ("Status", self.status),
            ("StartTime", self.start_time),
            ("EndTime", self.end_time),
            *audited(self.creation_time, self.last_modified_time),
        )


def new_component(ctx: Context, name: str, **members: Any) -> TrialComponent:
    """A trial component made now (by CreateTrialComponent, or for a job): its ARN and times
    stamped, its other members as given."""
    now = ctx.now()
    return TrialComponent(
        name=name,
        arn=ctx.arn(TRIAL_COMPONENT, name),
        creation_time=now,
        last_modified_time=now,
        **members,
    )


TRIAL_COMPONENTS = entity_kind(
    TRIAL_COMPONENT, TrialComponent.from_document, "Trial Component", quotes_arns=True
)
