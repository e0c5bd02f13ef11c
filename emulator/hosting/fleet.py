"""A variant's model server from files to health and back: fetch its artifacts into a scratch
folder, start it, wait for /ping, stop it, and remove only the scratch folder it was given.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Callable, Iterable
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
from smlocal.emulator.hosting.model_data import fetch
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.cloudwatch import LogShipper
from smlocal.emulator.support.scratch import Scratch
from smlocal.model_server.artifacts import is_archive
from smlocal.model_server.environment import SAGEMAKER_SUBMIT_DIRECTORY
from smlocal.model_server.errors import ArtifactError
from smlocal.model_server.images import Role, labels, names, parse_image

log = logging.getLogger(__name__)


class DeployError(Exception):
    """A variant could not be brought up; the message becomes the FailureReason."""


class Cancelled(DeployError):
    """The deployment was superseded (DeleteEndpoint, shutdown) before it finished."""


@dataclass
class RunningVariant:
    """A started variant: its prepared plan, its server, and the scratch folder it reads."""

    plan: VariantPlan
    server: VariantServer
    scratch: Path | None  # removed with the variant; None when nothing had to be unpacked
    deaths: tuple[float, ...] = ()  # when its predecessors died (time.monotonic)
    healing: bool = False  # a heal of this (dead) server is queued or running


class Hosting:
    """Starts, restarts and stops the model servers of variant plans."""

    def __init__(self, settings: EmulatorSettings, scratch: Scratch) -> None:
        self.settings = settings
        self.scratch = scratch
        self.backends: dict[str, Backend] = {"process": ProcessBackend(settings)}
        self.logs = EndpointLogs(LogShipper(settings))
        # told (plan, seconds from launch to a healthy /ping) after each server comes up
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
        environment = dict(plan.environment)
        try:
            model_dir = folder / "model"
            if plan.model_data_url:
                model_dir = fetch(self.settings, plan.model_data_url, model_dir)
            else:
                model_dir.mkdir()
            code = environment.get(SAGEMAKER_SUBMIT_DIRECTORY, "")
            if code.startswith("s3://") or is_archive(code):
                code_dir = fetch(self.settings, code, folder / "code")
                environment[SAGEMAKER_SUBMIT_DIRECTORY] = str(code_dir)
        except ArtifactError as exc:
            self.scratch.discard(folder)
            raise DeployError(
                f"Failed to download model data for production variant {plan.variant}: {exc}"
            ) from None
        return replace(plan, model_dir=model_dir, environment=environment), folder

    def start(self, plans: list[VariantPlan], cancel: threading.Event) -> list[RunningVariant]:
        """Start every variant and wait until all answer /ping; on any failure (or a cancel)
        stop what was started, remove its scratch folders, and raise DeployError."""
        started: list[RunningVariant] = []
        launched: list[float] = []
        try:
            for plan in plans:
                if cancel.is_set():
                    raise Cancelled("the deployment was superseded")
                launched.append(time.monotonic())  # setup counts the model's download too
                backend = self.backend_for(plan)
                prepared, folder = self.prepare(plan)
                try:
                    server = self._start_one(backend, prepared)
                except BaseException:
                    self.scratch.discard(folder)
                    raise
                started.append(RunningVariant(prepared, server, folder))
            self._wait_all(started, cancel, launched)
        except DeployError:
            self.stop(started)
            raise
        except BaseException as exc:
            self.stop(started)
            raise DeployError(f"Starting the model servers failed: {exc}") from exc
        return started

    def restart(self, variant: RunningVariant, cancel: threading.Event) -> RunningVariant:
        """A new server for a variant whose server died, on the same unpacked files."""
        launched = time.monotonic()
        backend = self.backend_for(variant.plan)
        server = self._start_one(backend, variant.plan)
        fresh = RunningVariant(variant.plan, server, variant.scratch)
        try:
            self._wait_all([fresh], cancel, [launched])
        except BaseException:
            self.stop_server(server)
            raise
        return fresh

    def _start_one(self, backend: Backend, plan: VariantPlan) -> VariantServer:
        """Start a server and ship what it writes from now on to a new instance log stream."""
        plan = replace(plan, instance_id=instance_id())
        server = backend.start(plan)
        self.logs.follow(plan, server, log_path(self.settings, plan))
        return server

    def stop_server(self, server: VariantServer) -> None:
        """Stop a server, whatever state it is in, then send its last log lines."""
        try:
            server.stop()
        finally:
            self.logs.unfollow(server)

    def _wait_all(
        self, variants: list[RunningVariant], cancel: threading.Event, launched: list[float]
    ) -> None:
        """Wait until every variant is healthy, then tell the setup listeners how long each
        took from its launch (`launched`, time.monotonic, in the order of `variants`)."""
        if not variants:
            return

        def wait(variant: RunningVariant) -> tuple[str | None, float]:
            return wait_healthy(variant.plan, variant.server, cancel), time.monotonic()

        with ThreadPoolExecutor(len(variants)) as pool:
            results = list(pool.map(wait, variants))
        if cancel.is_set():
            raise Cancelled("the deployment was superseded")
        failures = [error for error, _ in results if error]
        if failures:
            raise DeployError(" ".join(failures))
        for variant, (_, ready), start in zip(variants, results, launched, strict=True):
            for listener in self.setup_listeners:
                try:
                    listener(variant.plan, ready - start)
                except Exception:  # a listener (metrics) must never fail a deployment
                    log.exception("setup listener failed for %s", variant.plan.variant)

    def stop(self, variants: Iterable[RunningVariant], keep_scratch: bool = False) -> None:
        """Stop the servers (in parallel), then remove their scratch folders."""
        variants = list(variants)
        if not variants:
            return
        with ThreadPoolExecutor(len(variants)) as pool:
            list(pool.map(lambda v: self.stop_server(v.server), variants))
        if not keep_scratch:
            for variant in variants:
                self.scratch.discard(variant.scratch)


def wait_healthy(plan: VariantPlan, server: VariantServer, cancel: threading.Event) -> str | None:
    """None once /ping answers 200 (or on a cancel); else why the variant did not come up."""
    deadline = time.monotonic() + plan.startup_timeout
    last = "no answer"
    while time.monotonic() < deadline and not cancel.is_set():
        if not server.alive():
            return (
                f"The model server of production variant {plan.variant} exited during start-up; "
                f"its log is {server.log_path}: {_tail(server.log_path)}"
            )
        status, body = _ping(server.port)
        if status == 200:
            return None
        if status == 500 and body.startswith("<"):
            # A container's own error page: SageMaker's words, the reason is in the endpoint's
            # log (aws/sagemaker-python-sdk#787, awslabs/llm-hosting-container#18).
            return (
                f"The primary container for production variant {plan.variant} did not pass the "
                "ping health check. Please check CloudWatch logs for this endpoint."
            )
        if status == 500 and body:  # smlocal's server says why it could not load the model
            return (
                f"The primary container for production variant {plan.variant} did not pass the "
                f"ping health check: {body}"
            )
        last = f"HTTP {status}" if status else last
        cancel.wait(0.1)
    if cancel.is_set():
        return None
    return (
        f"The primary container for production variant {plan.variant} did not pass the ping "
        f"health check within {plan.startup_timeout:.0f} s (last answer: {last}); its log is "
        f"{server.log_path}"
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
