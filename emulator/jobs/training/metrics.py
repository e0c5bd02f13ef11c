r"""Evaluation metrics: the per-round log line, and metric values read back from the log.

The container prints one line per round, `[0]\ttrain-merror:0.04000\tvalidation-merror:0.05000`
(values with five decimals); SageMaker's log agent writes tabs into CloudWatch as `#011`.
SageMaker then reads metrics out of the CloudWatch text with regular expressions (the
built-in algorithm's definitions, plus the job's own `MetricDefinitions`), keeping the last
value of each for `FinalMetricDataList`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypedDict

NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
# The built-in definitions: `train:merror`, `validation:auc`, ... (any metric of a `train`
# or `validation` evaluation) read from a round line.
BUILT_IN = re.compile(r"^\[[0-9]+\]")
_ENTRY = re.compile(r"#011(train|validation)-([A-Za-z0-9_@.\-]+?):" + NUMBER)


class MetricDefinition(TypedDict):
    """One of AlgorithmSpecification.MetricDefinitions: a metric read from the log."""

    Name: str
    Regex: str


class MetricData(TypedDict):
    """One entry of FinalMetricDataList."""

    MetricName: str
    Value: float
    Timestamp: float


def round_line(iteration: int, results: Iterable[tuple[str, str, float]]) -> str:
    """The line the container prints after a round: `[i]\\t{data}-{metric}:{value:.5f}...`."""
    return f"[{iteration}]" + "".join(
        f"\t{data}-{metric}:{value:.5f}" for data, metric, value in results
    )


@dataclass
class MetricCollector:
    """Last value and time of each metric seen in a job's CloudWatch lines."""

    definitions: list[MetricDefinition] = field(default_factory=list)
    values: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._compiled = [(d["Name"], re.compile(d["Regex"])) for d in self.definitions]

    def feed(self, line: str, timestamp: float) -> None:
        """Read the metrics of one CloudWatch line."""
        if BUILT_IN.match(line):
            for data, metric, value in _ENTRY.findall(line):
                self._keep(f"{data}:{metric}", value, timestamp)
        for name, pattern in self._compiled:
            found = pattern.search(line)
            if found and found.groups():
                self._keep(name, found.group(1), timestamp)

    def _keep(self, name: str, text: str, timestamp: float) -> None:
        with contextlib.suppress(ValueError):
            self.values[name] = (float(text), timestamp)

    def final(self) -> list[MetricData]:
        """FinalMetricDataList: each metric's last value, in the order first seen."""
        return final_metrics(self.values)


def final_metrics(values: Mapping[str, tuple[float, float]]) -> list[MetricData]:
    """MetricData entries for metric name -> (value, epoch seconds)."""
    return [
        MetricData(MetricName=name, Value=value, Timestamp=timestamp)
        for name, (value, timestamp) in values.items()
    ]
