"""CreateEndpointConfig's rules for serverless and shadow variants, beyond botocore's shapes.

A variant runs either on instances (InstanceType, InitialInstanceCount) or serverless
(ServerlessConfig), never both; a serverless variant's memory comes in whole gigabytes and
its provisioned concurrency is at most its MaxConcurrency; shadow variants go with exactly one
production variant and one shadow, with names unique across both lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from smlocal.emulator.errors import ValidationException

MEMORY_STEP_MB = 1024


def check_variant(variant: Mapping[str, Any]) -> None:
    """A production or shadow variant: instances or serverless, and a sound ServerlessConfig."""
    serverless = variant.get("ServerlessConfig")
    name = variant["VariantName"]
    if serverless is None:
        return
    instance_keys = [k for k in ("InstanceType", "InitialInstanceCount") if k in variant]
    if instance_keys:
        raise ValidationException(
            f"Production variant {name} specifies both ServerlessConfig and "
            f"{' and '.join(instance_keys)}; a variant is either serverless or runs on "
            "instances."
        )
    memory = serverless["MemorySizeInMB"]
    if memory % MEMORY_STEP_MB:
        raise ValidationException(
            f"Value {memory} for MemorySizeInMB of production variant {name} is not valid: "
            "valid values are 1024, 2048, 3072, 4096, 5120 and 6144."
        )
    provisioned = serverless.get("ProvisionedConcurrency")
    if provisioned is not None and provisioned > serverless["MaxConcurrency"]:
        raise ValidationException(
            f"ProvisionedConcurrency ({provisioned}) of production variant {name} must be "
            f"less than or equal to its MaxConcurrency ({serverless['MaxConcurrency']})."
        )


def check_shadows(
    production: Sequence[Mapping[str, Any]], shadows: Sequence[Mapping[str, Any]]
) -> None:
    """ShadowProductionVariants: one production variant, one shadow, distinct names."""
    if not shadows:
        return
    if len(production) != 1 or len(shadows) != 1:
        raise ValidationException(
            "An endpoint config with ShadowProductionVariants must have exactly one "
            "variant in ProductionVariants and one in ShadowProductionVariants."
        )
    if production[0]["VariantName"].lower() == shadows[0]["VariantName"].lower():
        raise ValidationException(
            "The production variant names of an endpoint config must be unique."
        )
