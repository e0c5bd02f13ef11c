"""Multi-container variants (a serial inference pipeline, or Direct invocation): each
instance runs one model server per container, each its own process on its own port, and a
front (`smlocal.model_server.pipeline`) on the instance's port that answers /ping for all of
them and runs /invocations through them, with data capture around it. The instance is one
`VariantServer` to the fleet and the supervisor: alive while all its processes are, so one
container dying gets the whole instance replaced, as SageMaker replaces an unhealthy
instance."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from smlocal.emulator.hosting.backends import Backend, ContainerPlan, VariantPlan, VariantServer
from smlocal.emulator.hosting.backends.process import ProcessBackend
from smlocal.emulator.hosting.endpoint_records import PlannedVariant
from smlocal.emulator.hosting.model_data import unpack
from smlocal.emulator.settings import EmulatorSettings
from smlocal.model_server.environment import SMLOCAL_PIPELINE
from smlocal.model_server.images import Role, parse_image
from smlocal.model_server.pipeline import Container, PipelineSpec

_UNSAFE = re.compile(r"[^A-Za-z0-9-]")


class CannotRun(Exception):
    """A multi-container variant smlocal cannot run (the message says why)."""


def container_plans(
    variant: PlannedVariant, clean: Callable[[dict[str, str]], dict[str, str]]
) -> tuple[ContainerPlan, ...]:
    """A planned variant's containers as backend plans (() for one container), each
    environment cleaned as the manager cleans a variant's (`clean`)."""
    return tuple(
        ContainerPlan(
            hostname=doc.get("ContainerHostname") or f"container-{k}",
            image=doc["Image"],
            model_data_url=doc.get("ModelDataUrl"),
            environment=clean(doc.get("Environment") or {}),
        )
        for k, doc in enumerate(variant.containers or (), start=1)
    )


def prepare_containers(settings: EmulatorSettings, plan: VariantPlan, folder: Path) -> VariantPlan:
    """Fetch and unpack each container's model (and code) into its own folder under the
    variant's scratch folder; ArtifactError as for one container."""
    prepared = []
    for container in plan.containers:
        own = folder / _UNSAFE.sub("_", container.hostname)
        own.mkdir()
        model_dir, environment = unpack(settings, container, own)
        prepared.append(replace(container, model_dir=model_dir, environment=environment))
    first = prepared[0]
    return replace(
        plan, containers=tuple(prepared), model_dir=first.model_dir, environment=first.environment
    )


def unserved_images(plan: VariantPlan) -> list[str]:
    """The containers' images smlocal cannot run without Docker."""
    return [c.image for c in plan.containers if not parse_image(c.image).has(Role.SERVED)]


class MultiContainerServer:
    """One instance of a multi-container variant: its front and its containers' servers."""

    def __init__(self, front: VariantServer, containers: list[VariantServer]) -> None:
        self.front = front
        self.containers = containers
        self.port = front.port
        self.log_path = front.log_path

    def alive(self) -> bool:
        """True while the front and every container run."""
        return self.front.alive() and all(c.alive() for c in self.containers)

    def stop(self, timeout: float = 40.0) -> None:
        """The front first (it drains requests, which need the containers, and flushes its
        captures), then the containers together."""
        try:
            self.front.stop(timeout)
        finally:
            with ThreadPoolExecutor(len(self.containers)) as pool:
                list(pool.map(lambda c: c.stop(timeout), self.containers))


def start_containers(backend: Backend, plan: VariantPlan) -> MultiContainerServer:
    """Start an instance's container servers, then its front (none is healthy yet); what
    was started is stopped again if a later start fails."""
    unserved = unserved_images(plan)
    if unserved:
        raise CannotRun(
            f"Images {', '.join(unserved)} of production variant {plan.variant} need Docker, "
            "and smlocal runs multi-container models with the process backend only."
        )
    if not isinstance(backend, ProcessBackend):
        raise CannotRun(
            f"Production variant {plan.variant} runs a model with {len(plan.containers)} "
            "containers; smlocal runs multi-container models with the process backend only "
            "(start smlocal without --backend docker)."
        )
    started: list[VariantServer] = []
    try:
        for container in plan.containers:
            own = replace(
                plan,
                image=container.image,
                model_data_url=container.model_data_url,
                environment=container.environment,
                model_dir=container.model_dir,
                capture=None,  # the front captures what the caller sent and got
                containers=(),
            )
            started.append(backend.start(own))
        spec = PipelineSpec(
            plan.execution_mode or "Serial",
            tuple(
                Container(c.hostname, s.port) for c, s in zip(plan.containers, started, strict=True)
            ),
        )
        front_plan = replace(plan, environment={SMLOCAL_PIPELINE: spec.to_json()}, containers=())
        front = backend.start(front_plan)
    except BaseException:
        for server in started:
            server.stop(5)
        raise
    return MultiContainerServer(front, started)


def route_containers(variant: PlannedVariant) -> tuple[str | None, tuple[str, ...]]:
    """What the runtime checks a request's TargetContainerHostname against: the variant's
    execution mode (None for one container) and its containers' host names."""
    return variant.execution_mode, tuple(c.hostname for c in container_plans(variant, dict))
