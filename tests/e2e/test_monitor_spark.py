"""A baseline and a monitoring schedule created through the SageMaker SDK, analysed on Spark:
the job's environment says `smlocal_engine=spark`; the files are the single engine's."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from examples.common import ROLE
from examples.monitor_flow import train, wait_for_captures, wait_for_execution

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("pyspark") is None,
        reason="pyspark is not installed (pip install 'smlocal[spark]')",
    ),
    pytest.mark.skipif(
        shutil.which("java") is None and not os.environ.get("JAVA_HOME"),
        reason="no Java: the Spark engine needs Java 17",
    ),
    pytest.mark.timeout(1800),
]

SPARK = {"smlocal_engine": "spark", "smlocal_spark_master": "local[2]"}


def _monitor(session: Any, env: dict[str, str] | None) -> Any:
    from sagemaker.model_monitor import DefaultModelMonitor

    return DefaultModelMonitor(
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        max_runtime_in_seconds=1800,
        env=env,
        sagemaker_session=session,
    )


def _object(session: Any, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3 = session.boto_session.client("s3")
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def test_a_schedule_from_the_sdk_runs_on_spark(
    smlocal_sagemaker_session: Any, smlocal: Any
) -> None:
    from sagemaker.model import Model
    from sagemaker.model_monitor import CronExpressionGenerator, DataCaptureConfig
    from sagemaker.model_monitor.dataset_format import DatasetFormat
    from sagemaker.predictor import Predictor
    from sagemaker.s3 import S3Uploader
    from sagemaker.serializers import CSVSerializer

    session = smlocal_sagemaker_session
    bucket = session.default_bucket()
    with tempfile.TemporaryDirectory() as tmp:
        archive, baseline_csv = train(Path(tmp))
        model_data = S3Uploader.upload(
            str(archive), f"s3://{bucket}/spark/model", sagemaker_session=session
        )
        data = S3Uploader.upload(
            str(baseline_csv), f"s3://{bucket}/spark/data", sagemaker_session=session
        )
    # the same baseline on each engine: the same bytes
    baselines = {}
    for name, env in (("single", None), ("spark", SPARK)):
        monitor = _monitor(session, env)
        monitor.suggest_baseline(
            baseline_dataset=data,
            dataset_format=DatasetFormat.csv(header=True),
            output_s3_uri=f"s3://{bucket}/spark/baseline-{name}",
            wait=True,
            logs=False,
        )
        job = monitor.latest_baselining_job.describe()
        outputs = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
        baselines[name] = [
            _object(session, f"{outputs}/{f}") for f in ("statistics.json", "constraints.json")
        ]
    assert baselines["spark"] == baselines["single"]

    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    endpoint = "spark-monitored"
    capture = f"s3://{bucket}/spark/datacapture"
    Model(image_uri=image, model_data=model_data, role=ROLE, sagemaker_session=session).deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        endpoint_name=endpoint,
        data_capture_config=DataCaptureConfig(
            enable_capture=True,
            sampling_percentage=100,
            destination_s3_uri=capture,
            sagemaker_session=session,
        ),
    )
    predictor = Predictor(endpoint, session, serializer=CSVSerializer())
    for i in range(20):
        predictor.predict(f"{i % 7},{f'{i % 10}.50' if i % 2 else i % 10}")
    wait_for_captures(session, f"{capture}/{endpoint}", 20)

    monitor = _monitor(session, SPARK)
    monitor.suggest_baseline(
        baseline_dataset=data,
        dataset_format=DatasetFormat.csv(header=True),
        output_s3_uri=f"s3://{bucket}/spark/baseline-schedule",
        wait=True,
        logs=False,
    )
    monitor.create_monitoring_schedule(
        endpoint_input=endpoint,
        output_s3_uri=f"s3://{bucket}/spark/reports",
        statistics=monitor.baseline_statistics(),
        constraints=monitor.suggested_constraints(),
        schedule_cron_expression=CronExpressionGenerator.now(),
        data_analysis_start_time="-PT1H",
        data_analysis_end_time="-PT0H",
    )
    try:
        assert wait_for_execution(monitor, timeout=1500) in ("Completed", "CompletedWithViolations")
        execution = monitor.list_executions()[-1]
        job = execution.describe()
        assert job["Environment"]["smlocal_engine"] == "spark"
        statistics = execution.statistics().body_dict
        assert statistics["dataset"]["item_count"] == 20
        logs = smlocal.client("logs")
        streams = logs.describe_log_streams(
            logGroupName="/aws/sagemaker/ProcessingJobs",
            logStreamNamePrefix=job["ProcessingJobName"],
        )["logStreams"]
        lines = [
            event["message"]
            for stream in streams
            for event in logs.get_log_events(
                logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=stream["logStreamName"]
            )["events"]
        ]
        assert any("Analysing on Spark, master local[2]" in line for line in lines)
    finally:
        monitor.delete_monitoring_schedule()
        predictor.delete_endpoint()
