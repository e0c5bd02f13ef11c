"""One emulator with something on every console page, shared by the route and browser tests:
an endpoint of two variants capturing its traffic (some of it refused by the model) whose
weights were updated once and an update to a broken model rolled back, a
monitoring execution with violations, a training job, a registry group, and an endpoint to
delete."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from examples.train_deploy_capture import iris_csv
from tests.emulator.hosting.test_capture_flush import CAPTURE, IRIS_ROWS
from tests.emulator.jobs.test_monitoring_jobs import (
    ANALYZER,
    baseline_request,
    wait_execution,
    wait_job,
)
from tests.emulator.jobs.test_training_jobs import channel, create
from tests.emulator.jobs.test_training_jobs import wait as wait_training
from tests.support import ROLE, deploy, wait_for_status

# integers only: the iris traffic's fractional features break the baseline's data type checks
BASELINE = "prediction,f0,f1,f2,f3\n" + "".join(
    f"{i % 3},{i},{i % 4},{i % 5},1\n" for i in range(30)
)
HOSTILE = "<script>alert('console')</script>"
ENDPOINT, DOOMED, SCHEDULE, GROUP, TRAINING = (
    "console-iris", "console-doomed", "console-now", "console-group", "console-training",
)  # fmt: skip


@dataclass(frozen=True)
class Live:
    """The emulator and the names of what it holds."""

    emulator: object
    url: str
    baseline_job: str
    execution_job: str
    invocations: int
    refused: int


@pytest.fixture(scope="session")
def live(tmp_path_factory, iris_tar) -> Iterator[Live]:
    from smlocal.emulator.pytest_plugin import SmlocalEmulator

    folder = tmp_path_factory.mktemp("console")
    emulator = SmlocalEmulator(folder, {"SMLOCAL_CAPTURE_ROLL_SECONDS": "60"}).start()
    try:
        yield _populate(emulator, tmp_path_factory, iris_tar)
    finally:
        emulator.stop()


def _populate(emulator, tmp_path_factory, iris_tar) -> Live:
    sm, s3 = emulator.client("sagemaker"), emulator.client("s3")
    runtime = emulator.client("sagemaker-runtime")
    s3.create_bucket(Bucket="mon")
    s3.upload_file(str(iris_tar), "mon", "model/model.tar.gz")
    s3.put_object(Bucket="mon", Key="data/baseline.csv", Body=BASELINE.encode())
    train, validation = iris_csv(tmp_path_factory.mktemp("iris"))
    s3.upload_file(str(train), "mon", "iris/train/iris.csv")
    s3.upload_file(str(validation), "mon", "iris/validation/iris.csv")
    create(sm, TRAINING, output="s3://mon/output", channels=[
        channel("train", "s3://mon/iris/train"), channel("validation", "s3://mon/iris/validation")])  # fmt: skip

    model = "s3://mon/model/model.tar.gz"
    variants = [{"name": "A", "model_data": model, "weight": 1.0},
                {"name": "B", "model_data": model, "weight": 3.0}]  # fmt: skip
    assert deploy(sm, ENDPOINT, variants, capture=CAPTURE)["EndpointStatus"] == "InService"
    assert deploy(sm, DOOMED, [{"name": "AllTraffic", "model_data": model}])
    sm.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT,
        DesiredWeightsAndCapacities=[{"VariantName": "B", "DesiredWeight": 2.0}],
    )
    assert (
        wait_for_status(sm, ENDPOINT, ("InService",))["ProductionVariants"][1]["CurrentWeight"]
        == 2.0
    )
    # an update whose model cannot start: rolled back, with the reason in the history
    sm.create_model(ModelName="console-broken", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": "example.com/broken:1"})  # fmt: skip
    sm.create_endpoint_config(EndpointConfigName="console-broken", ProductionVariants=[
        {"VariantName": "A", "ModelName": "console-broken", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}])  # fmt: skip
    sm.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName="console-broken")
    rolled_back = wait_for_status(sm, ENDPOINT, ("InService",))
    assert rolled_back["EndpointConfigName"] == ENDPOINT, rolled_back
    assert rolled_back["FailureReason"].startswith("The update was rolled back: "), rolled_back
    invocations = 24
    for i in range(invocations):
        runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=IRIS_ROWS[i % 4].encode(),
                                ContentType="text/csv", TargetVariant="AB"[i % 2])  # fmt: skip
    refused = 2
    for _ in range(refused):
        with contextlib.suppress(runtime.exceptions.ModelError):
            runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"not,a,number,row",
                                    ContentType="text/csv", TargetVariant="A")  # fmt: skip
    emulator.flush_captures(ENDPOINT)

    baseline = "console-baseline"
    sm.create_processing_job(**baseline_request(baseline, "s3://mon/data/baseline.csv"))
    assert wait_job(sm, baseline)["ProcessingJobStatus"] == "Completed"
    _schedule(sm, baseline)
    execution = wait_execution(sm, SCHEDULE)
    assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations", execution

    sm.create_model_package_group(ModelPackageGroupName=GROUP, ModelPackageGroupDescription=HOSTILE)
    sm.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": ANALYZER, "ModelDataUrl": model}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )
    assert wait_training(sm, TRAINING)["TrainingJobStatus"] == "Completed"
    return Live(emulator, emulator.url, baseline, execution["ProcessingJobArn"].rsplit("/", 1)[1],
                invocations, refused)  # fmt: skip


def _schedule(sm, baseline: str) -> None:
    sm.create_monitoring_schedule(
        MonitoringScheduleName=SCHEDULE,
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT1H", "DataAnalysisEndTime": "-PT0H"},
            "MonitoringType": "DataQuality",
            "MonitoringJobDefinition": {
                "BaselineConfig": {
                    "ConstraintsResource": {"S3Uri": f"s3://mon/baselines/{baseline}/constraints.json"},
                    "StatisticsResource": {"S3Uri": f"s3://mon/baselines/{baseline}/statistics.json"},
                },
                "MonitoringInputs": [{"EndpointInput": {"EndpointName": ENDPOINT, "LocalPath": "/opt/ml/processing/input/endpoint"}}],
                "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://mon/reports", "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "Continuous"}}]},
                "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
                "MonitoringAppSpecification": {"ImageUri": ANALYZER},
                "RoleArn": ROLE,
            },
        },
    )  # fmt: skip
