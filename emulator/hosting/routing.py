"""Which model servers answer an endpoint's invocations, read by the runtime on the loop.

The endpoint manager publishes a whole new `EndpointRoute` when anything changes (a blue/
green update, new weights), so the runtime never sees a half-updated endpoint.
"""

from __future__ import annotations

import bisect
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from smlocal.emulator.hosting.endpoint_records import RANDOM
from smlocal.emulator.hosting.upstream import UpstreamPool

LEAST_OUTSTANDING_REQUESTS = "LEAST_OUTSTANDING_REQUESTS"


@dataclass(frozen=True)
class VariantRoute:
    """One production variant: its weight and its instances' model servers (a pool each)."""

    name: str
    weight: float
    pools: tuple[UpstreamPool, ...]
    instances: int = 1  # its instance count (InvocationsPerInstance)
    strategy: str = RANDOM  # its RoutingConfig's RoutingStrategy
    multi_model: bool = False  # Mode MultiModel: every invocation names its TargetModel
    execution_mode: str | None = None  # a multi-container model's Serial or Direct
    hostnames: tuple[str, ...] = ()  # and its containers' host names
    shadow: bool = False  # a shadow variant: it gets copies of requests, never a caller's own
    max_concurrency: int | None = None  # a serverless variant's MaxConcurrency
    cold: bool = False  # a serverless variant scaled to zero: an invocation must wake it

    @property
    def in_flight(self) -> int:
        """Requests sent to its instances and not answered yet."""
        return sum(pool.busy for pool in self.pools)

    def pick(self, rng: random.Random, avoid: UpstreamPool | None = None) -> UpstreamPool:
        """The instance to send to, as the variant's routing strategy says: RANDOM (SageMaker's
        default) draws one; LEAST_OUTSTANDING_REQUESTS takes the one with the fewest requests
        in flight, ties drawn at random. `avoid` one that could not be reached, if there is
        another."""
        pools = self.pools
        if len(pools) == 1:
            return pools[0]
        candidates = [pool for pool in pools if pool is not avoid] or list(pools)
        if self.strategy == LEAST_OUTSTANDING_REQUESTS:
            fewest = min(pool.busy for pool in candidates)
            candidates = [pool for pool in candidates if pool.busy == fewest]
        return candidates[int(rng.random() * len(candidates))]


@dataclass(frozen=True)
class EndpointRoute:
    """The serving variants of one endpoint."""

    name: str
    variants: tuple[VariantRoute, ...]
    async_config: Mapping[str, Any] | None = None  # an asynchronous endpoint's config
    _bounds: tuple[float, ...] = field(init=False, repr=False)
    shadows: tuple[VariantRoute, ...] = field(init=False, repr=False)  # its shadow variants

    def __post_init__(self) -> None:
        total, bounds = 0.0, []
        for variant in self.variants:
            total += 0.0 if variant.shadow else max(variant.weight, 0.0)
            bounds.append(total)
        object.__setattr__(self, "_bounds", tuple(bounds))
        object.__setattr__(self, "shadows", tuple(v for v in self.variants if v.shadow))

    def choose(self, rng: random.Random) -> VariantRoute | None:
        """A variant drawn with probability weight / total weight (None if all are 0)."""
        if not self._bounds or self._bounds[-1] <= 0:
            return None
        draw = rng.random() * self._bounds[-1]
        return self.variants[bisect.bisect_right(self._bounds, draw)]

    def variant(self, name: str) -> VariantRoute | None:
        """The variant of that name (TargetVariant)."""
        for variant in self.variants:
            if variant.name == name and not variant.shadow:
                return variant
        return None


class RoutingTable:
    """Endpoint name (exact case, as InvokeEndpoint requires) -> route.

    Readers (every invocation) take the current dict without a lock; a change builds a new
    dict and swaps it in, under a lock of its own, so two changes at once (a restore's
    withdraw next to an endpoint's publish) cannot lose one another.
    """

    def __init__(self) -> None:
        self.routes: dict[str, EndpointRoute] = {}
        self._changing = threading.Lock()

    def publish(self, route: EndpointRoute) -> None:
        """Make a route live, replacing the endpoint's previous one at once."""
        with self._changing:
            self.routes = {**self.routes, route.name: route}

    def withdraw(self, name: str) -> EndpointRoute | None:
        """Stop routing to an endpoint; return its last route."""
        with self._changing:
            routes = dict(self.routes)
            old = routes.pop(name, None)
            self.routes = routes
        return old

    def get(self, name: str) -> EndpointRoute | None:
        """The live route of an endpoint."""
        return self.routes.get(name)
