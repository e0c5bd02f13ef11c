"""Processing jobs with user scripts: a job's overhead over running the same script directly.

Target: under 1 s of overhead (a processing job takes minutes in SageMaker, mostly instance
provisioning and the image pull). The script splits the iris CSV with pandas. Side by side,
each run times (a) the script run directly with this interpreter on local folders, and (b)
CreateProcessingJob in the scikit-learn image, polled every 20 ms until Completed, with
input downloaded, the script run in the job's sandbox (how: printed) and outputs uploaded.
The first job is reported apart (it makes the cached environment and warms the clients).
Run: python -m bench.processing_scripts [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import machine
from bench.training import iris_csv
from smlocal.emulator.jobs import sandbox
from smlocal.emulator.pytest_plugin import SmlocalEmulator
from tests.support import ROLE, unique

TARGET_SECONDS = 1.0
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SCRIPT = """\
import argparse, os
import pandas as pd
parser = argparse.ArgumentParser()
parser.add_argument("--input", default="/opt/ml/processing/input")
parser.add_argument("--output", default="/opt/ml/processing/output")
args = parser.parse_args()
frame = pd.read_csv(os.path.join(args.input, "iris.csv"), header=None)
frame.sample(frac=0.8, random_state=0).to_csv(os.path.join(args.output, "train.csv"))
print("rows", len(frame))
"""


def direct_once(script: Path, data: Path, out: Path) -> float:
    """Seconds to run the script with this interpreter on local folders."""
    began = time.perf_counter()
    argv = [sys.executable, str(script), "--input", str(data), "--output", str(out)]
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - began


def job_once(sm: Any, name: str) -> float:
    """Seconds from CreateProcessingJob to a Completed DescribeProcessingJob."""
    began = time.perf_counter()
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        AppSpecification={
            "ImageUri": IMAGE,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/split.py"],
        },
        ProcessingInputs=[
            _input("code", "s3://bench/code/split.py", "input/code"),
            _input("data", "s3://bench/iris/iris.csv", "input"),
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "train",
                    "S3Output": {
                        "S3Uri": f"s3://bench/out/{name}",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        ProcessingResources={
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 30,
            }
        },
    )
    while True:
        job = sm.describe_processing_job(ProcessingJobName=name)
        if job["ProcessingJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.02)
    if job["ProcessingJobStatus"] != "Completed":
        raise RuntimeError(f"{name} ended {job['ProcessingJobStatus']}: {job.get('ExitMessage')}")
    return time.perf_counter() - began


def _input(name: str, uri: str, under: str) -> dict[str, Any]:
    return {"InputName": name, "S3Input": {
        "S3Uri": uri, "LocalPath": f"/opt/ml/processing/{under}", "S3DataType": "S3Prefix",
        "S3InputMode": "File"}}  # fmt: skip


def main(argv: list[str] | None = None) -> list[float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="smlocal-bench-processing-"))
    script = work / "split.py"
    script.write_text(SCRIPT)
    data, out = work / "data", work / "out"
    data.mkdir()
    out.mkdir()
    iris_csv(data / "iris.csv")
    emulator = SmlocalEmulator(work / "emulator").start()
    try:
        s3, sm = emulator.client("s3"), emulator.client("sagemaker")
        s3.create_bucket(Bucket="bench")
        s3.upload_file(str(script), "bench", "code/split.py")
        s3.upload_file(str(data / "iris.csv"), "bench", "iris/iris.csv")
        first = job_once(sm, unique("bench-first"))
        pairs = [(direct_once(script, data, out), job_once(sm, unique("bench")))
                 for _ in range(args.runs)]  # fmt: skip
    finally:
        emulator.stop()
    overheads = [job - direct for direct, job in pairs]
    median = statistics.median(overheads)
    print("\n== processing_scripts: a user script as a processing job vs. run directly")
    print(f"   machine: {machine()}; sandbox: {sandbox.mode()}")
    print(f"   first job: {first:.2f} s (makes the cached environment, warms the clients)")
    print(f"   direct runs: {', '.join(f'{d:.2f}' for d, _ in pairs)} s")
    print(f"   job runs:    {', '.join(f'{j:.2f}' for _, j in pairs)} s")
    ratio = statistics.median(j for _, j in pairs) / statistics.median(d for d, _ in pairs)
    verdict = "meets" if median < TARGET_SECONDS else "MISSES"
    print(
        f"   median overhead {median:.2f} s, job/direct {ratio:.2f}x ({verdict} target "
        f"< {TARGET_SECONDS:.0f} s; minutes in SageMaker)"
    )
    return overheads


if __name__ == "__main__":
    main()
