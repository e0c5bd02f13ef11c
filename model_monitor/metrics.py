"""Per-feature CloudWatch metric records of a monitoring run (published by the emulator).

Names follow the developer guide: `feature_data_<name>` (numeric features: SampleCount, Sum,
Minimum, Maximum), `feature_non_null_<name>` (completeness) and
`feature_baseline_drift_<name>` (the drift distance, when one was computed). Namespace and
dimensions are the ones AWS's own drift-detection sample alarms on; a batch transform's
executions use the documented `aws/sagemaker/ModelMonitoring/data-metrics`, without Endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from smlocal.model_monitor.profile import DatasetProfile

NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
BATCH_NAMESPACE = "aws/sagemaker/ModelMonitoring/data-metrics"  # a batch transform's


@dataclass(frozen=True)
class MetricRecord:
    """One data point, in the BYOC metric-file shape plus its namespace."""

    metric_name: str
    timestamp: datetime
    dimensions: tuple[tuple[str, str], ...]
    value: float | None = None
    statistic_values: Mapping[str, float] | None = None
    namespace: str = NAMESPACE

    def document(self) -> dict[str, Any]:
        """`{"MetricName", "Timestamp", "Dimensions", "Value" | "StatisticValues"}`."""
        body: dict[str, Any] = {
            "MetricName": self.metric_name,
            "Timestamp": self.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Dimensions": [{"Name": n, "Value": v} for n, v in self.dimensions],
        }
        if self.statistic_values is not None:
            body["StatisticValues"] = dict(self.statistic_values)
        else:
            body["Value"] = self.value
        return body


def feature_metrics(
    profile: DatasetProfile,
    drift: Mapping[str, float],
    *,
    timestamp: datetime,
    endpoint: str | None,
    schedule: str | None,
    emits: Callable[[str], bool],
) -> list[MetricRecord]:
    """The records of every feature whose effective `emit_metrics` is Enabled."""
    # a batch transform's executions monitor no endpoint: no Endpoint dimension then
    named = (("Endpoint", endpoint), ("MonitoringSchedule", schedule or ""))
    dimensions = tuple((key, value) for key, value in named if value is not None)
    space = NAMESPACE if endpoint is not None else BATCH_NAMESPACE
    records = []
    for feature in profile.features:
        if not emits(feature.name):
            continue
        name = feature.name
        if feature.is_numeric and feature.numeric.count:
            numeric = feature.numeric
            summary = {
                "SampleCount": float(numeric.count),
                "Sum": numeric.total,
                "Minimum": numeric.minimum,
                "Maximum": numeric.maximum,
            }
            records.append(
                MetricRecord(f"feature_data_{name}", timestamp, dimensions, None, summary, space)
            )
        completeness = feature.completeness(profile.item_count)
        records.append(
            MetricRecord(
                f"feature_non_null_{name}", timestamp, dimensions, completeness, None, space
            )
        )
        if name in drift:
            records.append(
                MetricRecord(
                    f"feature_baseline_drift_{name}",
                    timestamp,
                    dimensions,
                    drift[name],
                    None,
                    space,
                )
            )
    return records
