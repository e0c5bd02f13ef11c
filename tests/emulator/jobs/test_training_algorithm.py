"""The training cores without a server: hyperparameters, data files, metrics, statuses."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from smlocal.emulator.control.context import Context, Managers
from smlocal.emulator.jobs.runner import syslog_escape
from smlocal.emulator.jobs.training import UserError
from smlocal.emulator.jobs.training.data import (
    CSV,
    LIBSVM,
    concatenate,
    content_type,
    read_csv,
    read_libsvm,
)
from smlocal.emulator.jobs.training.hyperparameters import training_plan, validate
from smlocal.emulator.jobs.training.manager import TrainingManager, _check_algorithm
from smlocal.emulator.jobs.training.metrics import MetricCollector, round_line
from smlocal.emulator.jobs.training.records import KIND, TrainingJob
from smlocal.emulator.jobs.training.workspace import JobFailure
from smlocal.emulator.jobs.training.xgboost_algorithm import StopFlag, train
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.statuses.machine import IllegalTransition
from smlocal.emulator.statuses.training_jobs import ending
from smlocal.emulator.support.store import Store
from tests.support import SKLEARN_IMAGE, XGBOOST_IMAGE

# -- hyperparameters ----------------------------------------------------------------------


def test_hyperparameters_arrive_as_strings_and_are_parsed_by_kind() -> None:
    parsed = validate(
        {
            "num_round": "10",
            "eta": "0.3",
            "objective": '"binary:logistic"',
            "max_depth": "6.0",
            "eval_metric": "auc,error@0.7",
            "learning_rate": "0.1",
            "monotone_constraints": "(1,-1)",
            "tree_method": "hist",
        }
    )
    assert parsed == {
        "num_round": 10, "eta": 0.3, "objective": "binary:logistic", "max_depth": 6,
        "eval_metric": ["auc", "error@0.7"], "learning_rate": 0.1,
        "monotone_constraints": (1, -1), "tree_method": "hist",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        ({}, "Missing required hyperparameter: num_round"),
        ({"num_round": "2", "silent": "1"}, "Extraneous hyperparameter found: silent"),
        (
            {"num_round": "2.5"},
            "Hyperparameter num_round: could not parse value '2.5' as an "
            "integer (caused by ValueError)",
        ),
        ({"num_round": "0"}, "Hyperparameter num_round: 0 is not in [1, +inf)"),
        ({"num_round": "2", "subsample": "0"}, "Hyperparameter subsample: 0.0 is not in (0, 1]"),
        (
            {"num_round": "2", "eta": "nan"},
            "Hyperparameter eta: could not parse value 'nan' as a number (caused by ValueError)",
        ),
        (
            {"num_round": "2", "booster": "gbforest"},
            "Hyperparameter booster: gbforest is not in ['gbtree', 'gblinear', 'dart']",
        ),
        (
            {"num_round": "2", "updater": "grow_colmaker,magic"},
            "Hyperparameter updater: value ['grow_colmaker', 'magic'] not in range [",
        ),
        (
            {"num_round": "2", "eval_metric": "rmse,accuracy"},
            "eval_metric accuracy is computed by code of SageMaker's XGBoost container that smlocal "
            "does not emulate; use metrics XGBoost computes: rmse, ",
        ),
        (
            {"num_round": "2", "eval_metric": "nope"},
            "Hyperparameter eval_metric: value ['nope'] not in range ['rmse', ",
        ),
        (
            {"num_round": "2", "eval_metric": "rmse@2"},
            "Metric 'rmse@2' is not supported. Parameter 'eval_metric' with customized threshold "
            "should be one of these options: 'error', 'ndcg', 'map'.",
        ),
        (
            {"num_round": "2", "eval_metric": "error@x"},
            "Threshold value 't' in 'error@t' expects float input.",
        ),
        (
            {"num_round": "2", "eval_metric": "auc", "objective": "reg:squarederror"},
            "Metric 'auc' can only be applied for classification and ranking problems.",
        ),
        (
            {"num_round": "2", "monotone_constraints": "(1,0)"},
            "monotone_constraints can be used only when the tree_method parameter is set to either "
            "'exact' or 'hist'.",
        ),
        (
            {"num_round": "2", "objective": "multi:softprob"},
            "Require input for parameter 'num_class' for multi-classification",
        ),
    ],
)
def test_bad_hyperparameters_are_named(hyperparameters, message) -> None:
    with pytest.raises(UserError) as caught:
        validate(hyperparameters)
    assert str(caught.value).startswith(message)
    assert caught.value.reason == f"ClientError: {caught.value}"


def test_the_training_plan_maps_what_current_xgboost_no_longer_has() -> None:
    plan = training_plan(
        validate(
            {
                "num_round": "5",
                "objective": "reg:linear",
                "tree_method": "gpu_hist",
                "predictor": "cpu_predictor",
                "early_stopping_rounds": "2",
                "csv_weights": "1",
                "updater": "grow_colmaker,prune",
                "eval_metric": "rmse",
            }
        )
    )
    assert plan.params == {
        "objective": "reg:squarederror", "tree_method": "hist",
        "updater": "grow_colmaker,prune", "eval_metric": ["rmse"],
    }  # fmt: skip
    assert (plan.num_round, plan.early_stopping_rounds, plan.csv_weights) == (5, 2, True)
    assert len(plan.notes) == 3


# -- data ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("csv", CSV),
        ("text/csv", CSV),
        ("text/csv; label_size=1", CSV),
        ("libsvm", LIBSVM),
        ("text/libsvm", LIBSVM),
        ("text/x-libsvm", LIBSVM),
        (None, LIBSVM),
    ],
)
def test_content_types_the_container_accepts(value, kind) -> None:
    assert content_type(value) == kind


def test_content_types_it_refuses() -> None:
    with pytest.raises(UserError, match=r"^image/png is not an accepted ContentType: csv, "):
        content_type("image/png")
    with pytest.raises(UserError, match="label_size must be equal to 1"):
        content_type("text/csv;label_size=2")


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|", " "])
def test_csv_delimiters_are_sniffed_and_empty_features_are_missing(delimiter) -> None:
    lines = [delimiter.join(row) for row in (["1", "0.5", "2"], ["0", "", "3"])]
    table = read_csv(lines, "f.csv") if delimiter != " " else read_csv(lines[:1], "f.csv")
    assert table.labels.tolist() == [1.0, 0.0][: table.rows]
    assert table.features[0].tolist() == [0.5, 2.0]
    if delimiter != " ":
        assert math.isnan(table.features[1, 0])


def test_csv_weights_take_the_second_column() -> None:
    table = read_csv(["1,0.5,7", "0,2,8"], "w.csv", csv_weights=True)
    assert (table.labels.tolist(), table.weights.tolist(), table.features.tolist()) == (
        [1.0, 0.0], [0.5, 2.0], [[7.0], [8.0]]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ["label,a,b", "1,2,3"],
            "Failed to load csv data: f.csv, row 1, column 1 (the label): "
            "'label' is not a number. The built-in XGBoost algorithm reads "
            "CSV with the label in the first column and no header row.",
        ),
        (
            ["1,2,3", "", "1,2"],
            "Failed to load csv data: f.csv, row 3 has 2 columns but row 1 has 3.",
        ),
        (
            ["1,2,3", ",2,3"],
            "Failed to load csv data: f.csv, row 2, column 1 (the label): '' is not a number.",
        ),
        (["1", "0"], "Failed to load csv data: f.csv has 1 column(s) and so no feature columns."),
    ],
)
def test_unreadable_csv_names_the_row_and_column(lines, message) -> None:
    with pytest.raises(UserError) as caught:
        read_csv(lines, "f.csv")
    assert str(caught.value).startswith(message)


def test_libsvm_rows_with_weights_and_query_ids() -> None:
    table = read_libsvm(["1:2 qid:1 0:1.5 3:2", "0 1:1 # comment", ""], "f.libsvm")
    assert table.labels.tolist() == [1.0, 0.0]
    assert table.weights.tolist() == [2.0, 1.0]
    assert table.features.toarray().tolist() == [[1.5, 0, 0, 2], [0, 1, 0, 0]]
    with pytest.raises(UserError, match=r"f.libsvm, row 2: 'x' is not an index:value pair"):
        read_libsvm(["1 0:1", "1 x"], "f.libsvm")


def test_csv_files_of_a_channel_must_have_the_same_columns() -> None:
    one, two = read_csv(["1,2,3"], "a.csv"), read_csv(["1,2"], "b.csv")
    with pytest.raises(UserError, match=r"b\.csv has 1 feature columns but a\.csv has 2"):
        concatenate([("a.csv", one), ("b.csv", two)])
    sparse = concatenate([("a", read_libsvm(["1 0:1"], "a")), ("b", read_libsvm(["0 4:1"], "b"))])
    assert sparse.features.shape == (2, 5)


# -- metrics, statuses, log escaping ------------------------------------------------------


def test_round_lines_and_the_metrics_read_back_from_cloudwatch_text() -> None:
    line = round_line(3, [("train", "rmse", 0.123456), ("validation", "rmse", 1.5)])
    assert line == "[3]\ttrain-rmse:0.12346\tvalidation-rmse:1.50000"
    collector = MetricCollector([{"Name": "custom:rmse", "Regex": r"validation-rmse:([0-9.]+)"}])
    collector.feed(syslog_escape(line), 10.0)
    collector.feed("[4]#011train-rmse:0.10000#011validation-rmse:1.40000", 11.0)
    collector.feed("not a metric line train-rmse:9", 12.0)
    assert collector.final() == [
        {"MetricName": "train:rmse", "Value": 0.1, "Timestamp": 11.0},
        {"MetricName": "validation:rmse", "Value": 1.4, "Timestamp": 11.0},
        {"MetricName": "custom:rmse", "Value": 1.4, "Timestamp": 11.0},
    ]


def test_syslog_escape_writes_control_characters_as_octal() -> None:
    assert syslog_escape("[0]\ta\r") == "[0]#011a#015"
    assert syslog_escape("plain") == "plain"


REQUEST = {
    "RoleArn": "arn:aws:iam::123456789012:role/R",
    "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/out/"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
    "StoppingCondition": {"MaxRuntimeInSeconds": 60},
}


def _job(name: str, now: float) -> TrainingJob:
    """A job as CreateTrainingJob records it."""
    return TrainingJob.requested(
        {**REQUEST, "TrainingJobName": name},
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        now=now,
        artifacts=f"s3://bucket/out/{name}/output/model.tar.gz",
    )


def test_statuses_move_only_as_the_table_says() -> None:
    job = _job("moves", 1.0)
    for status, when in (("Downloading", 2.0), ("Training", 3.0), ("Stopping", 4.0)):
        job.advance(status, when)
    assert (job.status, job.secondary_status, job.last_modified_time) == (
        "Stopping",
        "Stopping",
        4.0,
    )
    with pytest.raises(IllegalTransition):
        job.advance("Completed", 5.0)
    job.advance(ending("Stopping", "Completed"), 5.0)
    assert job.to_document()["TrainingJobStatus"] == "Stopped"
    assert [(t["Status"], t["StartTime"], t.get("EndTime")) for t in
            job.to_document()["SecondaryStatusTransitions"]] == [
        ("Starting", 1.0, 2.0), ("Downloading", 2.0, 3.0), ("Training", 3.0, 4.0),
        ("Stopping", 4.0, 5.0), ("Stopped", 5.0, 5.0),
    ]  # fmt: skip


def test_only_the_registry_s_trained_images_are_accepted() -> None:
    _check_algorithm({"TrainingImage": XGBOOST_IMAGE}, script=False)
    _check_algorithm({"TrainingImage": SKLEARN_IMAGE}, script=True)
    with pytest.raises(JobFailure) as refused:
        _check_algorithm({"TrainingImage": SKLEARN_IMAGE}, script=False)
    assert str(refused.value) == (
        f"ClientError: Training image {SKLEARN_IMAGE} is not emulated by smlocal: it trains "
        "only SageMaker's built-in XGBoost algorithm (images of the sagemaker-xgboost "
        "repository) and user scripts (hyperparameter sagemaker_program) in the "
        "sagemaker-xgboost and sagemaker-scikit-learn repositories. Training with other "
        "images or algorithms is not emulated."
    )
    with pytest.raises(JobFailure) as by_name:
        _check_algorithm({"AlgorithmName": "my-algorithm"}, script=False)
    assert str(by_name.value) == (
        "ClientError: Algorithm my-algorithm is not emulated by smlocal; it trains only "
        "SageMaker's built-in XGBoost algorithm (TrainingImage of the sagemaker-xgboost "
        "repository)."
    )


def test_restore_ends_jobs_that_were_running(tmp_path: Path) -> None:
    ctx = Context(Store(), EmulatorSettings(data_dir=tmp_path), clock=lambda: 100.0)
    running, stopping = _job("running", 1.0), _job("stopping", 1.0)
    running.training_start_time = 2.0
    running.advance("Downloading", 2.0)
    running.advance("Training", 3.0)
    stopping.advance("Stopping", 2.0)
    for job in (running, stopping):
        ctx.store.put(KIND, job.key, job.to_document())
    TrainingManager(ctx, runner=None).restore()  # type: ignore[arg-type]
    failed = ctx.store.get(KIND, "running")
    assert (failed["TrainingJobStatus"], failed["TrainingTimeInSeconds"]) == ("Failed", 98)
    assert failed["FailureReason"].startswith(
        "InternalServerError: The training job was interrupted"
    )
    assert ctx.store.get(KIND, "stopping")["TrainingJobStatus"] == "Stopped"


# -- the algorithm, in process ------------------------------------------------------------


def test_the_algorithm_trains_with_early_stopping_and_weights(tmp_path: Path, capsys) -> None:
    config, data = tmp_path / "input" / "config", tmp_path / "input" / "data"
    for folder in (config, data / "train", data / "validation"):
        folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    features = rng.random((60, 3))
    rows = [f"{x[0] * 2:.3f},1," + ",".join(f"{v:.3f}" for v in x) for x in features]
    (data / "train" / "a.csv").write_text("\n".join(rows[:40]))
    (data / "validation" / "b.csv").write_text("\n".join(rows[40:]))
    (config / "hyperparameters.json").write_text(json.dumps(
        {"num_round": "50", "early_stopping_rounds": "2", "csv_weights": "1", "eta": "0.9"}))  # fmt: skip
    (config / "inputdataconfig.json").write_text(json.dumps(
        {"train": {"ContentType": "text/csv"}, "validation": {"ContentType": "text/csv"}}))  # fmt: skip
    train(tmp_path, StopFlag())
    printed = capsys.readouterr().out
    assert "Train matrix has 40 rows and 3 columns" in printed
    assert "[0]\ttrain-rmse:" in printed
    assert "[49]" not in printed  # early stopping ended it
    assert (tmp_path / "model" / "xgboost-model").read_bytes().startswith(b'{"learner"')


# -- the control-plane operations against botocore's output shapes -------------------------


class _NoTraining:
    """The training service, minus the training."""

    def missing_input(self, _params):
        return None

    def start(self, _name):
        pass

    def stop(self, _name):
        pass


def test_descriptions_fit_botocore_output_shapes(tmp_path: Path) -> None:
    from smlocal.emulator.control import training_jobs
    from smlocal.emulator.wire.output_shapes import shape_output
    from smlocal.emulator.wire.service_models import sagemaker_model

    ctx = Context(
        Store(), EmulatorSettings(data_dir=tmp_path), managers=Managers(training=_NoTraining())
    )
    params = {
        "TrainingJobName": "shape-check",
        "RoleArn": "arn:aws:iam::123456789012:role/R",
        "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        "HyperParameters": {"num_round": "2"},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        "DebugHookConfig": {"S3OutputPath": "s3://bucket/out", "CollectionConfigurations": []},
    }
    training_jobs.create_training_job(ctx, params)
    job = TrainingJob.from_document(ctx.store.get(KIND, "shape-check"))
    for status in ("Downloading", "Training", "Uploading", "Completed"):
        job.advance(status, ctx.now())
    job.training_start_time = job.training_end_time = ctx.now()
    job.training_time_in_seconds = job.billable_time_in_seconds = 1
    job.final_metric_data_list = [
        {"MetricName": "train:rmse", "Value": 0.5, "Timestamp": ctx.now()}
    ]
    ctx.store.put(KIND, "shape-check", job.to_document())
    model = sagemaker_model()
    described = training_jobs.describe_training_job(ctx, {"TrainingJobName": "shape-check"})
    shaped = shape_output(model, "DescribeTrainingJob", described, strict=True)
    assert shaped["ModelArtifacts"] == {
        "S3ModelArtifacts": "s3://bucket/out/shape-check/output/model.tar.gz"
    }
    assert shaped["EnableManagedSpotTraining"] is False
    listed = training_jobs.list_training_jobs(ctx, {})
    assert (
        shape_output(model, "ListTrainingJobs", listed, strict=True)["TrainingJobSummaries"][0][
            "SecondaryStatus"
        ]
        == "Completed"
    )
