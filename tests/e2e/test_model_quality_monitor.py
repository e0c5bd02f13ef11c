"""Model quality through the unmodified SageMaker SDK's ModelQualityMonitor: a baseline of
the model-quality notebook's data, then an endpoint with Data Capture, ground truth uploaded
as SageMaker takes it, a NOW schedule, and what the SDK reads back (statistics, violations,
CloudWatch metrics)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

DATA = (
    Path(__file__).parents[1] / "model_monitor" / "data" / "churn-validation_with_predictions.csv"
)
MODEL = Path(__file__).parents[1] / "data" / "churn-xgboost-0.90-model.tar.gz"
ROWS = (
    Path(__file__).parent
    / "notebooks"
    / "model_monitor_introduction"
    / "test_data"
    / "test-dataset-input-cols.csv"
)
ROLE = "arn:aws:iam::123456789012:role/R"


def monitor_of(session):
    from sagemaker.model_monitor import ModelQualityMonitor

    return ModelQualityMonitor(
        role=ROLE, instance_count=1, instance_type="ml.m5.xlarge", volume_size_in_gb=20,
        max_runtime_in_seconds=1800, sagemaker_session=session,
    )  # fmt: skip


def baseline(session, monitor) -> None:
    from sagemaker.model_monitor.dataset_format import DatasetFormat
    from sagemaker.s3 import S3Uploader

    bucket = session.default_bucket()
    uri = S3Uploader.upload(
        str(DATA), f"s3://{bucket}/mq/baselining/data", sagemaker_session=session
    )
    monitor.suggest_baseline(
        baseline_dataset=uri,
        dataset_format=DatasetFormat.csv(header=True),
        output_s3_uri=f"s3://{bucket}/mq/baselining/results",
        problem_type="BinaryClassification",
        inference_attribute="prediction",
        probability_attribute="probability",
        ground_truth_attribute="label",
        wait=True,
        logs=False,
    )


def test_suggest_baseline_writes_model_quality_files(smlocal_sagemaker_session) -> None:
    session = smlocal_sagemaker_session
    monitor = monitor_of(session)
    baseline(session, monitor)
    job = monitor.latest_baselining_job
    metrics = job.baseline_statistics().body_dict["binary_classification_metrics"]
    assert metrics["confusion_matrix"] == {"0": {"0": 173, "1": 0}, "1": {"0": 12, "1": 16}}
    assert metrics["auc"]["value"] == pytest.approx(0.939513, abs=5e-7)
    assert "features" not in job.baseline_statistics().body_dict  # no data-quality file
    constraints = job.suggested_constraints().body_dict["binary_classification_constraints"]
    assert constraints["f2"] == {"threshold": 0.625, "comparison_operator": "LessThanThreshold"}
    described = session.sagemaker_client.describe_processing_job(ProcessingJobName=job.job_name)
    assert described["Environment"]["analysis_type"] == "MODEL_QUALITY"
    assert described["ExitMessage"] == "Completed: Job completed successfully with no violations."


def deploy_with_capture(session, endpoint: str, capture_uri: str):
    from sagemaker import image_uris
    from sagemaker.model import Model
    from sagemaker.model_monitor import DataCaptureConfig
    from sagemaker.predictor import Predictor
    from sagemaker.s3 import S3Uploader
    from sagemaker.serializers import CSVSerializer

    model_url = S3Uploader.upload(
        str(MODEL), f"s3://{session.default_bucket()}/mq/model", sagemaker_session=session
    )
    image = image_uris.retrieve(
        framework="xgboost", version="0.90-1", region=session.boto_region_name
    )
    Model(image_uri=image, model_data=model_url, role=ROLE, sagemaker_session=session).deploy(
        initial_instance_count=1, instance_type="ml.m4.xlarge", endpoint_name=endpoint,
        data_capture_config=DataCaptureConfig(enable_capture=True, sampling_percentage=100,
                                              destination_s3_uri=capture_uri),
    )  # fmt: skip
    return Predictor(endpoint_name=endpoint, sagemaker_session=session, serializer=CSVSerializer())


def wait_for_captures(session, prefix: str, expected: int) -> None:
    from sagemaker.s3 import S3Downloader

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        files = S3Downloader.list(prefix, sagemaker_session=session)
        if (
            sum(
                len(S3Downloader.read_file(f, sagemaker_session=session).splitlines())
                for f in files
            )
            >= expected
        ):
            return
        time.sleep(0.5)
    raise TimeoutError(prefix)


def test_a_schedule_merges_ground_truth_and_the_sdk_reads_the_results(
    smlocal_sagemaker_session, smlocal
) -> None:
    from sagemaker.model_monitor import CronExpressionGenerator, EndpointInput
    from sagemaker.s3 import S3Uploader

    session = smlocal_sagemaker_session
    bucket = session.default_bucket()
    monitor = monitor_of(session)
    baseline(session, monitor)
    endpoint = f"mq-churn-{int(time.time())}"
    capture_uri = f"s3://{bucket}/mq/datacapture"
    predictor = deploy_with_capture(session, endpoint, capture_uri)
    rows = ROWS.read_text().splitlines()[:40]
    for i, row in enumerate(rows):
        session.sagemaker_runtime_client.invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Body=row, InferenceId=str(i)
        )
    wait_for_captures(session, f"{capture_uri}/{endpoint}", len(rows))
    # labels for 30 of the 40 inferences: every one says "churned", so precision drops
    labels = [
        json.dumps({"groundTruthData": {"data": "1", "encoding": "CSV"},
                    "eventMetadata": {"eventId": str(i)}, "eventVersion": "0"})
        for i in range(30)
    ]  # fmt: skip
    ground_truth = f"s3://{bucket}/mq/ground_truth_data/run"
    now = datetime.now(UTC)
    S3Uploader.upload_string_as_file_body(
        "\n".join(labels), f"{ground_truth}/{now:%Y/%m/%d/%H/%M%S}.jsonl", sagemaker_session=session
    )
    monitor.create_monitoring_schedule(
        endpoint_input=EndpointInput(
            endpoint_name=endpoint, destination="/opt/ml/processing/input_data",
            probability_attribute="0", probability_threshold_attribute=0.5,
        ),
        ground_truth_input=ground_truth,
        problem_type="BinaryClassification",
        output_s3_uri=f"s3://{bucket}/mq/reports",
        constraints=monitor.latest_baselining_job.suggested_constraints(),
        schedule_cron_expression=CronExpressionGenerator.now(),
        data_analysis_start_time="-PT1H",
        data_analysis_end_time="-PT0H",
        enable_cloudwatch_metrics=True,
    )  # fmt: skip
    described = monitor.describe_schedule()
    assert described["MonitoringType"] == "ModelQuality"
    status = wait_for_execution(monitor)
    assert status == "CompletedWithViolations"
    execution = monitor.list_executions()[-1]
    job = execution.describe()
    assert job["ProcessingJobName"].startswith("model-quality-monitoring-")
    assert [i["InputName"] for i in job["ProcessingInputs"]][:2] == [
        "endpoint_input_1",
        "groundtruth_input_1",
    ]
    statistics = monitor.latest_monitoring_statistics().body_dict
    assert statistics["dataset"]["item_count"] == 30
    metrics = statistics["binary_classification_metrics"]
    assert sum(metrics["confusion_matrix"]["1"].values()) == 30
    assert metrics["recall"]["standard_deviation"] == "NaN"  # fewer than 200 merged records
    violations = monitor.latest_monitoring_constraint_violations().body_dict["violations"]
    assert violations, violations
    for violation in violations:
        assert set(violation) == {"constraint_check_type", "description", "metric_name"}
        assert violation["description"].startswith(f"Metric {violation['metric_name']} with ")
    cloudwatch = smlocal.client("cloudwatch")
    dimensions = [{"Name": "Endpoint", "Value": endpoint},
                  {"Name": "MonitoringSchedule", "Value": monitor.monitoring_schedule_name}]  # fmt: skip
    names = {m["MetricName"] for m in cloudwatch.list_metrics(
        Namespace="aws/sagemaker/Endpoints/model-metrics", Dimensions=dimensions)["Metrics"]}  # fmt: skip
    assert {"f2", "recall", "accuracy", "precision_best_constant_classifier"} <= names
    from sagemaker.model_monitor import ModelQualityMonitor

    attached = ModelQualityMonitor.attach(monitor.monitoring_schedule_name, session)
    assert attached.job_definition_name == monitor.job_definition_name
    assert len(attached.list_executions()) == 1
    monitor.delete_monitoring_schedule()
    predictor.delete_endpoint()


def wait_for_execution(monitor, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        summary = monitor.describe_schedule().get("LastMonitoringExecutionSummary", {})
        status = summary.get("MonitoringExecutionStatus")
        if status in ("Completed", "CompletedWithViolations", "Failed", "Stopped"):
            return str(status) if status != "Failed" else f"Failed: {summary.get('FailureReason')}"
        time.sleep(0.5)
    raise TimeoutError("the monitoring execution did not end")
