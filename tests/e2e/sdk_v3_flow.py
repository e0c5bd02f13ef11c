"""The SageMaker Python SDK v3 flow, run by tests/e2e/test_sdk_v3.py in its own venv
(v3 cannot share smlocal's, which holds v2): ModelTrainer with the built-in XGBoost
image, deploy with Data Capture, an invocation, then data-quality monitoring.

    python sdk_v3_flow.py DATA_DIR RESULT_JSON      # AWS_ENDPOINT_URL etc. from the env

Every SDK sleep is cut to 0.2 s here (the harness), never in smlocal.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

_sleep = time.sleep
time.sleep = lambda seconds: _sleep(min(seconds, 0.2))  # before the SDK imports it

import boto3  # noqa: E402

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "smlocal-sdk-v3"
HYPERPARAMETERS = {
    "objective": "multi:softmax",
    "num_class": "3",
    "num_round": "2",
    "max_depth": "3",
    "eval_metric": "merror",
}
ENDPOINT = "sdk-v3-iris"
SCHEDULE = "sdk-v3-data-quality"
CORE_ENDPOINT = "sdk-v3-core"
ROWS = ["5.1,3.5,1.4,0.2", "6.2,2.9,4.3,1.3", "7.7,3.0,6.1,2.3"]


def execution_role() -> None:
    """The role, created once as in AWS: v3 reads its trust policy before each job
    (and simulates its permissions, which smlocal answers as allowed)."""
    iam = boto3.client("iam", region_name=REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=ROLE.rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps(trust))


class LogLines(logging.Handler):
    """What the SDK logs while it waits (the job's CloudWatch lines among it)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def session() -> Any:
    """v3's Session on the emulator, with its own default bucket."""
    from sagemaker.core.helper.session_helper import Session

    return Session(boto_session=boto3.Session(region_name=REGION), default_bucket=BUCKET)


def train(sm_session: Any, data: Path, result: dict[str, Any]) -> Any:
    """ModelTrainer, algorithm mode: the built-in XGBoost image and hyperparameters."""
    from sagemaker.core.image_uris import retrieve
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import Compute, InputData, OutputDataConfig

    s3 = boto3.client("s3", region_name=REGION)
    for name in ("train", "validation"):
        s3.upload_file(str(data / f"{name}.csv"), BUCKET, f"data/{name}/{name}.csv")
    image = retrieve("xgboost", REGION, "1.7-1")
    trainer = ModelTrainer(
        training_image=image,
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        hyperparameters=HYPERPARAMETERS,
        role=ROLE,
        sagemaker_session=sm_session,
        base_job_name="sdk-v3-xgboost",
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{BUCKET}/output"),
    )
    lines = LogLines()
    waiter_log = logging.getLogger("sagemaker.core.resources")
    waiter_log.addHandler(lines)
    waiter_log.setLevel(logging.INFO)
    trainer.train(
        input_data_config=[
            InputData(
                channel_name=name,
                data_source=f"s3://{BUCKET}/data/{name}/",
                content_type="text/csv",
            )
            for name in ("train", "validation")
        ],
        wait=True,
        logs=True,
    )
    waiter_log.removeHandler(lines)
    result["training_log"] = lines.messages
    job = trainer._latest_training_job
    job.refresh()
    result["training_job"] = {
        "name": job.training_job_name,
        "status": job.training_job_status,
        "model_artifacts": job.model_artifacts.s3_model_artifacts,
        "image": image,
    }
    return trainer


def deploy(sm_session: Any, trainer: Any, result: dict[str, Any]) -> Any:
    """ModelBuilder from the trainer, deployed with Data Capture at 100 %."""
    from sagemaker.core.model_monitor import DataCaptureConfig
    from sagemaker.serve.model_builder import ModelBuilder

    builder = ModelBuilder(
        model=trainer,
        role_arn=ROLE,
        sagemaker_session=sm_session,
        image_uri=result["training_job"]["image"],
        instance_type="ml.m5.large",
    )
    builder.build(model_name="sdk-v3-model")
    capture = DataCaptureConfig(
        enable_capture=True,
        sampling_percentage=100,
        destination_s3_uri=f"s3://{BUCKET}/datacapture",
        sagemaker_session=sm_session,
    )
    endpoint = builder.deploy(
        endpoint_name=ENDPOINT,
        initial_instance_count=1,
        instance_type="ml.m5.large",
        data_capture_config=capture,
    )
    result["endpoint"] = {"name": endpoint.endpoint_name, "status": endpoint.endpoint_status}
    return endpoint


def invoke(endpoint: Any, result: dict[str, Any]) -> None:
    """sagemaker-core's Endpoint.invoke, one CSV row at a time."""
    answers = []
    for row in ROWS:
        response = endpoint.invoke(body=row, content_type="text/csv", accept="text/csv")
        answers.append(response.body.read().decode())
    result["predictions"] = answers


def captures(endpoint: Any, result: dict[str, Any]) -> None:
    """What Data Capture wrote: the describe as v3 reads it, then the records in S3."""
    endpoint.refresh()
    config = endpoint.data_capture_config
    result["data_capture"] = {
        "enable_capture": config.enable_capture,
        "destination": config.destination_s3_uri,
        "current_sampling_percentage": config.current_sampling_percentage,
    }
    flush(ENDPOINT)
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"datacapture/{ENDPOINT}/")
    records = []
    for item in listed.get("Contents", []):
        body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode()
        records += [json.loads(line) for line in body.splitlines() if line]
    result["captured_inputs"] = sorted(r["captureData"]["endpointInput"]["data"] for r in records)
    result["capture_keys"] = [item["Key"] for item in listed.get("Contents", [])]


def monitor(sm_session: Any, data: Path, result: dict[str, Any]) -> Any:
    """Data quality as v3 offers it: DefaultModelMonitor (sagemaker.core.model_monitor)
    baselines, then a one-off (NOW) schedule on the endpoint; read back through
    sagemaker-core's MonitoringSchedule resource too."""
    from sagemaker.core.model_monitor import CronExpressionGenerator, DefaultModelMonitor
    from sagemaker.core.model_monitor.dataset_format import DatasetFormat
    from sagemaker.core.resources import MonitoringSchedule

    s3 = boto3.client("s3", region_name=REGION)
    s3.upload_file(str(data / "baseline.csv"), BUCKET, "baseline/baseline.csv")
    data_monitor = DefaultModelMonitor(
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        volume_size_in_gb=20,
        max_runtime_in_seconds=1800,
        sagemaker_session=sm_session,
    )
    data_monitor.suggest_baseline(
        baseline_dataset=f"s3://{BUCKET}/baseline/baseline.csv",
        dataset_format=DatasetFormat.csv(header=False),
        output_s3_uri=f"s3://{BUCKET}/baseline/results",
        wait=True,
        logs=False,
    )
    baseline = data_monitor.latest_baselining_job
    result["baseline_features"] = [
        f["name"] for f in baseline.baseline_statistics().body_dict["features"]
    ]
    result["constraint_features"] = [
        f["name"] for f in baseline.suggested_constraints().body_dict["features"]
    ]
    result["stages"].append("baseline")
    data_monitor.create_monitoring_schedule(
        monitor_schedule_name=SCHEDULE,
        endpoint_input=ENDPOINT,
        output_s3_uri=f"s3://{BUCKET}/reports",
        statistics=data_monitor.baseline_statistics(),
        constraints=data_monitor.suggested_constraints(),
        schedule_cron_expression=CronExpressionGenerator.now(),
        data_analysis_start_time="-PT1H",
        data_analysis_end_time="-PT0H",
        enable_cloudwatch_metrics=True,
    )
    result["stages"].append("schedule")
    deadline = time.monotonic() + 300
    status = None
    while time.monotonic() < deadline:
        summary = data_monitor.describe_schedule().get("LastMonitoringExecutionSummary", {})
        status = summary.get("MonitoringExecutionStatus")
        if status in ("Completed", "CompletedWithViolations", "Failed", "Stopped"):
            break
        _sleep(0.5)
    executions = data_monitor.list_executions()
    latest = executions[-1]
    # as the seed workshop reads its latest execution; v3 3.27 builds it without
    # ProcessingResources, so wait() fails with AttributeError before any request (in AWS
    # too) unless refresh() described it first
    latest.refresh()
    latest.wait(logs=False)
    described = latest.describe()
    result["execution"] = {
        "status": status,
        "processing_job_status": described.get("ProcessingJobStatus"),
        "exit_message": described.get("ExitMessage"),
        # the workshop's `output.destination` is v2's; v3's output is a ProcessingOutput shape
        "report_uri": latest.output.s3_output.s3_uri,
        "violations": [
            v["constraint_check_type"]
            for v in latest.constraint_violations().body_dict["violations"]
        ],
    }
    schedule = MonitoringSchedule.get(monitoring_schedule_name=SCHEDULE)
    result["schedule"] = {
        "status": schedule.monitoring_schedule_status,
        "type": schedule.monitoring_type,
        "last_execution": schedule.last_monitoring_execution_summary.monitoring_execution_status,
    }
    return data_monitor


def core_deploy(result: dict[str, Any]) -> Any:
    """The same model through sagemaker-core's resources: Model, EndpointConfig with a
    DataCaptureConfig, Endpoint; three invocations."""
    from sagemaker.core import shapes
    from sagemaker.core.resources import Endpoint, EndpointConfig, Model

    Model.create(
        model_name="sdk-v3-core-model",
        primary_container=shapes.ContainerDefinition(
            image=result["training_job"]["image"],
            model_data_url=result["training_job"]["model_artifacts"],
        ),
        execution_role_arn=ROLE,
    )
    capture = shapes.DataCaptureConfig(
        enable_capture=True,
        initial_sampling_percentage=100,
        destination_s3_uri=f"s3://{BUCKET}/core-capture",
        capture_options=[
            shapes.CaptureOption(capture_mode="Input"),
            shapes.CaptureOption(capture_mode="Output"),
        ],
        capture_content_type_header=shapes.CaptureContentTypeHeader(csv_content_types=["text/csv"]),
    )
    EndpointConfig.create(
        endpoint_config_name=CORE_ENDPOINT,
        production_variants=[
            shapes.ProductionVariant(
                variant_name="AllTraffic",
                model_name="sdk-v3-core-model",
                instance_type="ml.m5.large",
                initial_instance_count=1,
            )
        ],
        data_capture_config=capture,
    )
    endpoint = Endpoint.create(endpoint_name=CORE_ENDPOINT, endpoint_config_name=CORE_ENDPOINT)
    endpoint.wait_for_status("InService")
    answers = [
        endpoint.invoke(body=row, content_type="text/csv").body.read().decode() for row in ROWS
    ]
    result["core_endpoint"] = {"status": endpoint.endpoint_status, "predictions": answers}
    flush(CORE_ENDPOINT)
    return endpoint


def core_monitor(result: dict[str, Any]) -> None:
    """Data quality through sagemaker-core's resources: a DataQualityJobDefinition on the
    DefaultModelMonitor baseline, and a one-off MonitoringSchedule that runs it."""
    from sagemaker.core import shapes
    from sagemaker.core.image_uris import retrieve
    from sagemaker.core.resources import DataQualityJobDefinition, MonitoringSchedule

    definition = DataQualityJobDefinition.create(
        job_definition_name="sdk-v3-core-data-quality",
        data_quality_app_specification=shapes.DataQualityAppSpecification(
            image_uri=retrieve("model-monitor", REGION)
        ),
        data_quality_job_input=shapes.DataQualityJobInput(
            endpoint_input=shapes.EndpointInput(
                endpoint_name=CORE_ENDPOINT, local_path="/opt/ml/processing/input/endpoint"
            )
        ),
        data_quality_job_output_config=shapes.MonitoringOutputConfig(
            monitoring_outputs=[
                shapes.MonitoringOutput(
                    s3_output=shapes.MonitoringS3Output(
                        s3_uri=f"s3://{BUCKET}/core-reports",
                        local_path="/opt/ml/processing/output",
                    )
                )
            ]
        ),
        job_resources=shapes.MonitoringResources(
            cluster_config=shapes.MonitoringClusterConfig(
                instance_count=1, instance_type="ml.m5.xlarge", volume_size_in_gb=20
            )
        ),
        data_quality_baseline_config=shapes.DataQualityBaselineConfig(
            constraints_resource=shapes.MonitoringConstraintsResource(
                s3_uri=f"s3://{BUCKET}/baseline/results/constraints.json"
            ),
            statistics_resource=shapes.MonitoringStatisticsResource(
                s3_uri=f"s3://{BUCKET}/baseline/results/statistics.json"
            ),
        ),
        role_arn=ROLE,
    )
    schedule = MonitoringSchedule.create(
        monitoring_schedule_name="sdk-v3-core-schedule",
        monitoring_schedule_config=shapes.MonitoringScheduleConfig(
            schedule_config=shapes.ScheduleConfig(
                schedule_expression="NOW",
                data_analysis_start_time="-PT1H",
                data_analysis_end_time="-PT0H",
            ),
            monitoring_job_definition_name=definition.job_definition_name,
            monitoring_type="DataQuality",
        ),
    )
    deadline = time.monotonic() + 300
    status = None
    while time.monotonic() < deadline:
        schedule.refresh()
        summary = schedule.last_monitoring_execution_summary
        status = getattr(summary, "monitoring_execution_status", None)
        if status in ("Completed", "CompletedWithViolations", "Failed", "Stopped"):
            break
        _sleep(0.5)
    result["core_schedule"] = {
        "status": schedule.monitoring_schedule_status,
        "last_execution": status,
        "definition": DataQualityJobDefinition.get(
            definition.job_definition_name
        ).job_definition_arn,
    }


def clean_up(data_monitor: Any, endpoints: list[Any], result: dict[str, Any]) -> None:
    """Delete what the flow made, as a notebook's last cells do, through both APIs."""
    from sagemaker.core.resources import (
        DataQualityJobDefinition,
        Endpoint,
        EndpointConfig,
        Model,
        MonitoringSchedule,
    )

    data_monitor.delete_monitoring_schedule()
    MonitoringSchedule.get("sdk-v3-core-schedule").delete()
    DataQualityJobDefinition.get("sdk-v3-core-data-quality").delete()
    for endpoint in endpoints:
        config_name = endpoint.endpoint_config_name
        endpoint.delete()
        endpoint.wait_for_delete()
        EndpointConfig.get(config_name).delete()
    for model in Model.get_all():
        model.delete()
    result["left"] = {
        "endpoints": [e.endpoint_name for e in Endpoint.get_all()],
        "schedules": [m.monitoring_schedule_name for m in MonitoringSchedule.get_all()],
        "models": [m.model_name for m in Model.get_all()],
    }


def flush(endpoint: str) -> None:
    """Ask smlocal to upload the endpoint's spooled captures now (AWS does so within
    minutes by itself; the SDK has no call for it)."""
    import urllib.request

    url = f"{os.environ['AWS_ENDPOINT_URL']}/_smlocal/endpoints/{endpoint}/capture/flush"
    urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=60)


def main(data: Path, out: Path) -> None:
    """Each stage records what it saw; the first failure is recorded and stops the flow."""
    result: dict[str, Any] = {"stages": []}
    try:
        execution_role()
        sm_session = session()
        result["stages"].append("session")
        trainer = train(sm_session, data, result)
        result["stages"].append("train")
        endpoint = deploy(sm_session, trainer, result)
        result["stages"].append("deploy")
        invoke(endpoint, result)
        result["stages"].append("invoke")
        captures(endpoint, result)
        result["stages"].append("capture")
        data_monitor = monitor(sm_session, data, result)
        result["stages"].append("monitor")
        core_endpoint = core_deploy(result)
        result["stages"].append("core-deploy")
        core_monitor(result)
        result["stages"].append("core-monitor")
        clean_up(data_monitor, [endpoint, core_endpoint], result)
        result["stages"].append("clean-up")
    except Exception:
        result["error"] = traceback.format_exc()
    out.write_text(json.dumps(result, default=str, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
