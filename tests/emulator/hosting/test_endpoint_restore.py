"""After a restart the endpoint manager brings back what was serving, by the moves of a
restore (`RESTORED_ENDPOINT`); a fake hosting stands in for the model servers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.endpoints import EndpointDocuments
from smlocal.emulator.hosting.backends import VariantPlan
from smlocal.emulator.hosting.endpoint_manager import KIND, EndpointManager
from smlocal.emulator.hosting.fleet import DeployError, RunningInstance, RunningVariant
from smlocal.emulator.hosting.routing import RoutingTable
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.store import Store

PLAN: dict[str, Any] = {
    "EndpointConfigName": "config",
    "Variants": [
        {
            "VariantName": "AllTraffic",
            "ModelName": "model",
            "Image": "image:1",
            "ModelDataUrl": None,
            "Environment": {},
            "InstanceCount": 1,
            "Serverless": False,
            "Weight": 1.0,
            "StartupTimeout": 60,
        }
    ],
    "DataCaptureConfig": None,
}
SERVING = ("Creating", "Updating", "RollingBack", "InService")


@dataclass
class FakeServer:
    port: int
    log_path: Path = Path("model.log")

    def alive(self) -> bool:
        return True

    def stop(self, timeout: float = 40.0) -> None:
        pass


class FakeHosting:
    def __init__(self, failure: str | None = None) -> None:
        self.failure = failure
        self.started = 0

    def start(self, plans: list[VariantPlan], cancel: threading.Event) -> list[RunningVariant]:
        if self.failure:
            raise DeployError(self.failure)
        self.started += 1
        return [
            RunningVariant(p, (RunningInstance(p, FakeServer(9000 + self.started)),), None)
            for p in plans
        ]

    def stop(self, variants: Iterable[RunningVariant]) -> None:
        pass

    def stop_instances(self, instances: Iterable[RunningInstance]) -> None:
        pass


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def restored(tmp_path: Path, loop: asyncio.AbstractEventLoop, hosting: FakeHosting) -> Context:
    """A store with one endpoint in each status the manager restores, after restore()."""
    ctx = Context(Store(), EmulatorSettings(data_dir=tmp_path), clock=lambda: 100.0)
    for status in (*SERVING, "Deleting", "Failed"):
        doc: dict[str, Any] = {
            "EndpointName": status,
            "EndpointArn": ctx.arn(KIND, status),
            "EndpointConfigName": "config",
            "CreationTime": 50.0,
            "EndpointStatus": status,
            "_Plan": PLAN,
            "_Op": "before the restart",
        }
        if status == "Updating":
            doc.update(_PendingPlan=PLAN, PendingDeploymentSummary={"EndpointConfigName": "c"})
        ctx.store.put(KIND, status, doc)
    manager = EndpointManager(ctx, EndpointDocuments(ctx), RoutingTable(), loop, hosting=hosting)  # type: ignore[arg-type]
    manager.restore()
    assert manager.wait(30)
    return ctx


def test_what_was_serving_is_in_service_again_and_a_deleting_endpoint_is_gone(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    ctx = restored(tmp_path, loop, FakeHosting())
    statuses = {doc["EndpointName"]: doc["EndpointStatus"] for doc in ctx.store.all(KIND)}
    assert statuses == {**dict.fromkeys(SERVING, "InService"), "Failed": "Failed"}
    updated = ctx.store.get(KIND, "Updating")
    assert updated is not None
    assert updated["_PendingPlan"] is None  # the update accepted before the stop carried on


def test_what_cannot_be_brought_back_ends_failed(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    ctx = restored(tmp_path, loop, FakeHosting(failure="the model server did not start"))
    for status in SERVING:
        doc = ctx.store.get(KIND, status)
        assert doc is not None
        assert (doc["EndpointStatus"], doc["FailureReason"]) == (
            "Failed",
            "the model server did not start",
        )
    assert ctx.store.get(KIND, "Deleting") is None
