"""SageMaker Metrics (service `sagemaker-metrics`, REST-JSON): BatchPutMetrics.

The SDK's `Run.log_metric` sends each value here, and SageMaker folds them into the trial
component's metric summaries (Min, Max, Avg, StdDev, Last, Count), which
DescribeTrialComponent and Search show. The raw time series is not kept (BatchGetMetrics is
not emulated).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.pipelines import epoch
from smlocal.emulator.control.trial_component_records import TRIAL_COMPONENTS, MetricSummary
from smlocal.emulator.errors import UnknownOperationException

MetricsOperation = Callable[[Context, dict[str, Any]], dict[str, Any]]


def batch_put_metrics(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """BatchPutMetrics: each value folded into its metric's summary; a value that is not a
    finite number, or that would overflow its summary, is refused by index
    (VALIDATION_ERROR), the others are kept."""
    errors = []
    with ctx.store.transaction():
        component = TRIAL_COMPONENTS.get(ctx, params["TrialComponentName"])
        for index, datum in enumerate(params["MetricData"]):
            summary = component.metrics.get(datum["MetricName"], MetricSummary(datum["MetricName"]))
            if not summary.add(float(datum["Value"]), float(epoch(datum["Timestamp"]) or 0)):
                errors.append({"Code": "VALIDATION_ERROR", "MetricIndex": index})
                continue
            component.metrics[summary.name] = summary
        component.last_modified_time = ctx.now()
        TRIAL_COMPONENTS.save(ctx, component)
    return {"Errors": errors} if errors else {}


METRICS_OPERATIONS: dict[str, MetricsOperation] = {"BatchPutMetrics": batch_put_metrics}


class MetricsPlane:
    """The metrics service's operations over the context (the wire layer does the rest)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def __call__(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        function = METRICS_OPERATIONS.get(operation)
        if function is None:
            raise UnknownOperationException(
                f"SageMakerMetrics.{operation} is part of the SageMaker Metrics API but smlocal "
                "does not emulate it."
            )
        return function(self.ctx, params)
