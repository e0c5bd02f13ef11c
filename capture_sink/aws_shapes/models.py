"""botocore's service models, loaded once per process."""

from __future__ import annotations

import functools
from typing import Any

SAGEMAKER = "sagemaker"


@functools.cache
def service_model(name: str) -> Any:
    """botocore's model of one service (`sagemaker`, `sagemaker-runtime`), cached."""
    import botocore.session  # on first use: importing this package stays cheap

    return botocore.session.get_session().get_service_model(name)


def sagemaker_shape(name: str) -> Any:
    """A shape of the SageMaker control plane's model, e.g. `DataCaptureConfig`."""
    return service_model(SAGEMAKER).shape_for(name)
