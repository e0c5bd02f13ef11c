"""Batch transform vs an endpoint: the same iris model scoring 100k CSV rows.

Target: the transform job's throughput at least 1.5x the endpoint's (batching saves the
per-request cost). The transform arm is CreateTransformJob to Completed for one file of
ROWS rows (SplitType Line, MultiRecord, MaxPayloadInMB 6, the container's own execution
parameters otherwise), its model server's start-up included. The endpoint arm is the same
model on one instance, one row per InvokeEndpoint through the emulator's edge from
`--clients` threads, for `--endpoint-requests` rows (the rate is rows per second; sending
all 100k one by one would take minutes and measure the same rate).
Run: python -m bench.transform [--rows N] [--clients N] [--endpoint-requests N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.load import run_load
from bench.report import machine
from smlocal.emulator.pytest_plugin import SmlocalEmulator
from tests.conftest import train_iris_tar
from tests.support import ROLE, XGBOOST_IMAGE, deploy, unique

TARGET_RATIO = 1.5


def rows_csv(count: int) -> str:
    """`count` iris-like rows (the 150 iris rows over and over), no header."""
    from sklearn.datasets import load_iris

    features = load_iris(return_X_y=True)[0]
    lines = [",".join(f"{v:g}" for v in features[i % len(features)]) for i in range(count)]
    return "\n".join(lines) + "\n"


def transform_seconds(sm, model: str) -> float:  # type: ignore[no-untyped-def]
    """Seconds from CreateTransformJob to Completed."""
    name = unique("bench-transform")
    began = time.perf_counter()
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=6,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bench/rows"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://bench/out/{name}", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    while True:
        job = sm.describe_transform_job(TransformJobName=name)
        if job["TransformJobStatus"] != "InProgress":
            break
        time.sleep(0.02)
    if job["TransformJobStatus"] != "Completed":
        raise RuntimeError(f"{name} ended {job['TransformJobStatus']}: {job.get('FailureReason')}")
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--endpoint-requests", type=int, default=5000)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="smlocal-bench-transform-"))
    emulator = SmlocalEmulator(work / "emulator").start()
    try:
        s3, sm = emulator.client("s3"), emulator.client("sagemaker")
        s3.create_bucket(Bucket="bench")
        s3.upload_file(str(train_iris_tar(work / "iris")), "bench", "model/model.tar.gz")
        s3.put_object(Bucket="bench", Key="rows/rows.csv", Body=rows_csv(args.rows).encode())
        model = unique("bench-model")
        sm.create_model(
            ModelName=model,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": XGBOOST_IMAGE,
                "ModelDataUrl": "s3://bench/model/model.tar.gz",
            },
        )
        seconds = transform_seconds(sm, model)
        variant: dict[str, object] = {
            "name": "AllTraffic",
            "model_data": "s3://bench/model/model.tar.gz",
        }
        deploy(sm, "bench-endpoint", [variant])
        row = rows_csv(1).strip().encode()
        result = run_load(
            emulator.port, "/endpoints/bench-endpoint/invocations", row,
            {"Content-Type": "text/csv"}, clients=args.clients,
            requests=args.endpoint_requests, max_seconds=120.0,
        )  # fmt: skip
    finally:
        emulator.stop()
    batch_rate = args.rows / seconds
    ratio = batch_rate / result.rps if result.rps else float("inf")
    print(f"\n== transform: a transform job vs an endpoint, iris model, {args.rows} CSV rows")
    print(f"   machine: {machine()}")
    print(f"   transform job: {seconds:.2f} s Create -> Completed (server start-up included), "
          f"{batch_rate:,.0f} rows/s")  # fmt: skip
    print(f"   endpoint: {result.requests} one-row InvokeEndpoint from {args.clients} clients "
          f"in {result.seconds:.2f} s, {result.rps:,.0f} rows/s, p50 {result.p50:.1f} ms, "
          f"{result.errors} errors")  # fmt: skip
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(f"   ratio {ratio:.1f}x ({verdict} target >= {TARGET_RATIO}x)")
    return ratio


if __name__ == "__main__":
    main()
