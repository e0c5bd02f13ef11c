"""Each instance of a production variant is its own model server on its own port: the edge
spreads invocations over them, new instance counts start and stop whole instances, and an
instance that dies is replaced alone while the others serve."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request

import psutil
import pytest

from tests.emulator.test_endpoint_lifecycle import invoke_status, upload_model
from tests.support import deploy, unique, wait_for_status

CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": "s3://instances/capture",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory, iris_tar):
    from smlocal.emulator.pytest_plugin import SmlocalEmulator

    started = SmlocalEmulator(tmp_path_factory.mktemp("instances")).start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def model_data(emulator, iris_tar) -> str:
    return upload_model(emulator, iris_tar, "instances")


def instances(emulator, endpoint: str) -> list[psutil.Process]:
    """The endpoint's running model servers (gunicorn masters, one per instance)."""
    found = []
    for child in psutil.Process(emulator.proc.pid).children():
        try:
            if (
                "serve" in child.cmdline()
                and child.status() != psutil.STATUS_ZOMBIE
                and child.environ().get("SMLOCAL_ENDPOINT_NAME") == endpoint
            ):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def settled(emulator, endpoint: str, expected: int, timeout: float = 30) -> list[psutil.Process]:
    """The endpoint's model servers once there are `expected` (stopping ones need a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        found = instances(emulator, endpoint)
        if len(found) == expected or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def port_of(server: psutil.Process) -> int:
    """The loopback port a model server listens on."""
    [listening] = [c for c in server.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
    return int(listening.laddr.port)


def capture_stats(port: int) -> dict:
    """A model server's own capture counters (every worker of that server added up)."""
    url = f"http://127.0.0.1:{port}/_smlocal/capture/stats"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_a_two_instance_endpoint_spreads_invocations_over_both_instances(
    emulator, model_data
) -> None:
    sm, runtime = emulator.client("sagemaker"), emulator.client("sagemaker-runtime")
    name = unique("spread")
    variant = {"name": "AllTraffic", "model_data": model_data, "count": 2}
    assert deploy(sm, name, [variant], capture=CAPTURE)["EndpointStatus"] == "InService"
    servers = settled(emulator, name, 2)
    assert len(servers) == 2
    assert [len(s.children()) for s in servers] == [1, 1]  # one gunicorn worker each
    ports = [port_of(s) for s in servers]
    assert len(set(ports)) == 2

    sent, failures = 40, []

    def client() -> None:
        for _ in range(sent // 4):
            status = invoke_status(runtime, name)
            if status != "OK":
                failures.append(status)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []

    # every invocation is captured (100 %) by the instance that served it, in its own spool;
    # a record is written once its answer has gone out, so the last ones may trail the answers
    deadline = time.monotonic() + 30
    while True:
        stats = [capture_stats(port) for port in ports]
        served = [s["sampled"] for s in stats]
        if sum(served) >= sent or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sum(served) == sent, stats
    assert min(served) > 0, f"an instance served nothing: {served}"
    assert len({s["spool_dir"] for s in stats}) == 2
    # and each instance writes its own log stream
    logs = emulator.client("logs")
    group = f"/aws/sagemaker/Endpoints/{name}"
    deadline = time.monotonic() + 30
    while True:
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        if len(streams) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sorted(s["logStreamName"].split("/")[0] for s in streams) == ["AllTraffic"] * 2
    sm.delete_endpoint(EndpointName=name)
    assert settled(emulator, name, 0) == []


def unix_listeners(server: psutil.Process) -> list[str]:
    """The paths of the Unix sockets a model server listens on."""
    return [
        c.laddr for c in server.net_connections("unix") if c.laddr and c.laddr.endswith("edge.sock")
    ]


def test_the_edge_reaches_process_instances_over_their_unix_sockets(emulator, model_data) -> None:
    """Each instance also listens on a Unix socket in a private folder, which the edge uses
    (its port stays for users and health checks); the folder goes with the instance."""
    sm, runtime = emulator.client("sagemaker"), emulator.client("sagemaker-runtime")
    name = unique("unix")
    variant = {"name": "AllTraffic", "model_data": model_data, "count": 2}
    assert deploy(sm, name, [variant])["EndpointStatus"] == "InService"
    servers = settled(emulator, name, 2)
    paths = [unix_listeners(s) for s in servers]
    assert all(len(p) == 1 for p in paths), paths
    folders = [os.path.dirname(p[0]) for p in paths]
    assert len(set(folders)) == 2
    for folder in folders:
        assert os.stat(folder).st_mode & 0o777 == 0o700

    assert [invoke_status(runtime, name) for _ in range(20)] == ["OK"] * 20
    ports = {port_of(s) for s in servers}
    edge = psutil.Process(emulator.proc.pid)
    over_tcp = [c for c in edge.net_connections("tcp") if c.raddr and c.raddr.port in ports]
    assert over_tcp == []
    # the port still serves (users, the direct arm of the benchmarks)
    for port in ports:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=b"5.1,3.5,1.4,0.2",
            headers={"Content-Type": "text/csv"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200

    sm.delete_endpoint(EndpointName=name)
    assert settled(emulator, name, 0) == []
    deadline = time.monotonic() + 30
    while any(os.path.exists(f) for f in folders) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(os.path.exists(f) for f in folders)


def scale(sm, name: str, count: int) -> dict:
    sm.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": count}],
    )
    return wait_for_status(sm, name, ("InService", "Failed"))


def test_instance_counts_start_and_stop_instances_and_a_dead_one_is_replaced_alone(
    emulator, model_data
) -> None:
    sm, runtime = emulator.client("sagemaker"), emulator.client("sagemaker-runtime")
    name = unique("scale")
    variant = {"name": "AllTraffic", "model_data": model_data}
    assert deploy(sm, name, [variant])["EndpointStatus"] == "InService"
    [first] = settled(emulator, name, 1)

    described = scale(sm, name, 2)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    servers = settled(emulator, name, 2)
    assert len(servers) == 2
    assert first.pid in [s.pid for s in servers]  # the running instance kept serving
    assert invoke_status(runtime, name) == "OK"

    # one instance's host goes away (its gunicorn master and workers, SIGKILL): the other
    # answers every invocation meanwhile, and the dead one is replaced. The one invocation
    # before the kill may have left a keep-alive connection to the victim; a request sent on
    # it before the edge has seen it close fails as sent (never retried: the model may have
    # run it); every other one cannot reach the victim and goes to the survivor.
    victim, survivor = servers
    os.killpg(victim.pid, signal.SIGKILL)
    answers = [invoke_status(runtime, name) for _ in range(30)]
    assert answers.count("OK") >= 29, answers
    deadline = time.monotonic() + 60
    while True:
        now = instances(emulator, name)
        pids = {s.pid for s in now}
        if len(now) == 2 and victim.pid not in pids:
            break
        assert time.monotonic() < deadline, emulator.log()[-3000:]
        time.sleep(0.2)
    assert survivor.pid in pids
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    assert [invoke_status(runtime, name) for _ in range(10)] == ["OK"] * 10

    described = scale(sm, name, 1)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1
    assert len(settled(emulator, name, 1)) == 1
    assert [invoke_status(runtime, name) for _ in range(10)] == ["OK"] * 10
    sm.delete_endpoint(EndpointName=name)
    assert settled(emulator, name, 0) == []


def test_instances_that_do_not_come_up_leave_the_running_ones_serving(
    emulator, iris_tar, tmp_path
) -> None:
    model = tmp_path / "model"  # a local folder is read in place: remove it after the deploy
    model.mkdir()
    subprocess.run(["tar", "-xzf", str(iris_tar), "-C", str(model)], check=True)
    sm, runtime = emulator.client("sagemaker"), emulator.client("sagemaker-runtime")
    name = unique("noscale")
    assert (
        deploy(sm, name, [{"name": "AllTraffic", "model_data": str(model)}])["EndpointStatus"]
        == "InService"
    )
    [running] = settled(emulator, name, 1)
    shutil.rmtree(model)
    model.mkdir()  # the model is gone: a new instance cannot load it

    described = scale(sm, name, 2)
    assert described["EndpointStatus"] == "InService"
    assert described["FailureReason"].startswith("Update failed: "), described["FailureReason"]
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1
    assert [s.pid for s in settled(emulator, name, 1)] == [running.pid]
    assert [invoke_status(runtime, name) for _ in range(5)] == ["OK"] * 5
    sm.delete_endpoint(EndpointName=name)
    assert settled(emulator, name, 0) == []
