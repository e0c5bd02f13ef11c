"""A variant's instances are picked as its RoutingConfig says: at random (SageMaker's default),
or by least outstanding requests with ties drawn at random."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator

import pytest

from smlocal.emulator.hosting.routing import LEAST_OUTSTANDING_REQUESTS, VariantRoute
from smlocal.emulator.hosting.upstream import UpstreamPool


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def route(
    loop: asyncio.AbstractEventLoop, *busy: int, strategy: str = LEAST_OUTSTANDING_REQUESTS
) -> VariantRoute:
    pools = []
    for port, outstanding in enumerate(busy, 9000):
        pool = UpstreamPool(loop, port)
        pool.busy = outstanding
        pools.append(pool)
    return VariantRoute("AllTraffic", 1.0, tuple(pools), len(pools), strategy)


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


def test_random_routing_draws_every_instance_whatever_it_has_in_flight(loop) -> None:
    variant = route(loop, 5, 0, 9, strategy="RANDOM")
    rng = random.Random(3)
    drawn = Counter(variant.pick(rng).port for _ in range(3000))
    assert set(drawn) == {9000, 9001, 9002}
    assert min(drawn.values()) > 800  # about 1000 each
    assert variant.pick(random.Random(1), avoid=variant.pools[1]) is not variant.pools[1]


def test_a_variant_plans_its_routing_config_and_defaults_to_random(tmp_path) -> None:
    from smlocal.emulator.control.context import Context
    from smlocal.emulator.control.endpoint_configs import EndpointConfig
    from smlocal.emulator.control.endpoints import plan
    from smlocal.emulator.control.models import MODELS, Model, Runnable
    from smlocal.emulator.settings import EmulatorSettings
    from smlocal.emulator.support.store import Store

    ctx = Context(Store(), EmulatorSettings(data_dir=tmp_path), lambda: 1.0)
    runnable = [Runnable("image:1", None, {})]
    MODELS.save(ctx, Model("m", ctx.arn("model", "m"), 1.0, runnable))
    config = EndpointConfig(
        "c",
        ctx.arn("endpoint-config", "c"),
        1.0,
        [
            {"VariantName": "a", "ModelName": "m"},
            {
                "VariantName": "b",
                "ModelName": "m",
                "RoutingConfig": {"RoutingStrategy": LEAST_OUTSTANDING_REQUESTS},
            },
        ],
    )
    assert [v.routing for v in plan(ctx, config).variants] == [None, LEAST_OUTSTANDING_REQUESTS]
