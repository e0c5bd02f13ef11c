"""Asynchronous inference end to end vs InvokeEndpoint, the same iris model on one instance.

Async arm: `--requests` InvokeEndpointAsync calls (each reading the same one-row CSV from
S3 by InputLocation) from `--clients` keep-alive clients; measured from the first call to
the last output object listed in S3, so it covers the durable queue, the S3 read, the
model, the S3 write and the queue file's removal. Its acceptance rate (202s per second)
is shown too. Sync arm: the same number of one-row InvokeEndpoint calls through the edge.
Rounds alternate. No target: async inference trades throughput for durability (two fsyncs
and two S3 requests per invocation); the figure says by how much.
Run: python -m bench.async_inference [--rounds N] [--requests N] [--clients N] [--per-instance N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.load import CSV_HEADERS, ONE_ROW, LoadResult, run_load
from bench.report import machine
from smlocal.emulator.pytest_plugin import SmlocalEmulator
from tests.conftest import train_iris_tar
from tests.support import ROLE, XGBOOST_IMAGE, deploy, wait_for_status

MODEL = "s3://bench/model/model.tar.gz"
INPUT = "s3://bench/in/row.csv"


def async_endpoint(sm, name: str, per_instance: int) -> None:  # type: ignore[no-untyped-def]
    """An InService async endpoint of the iris model writing to s3://bench/out/."""
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": MODEL},
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1}
        ],
        AsyncInferenceConfig={
            "OutputConfig": {"S3OutputPath": "s3://bench/out"},
            "ClientConfig": {"MaxConcurrentInvocationsPerInstance": per_instance},
        },
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    wait_for_status(sm, name, ("InService",), timeout=300)


def outputs(s3, prefix: str) -> int:  # type: ignore[no-untyped-def]
    """Objects under s3://bench/{prefix}."""
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix=prefix):
        count += page.get("KeyCount", 0)
    return count


def async_round(
    emulator: SmlocalEmulator, round_no: int, requests: int, clients: int
) -> tuple[LoadResult, float]:
    """(the acceptance load, seconds from the first call to the last output in S3)."""
    s3 = emulator.client("s3")
    extension = f"round-{round_no}"
    headers = {
        "X-Amzn-SageMaker-Content-Type": "text/csv",
        "X-Amzn-SageMaker-InputLocation": INPUT,
        "X-Amzn-SageMaker-S3OutputPathExtension": extension,
    }
    began = time.perf_counter()
    accepted = run_load(
        emulator.port, "/endpoints/bench-async/async-invocations", b"", headers,
        clients=clients, requests=requests, max_seconds=600.0,
    )  # fmt: skip
    done = requests - accepted.errors
    while outputs(s3, f"out/{extension}/") < done:
        if time.perf_counter() - began > 900:
            raise TimeoutError(f"round {round_no}: outputs missing")
        time.sleep(0.05)
    return accepted, time.perf_counter() - began


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--per-instance", type=int, default=4)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="smlocal-bench-async-"))
    emulator = SmlocalEmulator(work / "emulator").start()
    sync_rates, async_rates, accept_rates = [], [], []
    try:
        s3, sm = emulator.client("s3"), emulator.client("sagemaker")
        s3.create_bucket(Bucket="bench")
        s3.upload_file(str(train_iris_tar(work / "iris")), "bench", "model/model.tar.gz")
        s3.put_object(Bucket="bench", Key="in/row.csv", Body=ONE_ROW)
        deploy(sm, "bench-sync", [{"name": "AllTraffic", "model_data": MODEL}])
        async_endpoint(sm, "bench-async", args.per_instance)
        for round_no in range(1, args.rounds + 1):
            sync = run_load(
                emulator.port, "/endpoints/bench-sync/invocations", ONE_ROW, CSV_HEADERS,
                clients=args.clients, requests=args.requests, max_seconds=600.0,
            )  # fmt: skip
            accepted, seconds = async_round(emulator, round_no, args.requests, args.clients)
            sync_rates.append(sync.rps)
            async_rates.append((args.requests - accepted.errors) / seconds)
            accept_rates.append(accepted.rps)
            print(f"   round {round_no}: sync {sync.rps:,.0f} req/s ({sync.errors} errors); async "
                  f"{async_rates[-1]:,.0f} req/s end to end, accepted at {accepted.rps:,.0f}/s "
                  f"(p50 {accepted.p50:.1f} ms, {accepted.errors} refused)")  # fmt: skip
    finally:
        emulator.stop()
    ratio = statistics.median(async_rates) / statistics.median(sync_rates)
    print(f"\n== async_inference: InvokeEndpointAsync end to end vs InvokeEndpoint, iris, "
          f"1 instance, {args.requests} requests x {args.rounds} rounds, {args.clients} clients, "
          f"MaxConcurrentInvocationsPerInstance {args.per_instance}")  # fmt: skip
    print(f"   machine: {machine()}")
    print(f"   median sync: {statistics.median(sync_rates):,.0f} req/s")
    print(f"   median async: {statistics.median(async_rates):,.0f} req/s accepted -> output in "
          f"S3; acceptance alone {statistics.median(accept_rates):,.0f} req/s")  # fmt: skip
    print(f"   async / sync throughput: {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main()
