"""Shadow variants: a copy of an invocation goes to each shadow variant, sampled by the
shadow's weight relative to the production variant's; its answer and its failures are dropped
(the shadow's own model server captures them under its variant name).

A shadow that hangs or is slower than production must not pile up copies without end: each
one holds a connection (a file descriptor of the edge, which production needs too) until the
invocation timeout. So a shadow with BACKLOG copies per instance still unanswered gets no
more until some are answered; the copies skipped meanwhile are neither sent nor captured
(docs/fidelity.md)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from smlocal.emulator.hosting.routing import EndpointRoute, VariantRoute
from smlocal.emulator.hosting.upstream import UpstreamResponse

# told of each shadow answer: (shadow variant, its HTTP status or 0, seconds it took)
Answered = Callable[[VariantRoute, int, float], None]
BACKLOG = 32  # copies in flight per shadow instance beyond which new ones are skipped


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
    *,
    answered: Answered | None = None,
) -> None:
    """Send the request bytes to the shadows sampled for this request; their answers and
    failures go no further than `answered` (the shadow's own metrics)."""
    for shadow in route.shadows:
        if rng.random() >= share(shadow, production):
            continue
        if shadow.in_flight >= BACKLOG * max(1, len(shadow.pools)):
            continue  # a hung or slow shadow: production is not made to pay for it
        shadow.pick(rng).send(upstream, _dropped(shadow, answered), timeout)


def _dropped(
    shadow: VariantRoute, answered: Answered | None
) -> Callable[[UpstreamResponse | None, Exception | None], None]:
    sent = time.perf_counter()

    def done(response: UpstreamResponse | None, failure: Exception | None) -> None:
        if answered is not None:
            status = 0 if response is None else response.status
            answered(shadow, status, time.perf_counter() - sent)

    return done
