"""Serverless cold starts, and what a shadow variant costs production's callers.

Cold start: a serverless iris XGBoost endpoint with a 1-second idle setting; each round
waits until its model server has scaled to zero, then times one InvokeEndpoint (the cold
start: a new model server on the unpacked model, its /ping, the answer) against the median
of warm invocations right after it.

Shadow overhead: the same model behind two endpoints, one plain and one with a shadow variant
of the same model getting a copy of every request (weight 1.0), loaded alternately from
`--clients` threads; the target is the shadowed endpoint's throughput at least 0.8x the
plain one's (the shadow's server competes for the same cores, which a real shadow does not).
Run: python -m bench.serverless_shadow [--rounds N] [--requests N] [--clients N] [--cold N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.load import run_load
from bench.report import Comparison, machine, print_comparison
from smlocal.emulator.pytest_plugin import SmlocalEmulator
from tests.conftest import train_iris_tar
from tests.support import ROLE, XGBOOST_IMAGE, unique, wait_for_status

ROW = b"5.1,3.5,1.4,0.2"
MODEL_DATA = "s3://bench/model/model.tar.gz"
TARGET_RATIO = 0.8


def _variant(name: str, model: str) -> dict[str, object]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
    }


def _endpoint(sm, name: str, **config: object) -> None:  # type: ignore[no-untyped-def]
    sm.create_endpoint_config(EndpointConfigName=name, **config)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_for_status(sm, name, timeout=600)
    if described["EndpointStatus"] != "InService":
        raise RuntimeError(f"{name}: {described.get('FailureReason')}")


def _shutdowns(logs, endpoint: str) -> int:  # type: ignore[no-untyped-def]
    events = logs.filter_log_events(logGroupName=f"/aws/sagemaker/Endpoints/{endpoint}")
    return sum("Shutting down" in e["message"] for e in events["events"])


def cold_starts(emulator: SmlocalEmulator, model: str, rounds: int) -> tuple[list[float], float]:
    """Milliseconds of each cold invocation, and the median warm one."""
    sm, logs = emulator.client("sagemaker"), emulator.client("logs")
    runtime = emulator.client("sagemaker-runtime")
    name = unique("bench-cold")
    serverless = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    _endpoint(sm, name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": model, "ServerlessConfig": serverless}
    ])  # fmt: skip
    cold, warm = [], []
    for done in range(rounds):
        deadline = time.monotonic() + 120
        while _shutdowns(logs, name) <= done:  # wait until it scaled to zero again
            if time.monotonic() > deadline:
                raise RuntimeError("the serverless endpoint did not scale to zero")
            time.sleep(0.2)
        began = time.perf_counter()
        runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=ROW)
        cold.append((time.perf_counter() - began) * 1000)
        for _ in range(20):
            began = time.perf_counter()
            runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=ROW)
            warm.append((time.perf_counter() - began) * 1000)
    sm.delete_endpoint(EndpointName=name)
    return cold, statistics.median(warm)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--cold", type=int, default=3, help="cold starts to time")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="smlocal-bench-serverless-"))
    emulator = SmlocalEmulator(work / "emulator", {"SMLOCAL_SERVERLESS_IDLE_SECONDS": "1"}).start()
    try:
        s3, sm = emulator.client("s3"), emulator.client("sagemaker")
        s3.create_bucket(Bucket="bench")
        s3.upload_file(str(train_iris_tar(work / "iris")), "bench", "model/model.tar.gz")
        model = unique("bench-model")
        sm.create_model(
            ModelName=model,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": MODEL_DATA},
        )
        cold, warm = cold_starts(emulator, model, args.cold)
        _endpoint(sm, "bench-plain", ProductionVariants=[_variant("Prod", model)])
        _endpoint(
            sm,
            "bench-shadowed",
            ProductionVariants=[_variant("Prod", model)],
            ShadowProductionVariants=[_variant("Shadow", model)],
        )
        comparison = Comparison(
            "shadow overhead: production's callers with and without a shadow variant",
            "shadowed",
            "plain",
            TARGET_RATIO,
        )
        for _ in range(args.rounds):
            for arm, name in ((comparison.a, "bench-shadowed"), (comparison.b, "bench-plain")):
                arm.append(run_load(
                    emulator.port, f"/endpoints/{name}/invocations", ROW,
                    {"Content-Type": "text/csv"}, clients=args.clients,
                    requests=args.requests, max_seconds=60.0,
                ))  # fmt: skip
    finally:
        emulator.stop()
    print("\n== serverless cold start: iris XGBoost, MemorySizeInMB 2048, idle setting 1 s")
    print(f"   machine: {machine()}")
    print(
        f"   cold invocations: {', '.join(f'{ms:.0f}' for ms in cold)} ms "
        f"(median {statistics.median(cold):.0f} ms); warm median {warm:.1f} ms"
    )
    print_comparison(comparison, f"{args.clients} clients, {args.requests} requests per round")
    return comparison.ratio


if __name__ == "__main__":
    main()
