"""Hyperparameter tuning jobs through boto3 against a real emulator: the built-in XGBoost
algorithm tuned on iris (a few jobs, two at a time), the errors AWS answers, stopping,
failing and a restart."""

from __future__ import annotations

import re
import time

import pytest

from examples.train_deploy_capture import iris_csv
from tests.emulator.jobs.test_training_jobs import BUCKET, IRIS_CHANNELS, error_of
from tests.support import ROLE, XGBOOST_IMAGE, unique

STATIC = {"objective": "multi:softmax", "num_class": "3", "num_round": "2",
          "eval_metric": "merror"}  # fmt: skip
RANGES = {
    "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "5"}],
    "ContinuousParameterRanges": [
        {"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5", "ScalingType": "Logarithmic"},
        {
            "Name": "subsample",
            "MinValue": "0.5",
            "MaxValue": "0.99",
            "ScalingType": "ReverseLogarithmic",
        },
    ],
    "CategoricalParameterRanges": [{"Name": "gamma", "Values": ["0", "0.5", "1"]}],
}
END = ("Completed", "Failed", "Stopped")


@pytest.fixture(scope="module")
def sm(smlocal):
    return smlocal.client("sagemaker")


@pytest.fixture(scope="module")
def s3(smlocal, tmp_path_factory):
    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    train, validation = iris_csv(tmp_path_factory.mktemp("iris"))
    s3.upload_file(str(train), BUCKET, "iris/train/iris.csv")
    s3.upload_file(str(validation), BUCKET, "iris/validation/iris.csv")
    return s3


def config(strategy="Random", *, jobs=4, parallel=2, ranges=None, metric="validation:merror",
           objective_type="Minimize", **extra) -> dict:  # fmt: skip
    limits = {"MaxParallelTrainingJobs": parallel}
    if jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = jobs
    return {"Strategy": strategy, "ResourceLimits": limits,
            "HyperParameterTuningJobObjective": {"Type": objective_type, "MetricName": metric},
            "ParameterRanges": RANGES if ranges is None else ranges, **extra}  # fmt: skip


def definition(static=None, image=XGBOOST_IMAGE, channels=None, **extra) -> dict:
    return {
        "StaticHyperParameters": STATIC if static is None else static,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "InputDataConfig": IRIS_CHANNELS if channels is None else channels,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/tuning"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        **extra,
    }


def create(sm, name, tuning=None, training=None, **extra) -> None:
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig=config() if tuning is None else tuning,
        TrainingJobDefinition=definition() if training is None else training,
        **extra,
    )


def wait(sm, name, wanted=END, timeout=240.0, seen=None) -> dict:
    """Describe until the status is wanted; `seen` collects how many training jobs were
    InProgress at each look."""
    deadline = time.monotonic() + timeout
    while True:
        job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if seen is not None:
            listed = sm.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name, StatusEquals="InProgress", MaxResults=100
            )["TrainingJobSummaries"]
            seen.append(len(listed))
        if job["HyperParameterTuningJobStatus"] in wanted:
            return job
        assert time.monotonic() < deadline, f"{name} stayed {job['HyperParameterTuningJobStatus']}"
        time.sleep(0.1)


def children(sm, name, **params) -> list[dict]:
    return sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, MaxResults=100, **params
    )["TrainingJobSummaries"]


@pytest.fixture(scope="module")
def tuned(sm, s3) -> tuple[str, dict, list[int]]:
    name = unique("hpo")[:32]
    create(sm, name, Tags=[{"Key": "team", "Value": "ml"}])
    seen: list[int] = []
    return name, wait(sm, name, seen=seen), seen


def test_a_random_search_runs_every_job_and_names_the_best(sm, tuned) -> None:
    name, job, seen = tuned
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["TrainingJobStatusCounters"] == {"Completed": 4, "InProgress": 0,
        "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}  # fmt: skip
    assert job["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    assert job["HyperParameterTuningEndTime"] >= job["CreationTime"]
    assert max(seen) <= 2  # MaxParallelTrainingJobs
    listed = children(sm, name)
    assert len(listed) == 4
    values = {s["TrainingJobName"]: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
              for s in listed}  # fmt: skip
    best = job["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == min(values.values())
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "validation:merror"
    assert best["TuningJobName"] == name
    assert best["ObjectiveStatus"] == "Succeeded"
    for summary in listed:
        assert re.fullmatch(rf"{name}-00[1-4]-[0-9a-f]{{8}}", summary["TrainingJobName"])


def test_training_jobs_get_the_static_and_the_tuned_hyperparameters(sm, tuned) -> None:
    name, job, _ = tuned
    static = job["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static == {**STATIC, "_tuning_objective_metric": "validation:merror"}
    for summary in children(sm, name):
        tuned_values = summary["TunedHyperParameters"]
        assert 1 <= int(tuned_values["max_depth"]) <= 5
        assert 0.05 <= float(tuned_values["eta"]) <= 0.5
        assert 0.5 <= float(tuned_values["subsample"]) <= 0.99
        assert tuned_values["gamma"] in ("0", "0.5", "1")
        trained = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        assert trained["HyperParameters"] == {**static, **tuned_values}
        assert trained["TuningJobArn"] == job["HyperParameterTuningJobArn"]
        assert trained["TrainingJobStatus"] == "Completed"


def test_listing_sorts_filters_and_pages(sm, tuned) -> None:
    name, _, _ = tuned
    by_value = children(sm, name, SortBy="FinalObjectiveMetricValue", SortOrder="Ascending")
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in by_value]
    assert values == sorted(values)
    first = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, MaxResults=3, SortBy="Name", SortOrder="Ascending")  # fmt: skip
    rest = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, MaxResults=3, SortBy="Name", SortOrder="Ascending",
        NextToken=first["NextToken"])  # fmt: skip
    names = [
        s["TrainingJobName"] for s in first["TrainingJobSummaries"] + rest["TrainingJobSummaries"]
    ]
    assert names == sorted(names)
    assert len(names) == 4
    assert "NextToken" not in rest
    assert children(sm, name, StatusEquals="Failed") == []
    summaries = sm.list_hyper_parameter_tuning_jobs(NameContains=name[4:],
                                                    StatusEquals="Completed")  # fmt: skip
    [summary] = summaries["HyperParameterTuningJobSummaries"]
    assert summary["HyperParameterTuningJobName"] == name
    assert summary["Strategy"] == "Random"
    assert summary["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 4
    arn = summary["HyperParameterTuningJobArn"]
    assert arn.endswith(f":hyper-parameter-tuning-job/{name.lower()}")
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]


def test_stop_and_delete_follow_the_status(sm, tuned) -> None:
    name, _, _ = tuned
    assert error_of(sm.stop_hyper_parameter_tuning_job, HyperParameterTuningJobName=name) == (
        "ValidationException",
        "The request was rejected because the hyperparameter tuning job is in status Completed.",
    )
    copy = unique("hpo-del")[:32]
    create(sm, copy, tuning=config(jobs=1, parallel=1))
    code, _ = error_of(sm.delete_hyper_parameter_tuning_job, HyperParameterTuningJobName=copy)
    assert code == "ResourceInUse"
    wait(sm, copy)
    sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName=copy)
    assert error_of(sm.describe_hyper_parameter_tuning_job,
                    HyperParameterTuningJobName=copy) == (
        "ResourceNotFound", f"Amazon SageMaker can't find a tuning job called {copy}. Type another name.")  # fmt: skip


def test_grid_search_runs_every_combination(sm, s3) -> None:
    name = unique("grid")
    ranges = {"CategoricalParameterRanges": [{"Name": "max_depth", "Values": ["1", "3"]},
                                             {"Name": "eta", "Values": ["0.1", "0.3"]}]}  # fmt: skip
    create(sm, name, tuning=config("Grid", jobs=None, parallel=2, ranges=ranges))
    assert wait(sm, name)["HyperParameterTuningJobStatus"] == "Completed"
    combos = {(s["TunedHyperParameters"]["max_depth"], s["TunedHyperParameters"]["eta"])
              for s in children(sm, name)}  # fmt: skip
    assert combos == {("1", "0.1"), ("1", "0.3"), ("3", "0.1"), ("3", "0.3")}


def test_bayesian_search_completes_and_stays_in_range(sm, s3) -> None:
    name = unique("bayes")
    create(sm, name, tuning=config("Bayesian", jobs=5, parallel=2, RandomSeed=7,
                                   TrainingJobEarlyStoppingType="Auto"))  # fmt: skip
    job = wait(sm, name)
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["TrainingJobStatusCounters"]["Completed"] == 5
    for summary in children(sm, name):
        assert 0.05 <= float(summary["TunedHyperParameters"]["eta"]) <= 0.5


def test_a_tuning_job_fails_when_no_training_job_succeeds(sm, s3) -> None:
    name = unique("hpo-fail")
    static = {k: v for k, v in STATIC.items() if k != "num_round"}  # num_round is required
    create(sm, name, tuning=config(jobs=2, parallel=2), training=definition(static=static))
    job = wait(sm, name)
    assert job["HyperParameterTuningJobStatus"] == "Failed"
    assert job["FailureReason"] == (
        "No training job succeeded after 2 attempts. Please take a look at the training job "
        "failures to get more details."
    )
    assert job["TrainingJobStatusCounters"]["NonRetryableError"] == 2
    assert job["ObjectiveStatusCounters"]["Failed"] == 2
    assert "BestTrainingJob" not in job
    for summary in children(sm, name):
        assert summary["FailureReason"].startswith("ClientError: ")
        assert summary["ObjectiveStatus"] == "Failed"


def test_stopping_a_tuning_job_stops_its_training_jobs(sm, s3) -> None:
    name = unique("hpo-stop")
    long = {**STATIC, "num_round": "10000000"}
    create(sm, name, tuning=config(jobs=4, parallel=2), training=definition(static=long))
    deadline = time.monotonic() + 120
    while len(children(sm, name, StatusEquals="InProgress")) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
        "HyperParameterTuningJobStatus"] in ("Stopping", "Stopped")  # fmt: skip
    job = wait(sm, name)
    assert job["HyperParameterTuningJobStatus"] == "Stopped"
    listed = children(sm, name)
    assert len(listed) == 2
    assert {s["TrainingJobStatus"] for s in listed} == {"Stopped"}
    assert job["TrainingJobStatusCounters"]["Stopped"] == 2


@pytest.mark.parametrize(
    "case",
    [
        (config(ranges={"IntegerParameterRanges": [
            {"Name": "max_depth", "MinValue": "5", "MaxValue": "1"}]}), None, "ValidationException",
         "The MinValue of hyperparameter range max_depth must be less than or equal to its "
         "MaxValue (MinValue 5, MaxValue 1)."),
        (config(ranges={"ContinuousParameterRanges": [
            {"Name": "eta", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}]}),
         None, "ValidationException", "Hyperparameter range eta uses Logarithmic scaling, which "
         "requires a MinValue greater than 0 (MinValue 0)."),
        (config(ranges={"IntegerParameterRanges": [
            {"Name": "max_depth", "MinValue": "a", "MaxValue": "3"}]}), None,
         "ValidationException", "The value 'a' of hyperparameter range max_depth is not an integer."),
        (config(metric="validation:nope"), None, "ValidationException", None),
        (config("Grid", jobs=None), None, "ValidationException",
         "Grid search supports only categorical hyperparameter ranges; ParameterRanges must "
         "hold CategoricalParameterRanges only."),
        (config(jobs=None), None, "ValidationException",
         "ResourceLimits.MaxNumberOfTrainingJobs is required for the Random strategy."),
        (config(), definition(static={**STATIC, "eta": "0.1"}), "ValidationException",
         "The hyperparameter eta is both static (StaticHyperParameters) and tuned "
         "(ParameterRanges); give it in one of them only."),
        (config(), definition(channels=[{**IRIS_CHANNELS[0], "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/nothing-here"}}}]),
         "ValidationException", None),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_as_aws_refuses_them(sm, s3, case) -> None:
    tuning, training, code, message = case
    name = unique("bad")
    assert error_of(sm.create_hyper_parameter_tuning_job, HyperParameterTuningJobName=name,
                    HyperParameterTuningJobConfig=tuning,
                    TrainingJobDefinition=training or definition())[0] == code  # fmt: skip
    if message:
        assert error_of(sm.create_hyper_parameter_tuning_job, HyperParameterTuningJobName=name,
                        HyperParameterTuningJobConfig=tuning,
                        TrainingJobDefinition=training or definition())[1] == message  # fmt: skip
    assert error_of(sm.describe_hyper_parameter_tuning_job,
                    HyperParameterTuningJobName=name)[0] == "ResourceNotFound"  # fmt: skip


def test_missing_names_and_taken_names(sm, tuned) -> None:
    name, _, _ = tuned
    code, message = error_of(sm.create_hyper_parameter_tuning_job,
                             HyperParameterTuningJobName=name,
                             HyperParameterTuningJobConfig=config(),
                             TrainingJobDefinition=definition())  # fmt: skip
    assert code == "ResourceInUse"
    assert message == (
        f"A hyperparameter tuning job with the name, {name}, already exists. Choose a "
        "different name."
    )
    for call in (sm.describe_hyper_parameter_tuning_job, sm.stop_hyper_parameter_tuning_job,
                 sm.list_training_jobs_for_hyper_parameter_tuning_job):  # fmt: skip
        assert error_of(call, HyperParameterTuningJobName="no-such-tuning") == (
            "ResourceNotFound", "Amazon SageMaker can't find a tuning job called no-such-tuning. Type another name.")  # fmt: skip
    code, _ = error_of(sm.create_hyper_parameter_tuning_job,
                       HyperParameterTuningJobName="x" * 33,
                       HyperParameterTuningJobConfig=config(),
                       TrainingJobDefinition=definition())  # fmt: skip
    assert code == "ValidationException"


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_tuning_job_running_when_smlocal_stops_ends_failed(smlocal_factory, tmp_path, how):
    emulator = smlocal_factory()
    sm, s3 = emulator.client("sagemaker"), emulator.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    train, validation = iris_csv(tmp_path)
    s3.upload_file(str(train), BUCKET, "iris/train/iris.csv")
    s3.upload_file(str(validation), BUCKET, "iris/validation/iris.csv")
    name = unique("hpo-restart")
    create(sm, name, training=definition(static={**STATIC, "num_round": "10000000"}))
    deadline = time.monotonic() + 120
    while not children(sm, name, StatusEquals="InProgress"):
        assert time.monotonic() < deadline
        time.sleep(0.1)

    if how == "SIGKILL":
        emulator.proc.kill()
        emulator.proc.wait(10)
        emulator.start()
    else:
        emulator.restart()
    sm = emulator.client("sagemaker")

    job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert job["HyperParameterTuningJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("InternalServerError: smlocal stopped while this")
    assert job["TrainingJobStatusCounters"]["InProgress"] == 0
    assert {s["TrainingJobStatus"] for s in children(sm, name)} == {"Failed"}


def test_a_reached_target_stops_launching(sm, s3) -> None:
    """Every merror is at most 1: the first job reaches the target, no other starts."""
    name = unique("hpo-target")
    create(sm, name, tuning=config(jobs=4, parallel=1,
           TuningJobCompletionCriteria={"TargetObjectiveMetricValue": 1.0}))  # fmt: skip
    job = wait(sm, name)
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert len(children(sm, name)) == 1
    assert job["BestTrainingJob"]["TrainingJobName"] == children(sm, name)[0]["TrainingJobName"]


def test_warm_start_needs_parents_that_ended(sm, tuned) -> None:
    name, _, _ = tuned
    missing = {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "no-parent"}],
               "WarmStartType": "IdenticalDataAndAlgorithm"}  # fmt: skip
    code, _ = error_of(sm.create_hyper_parameter_tuning_job,
                       HyperParameterTuningJobName=unique("warm"),
                       HyperParameterTuningJobConfig=config(),
                       TrainingJobDefinition=definition(), WarmStartConfig=missing)  # fmt: skip
    assert code == "ResourceNotFound"
    child = unique("warm")
    warm = {**missing, "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": name}]}
    create(sm, child, tuning=config(jobs=1, parallel=1), WarmStartConfig=warm)
    job = wait(sm, child)
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["WarmStartConfig"] == warm
    parent_best = tuned[1]["BestTrainingJob"]
    own_best = job["BestTrainingJob"]
    overall = job["OverallBestTrainingJob"]

    def value(summary: dict) -> float:
        return summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]

    assert value(overall) == min(value(parent_best), value(own_best))  # Minimize
    assert overall["TuningJobName"] in (name, child)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"TrainingJobDefinitions": [{**definition(), "DefinitionName": "a"}]},
         "TrainingJobDefinitions (a tuning job over several algorithms) is not emulated: "
         "smlocal runs tuning jobs with one TrainingJobDefinition."),
        ({"HyperParameterTuningJobConfig": config("Hyperband", TrainingJobEarlyStoppingType="Auto"),
          "TrainingJobDefinition": definition()},
         "TrainingJobEarlyStoppingType must be Off for the Hyperband strategy: Hyperband stops "
         "training jobs early by itself."),
        ({"HyperParameterTuningJobConfig": {k: v for k, v in config().items()
                                            if k != "HyperParameterTuningJobObjective"},
          "TrainingJobDefinition": definition()},
         "HyperParameterTuningJobObjective is required in HyperParameterTuningJobConfig."),
    ],
)  # fmt: skip
def test_what_smlocal_does_not_run_is_refused_by_name(sm, s3, extra, message) -> None:
    request = {"HyperParameterTuningJobName": unique("refused"),
               "HyperParameterTuningJobConfig": config(), **extra}  # fmt: skip
    assert error_of(sm.create_hyper_parameter_tuning_job, **request) == (
        "ValidationException", message)  # fmt: skip
