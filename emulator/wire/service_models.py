"""The botocore service models the emulator speaks, loaded once per process."""

from __future__ import annotations

from typing import Any

from smlocal.capture_sink.aws_shapes.models import SAGEMAKER, service_model

SAGEMAKER_RUNTIME = "sagemaker-runtime"
SAGEMAKER_METRICS = "sagemaker-metrics"


def sagemaker_model() -> Any:
    """The control plane's model (JSON 1.1)."""
    return service_model(SAGEMAKER)


def runtime_model() -> Any:
    """The runtime's model (REST-JSON)."""
    return service_model(SAGEMAKER_RUNTIME)


def metrics_model() -> Any:
    """SageMaker Metrics' model (REST-JSON, signed for `sagemaker`)."""
    return service_model(SAGEMAKER_METRICS)
