"""A variant's instances are picked by least outstanding requests, ties drawn at random."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator

import pytest

from smlocal.emulator.hosting.routing import VariantRoute
from smlocal.emulator.hosting.upstream import UpstreamPool


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def route(loop: asyncio.AbstractEventLoop, *busy: int) -> VariantRoute:
    pools = []
    for port, outstanding in enumerate(busy, 9000):
        pool = UpstreamPool(loop, port)
        pool.busy = outstanding
        pools.append(pool)
    return VariantRoute("AllTraffic", 1.0, tuple(pools), len(pools))


def test_the_instance_with_the_fewest_outstanding_requests_is_picked(loop) -> None:
    variant = route(loop, 3, 1, 2)
    rng = random.Random(7)
    assert {variant.pick(rng).port for _ in range(50)} == {9001}


def test_ties_are_drawn_at_random_over_every_tied_instance(loop) -> None:
    variant = route(loop, 1, 0, 0, 0)
    rng = random.Random(7)
    drawn = Counter(variant.pick(rng).port for _ in range(3000))
    assert set(drawn) == {9001, 9002, 9003}
    assert min(drawn.values()) > 800  # about 1000 each


def test_an_unreachable_instance_is_avoided_when_there_is_another(loop) -> None:
    variant = route(loop, 0, 5)
    unreachable = variant.pools[0]
    assert variant.pick(random.Random(1), avoid=unreachable).port == 9001
    single = route(loop, 0)
    assert single.pick(random.Random(1), avoid=single.pools[0]) is single.pools[0]
