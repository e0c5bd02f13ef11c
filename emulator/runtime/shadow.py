"""Shadow variants: a copy of an invocation goes to each shadow variant, sampled by the
shadow's weight relative to the production variant's; its answer and its failures are dropped
(the shadow's own model server captures them under its variant name)."""

from __future__ import annotations

import random

from smlocal.emulator.hosting.routing import EndpointRoute, VariantRoute
from smlocal.emulator.hosting.upstream import UpstreamResponse


def share(shadow: VariantRoute, production: VariantRoute) -> float:
    """The fraction of the production variant's requests the shadow gets a copy of:
    InitialVariantWeight of the shadow over that of the production variant, at most all."""
    if production.weight <= 0:
        return 0.0
    return min(1.0, max(shadow.weight, 0.0) / production.weight)


def mirror(
    route: EndpointRoute,
    production: VariantRoute,
    upstream: bytes,
    rng: random.Random,
    timeout: float,
) -> None:
    """Send the request bytes to the shadows sampled for this request; forget their answers."""
    for shadow in route.shadows:
        if rng.random() >= share(shadow, production):
            continue
        shadow.pick(rng).send(upstream, _dropped, timeout)


def _dropped(response: UpstreamResponse | None, failure: Exception | None) -> None:
    """A shadow's answer, or its failure: never the caller's."""
