"""The emulator: start-up and deployment times, and the runtime hop's cost.

(1) `smlocal up` to a healthy /_smlocal/health (target < 2 s) and CreateEndpoint to
    InService for the iris model (target < 3 s), each over several fresh runs.
(2) Invocations through the emulator's runtime against the same model servers called
    directly, alternating in one run, at 1 and 2 instances (target: at least 0.90 of the
    direct throughput); with the CPU per request of the edge, the model servers and the
    load generator per arm, and the ratio those allow when the 2 cores are the limit.
(3) The per-instance distribution: how many requests each instance of a 2-instance endpoint
    served through the emulator (counted by each instance's capture at 100 %).
Run: python -m bench.emulator [--rounds N] [--requests N] [--clients N] [--instances 1,2]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.load import LoadResult, measure_round
from bench.report import Comparison, load_options, machine, print_comparison
from smlocal.emulator.pytest_plugin import SmlocalEmulator
from tests.conftest import train_iris_tar
from tests.support import deploy, unique, wait_for_status

MODEL = "s3://models/iris/model.tar.gz"


def start_times(work: Path, runs: int, model_tar: Path) -> tuple[list[float], list[float]]:
    """Seconds from spawning `smlocal up` to healthy, and from CreateEndpoint to InService."""
    ups, deploys = [], []
    for i in range(runs):
        emulator = SmlocalEmulator(work / f"start-{i}")
        began = time.perf_counter()
        emulator.start()
        ups.append(time.perf_counter() - began)
        s3, sm = emulator.client("s3"), emulator.client("sagemaker")
        s3.create_bucket(Bucket="models")
        s3.upload_file(str(model_tar), "models", "iris/model.tar.gz")
        name = unique("iris")
        deploy(
            sm,
            name,
            [{"name": "AllTraffic", "model_data": "s3://models/iris/model.tar.gz"}],
            wait=False,
        )
        began = time.perf_counter()
        wait_for_status(sm, name, ("InService",))
        deploys.append(time.perf_counter() - began)
        emulator.stop()
    return ups, deploys


def instance_servers(emulator: SmlocalEmulator, endpoint: str) -> list[psutil.Process]:
    """The endpoint's model servers (gunicorn masters, one per instance), children of the
    emulator."""
    assert emulator.proc is not None
    found = []
    for child in psutil.Process(emulator.proc.pid).children():
        try:
            if child.environ().get("SMLOCAL_ENDPOINT_NAME") == endpoint:
                found.append(child)
        except psutil.Error:
            continue
    return found


def listening_port(server: psutil.Process) -> int:
    """The loopback port a model server listens on."""
    for conn in server.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN:
            return int(conn.laddr.port)
    raise RuntimeError(f"model server {server.pid} listens on no port")


def cpu_seconds(server: psutil.Process) -> float:
    """CPU time used so far by a model server: its master and its workers."""
    total = 0.0
    for process in (server, *server.children()):
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def captured(port: int) -> int:
    """Invocations a model server has captured (at 100 %: the requests it served)."""
    url = f"http://127.0.0.1:{port}/_smlocal/capture/stats"
    with urllib.request.urlopen(url, timeout=10) as response:
        return int(json.loads(response.read())["sampled"])


@dataclass
class CpuUse:
    """CPU seconds used during one arm's rounds: the edge (the emulator's own process) and
    each instance's model server; and the requests those rounds completed."""

    instances: list[float]
    edge: float = 0.0
    clients: float = 0.0  # the load generator's threads (this process)
    requests: int = 0

    def per_request_us(self, seconds: float) -> float:
        """Microseconds of CPU per completed request."""
        return seconds / self.requests * 1e6 if self.requests else float("nan")

    def summary(self) -> str:
        """A one-line account of where the CPU went."""
        split = " + ".join(f"{u:.2f}" for u in self.instances)
        return (
            f"edge {self.per_request_us(self.edge):.0f} us, model servers "
            f"{self.per_request_us(sum(self.instances)):.0f} us, clients "
            f"{self.per_request_us(self.clients):.0f} us per request "
            f"(instances: {split} s over {self.requests} requests)"
        )

    def total_us(self) -> float:
        """CPU per request of everything on the machine that serves it: edge, model
        servers and clients."""
        return self.per_request_us(self.edge + sum(self.instances) + self.clients)


def cpu_ceiling(through: CpuUse, direct: CpuUse) -> str:
    """The throughput ratio the arms' CPU per request allows when the cores are the limit:
    every microsecond the edge spends comes out of what the servers and clients could use."""
    ceiling = direct.total_us() / through.total_us()
    return (
        f"CPU-bound ceiling of the ratio: {ceiling:.3f} (direct {direct.total_us():.0f} us "
        f"/ through {through.total_us():.0f} us of CPU per request, all processes)"
    )


def own_cpu() -> float:
    """CPU seconds used so far by this process (the load generator's threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_now(edge: psutil.Process, servers: list[psutil.Process]) -> list[float]:
    """The CPU seconds used so far by the edge (first) and each model server."""
    times = edge.cpu_times()
    return [times.user + times.system, *(cpu_seconds(s) for s in servers)]


def runtime_hop(
    emulator: SmlocalEmulator, instances: int, args: argparse.Namespace, routing: str
) -> tuple[Comparison, CpuUse, CpuUse]:
    """Through the emulator against the instances' servers called directly (the clients
    spread evenly over their ports), alternating rounds; and where the CPU went in each arm.
    `routing` is the variant's RoutingStrategy (RANDOM is SageMaker's default)."""
    assert emulator.proc is not None
    sm = emulator.client("sagemaker")
    name = f"bench-{instances}-{routing.lower().replace('_', '-')}"
    variant = {"name": "AllTraffic", "model_data": MODEL, "count": instances, "routing": routing}
    deploy(sm, name, [variant])
    servers = instance_servers(emulator, name)
    ports = [listening_port(s) for s in servers]
    edge = psutil.Process(emulator.proc.pid)
    path = f"/endpoints/{name}/invocations"
    comparison = Comparison(
        f"runtime: InvokeEndpoint through the emulator vs the model servers directly, "
        f"{instances} instance(s)" + (f", routing {routing}" if instances > 1 else ""),
        "through emulator",
        "direct",
        target_ratio=0.90,
    )
    use = {
        id(comparison.a): CpuUse([0.0] * len(servers)),
        id(comparison.b): CpuUse([0.0] * len(servers)),
    }
    arms: list[tuple[int | list[int], str, list[LoadResult]]] = [
        (emulator.port, path, comparison.a),
        (ports, "/invocations", comparison.b),
    ]
    for target, route, _ in arms:
        measure_round(target, route, args.clients, 300)
    for i in range(args.rounds):
        for target, route, results in arms if i % 2 == 0 else reversed(arms):
            before, mine = cpu_now(edge, servers), own_cpu()
            results.append(measure_round(target, route, args.clients, args.requests))
            spent = [a - b for a, b in zip(cpu_now(edge, servers), before, strict=True)]
            arm = use[id(results)]
            arm.clients += own_cpu() - mine
            arm.edge += spent[0]
            arm.instances = [u + d for u, d in zip(arm.instances, spent[1:], strict=True)]
            arm.requests += results[-1].requests
    sm.delete_endpoint(EndpointName=name)
    return comparison, use[id(comparison.a)], use[id(comparison.b)]


def distribution(
    emulator: SmlocalEmulator, args: argparse.Namespace, name: str = "bench-spread"
) -> list[int]:
    """Requests each instance of a 2-instance endpoint served through the emulator, counted by
    each instance's own capture (at 100 %)."""
    sm = emulator.client("sagemaker")
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": "s3://models/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }
    deploy(sm, name, [{"name": "AllTraffic", "model_data": MODEL, "count": 2}], capture=capture)
    ports = [listening_port(s) for s in instance_servers(emulator, name)]
    before = [captured(port) for port in ports]
    measure_round(emulator.port, f"/endpoints/{name}/invocations", args.clients, args.requests)
    served = [captured(port) - b for port, b in zip(ports, before, strict=True)]
    sm.delete_endpoint(EndpointName=name)
    return served


def main(argv: list[str] | None = None) -> list[Comparison]:
    parser = load_options(__doc__, rounds=7, requests=3000)
    parser.add_argument("--start-runs", type=int, default=3)
    parser.add_argument(
        "--instances", default="1,2", help="instance counts of the runtime hop, comma-separated"
    )
    parser.add_argument(
        "--routing",
        default="RANDOM,LEAST_OUTSTANDING_REQUESTS",
        help="routing strategies of the multi-instance hops, comma-separated",
    )
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="smlocal-bench-"))
    model_tar = train_iris_tar(work / "iris")
    ups, deploys = start_times(work, args.start_runs, model_tar)
    print("\n== emulator start-up and deployment")
    print(f"   machine: {machine()}")
    print(
        f"   smlocal up -> healthy: median {statistics.median(ups):.2f} s "
        f"(runs: {', '.join(f'{u:.2f}' for u in ups)}; target < 2 s)"
    )
    print(
        f"   CreateEndpoint -> InService: median {statistics.median(deploys):.2f} s "
        f"(runs: {', '.join(f'{d:.2f}' for d in deploys)}; target < 3 s)"
    )

    emulator = SmlocalEmulator(work / "throughput").start()
    comparisons = []
    try:
        s3 = emulator.client("s3")
        s3.create_bucket(Bucket="models")
        s3.upload_file(str(model_tar), "models", "iris/model.tar.gz")
        hops = [
            (count, routing)
            for count in (int(n) for n in args.instances.split(","))
            for routing in (["RANDOM"] if count == 1 else args.routing.split(","))
        ]
        for count, routing in hops:
            comparison, through, direct = runtime_hop(emulator, count, args, routing)
            comparisons.append(comparison)
            print_comparison(
                comparison,
                extra=f"iris XGBoost, {count} instance(s) (a model server of 1 gunicorn worker "
                f"each), {args.clients} clients, {args.requests} requests per round",
            )
            print(f"   CPU through the emulator: {through.summary()}")
            print(f"   CPU direct: {direct.summary()}")
            print(f"   {cpu_ceiling(through, direct)}")
        served = distribution(emulator, args)
    finally:
        emulator.stop()
    total = sum(served)
    least = min(served) / total if total else 0.0
    print("\n== per-instance distribution: a 2-instance endpoint through the emulator")
    print(
        f"   {args.clients} clients, {args.requests} requests, counted by each instance's "
        "capture (100 %)"
    )
    for i, n in enumerate(served):
        print(f"   instance {i}: {n} requests ({n / total:.1%})" if total else f"   {i}: 0")
    verdict = "meets" if least >= 0.40 else "MISSES"
    print(f"   least-served share {least:.3f} ({verdict} target >= 0.40; all {total} counted)")
    return comparisons


if __name__ == "__main__":
    main()
