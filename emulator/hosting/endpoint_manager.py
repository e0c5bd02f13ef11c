"""Brings endpoints up, updates them blue/green, heals them and takes them down, each change
as one transaction.

The control plane accepts a call by writing the endpoint's new status together with a fresh
operation token (`_Op`), then queues the work on the endpoint's own serial queue, so work on
one endpoint never overlaps. Work that started model servers commits under the store's lock:
it writes the new status to the store first and only then publishes the route and the fleet,
and only while the document still holds its token. DeleteEndpoint writes a new token, takes
the route down before it returns, and cancels the work in progress; superseded work finds
its token gone and stops the servers it started instead of publishing them. Hence, whatever
the order of calls: listed ⇔ routed ⇔ running, and a deleted endpoint answers nothing.

Each instance of a variant is its own model server; the route holds a pool per instance.
An instance that dies is healed alone (its variant's other instances keep serving), and new
instance counts start or stop whole instances: new ones join the route once healthy, removed
ones leave it first and are drained, then stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from types import EllipsisType
from typing import Protocol

from smlocal.emulator.hosting.backends import VariantPlan
from smlocal.emulator.hosting.endpoint_records import (
    KIND,
    RANDOM,
    CaptureSummary,
    Endpoint,
    PendingDeploymentSummary,
    Plan,
    PlannedVariant,
    VariantSummary,
    save,
    stored,
)
from smlocal.emulator.hosting.fleet import (
    Cancelled,
    DeployError,
    Hosting,
    RunningInstance,
    RunningVariant,
)
from smlocal.emulator.hosting.multi_container import container_plans, route_containers
from smlocal.emulator.hosting.multi_model import served_model
from smlocal.emulator.hosting.routing import EndpointRoute, RoutingTable, VariantRoute
from smlocal.emulator.hosting.upstream import UpstreamPool
from smlocal.emulator.statuses.endpoints import ENDPOINT, RESTORED_ENDPOINT
from smlocal.emulator.support.scratch import Scratch
from smlocal.emulator.support.serial import SerialQueues, Work
from smlocal.emulator.support.state import State
from smlocal.model_server.environment import SMLOCAL_PREFIX

log = logging.getLogger(__name__)
DRAIN_SECONDS = 30.0
MAX_RESTARTS = 3  # an instance (its place) dying more often than this within RESTART_WINDOW
# ends its endpoint Failed
RESTART_WINDOW = 600.0
SERVING = ("Creating", "Updating", "RollingBack", "InService")  # brought back after a restart
Fleet = dict[str, RunningVariant]  # variant name -> its running instances


Change = Callable[[Endpoint], None]  # what a status write changes besides the status


class EndpointRecords(Protocol):
    """What the manager asks of the control plane about an endpoint."""

    def live(self, plan: Plan, now: float) -> tuple[list[VariantSummary], CaptureSummary | None]:
        """What DescribeEndpoint shows once a plan serves: its variants and its capture."""

    def forget(self, endpoint: Endpoint) -> None:
        """Drop what the control plane keeps beside an endpoint that is gone (its tags)."""


@dataclass
class Retiring:
    """A route and fleet (or some instances) taken out of service: drained, then stopped."""

    route: EndpointRoute | None = None
    fleet: Fleet = field(default_factory=dict)
    instances: list[RunningInstance] = field(default_factory=list)  # of variants that stay


@dataclass
class Resized:
    """What a change of instance counts did: instances started, instances to stop, and why
    instances that were asked for did not come up."""

    started: list[RunningInstance] = field(default_factory=list)
    leaving: list[RunningInstance] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


class EndpointManager:
    """Runs the model servers of every endpoint and keeps the routing table in step."""

    def __init__(
        self,
        ctx: State,
        records: EndpointRecords,
        table: RoutingTable,
        loop: asyncio.AbstractEventLoop,
        hosting: Hosting | None = None,
    ) -> None:
        self.ctx = ctx
        self.records = records
        self.table = table
        self.loop = loop
        self.scratch = Scratch(ctx.settings.data_dir)
        self.hosting = hosting or Hosting(ctx.settings, self.scratch)
        self.fleets: dict[str, Fleet] = {}  # by lower-cased name; changed under the store lock
        self.queues = SerialQueues()
        self.delete_listeners: list[Callable[[str], None]] = []  # told once a delete commits

    # -- what the control plane calls, inside its store transaction -------------------------

    def create(self, endpoint: Endpoint) -> None:
        """Record a new endpoint as Creating and bring it up in the background."""
        token = self._accept(endpoint, "Creating", new=True)
        self._submit(endpoint, "deploy", token, self._deploy)

    def update(self, name: str, pending_plan: Plan, pending: PendingDeploymentSummary) -> None:
        """Move an InService endpoint to Updating (with its pending plan) and deploy it."""
        endpoint = self._endpoint(name)
        endpoint.pending_plan, endpoint.pending_summary = pending_plan, pending
        token = self._accept(endpoint, "Updating")
        self._submit(endpoint, "update", token, self._update)

    def reweigh(self, name: str, plan: Plan) -> None:
        """Apply new desired weights and instance counts."""
        endpoint = self._endpoint(name)
        endpoint.plan = plan
        token = self._accept(endpoint, "Updating")
        self._submit(endpoint, "reweigh", token, self._reweigh)

    def delete(self, name: str) -> None:
        """Mark Deleting and stop routing at once (when the write has committed); stop the
        servers and forget the endpoint in the background."""
        endpoint = self._endpoint(name)
        token = self._accept(endpoint, "Deleting")
        key = endpoint.name.lower()

        def committed() -> None:
            route = self.table.withdraw(endpoint.name)
            for listener in self.delete_listeners:
                listener(endpoint.name)
            self.queues.cancel(key)
            self.queues.submit(Work(key, "delete", token, lambda w: self._delete(w, route)))

        self.ctx.store.after_commit(committed)

    def status_of(self, name: str) -> str | None:
        """The status of an endpoint by its exact name (for the runtime's error messages)."""
        endpoint = stored(self.ctx, name)
        return endpoint.status if endpoint is not None and endpoint.name == name else None

    # -- start, stop, wait ------------------------------------------------------------------

    def restore(self) -> None:
        """After a start: remove the scratch of the last run, bring back what was serving."""
        swept = self.scratch.sweep()
        if swept:
            log.info("removed %d scratch folders of the previous run", swept)
        for endpoint in map(Endpoint.from_document, self.ctx.store.all(KIND)):
            if endpoint.status == "Deleting":
                token = self._force(endpoint, "Deleting")
                route = self.table.withdraw(endpoint.name)
                self._submit(endpoint, "delete", token, partial(self._delete, route=route))
            elif endpoint.status in SERVING:
                token = self._force(endpoint, endpoint.status)
                self._submit(endpoint, "restore", token, self._restore)
        self.wait()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for background work (tests, the example endpoint, shutdown)."""
        return self.queues.wait(timeout)

    def shutdown(self, timeout: float = 60.0) -> None:
        """Cancel work in progress, then stop every model server (captures are flushed)."""
        self.queues.cancel_all()
        self.queues.wait(timeout)
        with self.ctx.store.transaction():
            fleets, self.fleets = self.fleets, {}
            for route in list(self.table.routes.values()):
                self.table.withdraw(route.name)
        self.hosting.stop(v for fleet in fleets.values() for v in fleet.values())

    # -- the work ---------------------------------------------------------------------------

    def _submit(
        self, endpoint: Endpoint, kind: str, token: str, run: Callable[[Work], None]
    ) -> None:
        """Queue work once the write that accepted it has committed."""
        work = Work(endpoint.name.lower(), kind, token, run)
        self.ctx.store.after_commit(lambda: self.queues.submit(work))

    def _deploy(self, work: Work) -> None:
        endpoint = self._current(work)
        if endpoint is None:
            return
        try:
            started = self.hosting.start(self.plans(endpoint.name, endpoint.plan), work.cancel)
        except Cancelled:
            return
        except DeployError as exc:
            self._commit(work, "Failed", failure_reason=str(exc))
            return
        self._go_live(work, "InService", started, endpoint.plan)

    def _restore(self, work: Work) -> None:
        endpoint = self._current(work)
        if endpoint is None:
            return
        plan = endpoint.plan
        try:
            started = self.hosting.start(self.plans(endpoint.name, plan), work.cancel)
        except Cancelled:
            return
        except DeployError as exc:
            self._commit(work, "Failed", force=True, failure_reason=str(exc))
            return
        if endpoint.status == "Updating" and endpoint.pending_plan is not None:
            # an UpdateEndpoint that was accepted before the stop: serve the old plan, then
            # carry on with the update, as if smlocal had never stopped
            self._go_live(work, "Updating", started, plan, force=True)
            if self._current(work) is not None:
                self.queues.submit(Work(work.key, "update", work.token, self._update))
            return
        self._go_live(work, "InService", started, plan, force=True, change=Endpoint.clear_pending)

    def _update(self, work: Work) -> None:
        endpoint = self._current(work)
        if endpoint is None or endpoint.pending_plan is None:
            return
        new_plan = endpoint.pending_plan
        try:
            started = self.hosting.start(self.plans(endpoint.name, new_plan), work.cancel)
        except Cancelled:
            return
        except DeployError as exc:
            self._commit(work, "RollingBack", failure_reason=f"Update failed: {exc}")
            self._commit(
                work, "InService", change=Endpoint.clear_pending,
                failure_reason=f"The update was rolled back: {exc}",
            )  # fmt: skip
            return
        self._go_live(
            work, "InService", started, new_plan, failure_reason=None,
            change=Endpoint.promote_pending,
        )  # fmt: skip

    def _reweigh(self, work: Work) -> None:
        """New weights, and new instance counts as whole instances started (they join the
        route once healthy) or stopped (they leave the route, then are drained)."""
        endpoint = self._current(work)
        if endpoint is None:
            return
        plan = endpoint.plan
        fleet = dict(self.fleets.get(work.key, {}))
        resized = Resized()
        retiring: list[Retiring] = []
        try:
            if not self._resize(work, plan, fleet, resized):
                return

            def committed() -> None:
                name = self._endpoint(work.key).name
                retiring.append(Retiring(self.table.get(name), instances=resized.leaving))
                self.fleets[work.key] = fleet
                self._publish(name, plan, fleet)

            failures = " ".join(resized.failures)
            with self.ctx.store.transaction():
                done = self._commit(
                    work, "InService", live=plan,
                    change=lambda e: setattr(e, "plan", plan),
                    failure_reason=f"Update failed: {failures}" if failures else ...,
                )  # fmt: skip
                if done:
                    self.ctx.store.after_commit(committed)
        finally:
            if not retiring:
                self.hosting.stop_instances(resized.started)
        for old in retiring:
            self._retire(old)

    def _resize(self, work: Work, plan: Plan, fleet: Fleet, resized: Resized) -> bool:
        """Give each variant of `fleet` (a copy) the plan's instance count: new instances
        started and healthy, or the last ones set aside to leave. A variant whose new
        instances do not come up keeps its count (in `plan` too). False when cancelled."""
        for variant in plan.variants:
            running = fleet.get(variant.name)
            if running is None or variant.instance_count == len(running.instances):
                continue
            have, count = len(running.instances), variant.instance_count
            if count > have:
                try:
                    added = self.hosting.add(running, range(have, count), work.cancel)
                except Cancelled:
                    return False
                except DeployError as exc:
                    resized.failures.append(str(exc))
                    variant.instance_count = have  # what runs is what DescribeEndpoint shows
                    continue
                resized.started.extend(added)
                instances = running.instances + tuple(added)
            else:
                instances = running.instances[:count]
                resized.leaving.extend(running.instances[count:])
            fleet[variant.name] = replace(
                running, plan=replace(running.plan, instance_count=count), instances=instances
            )
        return True

    def _delete(self, work: Work, route: EndpointRoute | None) -> None:
        with self.ctx.store.transaction():
            fleet = self.fleets.pop(work.key, {})
        self._retire(Retiring(route, fleet))
        with self.ctx.store.transaction():
            endpoint = self._current(work)
            if endpoint is None:
                return
            self.ctx.store.delete(KIND, work.key)
            self.records.forget(endpoint)

    # -- healing (called by the supervisor) -------------------------------------------------

    def live_variants(self) -> list[tuple[str, str, RunningVariant]]:
        """(endpoint key, variant name, running variant) of every serving fleet."""
        with self.ctx.store.transaction():
            return [
                (key, name, running)
                for key, fleet in self.fleets.items()
                for name, running in fleet.items()
            ]

    def live_instances(self) -> list[tuple[str, str, RunningInstance]]:
        """(endpoint key, variant name, instance) of every serving instance."""
        return [
            (key, name, instance)
            for key, name, running in self.live_variants()
            for instance in running.instances
        ]

    def _holds(self, key: str, variant: str, instance: RunningInstance) -> bool:
        """True while the endpoint's fleet serves that very instance (under the store lock)."""
        running = self.fleets.get(key, {}).get(variant)
        return running is not None and running.holds(instance)

    def report_dead(self, key: str, variant: str, dead: RunningInstance) -> None:
        """A serving instance's server is gone: replace it (once per dead server)."""
        with self.ctx.store.transaction():
            if not self._holds(key, variant, dead) or dead.healing or dead.asleep:
                return
            dead.healing = True  # on the object: a heal that never runs cannot mark another
        run = lambda w: self._heal(w, variant, dead)  # noqa: E731
        self.queues.submit(Work(key, "heal", "", run))

    def _heal(self, work: Work, variant: str, dead: RunningInstance) -> None:
        """Start a new instance in the dead one's place, on its files, and move the route to
        it; the variant's other instances serve meanwhile (the runtime sends to another
        instance what cannot reach the dead one). An endpoint whose instance keeps dying, or
        whose new instance does not come up, ends Failed. Healing does not depend on the
        endpoint's token: a re-weigh or a queued update does not make a dead server any less
        dead; only a fleet that no longer holds it does."""
        try:
            if not self._holds(work.key, variant, dead):
                return
            reason = (
                f"The model server of production variant {variant} (instance "
                f"{dead.plan.instance_id}) stopped unexpectedly; its log is "
                f"{dead.server.log_path}"
            )
            dead.server.stop(timeout=5)
            self.hosting.logs.unfollow(dead.server)  # its last lines, the crash's included
            fresh = self._restart(work, dead, reason)
            if fresh is None:
                return
            with self.ctx.store.transaction():
                endpoint = stored(self.ctx, work.key)
                swapped = endpoint is not None and self._holds(work.key, variant, dead)
                if swapped and endpoint is not None:
                    running = self.fleets[work.key][variant]
                    instances = tuple(fresh if i is dead else i for i in running.instances)
                    fleet = self.fleets[work.key] = {
                        **self.fleets[work.key],
                        variant: replace(running, instances=instances),
                    }
                    self._publish(endpoint.name, endpoint.plan, fleet)
            if not swapped:
                self.hosting.stop_instances([fresh])  # the fleet's scratch is not ours
        finally:
            dead.healing = False

    def _restart(self, work: Work, dead: RunningInstance, reason: str) -> RunningInstance | None:
        """A new instance for a dead one; each failed start counts as one more death, and more
        than MAX_RESTARTS deaths in its place within RESTART_WINDOW end the endpoint Failed."""
        deaths = dead.deaths
        failure = ""
        while True:
            now = time.monotonic()
            deaths = (*[t for t in deaths if now - t < RESTART_WINDOW], now)
            if len(deaths) > MAX_RESTARTS:
                self._fail(
                    work,
                    f"{reason} (it stopped {len(deaths)} times within {RESTART_WINDOW:.0f} s, "
                    f"so it is not started again){failure}",
                )
                return None
            log.warning("endpoint %s: %s; starting a new one", work.key, reason)
            try:
                fresh = self.hosting.restart(dead, work.cancel)
            except Cancelled:
                return None
            except DeployError as exc:
                failure = f"; the last new model server did not come up: {exc}"
                continue
            fresh.deaths = deaths
            return fresh

    def _fail(self, work: Work, reason: str) -> None:
        """An InService endpoint that cannot serve any more: Failed, route and fleet gone.
        (One that is Updating keeps its fleet: the queued update replaces it.)"""
        retiring: list[Retiring] = []

        def committed() -> None:
            name = self._endpoint(work.key).name
            retiring.append(Retiring(self.table.withdraw(name), self.fleets.pop(work.key, {})))

        with self.ctx.store.transaction():
            endpoint = stored(self.ctx, work.key)
            if endpoint is None or endpoint.status != "InService" or work.cancel.is_set():
                return
            self._commit(work, "Failed", any_token=True, failure_reason=reason)
            self.ctx.store.after_commit(committed)
        for old in retiring:
            self._retire(old)

    # -- fleets -----------------------------------------------------------------------------

    def plans(self, endpoint: str, plan: Plan) -> list[VariantPlan]:
        """The endpoint plan's variants as backend plans."""
        return [
            VariantPlan(
                endpoint=endpoint,
                variant=v.name,
                image=v.image,
                model_data_url=served[0],
                environment=served[1],
                instance_count=v.instance_count,
                serverless=v.serverless,
                shadow=v.shadow,
                capture=plan.data_capture_config,
                containers=container_plans(v, partial(cleaned, endpoint, v)),
                execution_mode=v.execution_mode,
                startup_timeout=(
                    self.ctx.settings.startup_timeout
                    if v.startup_timeout is None
                    else v.startup_timeout
                ),
            )
            for v in plan.variants
            for served in [served_model(v, model_environment(endpoint, v))]
        ]

    def _go_live(
        self,
        work: Work,
        status: str,
        started: list[RunningVariant],
        plan: Plan,
        *,
        force: bool = False,
        failure_reason: str | EllipsisType | None = ...,
        change: Change | None = None,
    ) -> None:
        """Commit a started fleet with its status, or stop it if the work was superseded."""
        fleet = {v.plan.variant: v for v in started}
        retiring: list[Retiring] = []
        try:
            with self.ctx.store.transaction():
                committed = self._commit(
                    work, status, force=force, failure_reason=failure_reason, change=change,
                    live=plan,
                )  # fmt: skip
                if committed:
                    self.ctx.store.after_commit(
                        lambda: retiring.append(self._swap(work.key, fleet, plan))
                    )
        finally:
            if not retiring:
                self.hosting.stop(started)
        for old in retiring:
            self._retire(old)

    def _swap(self, key: str, fleet: Fleet, plan: Plan) -> Retiring:
        """Make a fleet live (under the store lock); return what it replaces."""
        name = self._endpoint(key).name
        old = Retiring(self.table.get(name), self.fleets.get(key, {}))
        self.fleets[key] = fleet
        self._publish(name, plan, fleet)
        return old

    def _publish(self, name: str, plan: Plan, fleet: Fleet) -> None:
        """Route to the fleet's instances, keeping the pools (and their connections) of
        instances the previous route already had."""
        old = self.table.get(name)
        variants = []
        for v in plan.variants:
            previous = next((r for r in old.variants if r.name == v.name), None) if old else None
            known = {p.port: p for p in previous.pools} if previous is not None else {}
            instances = fleet[v.name].instances
            pools = tuple(
                known.get(i.server.port)
                or UpstreamPool(
                    self.loop, i.server.port, unix_path=getattr(i.server, "unix_path", None)
                )
                for i in instances
            )
            strategy = v.routing or RANDOM
            cold = any(i.asleep for i in instances)
            variants.append(
                VariantRoute(
                    v.name,
                    v.weight,
                    pools,
                    len(instances),
                    strategy,
                    v.multi_model,
                    *route_containers(v),
                    v.shadow,
                    v.max_concurrency,
                    cold,
                )
            )
        self.table.publish(EndpointRoute(name, tuple(variants), plan.async_inference_config))

    def _retire(self, old: Retiring) -> None:
        """Let an old fleet (or old instances) finish in-flight requests, then stop it."""
        if old.route is not None:
            deadline = time.monotonic() + DRAIN_SECONDS
            live = {p for r in self.table.routes.values() for v in r.variants for p in v.pools}
            pools = [p for v in old.route.variants for p in v.pools if p not in live]
            while any(p.busy for p in pools) and time.monotonic() < deadline:
                time.sleep(0.05)
            for pool in pools:
                self.loop.call_soon_threadsafe(pool.close)
        self.hosting.stop(old.fleet.values())
        self.hosting.stop_instances(old.instances)

    # -- records and statuses ---------------------------------------------------------------

    def _endpoint(self, name: str) -> Endpoint:
        endpoint = stored(self.ctx, name)
        if endpoint is None:
            raise KeyError(name)
        return endpoint

    def _current(self, work: Work) -> Endpoint | None:
        """The endpoint while the work still holds its token, else None."""
        endpoint = stored(self.ctx, work.key)
        if endpoint is None or endpoint.op != work.token or work.cancel.is_set():
            return None
        return endpoint

    def _accept(self, endpoint: Endpoint, status: str, new: bool = False) -> str:
        """Write a status the control plane moves to, with a new token; return the token."""
        ENDPOINT.check(None if new else endpoint.status, status)
        return self._write(endpoint, status)

    def _force(self, endpoint: Endpoint, status: str) -> str:
        """A new token on restore, by the moves of a restore (the process just started)."""
        RESTORED_ENDPOINT.check(endpoint.status, status)
        return self._write(endpoint, status)

    def _write(self, endpoint: Endpoint, status: str) -> str:
        token = uuid.uuid4().hex
        endpoint.status, endpoint.last_modified_time, endpoint.op = status, self.ctx.now(), token
        endpoint.moved(status, endpoint.last_modified_time)
        save(self.ctx, endpoint)
        log.info("endpoint %s is %s", endpoint.name, status)
        return token

    def _commit(
        self,
        work: Work,
        status: str,
        *,
        force: bool = False,
        any_token: bool = False,
        failure_reason: str | EllipsisType | None = ...,
        change: Change | None = None,
        live: Plan | None = None,
    ) -> bool:
        """Write the work's outcome if the work still holds the endpoint's token; `live` is a
        plan that went live, which DescribeEndpoint shows as the control plane shapes it."""
        with self.ctx.store.transaction():
            endpoint = stored(self.ctx, work.key) if any_token else self._current(work)
            if endpoint is None:
                return False
            (RESTORED_ENDPOINT if force else ENDPOINT).check(endpoint.status, status)
            endpoint.status = status
            if change is not None:
                change(endpoint)
            endpoint.last_modified_time = self.ctx.now()
            if failure_reason is not ...:
                endpoint.failure_reason = failure_reason
            reason = None if failure_reason is ... else failure_reason
            endpoint.moved(status, endpoint.last_modified_time, reason)
            if live is not None:
                variants, capture = self.records.live(live, self.ctx.now())
                endpoint.production_variants, endpoint.data_capture_config = variants, capture
            save(self.ctx, endpoint)
        log.info("endpoint %s is %s", endpoint.name, status)
        return True


def model_environment(endpoint: str, variant: PlannedVariant) -> dict[str, str]:
    """A variant's Environment without smlocal's own SMLOCAL_* variables, which steer where
    captures are spooled and when a model server stops: a model does not get to set them."""
    environment = dict(variant.environment)
    ours = sorted(k for k in environment if k.upper().startswith(SMLOCAL_PREFIX))
    if ours:
        log.warning(
            "endpoint %s, variant %s: the model's Environment sets %s; smlocal's own variables "
            "are ignored there",
            endpoint, variant.name, ", ".join(ours),
        )  # fmt: skip
    return {k: v for k, v in environment.items() if k not in ours}


def cleaned(endpoint: str, variant: PlannedVariant, environment: dict[str, str]) -> dict[str, str]:
    """One container's Environment of a multi-container variant, cleaned as a variant's is."""
    return model_environment(endpoint, replace(variant, environment=environment))
