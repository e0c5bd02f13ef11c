"""The botocore service models the emulator speaks, loaded once per process."""

from __future__ import annotations

import functools
from typing import Any

SAGEMAKER = "sagemaker"
SAGEMAKER_RUNTIME = "sagemaker-runtime"


@functools.cache
def service_model(name: str) -> Any:
    """botocore's model of one service (`sagemaker`, `sagemaker-runtime`), cached."""
    import botocore.session

    return botocore.session.get_session().get_service_model(name)


def sagemaker_model() -> Any:
    """The control plane's model (JSON 1.1)."""
    return service_model(SAGEMAKER)


def runtime_model() -> Any:
    """The runtime's model (REST-JSON)."""
    return service_model(SAGEMAKER_RUNTIME)
