"""Hyperparameter tuning: CreateHyperParameterTuningJob to Completed, 4 training jobs of the
built-in XGBoost algorithm 2 at a time, on the seed workshop's data (3,000 synthetic
bank-marketing rows, preprocessed as its notebook 02 does: 2,100 training and 600
validation rows of 60 columns), with the notebook's ranges and Bayesian strategy.

Printed side by side: the tuning job's time, one training job of the same data with the
notebook's hyperparameters, and the ratio (4 jobs 2 at a time would ideally take twice one
job; the machine's cores and the tuner's polling decide the rest). AWS takes about 20
minutes for the notebook's 30 jobs, mostly instance start-up.
Run: python -m bench.tuning [--runs N]
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
from smlocal.emulator.pytest_plugin import SmlocalEmulator
from tests.support import ROLE, XGBOOST_IMAGE, unique
from tests.workshop import HYPERPARAMETERS, PREPROCESSING, bank_marketing_csv

RANGES = {
    "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "10"}],
    "ContinuousParameterRanges": [
        {"Name": name, "MinValue": low, "MaxValue": high}
        for name, low, high in (
            ("min_child_weight", "1", "10"),
            ("alpha", "0", "5"),
            ("eta", "0", "1"),
            ("colsample_bytree", "0", "1"),
            ("gamma", "0", "10"),
        )
    ],
}


def workshop_data(work: Path) -> Path:
    """The workshop's preprocessing run on its synthetic CSV; the output folder."""
    raw, out = work / "input", work / "output"
    raw.mkdir()
    for part in ("train", "validation", "test", "baseline"):
        (out / part).mkdir(parents=True)
    (raw / "bank-additional-full.csv").write_text(bank_marketing_csv())
    (work / "preprocessing.py").write_text(PREPROCESSING)
    subprocess.run([sys.executable, str(work / "preprocessing.py"), "--filepath", f"{raw}/",
                    "--outputpath", f"{out}/"], check=True, capture_output=True)  # fmt: skip
    return out


def _definition() -> dict[str, Any]:
    static = {k: str(v) for k, v in HYPERPARAMETERS.items() if k not in ("max_depth", "eta",
              "alpha", "colsample_bytree", "min_child_weight")}  # fmt: skip
    return {
        "StaticHyperParameters": static,
        "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": name,
                "ContentType": "csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://bench/workshop/{name}",
                    }
                },
            }
            for name in ("train", "validation")
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://bench/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 1200},
    }


def tune_once(sm: Any, name: str) -> float:
    """Seconds from CreateHyperParameterTuningJob to a Completed Describe."""
    began = time.perf_counter()
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "HyperParameterTuningJobObjective": {
                "Type": "Maximize",
                "MetricName": "validation:auc",
            },
            "ParameterRanges": RANGES,
        },
        TrainingJobDefinition=_definition(),
    )
    while True:
        job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if job["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.05)
    if job["HyperParameterTuningJobStatus"] != "Completed":
        raise RuntimeError(f"{name} ended {job['HyperParameterTuningJobStatus']}: {job}")
    return time.perf_counter() - began


def train_once(sm: Any, name: str) -> float:
    """Seconds from CreateTrainingJob to Completed, the notebook's hyperparameters."""
    definition = _definition()
    began = time.perf_counter()
    sm.create_training_job(
        TrainingJobName=name,
        HyperParameters={k: str(v) for k, v in HYPERPARAMETERS.items()},
        AlgorithmSpecification=definition["AlgorithmSpecification"],
        **{
            k: definition[k]
            for k in (
                "RoleArn",
                "InputDataConfig",
                "OutputDataConfig",
                "ResourceConfig",
                "StoppingCondition",
            )
        },
    )
    while (job := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] in (
        "InProgress", "Stopping"):  # fmt: skip
        time.sleep(0.05)
    if job["TrainingJobStatus"] != "Completed":
        raise RuntimeError(f"{name} ended {job['TrainingJobStatus']}: {job.get('FailureReason')}")
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> list[float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="smlocal-bench-tuning-"))
    data = workshop_data(work)
    emulator = SmlocalEmulator(work / "emulator").start()
    try:
        s3, sm = emulator.client("s3"), emulator.client("sagemaker")
        s3.create_bucket(Bucket="bench")
        for name in ("train", "validation"):
            s3.upload_file(str(data / name / f"{name}.csv"), "bench", f"workshop/{name}/{name}.csv")
        train_once(sm, unique("bench-warm"))
        single = [train_once(sm, unique("bench-one")) for _ in range(args.runs)]
        tuned = [tune_once(sm, unique("bench-hpo")[:32]) for _ in range(args.runs)]
    finally:
        emulator.stop()
    one, four = statistics.median(single), statistics.median(tuned)
    print("\n== tuning: CreateHyperParameterTuningJob -> Completed, 4 jobs, 2 at a time")
    print(f"   machine: {machine()}")
    runs = ", ".join(f"{s:.2f}" for s in single)
    print(f"   one training job (2,100 x 60 rows, num_round 150): {runs} s")
    print(f"   tuning job of 4: {', '.join(f'{s:.2f}' for s in tuned)} s")
    print(f"   median {four:.2f} s = {four / one:.1f} x one job (ideal 2.0 x on 2 free cores); "
          "AWS: about 20 minutes for the notebook's 30 jobs")  # fmt: skip
    return tuned


if __name__ == "__main__":
    main()
