r"""Evaluation metrics: the per-round log line, and metric values read back from the log.

The container prints one line per round, `[0]\ttrain-merror:0.04000\tvalidation-merror:0.05000`
(values with five decimals); SageMaker's log agent writes tabs into CloudWatch as `#011`.
SageMaker then reads metrics out of the CloudWatch text with regular expressions (the
built-in algorithm's definitions, plus the job's own `MetricDefinitions`), keeping the last
value of each for `FinalMetricDataList`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypedDict

NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
# The built-in definitions: `train:merror`, `validation:auc`, ... (any metric of a `train`
# or `validation` evaluation) read from a round line.
BUILT_IN = re.compile(r"^\[[0-9]+\]")
_ENTRY = re.compile(r"#011(train|validation)-([A-Za-z0-9_@.\-]+?):" + NUMBER)

# The built-in XGBoost algorithm's own MetricDefinitions, which DescribeTrainingJob shows in
# AlgorithmSpecification: this set and order are what AWS returned for the 0.90-1 image (a
# real DescribeHyperParameterTuningJob output kept in a public tutorial).
_ALGORITHM_METRICS = (
    "train:mae", "validation:aucpr", "train:merror", "train:gamma-nloglik", "validation:mae",
    "validation:logloss", "train:mlogloss", "validation:f1", "train:accuracy", "train:mse",
    "validation:poisson-nloglik", "train:tweedie-nloglik", "train:error", "train:ndcg",
    "validation:map", "validation:auc", "validation:gamma-deviance", "train:auc",
    "validation:error", "validation:merror", "train:poisson-nloglik", "train:rmse",
    "train:logloss", "validation:accuracy", "train:aucpr", "validation:tweedie-nloglik",
    "validation:rmse", "train:gamma-deviance", "validation:mse", "validation:ndcg", "train:f1",
    "validation:mlogloss", "train:map", "validation:gamma-nloglik",
)  # fmt: skip


class MetricDefinition(TypedDict):
    """One of AlgorithmSpecification.MetricDefinitions: a metric read from the log."""

    Name: str
    Regex: str


class MetricData(TypedDict):
    """One entry of FinalMetricDataList."""

    MetricName: str
    Value: float
    Timestamp: float


def algorithm_definitions() -> list[MetricDefinition]:
    """The built-in algorithm's MetricDefinitions: `.*\\[[0-9]+\\].*#011train-mae:(number).*`."""
    return [
        MetricDefinition(
            Name=name, Regex=r".*\[[0-9]+\].*#011" + name.replace(":", "-", 1) + ":" + NUMBER + ".*"
        )
        for name in _ALGORITHM_METRICS
    ]


def round_line(iteration: int, results: Iterable[tuple[str, str, float]]) -> str:
    """The line the container prints after a round: `[i]\\t{data}-{metric}:{value:.5f}...`."""
    return f"[{iteration}]" + "".join(
        f"\t{data}-{metric}:{value:.5f}" for data, metric, value in results
    )


@dataclass
class MetricCollector:
    """Last value and time of each metric seen in a job's CloudWatch lines."""

    definitions: list[MetricDefinition] = field(default_factory=list)
    built_in: bool = True  # read the built-in algorithm's round lines (not in script mode)
    values: dict[str, tuple[float, float]] = field(default_factory=dict)
    # Every value seen, in order: what SageMaker sends to CloudWatch as the job's metrics.
    points: list[tuple[str, float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._compiled = [(d["Name"], re.compile(d["Regex"])) for d in self.definitions]

    def feed(self, line: str, timestamp: float) -> None:
        """Read the metrics of one CloudWatch line."""
        if self.built_in and BUILT_IN.match(line):
            for data, metric, value in _ENTRY.findall(line):
                self._keep(f"{data}:{metric}", value, timestamp)
        for name, pattern in self._compiled:
            found = pattern.search(line)
            if found and found.groups():
                self._keep(name, found.group(1), timestamp)

    def _keep(self, name: str, text: str, timestamp: float) -> None:
        try:
            value = float(text)
        except ValueError:
            return
        if self.values.get(name) != (value, timestamp):  # a line matched twice counts once
            self.points.append((name, value, timestamp))
        self.values[name] = (value, timestamp)

    def final(self) -> list[MetricData]:
        """FinalMetricDataList: each metric's last value, in the order first seen."""
        return final_metrics(self.values)


def final_metrics(values: Mapping[str, tuple[float, float]]) -> list[MetricData]:
    """MetricData entries for metric name -> (value, epoch seconds)."""
    return [
        MetricData(MetricName=name, Value=value, Timestamp=timestamp)
        for name, (value, timestamp) in values.items()
    ]
