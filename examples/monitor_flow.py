"""Deploy with capture, send good and bad traffic, baseline, monitor: Model Monitor offline.

The classic Model Monitor notebook with the unmodified SageMaker Python SDK v2, against
smlocal: a model of two integer inputs `a,b` is deployed with Data Capture; half of the
requests send `b` as a decimal (`4.50`); a baseline is suggested from a CSV with a header,
both inputs are declared Integral in the suggested constraints, and a one-off (NOW)
monitoring schedule analyses the last hour of captures. Run it like
examples/iris_xgboost_capture.py.
"""

from __future__ import annotations

import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import sagemaker
import xgboost as xgb
from sagemaker.model import Model
from sagemaker.model_monitor import (
    CronExpressionGenerator,
    DataCaptureConfig,
    DefaultModelMonitor,
)
from sagemaker.model_monitor.dataset_format import DatasetFormat
from sagemaker.predictor import Predictor
from sagemaker.s3 import S3Downloader, S3Uploader
from sagemaker.serializers import CSVSerializer

from examples.common import ROLE, session_with_bucket

BUCKET = "monitor-example-bucket"


def train(folder: Path) -> tuple[Path, Path]:
    """A regression of a + 2b on integers; the model.tar.gz and a baseline CSV with header."""
    rng = np.random.default_rng(0)
    features = rng.integers(0, 10, size=(200, 2)).astype(float)
    target = features[:, 0] + 2 * features[:, 1]
    booster = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(features, label=target), 5)
    booster.save_model(str(folder / "xgboost-model.json"))
    (folder / "xgboost-model.json").rename(folder / "xgboost-model")
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "xgboost-model", arcname="xgboost-model")
    baseline = folder / "baseline.csv"
    rows = [
        f"{y:.4f},{a:.0f},{b:.0f}"
        for (a, b), y in zip(features, booster.predict(xgb.DMatrix(features)), strict=True)
    ]
    baseline.write_text("prediction,a,b\n" + "\n".join(rows) + "\n")
    return archive, baseline


def wait_for_captures(session: sagemaker.Session, prefix: str, expected: int) -> None:
    """Capture files reach S3 when the model server rolls them."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        files = S3Downloader.list(prefix, sagemaker_session=session)
        lines = sum(
            len(S3Downloader.read_file(f, sagemaker_session=session).splitlines()) for f in files
        )
        if lines >= expected:
            return
        time.sleep(1)
    raise TimeoutError(f"fewer than {expected} records under {prefix}")


def run(session: sagemaker.Session, endpoint_name: str = "ab-monitored") -> dict[str, object]:
    """The whole flow; returns the last execution and what it found."""
    with tempfile.TemporaryDirectory() as tmp:
        archive, baseline_csv = train(Path(tmp))
        model_data = S3Uploader.upload(
            str(archive), f"s3://{BUCKET}/model", sagemaker_session=session
        )
        baseline_uri = S3Uploader.upload(
            str(baseline_csv), f"s3://{BUCKET}/baseline-data", sagemaker_session=session
        )
    image = sagemaker.image_uris.retrieve("xgboost", session.boto_region_name, version="1.7-1")
    capture_uri = f"s3://{BUCKET}/datacapture"
    Model(image_uri=image, model_data=model_data, role=ROLE, sagemaker_session=session).deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        endpoint_name=endpoint_name,
        data_capture_config=DataCaptureConfig(
            enable_capture=True, sampling_percentage=100, destination_s3_uri=capture_uri,
            sagemaker_session=session,
        ),
    )  # fmt: skip
    predictor = Predictor(endpoint_name, session, serializer=CSVSerializer())
    for i in range(20):
        b = f"{i % 10}.50" if i % 2 else str(i % 10)  # every other request sends a decimal b
        predictor.predict(f"{i % 7},{b}")
    wait_for_captures(session, f"{capture_uri}/{endpoint_name}", 20)

    monitor = DefaultModelMonitor(
        role=ROLE, instance_count=1, instance_type="ml.m5.xlarge", volume_size_in_gb=20,
        max_runtime_in_seconds=1800, sagemaker_session=session,
    )  # fmt: skip
    monitor.suggest_baseline(
        baseline_dataset=baseline_uri,
        dataset_format=DatasetFormat.csv(header=True),
        output_s3_uri=f"s3://{BUCKET}/baseline-results",
        wait=True,
        logs=False,
    )
    constraints = monitor.suggested_constraints()
    for feature in constraints.body_dict["features"]:
        if feature["name"] in ("a", "b"):
            feature["inferred_type"] = "Integral"
    constraints.save()
    monitor.create_monitoring_schedule(
        endpoint_input=endpoint_name,
        output_s3_uri=f"s3://{BUCKET}/monitoring-reports",
        statistics=monitor.baseline_statistics(),
        constraints=constraints,
        schedule_cron_expression=CronExpressionGenerator.now(),
        data_analysis_start_time="-PT1H",
        data_analysis_end_time="-PT0H",
        enable_cloudwatch_metrics=True,
    )
    status = wait_for_execution(monitor)
    executions = monitor.list_executions()
    violations = executions[-1].constraint_violations().body_dict["violations"]
    return {
        "monitor": monitor,
        "predictor": predictor,
        "status": status,
        "executions": executions,
        "violations": violations,
        "statistics": monitor.latest_monitoring_statistics(),
    }


def wait_for_execution(monitor: DefaultModelMonitor, timeout: float = 300) -> str:
    """Poll the schedule until its latest execution has ended; return that status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        summary = monitor.describe_schedule().get("LastMonitoringExecutionSummary", {})
        status = summary.get("MonitoringExecutionStatus")
        if status in ("Completed", "CompletedWithViolations", "Failed", "Stopped"):
            return str(status)
        time.sleep(1)
    raise TimeoutError("the monitoring execution did not end")


def main() -> None:
    session = session_with_bucket(BUCKET)
    result = run(session)
    print("execution:", result["status"])
    for v in result["violations"]:
        print(f"  {v['feature_name']}: {v['constraint_check_type']}: {v['description']}")
    monitor = result["monitor"]
    monitor.delete_monitoring_schedule()
    result["predictor"].delete_endpoint()


if __name__ == "__main__":
    main()
