"""InvokeEndpoint's TargetContainerHostname, checked against the variant it reaches.

SageMaker documents three refusals (a host name the endpoint does not have, none for an
endpoint configured for direct invocation, one for an endpoint that is not); all are
ValidationErrors. Their exact wording is not published: these are smlocal's
(docs/fidelity.md).
"""

from __future__ import annotations

from typing import Any

from smlocal.emulator.errors import ValidationError
from smlocal.emulator.hosting.routing import VariantRoute

DIRECT = "Direct"


def check_target_container(endpoint: str, variant: VariantRoute, params: dict[str, Any]) -> None:
    """Refuse a TargetContainerHostname the variant cannot take, or its absence where needed."""
    target = params.get("TargetContainerHostname")
    if variant.execution_mode != DIRECT:
        if target is not None:
            raise ValidationError(
                f"Endpoint {endpoint} is not configured for direct invocation: "
                "TargetContainerHostname can only be specified for an endpoint whose model's "
                "InferenceExecutionConfig Mode is Direct."
            )
        return
    hosts = ", ".join(variant.hostnames)
    if target is None:
        raise ValidationError(
            f"Endpoint {endpoint} is configured for direct invocation: specify "
            f"TargetContainerHostname, one of {hosts}."
        )
    if target not in variant.hostnames:
        raise ValidationError(
            f"TargetContainerHostname {target} does not exist in endpoint {endpoint} "
            f"(its containers are {hosts})."
        )


def failed_container(header: bytes | None) -> str:
    """The container a ModelError names: the one the front said failed, else `primary`
    (SageMaker's name for a single-container model's container)."""
    return "primary" if header is None else header.decode("latin-1")
