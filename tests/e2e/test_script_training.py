"""Script-mode training in the scikit-learn and XGBoost images through the unmodified SDK:
`SKLearn(entry_point=...)` and `XGBoost(entry_point=...)` fit, report their metrics, and the
trained model deploys."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

BUCKET = "script-training"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"

SKLEARN_TRAIN = textwrap.dedent(
    """\
    import argparse, json, os
    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression


    def model_fn(model_dir):
        return joblib.load(os.path.join(model_dir, "model.joblib"))


    if __name__ == "__main__":  # the serving container imports this file for model_fn
        parser = argparse.ArgumentParser()
        parser.add_argument("-C", type=float, default=1.0)  # the toolkit passes -C for "C"
        parser.add_argument("--max-iter", dest="max_iter", type=int, default=100)
        parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
        parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
        args = parser.parse_args()
        frame = pd.read_csv(os.path.join(args.train, "train.csv"), header=None)
        features, labels = frame.iloc[:, 1:], frame[0]
        model = LogisticRegression(C=args.C, max_iter=args.max_iter).fit(features, labels)
        print(f"train_accuracy={model.score(features, labels):.4f};")
        joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
        names = ("SM_HPS", "SM_CHANNELS", "SM_CURRENT_HOST", "SM_HOSTS", "SM_OUTPUT_DATA_DIR",
                 "SM_NUM_CPUS", "SM_USER_ARGS")
        seen = {name: os.environ[name] for name in names}
        seen["cwd"] = os.getcwd()
        print("SEEN " + json.dumps(seen))
    """
)

XGBOOST_TRAIN = textwrap.dedent(
    """\
    import argparse, os
    import pandas as pd
    import xgboost as xgb

    if __name__ == "__main__":  # the serving container imports this file too
        parser = argparse.ArgumentParser()
        parser.add_argument("--num_round", type=int, default=2)
        parser.add_argument("--max_depth", type=int, default=2)
        args = parser.parse_args()
        channel = os.environ["SM_CHANNEL_TRAIN"]
        frame = pd.read_csv(os.path.join(channel, "train.csv"), header=None)
        data = xgb.DMatrix(frame.iloc[:, 1:], label=frame[0])
        params = {"max_depth": args.max_depth, "objective": "multi:softmax", "num_class": 3,
                  "eval_metric": "merror"}
        booster = xgb.train(params, data, args.num_round, evals=[(data, "train")])
        booster.save_model(os.path.join(os.environ["SM_MODEL_DIR"], "xgboost-model"))
    """
)

FAILING = "import sys\nprint('loading')\nraise KeyError('label')\n"


@pytest.fixture
def train_uri(smlocal_sagemaker_session: Any) -> str:
    s3 = smlocal_sagemaker_session.boto_session.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    rows = [(0, 5.1, 3.5), (1, 6.2, 2.9), (2, 7.7, 3.0)] * 10
    body = "".join(f"{label},{a},{b}\n" for label, a, b in rows)
    s3.put_object(Bucket=BUCKET, Key="data/train/train.csv", Body=body.encode())
    return f"s3://{BUCKET}/data/train"


def _entry(tmp_path: Path, text: str) -> str:
    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    (source / "train.py").write_text(text)
    (source / "requirements.txt").write_text("joblib\npandas\n")  # satisfied: nothing installed
    return str(source)


def test_sklearn_estimator_fits_with_the_toolkit_s_environment_and_deploys(
    smlocal_sagemaker_session: Any, train_uri: str, tmp_path: Path
) -> None:
    from sagemaker.sklearn.estimator import SKLearn

    session = smlocal_sagemaker_session
    estimator = SKLearn(
        entry_point="train.py", source_dir=_entry(tmp_path, SKLEARN_TRAIN),
        framework_version="1.2-1", role=ROLE, instance_type="ml.m5.large", instance_count=1,
        hyperparameters={"C": 0.5, "max-iter": 200}, sagemaker_session=session,
        output_path=f"s3://{BUCKET}/models",
        metric_definitions=[{"Name": "train:accuracy", "Regex": r"train_accuracy=([0-9.]+);"}],
    )  # fmt: skip
    estimator.fit({"train": train_uri}, logs=False)
    job = estimator.latest_training_job.describe()
    assert job["TrainingJobStatus"] == "Completed"
    assert [m["MetricName"] for m in job["FinalMetricDataList"]] == ["train:accuracy"]
    assert 0 < job["FinalMetricDataList"][0]["Value"] <= 1
    assert job["AlgorithmSpecification"]["MetricDefinitions"] == [
        {"Name": "train:accuracy", "Regex": r"train_accuracy=([0-9.]+);"}]  # fmt: skip
    frame = estimator.training_job_analytics.dataframe()
    assert set(frame["metric_name"]) == {"train:accuracy"}
    logs = _log_text(session, "/aws/sagemaker/TrainingJobs", job["TrainingJobName"])
    seen = json.loads(logs.split("SEEN ", 1)[1].splitlines()[0])
    assert json.loads(seen["SM_HPS"]) == {"C": 0.5, "max-iter": 200}
    assert json.loads(seen["SM_USER_ARGS"]) == ["-C", "0.5", "--max-iter", "200"]
    assert json.loads(seen["SM_CHANNELS"]) == ["train"]
    assert seen["SM_CURRENT_HOST"] == "algo-1"
    assert json.loads(seen["SM_HOSTS"]) == ["algo-1"]
    assert seen["SM_OUTPUT_DATA_DIR"] == "/opt/ml/output/data"
    assert int(seen["SM_NUM_CPUS"]) >= 1
    assert seen["cwd"] == "/opt/ml/code"

    predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large")
    try:
        from sagemaker.deserializers import JSONDeserializer
        from sagemaker.serializers import CSVSerializer

        predictor.serializer = CSVSerializer()
        predictor.deserializer = JSONDeserializer()
        assert predictor.predict([[5.1, 3.5], [7.7, 3.0]]) == [0, 2]
    finally:
        predictor.delete_endpoint()


def test_xgboost_estimator_runs_the_entry_point_in_script_mode(
    smlocal_sagemaker_session: Any, train_uri: str, tmp_path: Path
) -> None:
    from sagemaker.xgboost.estimator import XGBoost

    session = smlocal_sagemaker_session
    estimator = XGBoost(
        entry_point="train.py", source_dir=_entry(tmp_path, XGBOOST_TRAIN),
        framework_version="1.7-1", role=ROLE, instance_type="ml.m5.large", instance_count=1,
        hyperparameters={"num_round": 3}, sagemaker_session=session,
        output_path=f"s3://{BUCKET}/models",
        metric_definitions=[{"Name": "train:merror", "Regex": r"train-merror:([0-9.]+)"}],
    )  # fmt: skip
    estimator.fit({"train": train_uri}, logs=False)
    job = estimator.latest_training_job.describe()
    assert job["TrainingJobStatus"] == "Completed"
    assert [m["MetricName"] for m in job["FinalMetricDataList"]] == ["train:merror"]
    s3 = session.boto_session.client("s3")
    key = estimator.model_data.split(f"s3://{BUCKET}/", 1)[1]
    assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0

    predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large")
    try:
        from sagemaker.serializers import CSVSerializer

        predictor.serializer = CSVSerializer()
        answer = predictor.predict([[5.1, 3.5], [7.7, 3.0]])  # CSV rows, one per line
        assert [[float(v) for v in row] for row in answer] == [[0.0], [2.0]]
    finally:
        predictor.delete_endpoint()


def test_a_failing_script_fails_the_job_with_the_toolkit_s_words(
    smlocal_sagemaker_session: Any, train_uri: str, tmp_path: Path
) -> None:
    from sagemaker.exceptions import UnexpectedStatusException
    from sagemaker.sklearn.estimator import SKLearn

    session = smlocal_sagemaker_session
    estimator = SKLearn(entry_point="train.py", source_dir=_entry(tmp_path, FAILING),
                        framework_version="1.2-1", role=ROLE, instance_type="ml.m5.large", instance_count=1,
                        hyperparameters={"epochs": 1}, sagemaker_session=session)  # fmt: skip
    with pytest.raises(UnexpectedStatusException, match="ExecuteUserScriptError"):
        estimator.fit({"train": train_uri}, logs=False)
    reason = estimator.latest_training_job.describe()["FailureReason"]
    assert reason.startswith("AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage")
    assert "KeyError: 'label'" in reason
    assert "loading" not in reason
    assert reason.endswith(' train.py --epochs 1", exit code: 1')


def _log_text(session: Any, group: str, prefix: str) -> str:
    logs = session.boto_session.client("logs")
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix)
    name = streams["logStreams"][0]["logStreamName"]
    events = logs.get_log_events(logGroupName=group, logStreamName=name)["events"]
    return "\n".join(event["message"] for event in events)


def test_requirements_pip_cannot_install_fail_as_the_toolkit_says(
    smlocal_sagemaker_session: Any, train_uri: str, tmp_path: Path
) -> None:
    from sagemaker.exceptions import UnexpectedStatusException
    from sagemaker.sklearn.estimator import SKLearn

    source = _entry(tmp_path, "print('never runs')\n")
    (Path(source) / "requirements.txt").write_text("smlocal-no-such-package==0.0.1\n")
    estimator = SKLearn(entry_point="train.py", source_dir=source, framework_version="1.2-1",
                        role=ROLE, instance_type="ml.m5.large", instance_count=1,
                        sagemaker_session=smlocal_sagemaker_session)  # fmt: skip
    with pytest.raises(UnexpectedStatusException, match="InstallRequirementsError"):
        estimator.fit({"train": train_uri}, logs=False)
    reason = estimator.latest_training_job.describe()["FailureReason"]
    assert reason.startswith("AlgorithmError: InstallRequirementsError:\nExitCode 1\n")
    assert "smlocal-no-such-package" in reason
    assert "-m pip install" in reason
