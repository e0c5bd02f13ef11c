"""Brings endpoints up, updates them blue/green, and takes them down.

Every status change goes through `lifecycle.check_transition` and is written to the store.
Model servers are started by a backend; an endpoint serves (its route is published) only
once every variant answers /ping with 200. An update starts the new fleet next to the old
one, moves traffic in one step, lets the old fleet finish its requests, then stops it
(which flushes its captures). Work runs in threads so control-plane calls return at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from emulator.backends import Backend, VariantPlan, VariantServer, is_framework_image
from emulator.backends.process import ProcessBackend
from emulator.context import Context
from emulator.fleet import DeployError, prepare, stop_all, wait_healthy
from emulator.lifecycle import check_transition
from emulator.routing import EndpointRoute, RoutingTable, VariantRoute
from emulator.upstream import UpstreamPool

log = logging.getLogger(__name__)
KIND = "endpoint"
DRAIN_SECONDS = 30.0


class EndpointManager:
    """Runs the model servers of every endpoint and keeps the routing table in step."""

    def __init__(self, ctx: Context, table: RoutingTable, loop: asyncio.AbstractEventLoop) -> None:
        self.ctx = ctx
        self.table = table
        self.loop = loop
        self.backends: dict[str, Backend] = {"process": ProcessBackend(ctx.settings)}
        self.servers: dict[str, dict[str, VariantServer]] = {}
        self.statuses: dict[str, str] = {}
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        for doc in ctx.store.all(KIND):
            self.statuses[doc["EndpointName"]] = doc["EndpointStatus"]

    # -- what the control plane calls ------------------------------------------------------

    def deploy(self, name: str) -> None:
        """Bring a Creating endpoint up, in the background."""
        self._spawn(self._deploy, name)

    def update(self, name: str) -> None:
        """Move an Updating endpoint to its pending plan, in the background."""
        self._spawn(self._update, name)

    def reweigh(self, name: str) -> None:
        """Apply new desired weights and instance counts, in the background."""
        self._spawn(self._reweigh, name)

    def delete(self, name: str) -> None:
        """Take a Deleting endpoint down and forget it, in the background."""
        self._spawn(self._delete, name)

    def transition(self, name: str, status: str, **changes: Any) -> None:
        """Move an endpoint to a status the table allows (the control plane's moves)."""
        self._set_status(name, status, **changes)

    def track(self, name: str, status: str) -> None:
        """Remember a new endpoint's first status."""
        self.statuses[name] = status

    def status_of(self, name: str) -> str | None:
        """The status of an endpoint by its exact name (for the runtime)."""
        return self.statuses.get(name)

    def restore(self) -> None:
        """After a restart: bring back every endpoint that was serving or on its way."""
        for doc in self.ctx.store.all(KIND):
            status, name = doc["EndpointStatus"], doc["EndpointName"]
            if status == "Deleting":
                self.delete(name)
            elif status in ("Creating", "Updating", "RollingBack", "InService"):
                self._spawn(self._restore, name)
        self.wait()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for background work (tests and shutdown)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self.threads):
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def shutdown(self) -> None:
        """Stop every model server (gracefully: captures are flushed)."""
        with self.lock:
            fleets = [server for fleet in self.servers.values() for server in fleet.values()]
            self.servers.clear()
        stop_all(fleets)

    # -- the work --------------------------------------------------------------------------

    def _spawn(self, target: Callable[[str], None], name: str) -> None:
        thread = threading.Thread(target=self._guarded, args=(target, name), daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()

    def _guarded(self, target: Callable[[str], None], name: str) -> None:
        try:
            target(name)
        except Exception:
            log.exception("endpoint %s: %s failed", name, target.__name__)

    def _deploy(self, name: str) -> None:
        doc = self._doc(name)
        try:
            fleet = self.start_fleet(self.plans(doc, doc["_Plan"]))
        except DeployError as exc:
            self._set_status(name, "Failed", failure_reason=str(exc))
            return
        self._go_live(doc, fleet, doc["_Plan"])
        self._set_status(name, "InService", variants=self.summaries(doc["_Plan"]))

    def _restore(self, name: str) -> None:
        doc = self._doc(name)
        plan = doc["_Plan"]
        try:
            fleet = self.start_fleet(self.plans(doc, plan))
        except DeployError as exc:
            self._force_status(name, "Failed", str(exc))
            return
        self._go_live(doc, fleet, plan)
        self._force_status(
            name, "InService", None, _PendingPlan=None, PendingDeploymentSummary=None
        )

    def _update(self, name: str) -> None:
        doc = self._doc(name)
        new_plan = doc["_PendingPlan"]
        try:
            fleet = self.start_fleet(self.plans(doc, new_plan))
        except DeployError as exc:
            self._set_status(name, "RollingBack", failure_reason=f"Update failed: {exc}")
            self._set_status(
                name, "InService", _PendingPlan=None, PendingDeploymentSummary=None,
                failure_reason=f"The update was rolled back: {exc}",
            )  # fmt: skip
            return
        old = self._go_live(doc, fleet, new_plan)
        self._set_status(
            name, "InService", variants=self.summaries(new_plan), failure_reason=None,
            _Plan=new_plan, _PendingPlan=None, PendingDeploymentSummary=None,
            EndpointConfigName=new_plan["EndpointConfigName"],
            DataCaptureConfig=capture_summary(new_plan.get("DataCaptureConfig")),
        )  # fmt: skip
        self._retire(old)

    def _reweigh(self, name: str) -> None:
        doc = self._doc(name)
        plan = doc["_Plan"]
        with self.lock:
            fleet = dict(self.servers.get(name.lower(), {}))
        for variant in plan["Variants"]:
            server = fleet.get(variant["VariantName"])
            if server is not None:
                server.scale(variant["InstanceCount"])
        self._publish(doc["EndpointName"], plan, fleet)
        self._set_status(name, "InService", variants=self.summaries(plan))

    def _delete(self, name: str) -> None:
        doc = self._doc(name)
        route = self.table.withdraw(doc["EndpointName"])
        with self.lock:
            fleet = self.servers.pop(name.lower(), {})
        self._retire((route, fleet))
        self.ctx.store.delete(KIND, name)
        from emulator.resources.tags import drop_tags

        drop_tags(self.ctx, doc["EndpointArn"])
        self.statuses.pop(doc["EndpointName"], None)

    # -- fleets ----------------------------------------------------------------------------

    def plans(self, doc: dict[str, Any], plan: dict[str, Any]) -> list[VariantPlan]:
        """The endpoint plan's variants as backend plans."""
        return [
            VariantPlan(
                endpoint=doc["EndpointName"],
                variant=v["VariantName"],
                image=v["Image"],
                model_data_url=v.get("ModelDataUrl"),
                environment=v.get("Environment") or {},
                instance_count=v["InstanceCount"],
                capture=plan.get("DataCaptureConfig"),
                startup_timeout=v.get("StartupTimeout", self.ctx.settings.startup_timeout),
            )
            for v in plan["Variants"]
        ]

    def backend_for(self, plan: VariantPlan) -> Backend:
        """The process backend for SageMaker's framework images, Docker for anything else."""
        if self.ctx.settings.backend == "docker":
            if "docker" not in self.backends:
                from emulator.backends.docker import DockerBackend

                self.backends["docker"] = DockerBackend(self.ctx.settings)
            return self.backends["docker"]
        if is_framework_image(plan.image):
            return self.backends["process"]
        raise DeployError(
            f"Image {plan.image} of production variant {plan.variant} needs Docker: without it "
            "smlocal runs only SageMaker's XGBoost and scikit-learn images (repositories "
            "sagemaker-xgboost and sagemaker-scikit-learn). Start smlocal with --backend docker "
            "to run other images."
        )

    def start_fleet(self, plans: list[VariantPlan]) -> dict[str, VariantServer]:
        """Start every variant and wait until all answer /ping; stop them all on a failure."""
        started: dict[str, VariantServer] = {}
        try:
            for plan in plans:
                backend = self.backend_for(plan)
                plan = prepare(self.ctx.settings, plan)  # noqa: PLW2901 - with its files
                started[plan.variant] = backend.start(plan)
                started[plan.variant].folder = plan.unpacked_model.parent
            with ThreadPoolExecutor(max(1, len(plans))) as pool:
                errors = list(pool.map(lambda p: wait_healthy(p, started[p.variant]), plans))
        except DeployError:
            stop_all(started.values())
            raise
        except Exception as exc:
            stop_all(started.values())
            raise DeployError(f"Starting the model servers failed: {exc}") from exc
        failures = [e for e in errors if e]
        if failures:
            stop_all(started.values())
            raise DeployError(" ".join(failures))
        return started

    def _go_live(
        self, doc: dict[str, Any], fleet: dict[str, VariantServer], plan: dict[str, Any]
    ) -> tuple[EndpointRoute | None, dict[str, VariantServer]]:
        """Publish the new fleet's route; return the previous route and fleet to retire."""
        key = doc["EndpointName"].lower()
        with self.lock:
            old_fleet = self.servers.get(key, {})
            self.servers[key] = fleet
        old_route = self.table.get(doc["EndpointName"])
        self._publish(doc["EndpointName"], plan, fleet)
        return old_route, old_fleet

    def _publish(self, name: str, plan: dict[str, Any], fleet: dict[str, VariantServer]) -> None:
        old = self.table.get(name)
        variants = []
        for v in plan["Variants"]:
            server = fleet[v["VariantName"]]
            pool = None
            if old is not None:
                previous = old.variant(v["VariantName"])
                pool = previous.pool if previous and previous.pool.port == server.port else None
            variants.append(
                VariantRoute(
                    v["VariantName"], v["Weight"], pool or UpstreamPool(self.loop, server.port)
                )
            )
        self.table.publish(EndpointRoute(name, tuple(variants)))

    def _retire(self, old: tuple[EndpointRoute | None, dict[str, VariantServer]]) -> None:
        """Let the old fleet finish its in-flight requests, then stop it."""
        route, fleet = old
        if route is not None:
            deadline = time.monotonic() + DRAIN_SECONDS
            pools = [v.pool for v in route.variants]
            while any(p.busy for p in pools) and time.monotonic() < deadline:
                time.sleep(0.05)
            for pool in pools:
                self.loop.call_soon_threadsafe(pool.close)
        stop_all(fleet.values())

    # -- documents and statuses ------------------------------------------------------------

    def _doc(self, name: str) -> dict[str, Any]:
        doc = self.ctx.store.get(KIND, name)
        if doc is None:
            raise KeyError(name)
        return doc

    def _set_status(
        self,
        name: str,
        status: str,
        *,
        failure_reason: str | None = ...,  # type: ignore[assignment]
        variants: list[dict[str, Any]] | None = None,
        **changes: Any,
    ) -> None:
        with self.ctx.store.transaction():
            doc = self._doc(name)
            check_transition(doc["EndpointStatus"], status)
            self._apply(doc, status, failure_reason, variants, changes)

    def _force_status(self, name: str, status: str, reason: str | None, **changes: Any) -> None:
        """A status set on restore, outside the usual transitions (the process just started)."""
        with self.ctx.store.transaction():
            self._apply(self._doc(name), status, reason, None, changes)

    def _apply(
        self,
        doc: dict[str, Any],
        status: str,
        failure_reason: Any,
        variants: list[dict[str, Any]] | None,
        changes: dict[str, Any],
    ) -> None:
        doc.update(changes)
        doc["EndpointStatus"] = status
        doc["LastModifiedTime"] = self.ctx.now()
        if failure_reason is not ...:
            doc["FailureReason"] = failure_reason
        if variants is not None:
            doc["ProductionVariants"] = variants
        self.ctx.store.put(KIND, doc["EndpointName"], doc)
        self.statuses[doc["EndpointName"]] = status
        log.info("endpoint %s is %s", doc["EndpointName"], status)

    def summaries(self, plan: dict[str, Any]) -> list[dict[str, Any]]:
        """ProductionVariantSummary of each variant of a plan."""
        now = self.ctx.now()
        return [
            {
                "VariantName": v["VariantName"],
                "DeployedImages": [
                    {
                        "SpecifiedImage": v["Image"],
                        "ResolvedImage": resolved_image(v["Image"]),
                        "ResolutionTime": now,
                    }
                ],
                "CurrentWeight": v["Weight"],
                "DesiredWeight": v["Weight"],
                "CurrentInstanceCount": v["InstanceCount"],
                "DesiredInstanceCount": v["InstanceCount"],
            }
            for v in plan["Variants"]
        ]


def resolved_image(image: str) -> str:
    """The image pinned to a digest, as DescribeEndpoint shows it."""
    name = image.split("@", 1)[0]
    repository = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
    return f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def capture_summary(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """DescribeEndpoint's DataCaptureConfig summary of an endpoint config's DataCaptureConfig."""
    if not config:
        return None
    enabled = config.get("EnableCapture", True)
    summary = {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": config["InitialSamplingPercentage"],
        "DestinationS3Uri": config["DestinationS3Uri"],
    }
    if config.get("KmsKeyId"):
        summary["KmsKeyId"] = config["KmsKeyId"]
    return summary
