"""A multi-model variant's servers: started with no model, told where their models are.

The variant's ModelDataUrl is a prefix, not an archive, so nothing is fetched before the
servers start; each server loads the model an invocation names (`smlocal.model_server
.multi_model`) from the prefix handed over here, with SageMaker's own SAGEMAKER_MULTI_MODEL.
"""

from __future__ import annotations

import contextlib

from smlocal.emulator.hosting.endpoint_records import PlannedVariant
from smlocal.model_server.environment import (
    SAGEMAKER_MULTI_MODEL,
    SMLOCAL_MODEL_CACHE,
    SMLOCAL_MODEL_PREFIX,
)
from smlocal.model_server.s3_urls import S3UrlError, to_s3_uri


def served_model(
    variant: PlannedVariant, environment: dict[str, str]
) -> tuple[str | None, dict[str, str]]:
    """The model data the emulator fetches before the servers start, and their environment:
    as planned for a single model; none, and the prefix to load from, for a multi-model one."""
    if not variant.multi_model or not variant.model_data_url:
        # the platform says whether a container is multi-model, not the model's Environment
        single = {k: v for k, v in environment.items() if k != SAGEMAKER_MULTI_MODEL}
        return variant.model_data_url, single
    prefix = variant.model_data_url
    with contextlib.suppress(S3UrlError):  # a local folder stays as it is
        prefix = to_s3_uri(prefix)
    return None, {
        **environment,
        SAGEMAKER_MULTI_MODEL: "true",
        SMLOCAL_MODEL_PREFIX: prefix,
        SMLOCAL_MODEL_CACHE: "1" if variant.model_cache else "0",
    }
