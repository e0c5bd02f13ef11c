"""Model-quality constraints: suggested from a baseline's metrics, checked in an execution.

`constraints.json` holds, per problem type (`binary_classification_constraints`,
`multiclass_classification_constraints`, `regression_constraints`), each metric's
`threshold` (the baseline's value) and `comparison_operator`: `LessThanThreshold` where a
lower value is worse, `GreaterThanThreshold` for error rates and errors. A violation reads
as the real analyzer's: `Metric truePositiveRate with 0.11 +/- 5.09E-4 was LessThanThreshold
'0.57'` (the metric's name in camel case, numbers as Java prints doubles).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from smlocal.capture_sink.aws_shapes.java_text import java_double
from smlocal.model_monitor.errors import AnalysisError
from smlocal.model_monitor.metrics import MetricRecord
from smlocal.model_monitor.quality_metrics import BINARY, MULTICLASS, scalar_metrics

MODEL_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/model-metrics"
BATCH_MODEL_METRICS_NAMESPACE = "aws/sagemaker/ModelMonitoring/model-metrics"  # by analogy
LESS, GREATER = "LessThanThreshold", "GreaterThanThreshold"
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    LESS: operator.lt,
    GREATER: operator.gt,
    "LessThanOrEqualToThreshold": operator.le,
    "GreaterThanOrEqualToThreshold": operator.ge,
}
SECTIONS = {
    BINARY: "binary_classification_constraints",
    MULTICLASS: "multiclass_classification_constraints",
}
SUGGESTED = {
    BINARY: {
        "recall": LESS, "precision": LESS, "accuracy": LESS, "true_positive_rate": LESS,
        "true_negative_rate": LESS, "false_positive_rate": GREATER,
        "false_negative_rate": GREATER, "auc": LESS, "f0_5": LESS, "f1": LESS, "f2": LESS,
    },
    MULTICLASS: {
        "accuracy": LESS, "weighted_recall": LESS, "weighted_precision": LESS,
        "weighted_f0_5": LESS, "weighted_f1": LESS, "weighted_f2": LESS,
    },
    "Regression": {"mae": GREATER, "mse": GREATER, "rmse": GREATER, "r2": LESS},
}  # fmt: skip
# The order the real analyzer lists binary violations in (metrics it did not list go last).
BINARY_VIOLATION_ORDER = (
    "auc", "precision", "true_positive_rate", "f1", "accuracy", "false_positive_rate",
    "true_negative_rate", "false_negative_rate", "recall", "f2",
)  # fmt: skip


def section_of(problem_type: str) -> str:
    """The constraints document's key for a problem type."""
    return SECTIONS.get(problem_type, "regression_constraints")


def suggest(problem_type: str, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """`constraints.json` of a baseline: each metric's value as its threshold."""
    section = {}
    for name, comparison in SUGGESTED[problem_type].items():
        value = metrics[name]["value"]
        if isinstance(value, float):  # a metric that could not be computed has no constraint
            section[name] = {"threshold": value, "comparison_operator": comparison}
    return {"version": 0.0, section_of(problem_type): section}


def camel(name: str) -> str:
    """`true_positive_rate` -> `truePositiveRate`, as violations name metrics."""
    return re.sub(r"_([a-z])", lambda found: found.group(1).upper(), name)


def _text(value: Any) -> str:
    return java_double(float(value)) if isinstance(value, int | float) else str(value)


def _violation_order(problem_type: str, names: list[str]) -> list[str]:
    if problem_type != BINARY:
        return names
    known = [n for n in BINARY_VIOLATION_ORDER if n in names]
    return known + [n for n in names if n not in known]


def check(
    problem_type: str, metrics: Mapping[str, Any], constraints: Mapping[str, Any]
) -> list[dict[str, str]]:
    """The violations of the current metrics against a constraints document."""
    wanted = constraints.get(section_of(problem_type))
    if not isinstance(wanted, Mapping):
        raise AnalysisError(
            f"The baseline constraints have no {section_of(problem_type)} for problem type "
            f"{problem_type}"
        )
    violations = []
    for name in _violation_order(problem_type, list(wanted)):
        rule, metric = wanted[name], metrics.get(name)
        comparison = str(rule.get("comparison_operator", ""))
        if comparison not in OPERATORS:
            raise AnalysisError(f"Unknown comparison_operator {comparison!r} for metric {name}")
        if not isinstance(metric, Mapping) or not isinstance(metric.get("value"), float):
            continue  # not computed on this data (NaN): nothing to compare
        value, threshold = metric["value"], float(rule["threshold"])
        if math.isfinite(value) and OPERATORS[comparison](value, threshold):
            deviation = _text(metric["standard_deviation"])
            violations.append(
                {
                    "constraint_check_type": comparison,
                    "description": f"Metric {camel(name)} with {_text(value)} +/- {deviation} "
                    f"was {comparison} '{_text(threshold)}'",
                    "metric_name": camel(name),
                }
            )
    return violations


def cloudwatch_metrics(
    metrics: Mapping[str, Any],
    *,
    timestamp: datetime,
    endpoint: str | None,
    schedule: str | None,
) -> tuple[MetricRecord, ...]:
    """One data point per computed scalar metric, named as in the statistics."""
    # a batch transform's executions monitor no endpoint: no Endpoint dimension then
    named = (("Endpoint", endpoint), ("MonitoringSchedule", schedule or ""))
    dimensions = tuple((key, value) for key, value in named if value is not None)
    space = MODEL_METRICS_NAMESPACE if endpoint is not None else BATCH_MODEL_METRICS_NAMESPACE
    return tuple(
        MetricRecord(name, timestamp, dimensions, value, namespace=space)
        for name, value, _ in scalar_metrics(dict(metrics))
        if isinstance(value, float)
    )
