"""Serverless variants scale to zero when idle and start cold on their next invocation, and
are held to their memory budget (`memory_budget`).

A thread looks once a second at every InService endpoint's serverless variants: one whose
ProvisionedConcurrency is not set, with nothing in flight and no request sent for
`serverless_idle_seconds`, goes to sleep. Its route is published cold first (so new
requests wait for a wake instead of reaching a server that is going away), its pools drain,
then its model servers stop; the instances stay in the fleet marked asleep (the supervisor
leaves them alone) with their unpacked model kept, as SageMaker keeps the model artifact of
a serverless endpoint ready for its next cold start.

The runtime holds the requests that meet a cold variant and asks for a wake: a new server is
started in each sleeping instance's place, as a heal does, the warm route is published and
the held requests are sent. A variant with ProvisionedConcurrency stays warm, as AWS keeps
that many workers warm. Sleeping and waking run on the endpoint's serial queue, so neither
races an update or a delete.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from smlocal.emulator.hosting.endpoint_manager import EndpointManager
from smlocal.emulator.hosting.endpoint_records import stored
from smlocal.emulator.hosting.fleet import Cancelled, DeployError
from smlocal.emulator.hosting.memory_budget import enforce
from smlocal.emulator.hosting.routing import EndpointRoute
from smlocal.emulator.support.rounds import Rounds
from smlocal.emulator.support.serial import Work

log = logging.getLogger(__name__)
INTERVAL = 1.0
DRAIN_SECONDS = 30.0

Woken = Callable[[bool], None]  # called on the event loop: True once the variant is warm


class ServerlessScaler(Rounds):
    """Puts idle serverless variants to sleep and wakes them on demand."""

    def __init__(self, manager: EndpointManager, interval: float = INTERVAL) -> None:
        super().__init__(interval, "serverless", log, "serverless idle check failed")
        self.manager = manager
        self.idle_seconds = manager.ctx.settings.serverless_idle_seconds
        # routes whose variant keeps its ProvisionedConcurrency warm: not asked again until
        # the endpoint's route changes
        self._kept: dict[tuple[str, str], EndpointRoute] = {}

    def check(self) -> None:
        """One round: hold every serverless instance to its memory budget, and queue a sleep
        for every serverless variant idle long enough."""
        self.check_memory()
        if self.idle_seconds <= 0:
            return
        now = time.monotonic()
        for route in list(self.manager.table.routes.values()):
            for variant in route.variants:
                if variant.max_concurrency is None or variant.cold or variant.in_flight:
                    continue
                if variant.shadow:  # its copies are not held for a wake: it stays warm
                    continue
                if now - max((p.last_used for p in variant.pools), default=now) < self.idle_seconds:
                    continue
                if self._kept.get((route.name, variant.name)) is route:
                    continue
                self.manager.queues.submit(
                    Work(route.name.lower(), "sleep", "", self._sleeper(variant.name))
                )

    def check_memory(self) -> None:
        """Kill any warm serverless instance's server above its MemorySizeInMB."""
        for key, name, running in self.manager.live_variants():
            route = self.manager.table.get(running.plan.endpoint)
            live = next((v for v in route.variants if v.name == name), None) if route else None
            if live is None or live.max_concurrency is None:
                continue  # not serverless
            budget = self._budget(key, name)
            for instance in running.instances:
                proc = getattr(instance.server, "proc", None)  # the process backend's
                if budget is None or instance.asleep or proc is None or proc.poll() is not None:
                    continue
                enforce(proc.pid, budget, f"endpoint {key} variant {name} model server")

    def _budget(self, key: str, variant: str) -> int | None:
        endpoint = stored(self.manager.ctx, key)
        if endpoint is None:
            return None
        for planned in endpoint.plan.variants:
            if planned.name == variant and planned.serverless_config is not None:
                return int(str(planned.serverless_config["MemorySizeInMB"]))
        return None

    def _sleeper(self, variant: str) -> Callable[[Work], None]:
        return lambda work: self._sleep(work, variant)

    def wake(self, endpoint: str, variant: str, woken: Woken) -> None:
        """Start a sleeping variant's servers again; `woken(ok)` on the loop when done."""
        loop = self.manager.loop

        def run(work: Work) -> None:
            ok = False
            try:
                ok = self._wake(work, variant)
            finally:
                loop.call_soon_threadsafe(woken, ok)

        def dropped() -> None:  # a delete cancelled the wake before it ran
            loop.call_soon_threadsafe(woken, False)

        self.manager.queues.submit(Work(endpoint.lower(), "wake", "", run, dropped=dropped))

    def _sleep(self, work: Work, variant: str) -> None:
        manager = self.manager
        with manager.ctx.store.transaction():
            endpoint = stored(manager.ctx, work.key)
            running = manager.fleets.get(work.key, {}).get(variant)
            route = manager.table.get(endpoint.name) if endpoint is not None else None
            planned = (
                next((v for v in endpoint.plan.variants if v.name == variant), None)
                if endpoint is not None
                else None
            )
            if (
                endpoint is None
                or endpoint.status != "InService"
                or running is None
                or route is None
                or planned is None
                or planned.serverless_config is None
                or any(i.asleep for i in running.instances)
            ):
                return
            if planned.serverless_config.get("ProvisionedConcurrency"):
                self._kept[(route.name, variant)] = route
                return
            live = next((v for v in route.variants if v.name == variant), None)
            if live is None or live.in_flight:
                return
            if time.monotonic() - max(p.last_used for p in live.pools) < self.idle_seconds:
                return
            for instance in running.instances:
                instance.asleep = True
            manager._publish(endpoint.name, endpoint.plan, manager.fleets[work.key])
        deadline = time.monotonic() + DRAIN_SECONDS
        while any(p.busy for p in live.pools) and time.monotonic() < deadline:
            time.sleep(0.05)
        log.info("endpoint %s: serverless variant %s idle, scaled to zero", endpoint.name, variant)
        manager.hosting.stop_instances(running.instances)
        for pool in live.pools:
            manager.loop.call_soon_threadsafe(pool.close)

    def _wake(self, work: Work, variant: str) -> bool:
        manager = self.manager
        with manager.ctx.store.transaction():
            running = manager.fleets.get(work.key, {}).get(variant)
        if running is None:
            return False
        sleeping = [i for i in running.instances if i.asleep]
        if not sleeping:
            return True  # another wake got there first
        fresh = []
        try:
            for instance in sleeping:
                fresh.append(manager.hosting.restart(instance, work.cancel))
        except (Cancelled, DeployError) as exc:
            log.warning("endpoint %s: cold start of %s failed: %s", work.key, variant, exc)
            manager.hosting.stop_instances(fresh)
            return False
        with manager.ctx.store.transaction():
            endpoint = stored(manager.ctx, work.key)
            current = manager.fleets.get(work.key, {}).get(variant)
            if (
                endpoint is None
                or endpoint.status == "Deleting"
                or work.cancel.is_set()
                or current is not running
            ):  # a delete came meanwhile: no route may be published again, no server left
                manager.hosting.stop_instances(fresh)
                return False
            woken = dict(zip((id(i) for i in sleeping), fresh, strict=True))
            instances = tuple(woken.get(id(i), i) for i in running.instances)
            fleet = manager.fleets[work.key] = {
                **manager.fleets[work.key],
                variant: replace(running, instances=instances),
            }
            manager._publish(endpoint.name, endpoint.plan, fleet)
        return True
