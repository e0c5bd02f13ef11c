"""Automatic model tuning of a script-mode estimator through the unmodified SDK: a
`HyperparameterTuner` over `SKLearn(entry_point=...)` with the job's own metric
definitions, `fit(wait=False)`, `wait()`, `best_training_job()`, `analytics()`, `attach`
and `stop_tuning_job()`."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

BUCKET = "tuning-sdk"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
TRAIN = textwrap.dedent(
    """\
    import argparse, os, time
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    if __name__ == "__main__":
        parser = argparse.ArgumentParser()
        parser.add_argument("-C", type=float, default=1.0)
        parser.add_argument("--solver", default="lbfgs")
        parser.add_argument("--sleep", type=float, default=0)
        args, _ = parser.parse_known_args()  # the tuner adds _tuning_objective_metric
        frame = pd.read_csv(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), header=None)
        model = LogisticRegression(C=args.C, solver=args.solver).fit(frame.iloc[:, 1:], frame[0])
        print(f"train_accuracy={model.score(frame.iloc[:, 1:], frame[0]):.4f};")
        time.sleep(args.sleep)
    """
)
METRICS = [{"Name": "train:accuracy", "Regex": r"train_accuracy=([0-9.]+);"}]


def _estimator(session: Any, tmp_path: Path, **hyperparameters: Any) -> Any:
    from sagemaker.sklearn.estimator import SKLearn

    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    (source / "train.py").write_text(TRAIN)
    return SKLearn(entry_point="train.py", source_dir=str(source), framework_version="1.2-1",
                   role=ROLE, instance_type="ml.m5.large", instance_count=1,
                   hyperparameters=hyperparameters, sagemaker_session=session,
                   output_path=f"s3://{BUCKET}/models")  # fmt: skip


def _train_uri(session: Any) -> str:
    s3 = session.boto_session.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    rows = [(0, 5.1, 3.5), (1, 6.2, 2.9), (2, 7.7, 3.0), (1, 5.9, 3.0)] * 10
    body = "".join(f"{label},{a},{b}\n" for label, a, b in rows)
    s3.put_object(Bucket=BUCKET, Key="data/train/train.csv", Body=body.encode())
    return f"s3://{BUCKET}/data/train"


def test_a_script_mode_estimator_is_tuned_on_its_own_metric(
    smlocal_sagemaker_session: Any, tmp_path: Path
) -> None:
    from sagemaker.tuner import CategoricalParameter, ContinuousParameter, HyperparameterTuner

    session = smlocal_sagemaker_session
    tuner = HyperparameterTuner(
        _estimator(session, tmp_path), objective_metric_name="train:accuracy",
        hyperparameter_ranges={"C": ContinuousParameter(0.001, 10, "Logarithmic"),
                               "solver": CategoricalParameter(["lbfgs", "newton-cg"])},
        metric_definitions=METRICS, max_jobs=3, max_parallel_jobs=2, strategy="Random",
        base_tuning_job_name="sk-tune",
    )  # fmt: skip
    tuner.fit({"train": _train_uri(session)}, wait=False)
    tuner.wait()
    described = tuner.describe()
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["ObjectiveStatusCounters"]["Succeeded"] == 3
    static = described["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static["_tuning_objective_metric"] == "train:accuracy"
    assert static["sagemaker_estimator_class_name"] == '"SKLearn"'

    frame = tuner.analytics().dataframe()
    assert len(frame) == 3
    assert set(frame["solver"]) <= {'"lbfgs"', '"newton-cg"'}  # framework values are JSON
    assert frame["FinalObjectiveValue"].between(0, 1).all()
    best = tuner.best_training_job()
    assert best == frame.sort_values("FinalObjectiveValue").iloc[-1]["TrainingJobName"]
    trained = session.sagemaker_client.describe_training_job(TrainingJobName=best)
    assert trained["AlgorithmSpecification"]["MetricDefinitions"] == METRICS
    assert trained["HyperParameters"]["sagemaker_program"] == '"train.py"'

    attached = HyperparameterTuner.attach(tuner.latest_tuning_job.name, sagemaker_session=session)
    assert type(attached.estimator).__name__ == "SKLearn"
    assert attached.best_training_job() == best
    assert attached.objective_metric_name == "train:accuracy"


def test_stop_tuning_job_stops_the_running_training_jobs(
    smlocal_sagemaker_session: Any, tmp_path: Path
) -> None:
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner

    session = smlocal_sagemaker_session
    tuner = HyperparameterTuner(
        _estimator(session, tmp_path, sleep=600), objective_metric_name="train:accuracy",
        hyperparameter_ranges={"C": ContinuousParameter(0.1, 1)}, metric_definitions=METRICS,
        max_jobs=4, max_parallel_jobs=2, base_tuning_job_name="sk-stop",
    )  # fmt: skip
    tuner.fit({"train": _train_uri(session)}, wait=False)
    sm = session.sagemaker_client
    name = tuner.latest_tuning_job.name
    deadline = time.monotonic() + 120
    while sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
        "TrainingJobStatusCounters"]["InProgress"] < 2:  # fmt: skip
        assert time.monotonic() < deadline
        time.sleep(0.1)
    tuner.stop_tuning_job()
    deadline = time.monotonic() + 120
    while (job := tuner.describe())["HyperParameterTuningJobStatus"] != "Stopped":
        assert time.monotonic() < deadline, job["HyperParameterTuningJobStatus"]
        time.sleep(0.1)
    assert job["TrainingJobStatusCounters"]["Stopped"] == 2
    listed = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert {s["TrainingJobStatus"] for s in listed["TrainingJobSummaries"]} == {"Stopped"}
