"""Training answers as the image's tag does: default metric and log lines per version."""

from __future__ import annotations

import re

import pytest

from smlocal.emulator.jobs.training.versions import (
    BEHAVIOURS,
    default_eval_metric,
    training_behaviour,
)
from smlocal.model_server.images import ImageVersion
from tests.emulator.jobs.test_training_jobs import BUCKET, create, log_lines, s3, sm, wait  # noqa: F401
from tests.support import unique

REGISTRY = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost"
NO_METRIC = {"objective": "multi:softmax", "num_class": "3", "num_round": "2"}
# tag -> (default multi-class metric, the "Train matrix" line of the 100 training rows)
CASES = {
    "0.90-1-cpu-py3": ("merror", "Train matrix has 100 rows"),
    "1.0-1-cpu-py3": ("merror", "Train matrix has 100 rows"),
    "1.2-1": ("merror", "Train matrix has 100 rows and 4 columns"),
    "1.3-1": ("mlogloss", "Train matrix has 100 rows and 4 columns"),
    "1.7-1": ("mlogloss", "Train matrix has 100 rows and 4 columns"),
}


@pytest.mark.parametrize("tag", CASES)
def test_default_metric_and_log_lines_follow_the_image_tag(smlocal, sm, s3, tag) -> None:  # noqa: F811
    metric, matrix = CASES[tag]
    name = unique("versions")
    create(sm, name, hyperparameters=NO_METRIC, image=f"{REGISTRY}:{tag}")
    job = wait(sm, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    names = {m["MetricName"] for m in job["FinalMetricDataList"]}
    assert names == {f"train:{metric}", f"validation:{metric}"}
    lines = log_lines(smlocal, name)
    rounds = [line for line in lines if re.match(r"\[\d+\]#011", line)]
    assert re.fullmatch(rf"\[0\]#011train-{metric}:\d\.\d{{5}}#011validation-{metric}:\d\.\d{{5}}",
                        rounds[0])  # fmt: skip
    messages = [line.split("] ", 1)[-1] for line in lines]
    # one train file and one validation file: each sniffed, then the first of each again
    assert messages.count("Determined delimiter of CSV input is ','") == 4
    assert matrix in messages


def test_a_metric_the_job_names_is_kept() -> None:
    old = training_behaviour(f"{REGISTRY}:0.90-2-cpu-py3")
    assert default_eval_metric(old, {"objective": "multi:softmax", "eval_metric": ["auc"]}) == []
    assert default_eval_metric(old, {"objective": "binary:logistic"}) == ["error"]
    assert default_eval_metric(old, {"objective": "reg:squarederror"}) == []
    assert default_eval_metric(training_behaviour(None), {"objective": "multi:softprob"}) == []


def test_unversioned_and_unknown_tags_train_as_the_newest() -> None:
    assert training_behaviour(f"{REGISTRY}:latest") is BEHAVIOURS[-1]
    assert training_behaviour(f"{REGISTRY}:1.2-2").since == ImageVersion(1, 2, 1)
    assert training_behaviour(f"{REGISTRY}:0.72-1").since == ImageVersion(0, 90, 1)


def test_the_sdk_estimator_reports_the_version_default(smlocal_sagemaker_session, s3) -> None:  # noqa: F811
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput

    session = smlocal_sagemaker_session
    region = session.boto_region_name
    for version, metric in (("1.2-1", "merror"), ("1.7-1", "mlogloss")):
        estimator = Estimator(
            image_uri=image_uris.retrieve("xgboost", region, version),
            role="arn:aws:iam::111122223333:role/smlocal",
            instance_count=1, instance_type="ml.m5.large", sagemaker_session=session,
            hyperparameters=NO_METRIC,
        )  # fmt: skip
        csv = "text/csv"
        estimator.fit({
            "train": TrainingInput(f"s3://{BUCKET}/iris/train", content_type=csv),
            "validation": TrainingInput(f"s3://{BUCKET}/iris/validation", content_type=csv),
        })  # fmt: skip
        job = estimator.latest_training_job.describe()
        names = {m["MetricName"] for m in job["FinalMetricDataList"]}
        assert names == {f"train:{metric}", f"validation:{metric}"}, version


@pytest.mark.parametrize(
    ("tag", "name", "value"),
    [("0.90-2-cpu-py3", "num_parallel_tree", "2"), ("1.0-1-cpu-py3", "sampling_method", "uniform"),
     ("1.2-2", "prob_buffer_row", "2"), ("1.7-1", "single_precision_histogram", "true")],
)  # fmt: skip
def test_a_hyperparameter_the_version_lacks_is_extraneous(sm, s3, tag, name, value) -> None:  # noqa: F811
    job = unique("versions-hp")
    create(sm, job, hyperparameters={**NO_METRIC, name: value}, image=f"{REGISTRY}:{tag}")
    failed = wait(sm, job)
    assert failed["TrainingJobStatus"] == "Failed"
    assert failed["FailureReason"] == f"ClientError: Extraneous hyperparameter found: {name}"


def test_the_same_hyperparameter_trains_where_the_version_has_it(sm, s3) -> None:  # noqa: F811
    job = unique("versions-hp")
    create(sm, job, hyperparameters={**NO_METRIC, "num_parallel_tree": "2"},
           image=f"{REGISTRY}:1.0-1-cpu-py3")  # fmt: skip
    assert wait(sm, job)["TrainingJobStatus"] == "Completed"
