"""A model's containers when there are several: their host names and how they run
(InferenceExecutionConfig: `Serial`, a serial inference pipeline, or `Direct`, one container
picked per request by TargetContainerHostname).

The wording of the refusals follows the CreateModel reference where it states a rule (all
containers of a pipeline name a ContainerHostname, or none does); the rest are smlocal's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from smlocal.emulator.errors import ValidationException

SERIAL = "Serial"  # SageMaker's default for a model with several containers
DIRECT = "Direct"


def execution_mode(params: dict[str, Any]) -> str | None:
    """The mode a model runs its containers in: None for one container, else the request's
    InferenceExecutionConfig.Mode, `Serial` when it names none."""
    containers = params.get("Containers")
    mode = (params.get("InferenceExecutionConfig") or {}).get("Mode")
    if containers is None or len(containers) < 2:
        if mode == DIRECT:
            raise ValidationException(
                "InferenceExecutionConfig Mode Direct needs a model with more than one "
                "container in Containers."
            )
        return None
    return str(mode or SERIAL)


def hostnames(containers: Sequence[dict[str, Any]]) -> list[str]:
    """Each container's host name: as given, or, when none is given, one from its place in
    the list (`container-1`, `container-2`, ...), as SageMaker assigns one by position."""
    given = [c.get("ContainerHostname") for c in containers]
    named = [name for name in given if name]
    if named and len(named) != len(given):
        raise ValidationException(
            "ContainerHostname must be specified for every container of an inference pipeline "
            "when it is specified for any of them."
        )
    if not named:
        return [f"container-{k}" for k in range(1, len(containers) + 1)]
    seen: set[str] = set()
    for name in named:
        if name in seen:
            raise ValidationException(
                f"ContainerHostname {name} is used by more than one container; container "
                "host names must be unique within a model."
            )
        seen.add(name)
    return named


def refuse_multi_model(containers: Sequence[dict[str, Any]]) -> None:
    """A pipeline of MultiModel containers is refused as SageMaker refuses it."""
    if len(containers) > 1 and any(c.get("Mode") == "MultiModel" for c in containers):
        raise ValidationException(
            "More than one container in MultiModel mode is not supported with inference pipeline."
        )


def multi_container_mode(config: dict[str, Any] | None, several: bool) -> str | None:
    """The execution mode an endpoint plans a model's containers with (None: one container)."""
    return str((config or {}).get("Mode") or SERIAL) if several else None
