"""A variant's instances from files to health and back: fetch its artifacts into a scratch
folder, start one model server per instance (each on its own port, as SageMaker's instances
are separate hosts), wait for their /ping, stop them, and remove only the scratch folder the
variant was given. Instances of a variant share its unpacked model, read-only.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from smlocal.emulator.hosting.backends import (
    Backend,
    VariantPlan,
    VariantServer,
    log_path,
)
from smlocal.emulator.hosting.backends.process import ProcessBackend
from smlocal.emulator.hosting.logs import EndpointLogs, instance_id
from smlocal.emulator.hosting.model_data import unpack
from smlocal.emulator.hosting.multi_container import prepare_containers, start_containers
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.cloudwatch import LogShipper
from smlocal.emulator.support.scratch import Scratch
from smlocal.model_server.errors import ArtifactError
from smlocal.model_server.images import Role, labels, names, parse_image

log = logging.getLogger(__name__)


class DeployError(Exception):
    """A variant could not be brought up; the message becomes the FailureReason."""


class Cancelled(DeployError):
    """The deployment was superseded (DeleteEndpoint, shutdown) before it finished."""


@dataclass(eq=False)  # compared by identity: the supervisor reports this very instance
class RunningInstance:
    """One started instance: its plan (with its instance id and place) and its server."""

    plan: VariantPlan
    server: VariantServer
    deaths: tuple[float, ...] = ()  # when the predecessors in its place died (time.monotonic)
    healing: bool = False  # a heal of this (dead) instance is queued or running


@dataclass(frozen=True)
class RunningVariant:
    """A started variant: its prepared plan, its instances in the order of their places, and
    the scratch folder they read. A change of instances is a new RunningVariant."""

    plan: VariantPlan
    instances: tuple[RunningInstance, ...]
    scratch: Path | None  # removed with the variant; None when nothing had to be unpacked

    def holds(self, instance: RunningInstance) -> bool:
        """True while this very instance is one of the variant's."""
        return any(i is instance for i in self.instances)


class Hosting:
    """Starts, restarts and stops the model servers of variant plans."""

    def __init__(self, settings: EmulatorSettings, scratch: Scratch) -> None:
        self.settings = settings
        self.scratch = scratch
        self.backends: dict[str, Backend] = {"process": ProcessBackend(settings)}
        self.logs = EndpointLogs(LogShipper(settings))
        # told (plan, seconds from launch to a healthy /ping) after each variant comes up
        self.setup_listeners: list[Callable[[VariantPlan, float], None]] = []

    def backend_for(self, plan: VariantPlan) -> Backend:
        """The process backend for SageMaker's framework images, Docker for anything else."""
        if self.settings.backend == "docker":
            if "docker" not in self.backends:
                from smlocal.emulator.hosting.backends.docker import DockerBackend

                self.backends["docker"] = DockerBackend(self.settings)
            return self.backends["docker"]
        if parse_image(plan.image).has(Role.SERVED):
            return self.backends["process"]
        raise DeployError(
            f"Image {plan.image} of production variant {plan.variant} needs Docker: without it "
            f"smlocal runs only SageMaker's {labels(Role.SERVED)} images (repositories "
            f"{names(Role.SERVED)}). Start smlocal with --backend docker to run other images."
        )

    def prepare(self, plan: VariantPlan) -> tuple[VariantPlan, Path]:
        """Fetch and unpack the model (and an archived SAGEMAKER_SUBMIT_DIRECTORY) into a new
        scratch folder; a local model folder is used where it is, read-only."""
        folder = self.scratch.create("models", plan.endpoint, plan.variant)
        try:
            if plan.containers:
                return prepare_containers(self.settings, plan, folder), folder
            model_dir, environment = unpack(self.settings, plan, folder)
        except ArtifactError as exc:
            self.scratch.discard(folder)
            raise DeployError(
                f"Failed to download model data for production variant {plan.variant}: {exc}"
            ) from None
        return replace(plan, model_dir=model_dir, environment=environment), folder

    def start(self, plans: list[VariantPlan], cancel: threading.Event) -> list[RunningVariant]:
        """Start every instance of every variant and wait until all answer /ping; on any
        failure (or a cancel) stop what was started, remove its scratch folders, and raise
        DeployError."""
        started: list[RunningVariant] = []
        launched: list[float] = []
        try:
            for plan in plans:
                if cancel.is_set():
                    raise Cancelled("the deployment was superseded")
                launched.append(time.monotonic())  # setup counts the model's download too
                backend = self.backend_for(plan)
                prepared, folder = self.prepare(plan)
                instances: list[RunningInstance] = []
                try:
                    for place in range(plan.instance_count):
                        instances.append(self._start_one(backend, prepared, place))
                except BaseException:
                    self.stop_instances(instances)
                    self.scratch.discard(folder)
                    raise
                started.append(RunningVariant(prepared, tuple(instances), folder))
            groups = [(v.plan, v.instances, t) for v, t in zip(started, launched, strict=True)]
            self._wait_all(groups, cancel)
        except DeployError:
            self.stop(started)
            raise
        except BaseException as exc:
            self.stop(started)
            raise DeployError(f"Starting the model servers failed: {exc}") from exc
        return started

    def add(
        self, variant: RunningVariant, places: Iterable[int], cancel: threading.Event
    ) -> list[RunningInstance]:
        """New instances of a running variant, in those places, on its unpacked files, once
        healthy; on a failure (or a cancel) they are stopped and DeployError raised."""
        launched = time.monotonic()
        backend = self.backend_for(variant.plan)
        fresh: list[RunningInstance] = []
        try:
            for place in places:
                fresh.append(self._start_one(backend, variant.plan, place))
            self._wait_all([(variant.plan, fresh, launched)], cancel)
        except DeployError:
            self.stop_instances(fresh)
            raise
        except BaseException as exc:
            self.stop_instances(fresh)
            raise DeployError(f"Starting the model servers failed: {exc}") from exc
        return fresh

    def restart(self, dead: RunningInstance, cancel: threading.Event) -> RunningInstance:
        """A new instance in the place of one whose server died, on the same unpacked files."""
        [fresh] = self.add(RunningVariant(dead.plan, (), None), [dead.plan.instance], cancel)
        return fresh

    def _start_one(self, backend: Backend, plan: VariantPlan, place: int) -> RunningInstance:
        """Start an instance's server and ship what it writes to a new log stream."""
        plan = replace(plan, instance_id=instance_id(), instance=place)
        server = start_containers(backend, plan) if plan.containers else backend.start(plan)
        self.logs.follow(plan, server, log_path(self.settings, plan))
        return RunningInstance(plan, server)

    def stop_server(self, server: VariantServer) -> None:
        """Stop a server, whatever state it is in, then send its last log lines."""
        try:
            server.stop()
        finally:
            self.logs.unfollow(server)

    def _wait_all(
        self,
        groups: Sequence[tuple[VariantPlan, Sequence[RunningInstance], float]],
        cancel: threading.Event,
    ) -> None:
        """Wait until every instance is healthy, then tell the setup listeners how long each
        variant (plan, its instances, when it was launched: time.monotonic) took to serve."""
        waits = [(group, i) for group, (_, instances, _) in enumerate(groups) for i in instances]
        if not waits:
            return

        def wait(item: tuple[int, RunningInstance]) -> tuple[str | None, float]:
            instance = item[1]
            return wait_healthy(instance.plan, instance.server, cancel), time.monotonic()

        with ThreadPoolExecutor(len(waits)) as pool:
            results = list(pool.map(wait, waits))
        if cancel.is_set():
            raise Cancelled("the deployment was superseded")
        failures: dict[int, str] = {}  # the first of each variant: its instances fail alike
        ready: dict[int, float] = {}
        for (group, _), (error, at) in zip(waits, results, strict=True):
            if error:
                failures.setdefault(group, error)
            ready[group] = max(ready.get(group, at), at)
        if failures:
            raise DeployError(" ".join(failures.values()))
        for group, (plan, _, launched) in enumerate(groups):
            for listener in self.setup_listeners:
                try:
                    listener(plan, ready[group] - launched)
                except Exception:  # a listener (metrics) must never fail a deployment
                    log.exception("setup listener failed for %s", plan.variant)

    def stop_instances(self, instances: Iterable[RunningInstance]) -> None:
        """Stop instances' servers, in parallel."""
        instances = list(instances)
        if instances:
            with ThreadPoolExecutor(len(instances)) as pool:
                list(pool.map(lambda i: self.stop_server(i.server), instances))

    def stop(self, variants: Iterable[RunningVariant]) -> None:
        """Stop the variants' instances (in parallel), then remove their scratch folders."""
        variants = list(variants)
        self.stop_instances(i for v in variants for i in v.instances)
        for variant in variants:
            self.scratch.discard(variant.scratch)


def wait_healthy(plan: VariantPlan, server: VariantServer, cancel: threading.Event) -> str | None:
    """None once /ping answers 200 (or on a cancel); else why the variant did not come up: a
    server that ended, or kept failing its ping until the start-up timeout, gets SageMaker's
    FailureReason (the details go to the emulator's log; the server's own log is in the
    endpoint's log group)."""
    deadline = time.monotonic() + plan.startup_timeout
    last = "no answer"
    while time.monotonic() < deadline and not cancel.is_set():
        if not server.alive():
            log.warning(
                "the model server of %s/%s exited during start-up; its log is %s: %s",
                plan.endpoint, plan.variant, server.log_path, _tail(server.log_path),
            )  # fmt: skip
            return ping_failed(plan.variant)
        status, body = _ping(server.port)
        if status == 200:
            return None
        if status == 500 and body.startswith("<"):
            # A container's own error page: SageMaker's words, the reason is in the endpoint's
            # log (aws/sagemaker-python-sdk#787, awslabs/llm-hosting-container#18).
            return ping_failed(plan.variant)
        if status == 500 and body:  # smlocal's server says why it could not load the model
            return (
                f"The primary container for production variant {plan.variant} did not pass the "
                f"ping health check: {body}"
            )
        last = f"HTTP {status}" if status else last
        cancel.wait(0.1)
    if cancel.is_set():
        return None
    log.warning(
        "the model server of %s/%s did not pass the ping health check within %.0f s (last "
        "answer: %s); its log is %s",
        plan.endpoint, plan.variant, plan.startup_timeout, last, server.log_path,
    )  # fmt: skip
    return ping_failed(plan.variant)


def ping_failed(variant: str) -> str:
    """SageMaker's FailureReason for a container that never answered its ping with 200."""
    return (
        f"The primary container for production variant {variant} did not pass the ping "
        "health check. Please check CloudWatch logs for this endpoint."
    )


def _ping(port: int) -> tuple[int | None, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/ping")
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException):
        return None, ""
    finally:
        conn.close()


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])
