"""InvokeEndpoint on multi-model endpoints: the TargetModel rules, the runtime errors a model
server reports for its target model, and the model cache metrics it tells the edge about."""

from __future__ import annotations

from typing import Any

from smlocal.emulator.errors import AWSError, ValidationError
from smlocal.emulator.hosting.routing import VariantRoute
from smlocal.emulator.hosting.upstream import UpstreamResponse
from smlocal.emulator.runtime.metrics import EndpointMetrics
from smlocal.model_server.multi_model import (
    CACHE_HEADER,
    LOAD_HEADER,
    LOADED_HEADER,
    RUNTIME_ERROR_HEADER,
)

_RUNTIME_ERROR = RUNTIME_ERROR_HEADER.lower().encode()
_CACHE = CACHE_HEADER.lower().encode()
_LOAD = LOAD_HEADER.lower().encode()
_LOADED = LOADED_HEADER.lower().encode()


def check_target_model(
    endpoint: str, variant: VariantRoute, params: dict[str, Any], request_id: str
) -> None:
    """A multi-model variant needs TargetModel; any other refuses it, in SageMaker's words."""
    if variant.multi_model and "TargetModel" not in params:
        raise ValidationError(f"Request {request_id} is missing a target model header.")
    if not variant.multi_model and "TargetModel" in params:
        raise ValidationError(
            f"Endpoint {endpoint} is not a multi-model endpoint and does not support "
            "target model header.",
            ErrorCode="TARGET_MODEL_HEADER_NOT_SUPPORTED",
        )


def runtime_error(response: UpstreamResponse | None) -> AWSError | None:
    """The ValidationError a model server reported for its target model (a missing one),
    which SageMaker's platform, not the container, answers; None for a container's error."""
    if response is None or response.header(_RUNTIME_ERROR) != b"ValidationError":
        return None
    return ValidationError(response.body.decode("utf-8", "replace"))


def record_model_cache(
    metrics: EndpointMetrics, endpoint: str, variant: str, response: UpstreamResponse
) -> None:
    """ModelCacheHit, ModelLoadingTime and LoadedModelCount from the headers the model server
    answered with."""
    cache = response.header(_CACHE)
    if cache is None:
        return
    try:
        loading = float(response.header(_LOAD) or 0)
        loaded = int(response.header(_LOADED) or 0)
    except ValueError:
        loading, loaded = 0.0, 0
    metrics.model_cache(endpoint, variant, cache == b"hit", loading, loaded)
