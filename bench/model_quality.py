"""Model-quality benchmark: one monitoring execution over captured records with ground truth.

    python -m bench.model_quality [--records 100000] [--rounds 3] [--keep DIR] [--batch]

Writes `records` captured records of one hour (CSV probability outputs, 1,000 a file, each
with an inferenceId) and their labels (JSON Lines, 10,000 a file, a tenth of them missing
and a hundredth uploaded twice), then runs, each as a command in its own process (imports
included), alternating round after round:

* smlocal: the analyzer's model-quality execution (`python -m smlocal.model_monitor.analyze`
  on a processing job configuration: merge, BinaryClassification metrics with standard
  deviations and curves, constraints checked, files written);
* the plain way: the same files read with `json`, merged in a dict and scored with the same
  scikit-learn calls once each (no standard deviations, curves or files), the floor a
  hand-written script would reach.

With `--batch`, also the execution of a schedule with a BatchTransformInput over the same
records as a transform job's `.out` files (`f1,f2,probability,inference id,inference time`,
10,000 lines a file), merged with the same labels by inference id.

Target (2 cores): the smlocal execution over 100k records under 10 s. Printed: the median
wall and CPU seconds of each, and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOUR = datetime(2026, 3, 1, 10, tzinfo=UTC)
CAPTURE_FORMAT = json.dumps(
    {"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}
)
PLAIN = r"""
import json, sys
from pathlib import Path
import numpy as np
from sklearn import metrics
captures, labels = Path(sys.argv[1]), Path(sys.argv[2])
truth = {}
for path in sorted(labels.rglob("*.jsonl")):
    for line in path.read_text().splitlines():
        record = json.loads(line)
        truth[record["eventMetadata"]["eventId"]] = float(record["groundTruthData"]["data"])
y, p = [], []
for path in sorted(captures.rglob("*.jsonl")):
    for line in path.read_text().splitlines():
        record = json.loads(line)
        label = truth.get(record["eventMetadata"]["inferenceId"])
        if label is not None:
            y.append(label)
            p.append(float(record["captureData"]["endpointOutput"]["data"]))
y, p = np.array(y), np.array(p)
guess = (p >= 0.5).astype(float)
for score in (metrics.recall_score, metrics.precision_score, metrics.accuracy_score):
    score(y, guess)
for beta in (0.5, 1.0, 2.0):
    metrics.fbeta_score(y, guess, beta=beta)
metrics.roc_auc_score(y, p)
metrics.confusion_matrix(y, guess)
"""


def generate(folder: Path, records: int, seed: int = 0) -> None:
    """Captures under folder/captures, labels under folder/groundtruth."""
    import numpy as np

    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, records)
    scores = np.clip(truth * 0.4 + rng.random(records) * 0.6, 0, 1)  # some wrong on each side
    captures = folder / "captures" / "ep" / "AllTraffic" / f"{HOUR:%Y/%m/%d/%H}"
    captures.mkdir(parents=True)
    for start in range(0, records, 1000):
        lines = []
        for i in range(start, min(start + 1000, records)):
            moment = HOUR + timedelta(seconds=i * 3000 / records)
            lines.append(json.dumps({
                "captureData": {
                    "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                      "data": f"{i % 97},{i % 13}", "encoding": "CSV"},
                    "endpointOutput": {"observedContentType": "text/csv; charset=utf-8",
                                       "mode": "OUTPUT", "data": f"{scores[i]:.6f}",
                                       "encoding": "CSV"},
                },
                "eventMetadata": {"eventId": f"e-{i}", "inferenceId": str(i),
                                  "inferenceTime": f"{moment:%Y-%m-%dT%H:%M:%SZ}"},
                "eventVersion": "0",
            }))  # fmt: skip
        (captures / f"{start // 1000:04d}-00-000-x.jsonl").write_text("\n".join(lines) + "\n")
    labels = folder / "groundtruth" / f"{HOUR:%Y/%m/%d/%H}"
    labels.mkdir(parents=True)
    kept = [i for i in range(records) if i % 10] + [i for i in range(1, records, 100)]
    for start in range(0, len(kept), 10_000):
        lines = [
            json.dumps({"groundTruthData": {"data": str(truth[i]), "encoding": "CSV"},
                        "eventMetadata": {"eventId": str(i)}, "eventVersion": "0"})
            for i in kept[start : start + 10_000]
        ]  # fmt: skip
        (labels / f"{start // 10_000:04d}.jsonl").write_text("\n".join(lines) + "\n")


def generate_outputs(folder: Path, records: int, seed: int = 0) -> None:
    """The same records as a transform job's `.out` files under folder/outputs."""
    import numpy as np

    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, records)
    scores = np.clip(truth * 0.4 + rng.random(records) * 0.6, 0, 1)  # as generate() draws them
    outputs = folder / "outputs" / "0"
    outputs.mkdir(parents=True)
    when = f"{HOUR:%Y-%m-%dT%H:%M:%SZ}"
    for start in range(0, records, 10_000):
        lines = [
            f"{i % 97},{i % 13},{scores[i]:.6f},{i},{when}\n"
            for i in range(start, min(start + 10_000, records))
        ]
        (outputs / f"rows-{start // 10_000:04d}.csv.out").write_text("".join(lines))


def smlocal_config(folder: Path, batch: bool = False) -> Path:
    """The processing job configuration an execution's analyzer reads (of a batch transform's
    outputs with `batch`)."""
    constraints = folder / "constraints.json"
    constraints.write_text(json.dumps({"binary_classification_constraints": {
        "f2": {"threshold": 0.99, "comparison_operator": "LessThanThreshold"}}}))  # fmt: skip
    environment = {
        "dataset_source": str(folder / "captures"),
        "ground_truth_source": str(folder / "groundtruth"),
        "output_path": str(folder / "out"),
        "dataset_format": CAPTURE_FORMAT,
        "analysis_type": "MODEL_QUALITY",
        "problem_type": "BinaryClassification",
        "probability_attribute": "0",
        "probability_threshold_attribute": "0.5",
        "baseline_constraints": str(constraints),
        "start_time": f"{HOUR:%Y-%m-%dT%H:%M:%SZ}",
        "end_time": f"{HOUR + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
        "publish_cloudwatch_metrics": "Enabled",
        "CLOUDWATCH_METRICS_DIRECTORY": str(folder / "metrics"),
        "sagemaker_endpoint_name": "ep",
        "sagemaker_monitoring_schedule_name": "schedule",
    }
    if batch:
        environment.update(
            dataset_source=str(folder / "outputs"), probability_attribute="2",
            dataset_format=json.dumps({"csv": {"header": False}}),
            output_path=str(folder / "out-batch"),
        )  # fmt: skip
        del environment["sagemaker_endpoint_name"]
    config = folder / ("batch-config.json" if batch else "processingjobconfig.json")
    config.write_text(json.dumps({"Environment": environment}))
    return config


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (children included) of a command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT.parent), os.environ.get("PYTHONPATH", "")])
        ),
    }
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def analyzer(config: Path, message: Path) -> list[str]:
    """The command of one analyzer execution."""
    return [sys.executable, "-m", "smlocal.model_monitor.analyze", str(config),
            "--message-file", str(message)]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.model_quality")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the generated files here")
    parser.add_argument(
        "--batch", action="store_true", help="also a batch transform's outputs (see above)"
    )
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="smlocal-bench-mq-"))
    try:
        if not (folder / "captures").exists():
            generate(folder, args.records)
        if args.batch and not (folder / "outputs").exists():
            generate_outputs(folder, args.records)
        commands = {
            "smlocal": analyzer(smlocal_config(folder), folder / "message"),
            "plain": [sys.executable, "-c", PLAIN, str(folder / "captures"),
                      str(folder / "groundtruth")],
        }  # fmt: skip
        if args.batch:
            commands["batch"] = analyzer(smlocal_config(folder, True), folder / "batch-message")
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for number in range(args.rounds):
            order = list(commands) if number % 2 == 0 else list(reversed(commands))
            for name in order:
                runs[name].append(measure(commands[name]))
        print(f"model-quality execution over {args.records:,} captured records with ground truth")
        print(
            f"  load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs, {args.rounds} rounds"
        )
        labels = {"smlocal": "smlocal analyzer", "plain": "json + dict + sklearn",
                  "batch": "smlocal, batch outputs"}  # fmt: skip
        for name, measured in runs.items():
            wall = statistics.median(w for w, _ in measured)
            cpu = statistics.median(c for _, c in measured)
            print(f"  {labels[name]:<24} {wall:6.2f} s wall  {cpu:6.2f} s CPU")
        ratios = [s[0] / p[0] for s, p in zip(runs["smlocal"], runs["plain"], strict=True)]
        print(f"  smlocal / plain (wall, median of rounds): {statistics.median(ratios):.2f}x")
        print(f"  message: {(folder / 'message').read_text().strip()}")
        if args.batch:
            batch = [b[0] / s[0] for b, s in zip(runs["batch"], runs["smlocal"], strict=True)]
            print(f"  batch outputs / captures (wall, median): {statistics.median(batch):.2f}x")
            print(f"  batch message: {(folder / 'batch-message').read_text().strip()}")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
