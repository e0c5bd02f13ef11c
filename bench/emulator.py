"""The emulator: start-up and deployment times, and the runtime hop's cost.

(1) `smlocal up` to a healthy /_smlocal/health (target < 2 s) and CreateEndpoint to
    InService for the iris model (target < 3 s), each over several fresh runs.
(2) Invocations through the emulator's runtime against the same model server called
    directly, alternating in one run (target: at least 0.90 of the direct throughput).
Run: python -m bench.emulator [--rounds N] [--requests N] [--clients N]
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import psutil

from bench.load import measure_round
from bench.report import Comparison, load_options, machine, print_comparison
from smlocal.emulator.pytest_plugin import SmlocalEmulator
from tests.conftest import train_iris_tar
from tests.support import deploy, unique, wait_for_status


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


def model_server_port(emulator: SmlocalEmulator) -> int:
    """The loopback port the endpoint's model server (a child of the emulator) listens on."""
    assert emulator.proc is not None
    for child in psutil.Process(emulator.proc.pid).children(recursive=True):
        for conn in child.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN:
                return int(conn.laddr.port)
    raise RuntimeError("no model server found")


def main(argv: list[str] | None = None) -> Comparison:
    parser = load_options(__doc__, rounds=7, requests=3000)
    parser.add_argument("--start-runs", type=int, default=3)
    parser.add_argument("--instances", type=int, default=1, help="instances (gunicorn workers)")
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
    try:
        s3, sm = emulator.client("s3"), emulator.client("sagemaker")
        s3.create_bucket(Bucket="models")
        s3.upload_file(str(model_tar), "models", "iris/model.tar.gz")
        variant = {"name": "AllTraffic", "model_data": "s3://models/iris/model.tar.gz"}
        deploy(sm, "bench", [{**variant, "count": args.instances}])
        direct_port = model_server_port(emulator)
        path = "/endpoints/bench/invocations"
        comparison = Comparison(
            "runtime: InvokeEndpoint through the emulator vs the model server directly",
            "through emulator",
            "direct",
            target_ratio=0.90,
        )
        for port, route in ((emulator.port, path), (direct_port, "/invocations")):
            measure_round(port, route, args.clients, 300)
        for i in range(args.rounds):
            arms = [
                (emulator.port, path, comparison.a),
                (direct_port, "/invocations", comparison.b),
            ]
            for port, route, results in arms if i % 2 == 0 else reversed(arms):
                results.append(measure_round(port, route, args.clients, args.requests))
    finally:
        emulator.stop()
    print_comparison(
        comparison,
        extra=f"iris XGBoost, {args.instances} instance(s) (gunicorn workers), "
        f"{args.clients} clients, {args.requests} requests per round",
    )
    return comparison


if __name__ == "__main__":
    main()
