"""A serial inference pipeline's cost: a 2-container endpoint (a scikit-learn scaler with a
user script feeding the iris XGBoost model) invoked through the emulator, against a client
calling the same two model servers one after the other itself (the second with the first's
answer), alternating rounds in one run. The pipeline arm pays the edge hop and the
instance's front (`smlocal.model_server.pipeline`), which the direct arm does not.
Run: python -m bench.multi_container [--rounds N] [--requests N] [--clients N]
"""

from __future__ import annotations

import argparse
import http.client
import tempfile
import threading
import time
from pathlib import Path

from bench.emulator import instance_servers, listening_port
from bench.load import CSV_HEADERS, ONE_ROW, LoadResult
from bench.report import Comparison, load_options, print_comparison
from smlocal.emulator.pytest_plugin import SmlocalEmulator
from tests.conftest import train_iris_tar
from tests.e2e.test_multi_container import PREPROCESS
from tests.support import ROLE, SKLEARN_IMAGE, XGBOOST_IMAGE, sklearn_archive

Step = tuple[int, str]  # (port, path)


def chain_load(steps: list[Step], clients: int, requests: int) -> LoadResult:
    """Closed-loop clients, each sending the row through `steps` in turn (each step's body is
    the previous step's answer) on keep-alive connections; one request is the whole chain."""
    lock = threading.Lock()
    remaining = [requests]
    latencies: list[float] = []
    errors = [0]

    def take() -> bool:
        with lock:
            remaining[0] -= 1
            return remaining[0] >= 0

    def client() -> None:
        conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for port, _ in steps]
        mine: list[float] = []
        while take():
            started = time.perf_counter()
            body, ok = ONE_ROW, True
            for conn, (_, path) in zip(conns, steps, strict=True):
                conn.request("POST", path, body=body, headers=CSV_HEADERS)
                response = conn.getresponse()
                body = response.read()
                ok = ok and response.status == 200
            mine.append((time.perf_counter() - started) * 1000)
            if not ok:
                with lock:
                    errors[0] += 1
        for conn in conns:
            conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = LoadResult(len(latencies), errors[0], time.perf_counter() - started, latencies)
    if result.errors:
        raise RuntimeError(f"{result.errors} failed chains")
    return result


def deploy_pipeline(emulator: SmlocalEmulator, work: Path) -> tuple[str, list[int]]:
    """The 2-container endpoint; its name and its containers' ports, in pipeline order."""
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    s3, sm = emulator.client("s3"), emulator.client("sagemaker")
    s3.create_bucket(Bucket="bench")
    scaler = StandardScaler().fit(load_iris(return_X_y=True)[0])
    s3.put_object(Bucket="bench", Key="pre.tar.gz", Body=sklearn_archive(scaler, PREPROCESS))
    s3.upload_file(str(train_iris_tar(work)), "bench", "xgb.tar.gz")
    name = "bench-pipeline"
    script = {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    }
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        Containers=[
            {
                "Image": SKLEARN_IMAGE,
                "ModelDataUrl": "s3://bench/pre.tar.gz",
                "Environment": script,
            },
            {"Image": XGBOOST_IMAGE, "ModelDataUrl": "s3://bench/xgb.tar.gz"},
        ],
    )
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1}
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 600}
    )
    servers = instance_servers(emulator, name)
    by_image = {
        s.environ().get("SMLOCAL_IMAGE", ""): s
        for s in servers
        if "SMLOCAL_PIPELINE" not in s.environ()
    }
    ports = [listening_port(by_image[image]) for image in (SKLEARN_IMAGE, XGBOOST_IMAGE)]
    return name, ports


def compare(
    emulator: SmlocalEmulator, name: str, ports: list[int], args: argparse.Namespace
) -> Comparison:
    """Alternating rounds of the two arms, after a warm-up of each."""
    comparison = Comparison(
        "serial inference pipeline (2 containers) through the emulator vs the two model "
        "servers called one after the other by the client",
        "pipeline",
        "two calls",
        target_ratio=0.5,
    )
    arms = [
        ([(emulator.port, f"/endpoints/{name}/invocations")], comparison.a),
        ([(port, "/invocations") for port in ports], comparison.b),
    ]
    for steps, _ in arms:
        chain_load(steps, args.clients, 200)
    for i in range(args.rounds):
        for steps, results in arms if i % 2 == 0 else reversed(arms):
            results.append(chain_load(steps, args.clients, args.requests))
    return comparison


def main(argv: list[str] | None = None) -> list[Comparison]:
    parser = load_options(__doc__, rounds=5, requests=1000)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="smlocal-bench-mc-"))
    emulator = SmlocalEmulator(work / "emulator").start()
    try:
        name, ports = deploy_pipeline(emulator, work)
        comparison = compare(emulator, name, ports, args)
    finally:
        emulator.stop()
    print_comparison(
        comparison,
        extra=f"scikit-learn scaler (user script) -> iris XGBoost, one instance, each model "
        f"server 1 gunicorn worker, no capture, {args.clients} clients, {args.requests} "
        "chains per round",
    )
    return [comparison]


if __name__ == "__main__":
    main()
