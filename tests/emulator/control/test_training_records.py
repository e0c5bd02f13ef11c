"""Training jobs as typed records: documents stored before the records load, are stored back
and described unchanged."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from smlocal.emulator.control.context import Context, Managers
from smlocal.emulator.control.operations import ControlPlane
from smlocal.emulator.control.training_jobs import TRAINING_JOBS
from smlocal.emulator.errors import AWSError, ResourceInUse, ValidationException
from smlocal.emulator.jobs.training.manager import TrainingManager
from smlocal.emulator.jobs.training.metrics import algorithm_definitions
from smlocal.emulator.jobs.training.records import KIND, TrainingJob
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.store import Store

# Documents exactly as the version before the records stored them (written by its
# CreateTrainingJob, its training manager's moves and its StopTrainingJob).
TRAINING_JOB = {
    "HyperParameters": {"num_round": "10", "objective": "binary:logistic"},
    "AlgorithmSpecification": {
        "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        "TrainingInputMode": "File",
        "MetricDefinitions": [{"Name": "custom:rmse", "Regex": "validation-rmse:([0-9.]+)"}],
    },
    "RoleArn": "arn:aws:iam::123456789012:role/R",
    "InputDataConfig": [
        {
            "ChannelName": "train",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": "s3://bucket/train/",
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
            "ContentType": "text/csv",
        }
    ],
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/out/"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
    "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    "EnableManagedSpotTraining": False,
    "Environment": {"A": "1"},
    "TrainingJobName": "Churn-Train",
    "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/churn-train",
    "CreationTime": 1700000000.5,
    "ModelArtifacts": {"S3ModelArtifacts": "s3://bucket/out/Churn-Train/output/model.tar.gz"},
    "EnableNetworkIsolation": False,
    "EnableInterContainerTrafficEncryption": False,
    "SecondaryStatus": "Completed",
    "TrainingJobStatus": "Completed",
    "SecondaryStatusTransitions": [
        {
            "Status": "Starting",
            "StartTime": 1700000000.5,
            "StatusMessage": "Starting the training job",
            "EndTime": 1700000001.5,
        },
        {
            "Status": "Downloading",
            "StartTime": 1700000001.5,
            "StatusMessage": "Downloading input data",
            "EndTime": 1700000003.5,
        },
        {
            "Status": "Training",
            "StartTime": 1700000003.5,
            "StatusMessage": "Training image download completed. Training in progress.",
            "EndTime": 1700000033.75,
        },
        {
            "Status": "Uploading",
            "StartTime": 1700000033.75,
            "StatusMessage": "Uploading generated training model",
            "EndTime": 1700000034.75,
        },
        {
            "Status": "Completed",
            "StartTime": 1700000034.75,
            "StatusMessage": "Training job completed",
            "EndTime": 1700000034.75,
        },
    ],
    "LastModifiedTime": 1700000034.75,
    "TrainingStartTime": 1700000001.5,
    "FinalMetricDataList": [
        {"MetricName": "train:rmse", "Value": 0.25, "Timestamp": 1700000032.75}
    ],
    "TrainingEndTime": 1700000034.75,
    "TrainingTimeInSeconds": 33,
    "BillableTimeInSeconds": 33,
}
TRAINING_JOB_STOPPING = {
    "AlgorithmSpecification": {
        "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        "TrainingInputMode": "File",
        "MetricDefinitions": [{"Name": "custom:rmse", "Regex": "validation-rmse:([0-9.]+)"}],
    },
    "RoleArn": "arn:aws:iam::123456789012:role/R",
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/out/"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
    "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    "TrainingJobName": "new",
    "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/new",
    "CreationTime": 1700000034.75,
    "ModelArtifacts": {"S3ModelArtifacts": "s3://bucket/out/new/output/model.tar.gz"},
    "EnableNetworkIsolation": False,
    "EnableInterContainerTrafficEncryption": False,
    "EnableManagedSpotTraining": False,
    "SecondaryStatus": "Stopping",
    "TrainingJobStatus": "Stopping",
    "SecondaryStatusTransitions": [
        {
            "Status": "Starting",
            "StartTime": 1700000034.75,
            "StatusMessage": "Starting the training job",
            "EndTime": 1700000035.75,
        },
        {
            "Status": "Stopping",
            "StartTime": 1700000035.75,
            "StatusMessage": "Stopping the training job",
        },
    ],
    "LastModifiedTime": 1700000035.75,
}
# DescribeTrainingJob's keys, in the order the version before the records answered them.
DESCRIBED_ORDER = [
    "TrainingJobName", "TrainingJobArn", "ModelArtifacts", "TrainingJobStatus", "SecondaryStatus",
    "HyperParameters", "AlgorithmSpecification", "RoleArn", "InputDataConfig",
    "OutputDataConfig", "ResourceConfig", "StoppingCondition", "CreationTime",
    "TrainingStartTime", "TrainingEndTime", "LastModifiedTime", "SecondaryStatusTransitions",
    "FinalMetricDataList", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining", "TrainingTimeInSeconds", "BillableTimeInSeconds", "Environment",
]  # fmt: skip


class _NoTraining:
    """The training service, minus the training."""

    def missing_input(self, _params: dict[str, Any]) -> str | None:
        return None

    def start(self, _name: str) -> None:
        pass

    def stop(self, _name: str) -> None:
        pass


@pytest.mark.parametrize(
    "doc", [TRAINING_JOB, TRAINING_JOB_STOPPING], ids=["completed", "stopping"]
)
def test_a_training_job_stored_before_the_records_is_stored_back_unchanged(
    doc: dict[str, Any],
) -> None:
    job = TrainingJob.from_document(copy.deepcopy(doc))
    assert job.to_document() == doc
    assert job.key == doc["TrainingJobName"]


def test_a_training_job_stored_before_the_records_is_described_and_listed_unchanged(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "state.db")
    for doc in (TRAINING_JOB, TRAINING_JOB_STOPPING):
        store.put(KIND, doc["TrainingJobName"], doc)
    store.close()
    ctx = Context(Store(tmp_path / "state.db"), EmulatorSettings(data_dir=tmp_path))
    plane = ControlPlane(ctx)
    described = plane("DescribeTrainingJob", {"TrainingJobName": "churn-train"})
    assert json.dumps(described) == json.dumps({k: TRAINING_JOB[k] for k in DESCRIBED_ORDER})
    assert plane("DescribeTrainingJob", {"TrainingJobName": "new"}) == TRAINING_JOB_STOPPING
    listed = plane("ListTrainingJobs", {"SortBy": "Status", "SortOrder": "Ascending"})
    assert listed == {
        "TrainingJobSummaries": [
            {
                "TrainingJobName": "Churn-Train",
                "TrainingJobArn": TRAINING_JOB["TrainingJobArn"],
                "CreationTime": 1700000000.5,
                "TrainingEndTime": 1700000034.75,
                "LastModifiedTime": 1700000034.75,
                "TrainingJobStatus": "Completed",
                "SecondaryStatus": "Completed",
            },
            {
                "TrainingJobName": "new",
                "TrainingJobArn": TRAINING_JOB_STOPPING["TrainingJobArn"],
                "CreationTime": 1700000034.75,
                "LastModifiedTime": 1700000035.75,
                "TrainingJobStatus": "Stopping",
                "SecondaryStatus": "Stopping",
            },
        ],
        "NextToken": None,
    }
    assert [
        j["TrainingJobName"] for j in plane("ListTrainingJobs", {})["TrainingJobSummaries"]
    ] == [
        "new",
        "Churn-Train",
    ]
    only = plane("ListTrainingJobs", {"StatusEquals": "Stopping"})["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in only] == ["new"]


@pytest.mark.parametrize(
    ("operation", "name", "error", "message"),
    [
        ("DescribeTrainingJob", "nope", ValidationException, "Requested resource not found."),
        ("StopTrainingJob", "nope", ValidationException, "Requested resource not found."),
        (
            "StopTrainingJob",
            "churn-train",
            ValidationException,
            "The request was rejected because the training job is in status Completed.",
        ),
    ],
)
def test_errors_are_worded_as_before(
    tmp_path: Path, operation: str, name: str, error: type[AWSError], message: str
) -> None:
    ctx = Context(Store(), EmulatorSettings(data_dir=tmp_path))
    ctx.store.put(KIND, "churn-train", TRAINING_JOB)
    with pytest.raises(error) as caught:
        ControlPlane(ctx)(operation, {"TrainingJobName": name})
    assert caught.value.message == message


def test_a_taken_name_is_refused_before_and_under_the_lock(tmp_path: Path) -> None:
    ctx = Context(
        Store(),
        EmulatorSettings(data_dir=tmp_path),
        managers=Managers(training=_NoTraining()),
        clock=lambda: 1700000000.5,
    )
    ctx.store.put(KIND, "churn-train", TRAINING_JOB)
    taken = (
        "Training job names must be unique within an AWS account and region, and a training job "
        f"with this name already exists ({TRAINING_JOB['TrainingJobArn']})"
    )
    request = {
        k: TRAINING_JOB[k]
        for k in (
            "AlgorithmSpecification",
            "RoleArn",
            "OutputDataConfig",
            "ResourceConfig",
            "StoppingCondition",
        )
    }
    with pytest.raises(ResourceInUse) as before:
        ControlPlane(ctx)("CreateTrainingJob", {**request, "TrainingJobName": "CHURN-TRAIN"})
    assert before.value.message == taken
    with pytest.raises(ResourceInUse) as under:
        TRAINING_JOBS.add(ctx, TrainingJob.from_document(TRAINING_JOB), [])
    assert under.value.message == taken


def test_the_manager_ends_an_old_stopping_job_stopped_after_a_restart(tmp_path: Path) -> None:
    ctx = Context(Store(), EmulatorSettings(data_dir=tmp_path), clock=lambda: 1700000040.0)
    ctx.store.put(KIND, "new", TRAINING_JOB_STOPPING)
    TrainingManager(ctx, runner=None).restore()  # type: ignore[arg-type]
    stopped = ctx.store.get(KIND, "new")
    assert stopped == {
        **TRAINING_JOB_STOPPING,
        "SecondaryStatus": "Stopped",
        "TrainingJobStatus": "Stopped",
        "SecondaryStatusTransitions": [
            TRAINING_JOB_STOPPING["SecondaryStatusTransitions"][0],
            {**TRAINING_JOB_STOPPING["SecondaryStatusTransitions"][1], "EndTime": 1700000040.0},
            {
                "Status": "Stopped",
                "StartTime": 1700000040.0,
                "StatusMessage": "Training job stopped",
                "EndTime": 1700000040.0,
            },
        ],
        "LastModifiedTime": 1700000040.0,
    }


def test_create_keeps_the_request_members_it_kept_before() -> None:
    from smlocal.emulator.wire.service_models import sagemaker_model

    members = sagemaker_model().operation_model("CreateTrainingJob").input_shape.members
    request: dict[str, Any] = {name: {"given": name} for name in members}
    request.update(
        {k: TRAINING_JOB[k] for k in ("TrainingJobName", "RoleArn", "OutputDataConfig")},
        EnableNetworkIsolation=True,
    )
    job = TrainingJob.requested(
        request, arn=TRAINING_JOB["TrainingJobArn"], now=1.0, artifacts="s3://b/m"
    )
    kept = {k: v for k, v in job.to_document().items() if k in members}
    # The version before the records echoed these request members (its ECHOED), and the name.
    assert sorted(kept) == sorted(
        ["TrainingJobName", "HyperParameters", "AlgorithmSpecification", "RoleArn",
         "InputDataConfig", "OutputDataConfig", "ResourceConfig", "VpcConfig",
         "StoppingCondition", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption",
         "EnableManagedSpotTraining", "CheckpointConfig", "DebugHookConfig", "ExperimentConfig",
         "DebugRuleConfigurations", "TensorBoardOutputConfig", "ProfilerConfig",
         "ProfilerRuleConfigurations", "Environment", "RetryStrategy", "RemoteDebugConfig",
         "InfraCheckConfig"]
    )  # fmt: skip
    # As given, but for what AWS adds: the algorithm's metric definitions, an empty KmsKeyId.
    filled = {"AlgorithmSpecification", "OutputDataConfig"}
    assert all(kept[k] == request[k] for k in kept if k not in filled)
    assert kept["AlgorithmSpecification"] == {
        "given": "AlgorithmSpecification", "MetricDefinitions": algorithm_definitions()
    }  # fmt: skip
    assert kept["OutputDataConfig"] == {"KmsKeyId": "", **TRAINING_JOB["OutputDataConfig"]}


@pytest.mark.parametrize(
    ("image", "shown"),
    [
        ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1", True),
        ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
         False),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/mine:latest", False),
    ],
)  # fmt: skip
def test_script_mode_shows_the_algorithm_definitions_in_the_algorithm_image_only(
    image: str, shown: bool
) -> None:
    # AWS listed the 1.7-1 algorithm's definitions for the workshop's XGBoost(entry_point=...)
    # job (its training_job_analytics warned of each one it found no value for).
    request = {**copy.deepcopy(TRAINING_JOB), "HyperParameters": {"sagemaker_program": '"t.py"'}}
    request["AlgorithmSpecification"] = {"TrainingImage": image, "TrainingInputMode": "File"}
    job = TrainingJob.requested(request, arn="arn", now=1.0, artifacts="s3://b/m")
    spec = job.to_document()["AlgorithmSpecification"]
    assert spec.get("MetricDefinitions") == (algorithm_definitions() if shown else None)
    own = [{"Name": "mine", "Regex": "m=([0-9]+)"}]
    request["AlgorithmSpecification"]["MetricDefinitions"] = own
    job = TrainingJob.requested(request, arn="arn", now=1.0, artifacts="s3://b/m")
    assert job.to_document()["AlgorithmSpecification"]["MetricDefinitions"] == own
