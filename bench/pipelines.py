"""Pipelines: StartPipelineExecution to Succeeded for the five-step iris pipeline.

process (analyzer baseline) -> train (built-in XGBoost, 2 rounds) -> evaluate (analyzer on
the validation rows, a property file) -> condition (JsonGet on it) -> register (a model
package). Target: under 10 s (SageMaker takes 15 minutes or more: each job provisions its
instances). The pipeline is built with the SageMaker SDK and upserted once; each run starts
an execution through boto3 and polls DescribePipelineExecution every 20 ms. Side by side:
the steps' own time (the five steps run one after the other, so their durations add up)
against the execution's, whose difference is the executor's overhead; the first run is
reported apart (it warms the emulator's clients).
With --workshop: the seed workshop's notebook 03 pipeline instead (tests/workshop_pipeline.py:
its preprocessing and evaluation scripts, 150 XGBoost rounds, a model and a batch transform;
3000 synthetic bank-marketing rows), whose model, register and transform steps run in parallel.
Run: python -m bench.pipelines [--runs N] [--workshop]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import machine
from smlocal.emulator.pytest_plugin import SmlocalEmulator
from tests.pipeline_sdk import BUCKET, iris_pipeline, pipeline_session, upload_iris
from tests.support import ROLE

TARGET_SECONDS = 10.0
STEPS = ("Process", "Train", "Evaluate", "CheckRows", "Register-RegisterModel")


def run_once(sm: Any, name: str) -> tuple[float, dict[str, float]]:
    """Seconds from StartPipelineExecution to Succeeded, and each step's seconds."""
    began = time.perf_counter()
    arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    while True:
        described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        if described["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
            break
        time.sleep(0.02)
    seconds = time.perf_counter() - began
    if described["PipelineExecutionStatus"] != "Succeeded":
        raise RuntimeError(f"{arn} ended {described['PipelineExecutionStatus']}: "
                           f"{described.get('FailureReason')}")  # fmt: skip
    listed = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    steps = {s["StepName"]: (s["EndTime"] - s["StartTime"]).total_seconds() for s in listed}
    return seconds, steps


def sdk_session(emulator: SmlocalEmulator) -> Any:
    """A PipelineSession on the emulator (the SDK reads the endpoint from the environment)."""
    os.environ.update(emulator.env)
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    import boto3
    import sagemaker

    from smlocal.emulator.pytest_plugin import SDK_CONFIG

    boto_session = boto3.Session(region_name="us-east-1")
    session = sagemaker.Session(boto_session=boto_session, default_bucket=BUCKET,
                                sagemaker_config=SDK_CONFIG)  # fmt: skip
    return pipeline_session(session)


def main(argv: list[str] | None = None) -> list[float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workshop", action="store_true", help="the workshop's pipeline")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="smlocal-bench-pipelines-"))
    emulator = SmlocalEmulator(work / "emulator").start()
    try:
        emulator.client("s3").create_bucket(Bucket=BUCKET)
        pipeline = _workshop(emulator, work) if args.workshop else _iris(emulator, work)
        pipeline.upsert(role_arn=ROLE)
        sm = emulator.client("sagemaker")
        first, _ = run_once(sm, pipeline.name)
        runs = [run_once(sm, pipeline.name) for _ in range(args.runs)]
    finally:
        emulator.stop()
    title = WORKSHOP_TITLE if args.workshop else IRIS_TITLE
    report(first, runs, title, STEPS if not args.workshop else tuple(runs[0][1]))
    return [seconds for seconds, _ in runs]


IRIS_TITLE = "5 steps on iris (150 rows)"
WORKSHOP_TITLE = "the workshop's 7 steps on 3000 bank-marketing rows"


def _iris(emulator: SmlocalEmulator, work: Path) -> Any:
    data = upload_iris(emulator.client("s3"), work, "bench")
    return iris_pipeline(sdk_session(emulator), "bench-iris", data, "bench-group")


def _workshop(emulator: SmlocalEmulator, work: Path) -> Any:
    from tests.workshop_pipeline import prepare, workshop_pipeline

    session = sdk_session(emulator)
    return workshop_pipeline(session, prepare(session, work), work, transform=True)


def report(first: float, runs: list[tuple[float, dict[str, float]]], title: str = IRIS_TITLE,
           names: tuple[str, ...] = STEPS) -> None:  # fmt: skip
    """Print the runs, the steps' medians and the executor's overhead beside them (steps
    that run in parallel make their sum larger than the execution)."""
    seconds = [s for s, _ in runs]
    median = statistics.median(seconds)
    step_sums = [sum(steps.values()) for _, steps in runs]
    print(f"\n== pipelines: StartPipelineExecution -> Succeeded, {title}")
    print(f"   machine: {machine()}")
    print(f"   first run: {first:.2f} s (warms the emulator's clients)")
    print(f"   runs: {', '.join(f'{s:.2f}' for s in seconds)} s")
    print("   median per step: " + ", ".join(
        f"{name} {statistics.median(steps.get(name, 0.0) for _, steps in runs):.2f} s"
        for name in names))  # fmt: skip
    inside = statistics.median(step_sums)
    print(f"   side by side: execution {median:.2f} s vs its steps {inside:.2f} s "
          f"(ratio {median / inside:.2f}; executor overhead {median - inside:.2f} s)")  # fmt: skip
    if title != IRIS_TITLE:  # the target is the iris pipeline's
        print(f"   median {median:.2f} s (15 minutes or more in SageMaker)")
        return
    verdict = "meets" if median < TARGET_SECONDS else "MISSES"
    print(f"   median {median:.2f} s ({verdict} target < {TARGET_SECONDS:.0f} s; "
          "15 minutes or more in SageMaker)")  # fmt: skip


if __name__ == "__main__":
    main()
