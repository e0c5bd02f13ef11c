"""Training jobs of the built-in XGBoost algorithm through boto3 against a real emulator."""

from __future__ import annotations

import io
import re
import tarfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from botocore.exceptions import ClientError

from examples.train_deploy_capture import iris_csv
from smlocal.model_server.predictors.xgboost_model import load_booster
from tests.support import ROLE, SKLEARN_IMAGE, XGBOOST_IMAGE, unique

BUCKET = "training-data"
IRIS = {"objective": "multi:softmax", "num_class": "3", "num_round": "2", "eval_metric": "merror"}
LONG = {**IRIS, "num_round": "10000000"}  # trains until it is stopped
END = ("Completed", "Failed", "Stopped")


@pytest.fixture(scope="module")
def sm(smlocal):
    return smlocal.client("sagemaker")


@pytest.fixture(scope="module")
def s3(smlocal, tmp_path_factory):
    """The data bucket: iris CSV and libsvm, and the bad files the failure tests read."""
    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    train, validation = iris_csv(tmp_path_factory.mktemp("iris"))
    s3.upload_file(str(train), BUCKET, "iris/train/iris.csv")
    s3.upload_file(str(validation), BUCKET, "iris/validation/iris.csv")
    lines = train.read_text().splitlines()
    for part, chunk in enumerate((lines[:50], lines[50:])):
        libsvm = [f"{r.split(',')[0]} " + " ".join(f"{i}:{v}" for i, v in
                  enumerate(r.split(",")[1:])) for r in chunk]  # fmt: skip
        s3.put_object(Bucket=BUCKET, Key=f"libsvm/train/part-{part}", Body="\n".join(libsvm))
    species = [f"{name},5.1,3.5,1.4,0.2" for name in ("setosa", "versicolor", "virginica")]
    bad_feature = ["0,5.1,3.5,1.4,0.2", "1,6.2,2.9,4.3,1.3", "2,7.7,3.0,abc,2.3"]
    files = {
        "species/train/species.csv": "\n".join(species),
        "bad-feature/train/rows.csv": "\n".join(bad_feature),
        "empty/train/empty.csv": "",
    }
    for key, body in files.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())
    return s3


def channel(name: str, uri: str, content_type: str | None = "csv") -> dict:
    spec = {"ChannelName": name, "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}  # fmt: skip
    if content_type:
        spec["ContentType"] = content_type
    return spec


IRIS_CHANNELS = [
    channel("train", f"s3://{BUCKET}/iris/train"),
    channel("validation", f"s3://{BUCKET}/iris/validation/iris.csv"),
]


def create(sm, name: str, *, hyperparameters=None, channels=None, image=XGBOOST_IMAGE,
           output=f"s3://{BUCKET}/output", max_runtime=3600, metric_definitions=None,
           kms_key=None) -> None:  # fmt: skip
    spec = {"TrainingImage": image, "TrainingInputMode": "File"}
    if metric_definitions:
        spec["MetricDefinitions"] = metric_definitions
    output_config = {"S3OutputPath": output} | ({"KmsKeyId": kms_key} if kms_key else {})
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE,
        AlgorithmSpecification=spec,
        HyperParameters=IRIS if hyperparameters is None else hyperparameters,
        InputDataConfig=IRIS_CHANNELS if channels is None else channels,
        OutputDataConfig=output_config,
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": max_runtime},
        Tags=[{"Key": "team", "Value": "ml"}],
    )


def wait(sm, name: str, wanted=END, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_training_job(TrainingJobName=name)
        if described["SecondaryStatus"] in wanted or described["TrainingJobStatus"] in wanted:
            return described
        assert time.monotonic() < deadline, f"{name} stayed {described['SecondaryStatus']}"
        time.sleep(0.05)


def log_lines(smlocal, name: str) -> list[str]:
    logs = smlocal.client("logs")
    group = "/aws/sagemaker/TrainingJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/")
    lines = []
    for stream in streams["logStreams"]:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
        )["events"]
        lines += [e["message"] for e in events]
    return lines


def wait_for_log(smlocal, name: str, pattern: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not any(re.search(pattern, line) for line in log_lines(smlocal, name)):
        assert time.monotonic() < deadline, f"no log line of {name} matched {pattern}"
        time.sleep(0.1)


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def iris_job(sm, s3) -> dict:
    name = unique("iris-train")
    create(sm, name)
    return wait(sm, name)


def test_iris_trains_a_model_the_model_server_loads(iris_job, s3, tmp_path) -> None:
    job, name = iris_job, iris_job["TrainingJobName"]
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Completed", "Completed")
    assert job["TrainingJobArn"] == f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}"
    transitions = job["SecondaryStatusTransitions"]
    assert [t["Status"] for t in transitions] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"
    ]  # fmt: skip
    assert transitions[0]["StatusMessage"] == "Starting the training job"
    assert transitions[-1]["StatusMessage"] == "Training job completed"
    assert all(t["StartTime"] <= t["EndTime"] for t in transitions)
    assert job["CreationTime"] <= job["TrainingStartTime"] <= job["TrainingEndTime"]
    assert job["LastModifiedTime"] == job["TrainingEndTime"]
    assert job["TrainingTimeInSeconds"] >= 1
    assert job["HyperParameters"] == IRIS
    assert "FailureReason" not in job
    uri = f"s3://{BUCKET}/output/{name}/output/model.tar.gz"
    assert job["ModelArtifacts"] == {"S3ModelArtifacts": uri}
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert set(metrics) == {"train:merror", "validation:merror"}
    assert all(0 <= value < 0.2 for value in metrics.values())

    body = s3.get_object(Bucket=BUCKET, Key=f"output/{name}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.getnames() == ["xgboost-model"]
        tar.extractall(tmp_path, filter="data")
    booster = load_booster(tmp_path / "xgboost-model")
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]])
    assert booster.inplace_predict(rows).tolist() == [0.0, 1.0, 2.0]


def test_metrics_are_logged_per_round_like_the_container(smlocal, iris_job) -> None:
    name = iris_job["TrainingJobName"]
    streams = smlocal.client("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"]
    assert [re.fullmatch(rf"{name}/algo-1-\d{{10}}", s["logStreamName"]) is not None
            for s in streams] == [True]  # fmt: skip
    rounds = [line for line in log_lines(smlocal, name) if line.startswith("[")]
    per_round = [line for line in rounds if re.match(r"\[\d+\]#011", line)]
    assert len(per_round) == 2
    for i, line in enumerate(per_round):
        assert re.fullmatch(
            rf"\[{i}\]#011train-merror:\d\.\d{{5}}#011validation-merror:\d\.\d{{5}}", line
        )
    last = per_round[-1].split("#011")
    metrics = {m["MetricName"]: m["Value"] for m in iris_job["FinalMetricDataList"]}
    assert metrics["train:merror"] == float(last[1].split(":")[1])
    assert metrics["validation:merror"] == float(last[2].split(":")[1])


def test_describe_shows_the_algorithm_metric_definitions_and_an_empty_kms_key(iris_job) -> None:
    spec = iris_job["AlgorithmSpecification"]
    definitions = {d["Name"]: d["Regex"] for d in spec["MetricDefinitions"]}
    assert len(spec["MetricDefinitions"]) == len(definitions) == 34
    assert {n.split(":")[0] for n in definitions} == {"train", "validation"}
    number = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
    assert definitions["validation:merror"] == (
        r".*\[[0-9]+\].*#011validation-merror:" + number + ".*"
    )
    line = "[1]#011train-merror:0.04000#011validation-merror:0.06000"
    assert re.match(definitions["validation:merror"], line).group(1) == "0.06000"
    assert iris_job["OutputDataConfig"] == {"S3OutputPath": f"s3://{BUCKET}/output", "KmsKeyId": ""}


def test_a_jobs_own_metric_definitions_are_kept_as_given(sm, s3) -> None:
    name = unique("own-metrics")
    own = [{"Name": "merror", "Regex": r"validation-merror:([0-9.]+)"}]
    create(sm, name, metric_definitions=own, kms_key="alias/mine")
    job = wait(sm, name)
    assert job["AlgorithmSpecification"]["MetricDefinitions"] == own
    assert job["OutputDataConfig"]["KmsKeyId"] == "alias/mine"
    metrics = {m["MetricName"] for m in job["FinalMetricDataList"]}
    assert metrics == {"merror", "train:merror", "validation:merror"}


def test_each_rounds_metrics_go_to_cloudwatch(smlocal, iris_job) -> None:
    name = iris_job["TrainingJobName"]
    per_round = [line.split("#011")[1:] for line in log_lines(smlocal, name)
                 if re.match(r"\[\d+\]#011", line)]  # fmt: skip
    sent = [float(entries[1].split(":")[1]) for entries in per_round]
    points = smlocal.client("cloudwatch").get_metric_statistics(
        Namespace="/aws/sagemaker/TrainingJobs",
        MetricName="validation:merror",
        Dimensions=[{"Name": "TrainingJobName", "Value": name}],
        StartTime=iris_job["TrainingStartTime"] - timedelta(minutes=1),
        EndTime=iris_job["TrainingEndTime"] + timedelta(minutes=1),
        Period=60,
        Statistics=["SampleCount", "Average"],
    )["Datapoints"]
    assert sum(p["SampleCount"] for p in points) == len(sent) == 2
    mean = sum(p["Average"] * p["SampleCount"] for p in points) / 2
    assert mean == pytest.approx(sum(sent) / 2)


def test_list_describe_and_the_errors_aws_answers(sm, iris_job) -> None:
    name, arn = iris_job["TrainingJobName"], iris_job["TrainingJobArn"]
    listed = sm.list_training_jobs(NameContains=name)["TrainingJobSummaries"]
    assert [
        (j["TrainingJobName"], j["TrainingJobStatus"], j["SecondaryStatus"]) for j in listed
    ] == [(name, "Completed", "Completed")]
    completed = sm.list_training_jobs(StatusEquals="Completed", MaxResults=100)
    assert name in [j["TrainingJobName"] for j in completed["TrainingJobSummaries"]]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert error_of(create, sm=sm, name=name) == (
        "ResourceInUse",
        "Training job names must be unique within an AWS account and region, and a training "
        f"job with this name already exists ({arn})",
    )
    assert error_of(sm.describe_training_job, TrainingJobName="no-such-job") == (
        "ValidationException",
        "Requested resource not found.",
    )
    assert error_of(sm.stop_training_job, TrainingJobName="no-such-job") == (
        "ValidationException",
        "Requested resource not found.",
    )
    assert error_of(sm.stop_training_job, TrainingJobName=name) == (
        "ValidationException",
        "The request was rejected because the training job is in status Completed.",
    )


def test_a_libsvm_channel_of_several_files_trains(sm, s3) -> None:
    name = unique("libsvm")
    create(sm, name, channels=[channel("train", f"s3://{BUCKET}/libsvm/train/", "text/libsvm")])
    job = wait(sm, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert [m["MetricName"] for m in job["FinalMetricDataList"]] == ["train:merror"]


def test_a_channel_without_objects_is_refused_at_create(sm, s3) -> None:
    uri = f"s3://{BUCKET}/nothing/here"
    assert error_of(create, sm=sm, name=unique("nothing"), channels=[channel("train", uri)]) == (
        "ValidationException",
        f'No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure '
        "that the bucket exists in the selected region (us-east-1), that objects exist under "
        f'that S3 prefix, and that the role "{ROLE}" has "s3:ListBucket" permissions on bucket '
        f'"{BUCKET}".',
    )


def _csv(prefix: str) -> list[dict]:
    return [channel("train", f"s3://{BUCKET}/{prefix}/train")]


# case -> (create arguments, the FailureReason)
BAD = {
    "no train channel": (
        {"channels": [channel("validation", f"s3://{BUCKET}/iris/validation")]},
        "ClientError: Missing required channel: train",
    ),
    "unknown channel": (
        {"channels": [*IRIS_CHANNELS, channel("test", f"s3://{BUCKET}/iris/validation")]},
        "ClientError: Extraneous channel found: test",
    ),
    "empty channel": (
        {"channels": _csv("empty")},
        "ClientError: No data in training channel path /opt/ml/input/data/train",
    ),
    "label not numeric": (
        {"channels": _csv("species")},
        "ClientError: Failed to load csv data: /opt/ml/input/data/train/species.csv, row 1, "
        "column 1 (the label): 'setosa' is not a number. The built-in XGBoost algorithm reads "
        "CSV with the label in the first column and no header row.",
    ),
    "feature not numeric": (
        {"channels": _csv("bad-feature")},
        "ClientError: Failed to load csv data: /opt/ml/input/data/train/rows.csv, row 3, "
        "column 4: 'abc' is not a number.",
    ),
    "content type not emulated": (
        {"channels": [channel("train", f"s3://{BUCKET}/iris/train", "application/x-parquet")]},
        "ClientError: ContentType application/x-parquet: smlocal reads CSV and libsvm; "
        "application/x-parquet is not emulated.",
    ),
    "num_round missing": (
        {"hyperparameters": {"objective": "multi:softmax", "num_class": "3"}},
        "ClientError: Missing required hyperparameter: num_round",
    ),
    "num_round not an integer": (
        {"hyperparameters": {**IRIS, "num_round": "ten"}},
        "ClientError: Hyperparameter num_round: could not parse value 'ten' as an integer "
        "(caused by ValueError)",
    ),
    "unknown objective": (
        {"hyperparameters": {**IRIS, "objective": "multi:guess"}},
        "ClientError: Hyperparameter objective: multi:guess is not in ['binary:logistic', ",
    ),
    "unknown hyperparameter": (
        {"hyperparameters": {**IRIS, "colour": "blue"}},
        "ClientError: Extraneous hyperparameter found: colour",
    ),
    "eta out of range": (
        {"hyperparameters": {**IRIS, "eta": "2"}},
        "ClientError: Hyperparameter eta: 2.0 is not in [0, 1]",
    ),
    "num_class missing": (
        {"hyperparameters": {"objective": "multi:softmax", "num_round": "2"}},
        "ClientError: Require input for parameter 'num_class' for multi-classification",
    ),
    "labels beyond num_class": (
        {"hyperparameters": {**IRIS, "num_class": "2"}},
        "ClientError: XGB train call failed with exception: ",
    ),
    "output bucket missing": (
        {"output": "s3://no-such-bucket/models"},
        'ClientError: The S3 bucket "no-such-bucket" of OutputDataConfig.S3OutputPath '
        "(s3://no-such-bucket/models) does not exist, so the model artifacts could not be "
        "written. Create the bucket, or choose an output path in a bucket that exists.",
    ),
    "another image": (
        {"image": SKLEARN_IMAGE},
        f"ClientError: Training image {SKLEARN_IMAGE} is not emulated by smlocal: it trains "
        "only SageMaker's built-in XGBoost algorithm (images of the sagemaker-xgboost "
        "repository) and user scripts (hyperparameter sagemaker_program) in the "
        "sagemaker-xgboost and sagemaker-scikit-learn repositories. Training with other "
        "images or algorithms is not emulated.",
    ),
}


@pytest.fixture(scope="module")
def failed_jobs(sm, s3) -> dict[str, dict]:
    """Every bad job, created together (they run side by side), described once ended."""
    names = {}
    for case, (kwargs, _) in BAD.items():
        names[case] = unique(re.sub(r"[^a-z0-9]+", "-", case))
        create(sm, names[case], **kwargs)
    return {case: wait(sm, name) for case, name in names.items()}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_fails_the_job_with_a_clear_reason(failed_jobs, case) -> None:
    job = failed_jobs[case]
    expected = BAD[case][1]
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Failed", "Failed")
    assert job["FailureReason"].startswith(expected), job["FailureReason"]
    if not expected.endswith(", ") and not expected.endswith(": "):
        assert job["FailureReason"] == expected
    assert job["SecondaryStatusTransitions"][-1]["StatusMessage"] == "Training job failed"
    assert job["LastModifiedTime"] >= job["CreationTime"]


def test_labels_beyond_num_class_name_the_xgboost_check(failed_jobs) -> None:
    reason = failed_jobs["labels beyond num_class"]["FailureReason"]
    assert "SoftmaxMultiClassObj: label must be" in reason
    assert "[0, num_class)" in reason
    assert "Stack trace" not in reason


def test_stopping_a_running_job_keeps_the_model_trained_so_far(smlocal, sm, s3) -> None:
    name = unique("stop-me")
    create(sm, name, hyperparameters=LONG)
    wait_for_log(smlocal, name, r"^\[0\]#011train-merror:")
    assert sm.stop_training_job(TrainingJobName=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    stopping = sm.describe_training_job(TrainingJobName=name)
    assert stopping["TrainingJobStatus"] in ("Stopping", "Stopped")
    job = wait(sm, name)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]][-3:] == [
        "Training", "Stopping", "Stopped"
    ]  # fmt: skip
    key = f"output/{name}/output/model.tar.gz"
    assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0
    assert {m["MetricName"] for m in job["FinalMetricDataList"]} == {
        "train:merror",
        "validation:merror",
    }
    assert error_of(sm.stop_training_job, TrainingJobName=name) == (
        "ValidationException",
        "The request was rejected because the training job is in status Stopped.",
    )


def test_a_job_past_its_max_runtime_is_stopped(sm, s3) -> None:
    name = unique("too-long")
    create(sm, name, hyperparameters=LONG, max_runtime=1)
    job = wait(sm, name)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")


def test_a_job_running_when_smlocal_stops_ends_failed_after_restart(
    smlocal_factory, tmp_path: Path
) -> None:
    emulator = smlocal_factory()
    sm, s3 = emulator.client("sagemaker"), emulator.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    train, _ = iris_csv(tmp_path)
    s3.upload_file(str(train), BUCKET, "iris/train/iris.csv")
    done, running = unique("done"), unique("running")
    create(sm, done, channels=IRIS_CHANNELS[:1])
    assert wait(sm, done)["TrainingJobStatus"] == "Completed"
    create(sm, running, channels=IRIS_CHANNELS[:1], hyperparameters=LONG)
    wait(sm, running, ("Training",))

    emulator.restart()
    sm = emulator.client("sagemaker")

    assert sm.describe_training_job(TrainingJobName=done)["TrainingJobStatus"] == "Completed"
    job = sm.describe_training_job(TrainingJobName=running)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Failed", "Failed")
    assert job["FailureReason"] == (
        "InternalServerError: The training job was interrupted: smlocal stopped while it was "
        "in secondary status Training. Create the training job again, with a new name."
    )


def test_names_and_shapes_are_validated_like_aws(smlocal) -> None:
    from botocore.config import Config

    unchecked = smlocal.client("sagemaker", config=Config(parameter_validation=False))
    code, message = error_of(create, sm=unchecked, name="bad_name")
    assert code == "ValidationException"
    assert message == (
        "1 validation error detected: Value 'bad_name' at 'trainingJobName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
    )
    assert error_of(unchecked.describe_training_job, TrainingJobName="x" * 64)[0] == (
        "ValidationException"
    )
