"""Multi-model endpoints: a warm target model against a single-model endpoint, and cold loads.

(1) InvokeEndpoint on a multi-model endpoint whose target model is loaded, against a
    single-model endpoint of the same iris model, both through the emulator, alternating
    rounds (target: at least 0.90 of the single model's throughput).
(2) The cold load of a target model: the first invocation of each of several copies of the
    model (download from the embedded S3, unpack, load) against a warm invocation.
Run: python -m bench.multi_model [--rounds N] [--requests N] [--clients N] [--cold N]
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.load import CSV_HEADERS, ONE_ROW, LoadResult, measure_round, run_load
from bench.report import Comparison, load_options, print_comparison
from smlocal.emulator.pytest_plugin import SmlocalEmulator
from tests.conftest import train_iris_tar
from tests.support import ROLE, XGBOOST_IMAGE, deploy, wait_for_status

TARGET = "iris.tar.gz"
HEADERS = {**CSV_HEADERS, "X-Amzn-SageMaker-Target-Model": TARGET}


def deploy_multi_model(emulator: SmlocalEmulator, name: str, prefix: str) -> None:
    """A multi-model endpoint of one instance on the prefix, InService."""
    sm = emulator.client("sagemaker")
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "Mode": "MultiModel", "ModelDataUrl": prefix},
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"}
        ],
    )  # fmt: skip
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    wait_for_status(sm, name, ("InService",))


def mme_round(port: int, path: str, clients: int, requests: int) -> LoadResult:
    """One round of one-row CSV invocations of the warm target model."""
    result = run_load(port, path, ONE_ROW, HEADERS, clients=clients, requests=requests)
    if result.errors:
        raise RuntimeError(f"{result.errors} failed requests: {result.statuses}")
    return result


def cold_loads(emulator: SmlocalEmulator, name: str, copies: int) -> tuple[list[float], float]:
    """Seconds of the first invocation of each copy, and the median of warm ones after."""
    runtime = emulator.client("sagemaker-runtime")

    def timed(target: str) -> float:
        began = time.perf_counter()
        runtime.invoke_endpoint(
            EndpointName=name, ContentType="text/csv", Body=ONE_ROW, TargetModel=target
        )
        return time.perf_counter() - began

    cold = [timed(f"copy-{i}.tar.gz") for i in range(copies)]
    warm = statistics.median(timed(f"copy-{i % copies}.tar.gz") for i in range(copies * 5))
    return cold, warm


def main(argv: list[str] | None = None) -> list[Comparison]:
    parser = load_options(__doc__, rounds=7, requests=2000)
    parser.add_argument("--cold", type=int, default=8, help="model copies loaded cold")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="smlocal-bench-mme-"))
    model_tar = train_iris_tar(work / "iris")
    emulator = SmlocalEmulator(work / "emulator").start()
    try:
        s3 = emulator.client("s3")
        s3.create_bucket(Bucket="models")
        s3.upload_file(str(model_tar), "models", "single/model.tar.gz")
        s3.upload_file(str(model_tar), "models", f"mme/{TARGET}")
        for i in range(args.cold):
            s3.upload_file(str(model_tar), "models", f"cold/copy-{i}.tar.gz")
        deploy(
            emulator.client("sagemaker"),
            "bench-single",
            [{"name": "AllTraffic", "model_data": "s3://models/single/model.tar.gz"}],
        )
        deploy_multi_model(emulator, "bench-mme", "s3://models/mme/")
        deploy_multi_model(emulator, "bench-cold", "s3://models/cold/")
        comparison = Comparison(
            "multi-model endpoint, warm target model, vs a single-model endpoint (both through "
            "the emulator)",
            "multi-model",
            "single model",
            target_ratio=0.90,
        )
        port, clients = emulator.port, args.clients

        def multi(n: int) -> LoadResult:
            return mme_round(port, "/endpoints/bench-mme/invocations", clients, n)

        def single(n: int) -> LoadResult:
            return measure_round(port, "/endpoints/bench-single/invocations", clients, n)

        arms = [(multi, comparison.a), (single, comparison.b)]
        for run, _ in arms:
            run(300)  # warm-up: the target model is loaded here
        for i in range(args.rounds):
            for run, results in arms if i % 2 == 0 else reversed(arms):
                results.append(run(args.requests))
        print_comparison(
            comparison,
            extra=f"iris XGBoost, 1 instance (1 gunicorn worker) each, {args.clients} clients, "
            f"{args.requests} requests per round",
        )
        cold, warm = cold_loads(emulator, "bench-cold", args.cold)
    finally:
        emulator.stop()
    print("\n== multi-model endpoint: cold load of a target model (boto3 InvokeEndpoint)")
    print(
        f"   first invocation of {len(cold)} fresh copies: median {statistics.median(cold):.3f} s"
        f" (min {min(cold):.3f}, max {max(cold):.3f}; the first pays boto3's import in the "
        f"worker); warm invocation median {warm * 1000:.1f} ms"
    )
    return [comparison]


if __name__ == "__main__":
    main()
