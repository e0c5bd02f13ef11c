"""SageMaker Experiments' `Run` through the unmodified SDK v2: parameters, metrics, files and
charts logged to a run, loaded again with `load_run`, and read back with
`ExperimentAnalytics`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def test_run_logs_parameters_metrics_and_artifacts(
    smlocal_sagemaker_session: Any, tmp_path: Path
) -> None:
    from sagemaker.analytics import ExperimentAnalytics
    from sagemaker.experiments.run import Run, load_run

    session = smlocal_sagemaker_session
    sm = session.sagemaker_client
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with Run(experiment_name="sdk-experiment", run_name="First-Run",
             sagemaker_session=session) as run:  # fmt: skip
        run.log_parameters({"train": 0.7, "solver": "lbfgs"})
        for step, loss in enumerate([0.9, 0.6, 0.3]):
            run.log_metric(name="loss", value=loss, step=step)
        run.log_file(str(notes), name="notes", is_output=False)
        run.log_artifact(name="data", value="s3://bucket/data.csv", media_type="text/csv")
        config = run.experiment_config
    assert config["ExperimentName"] == "sdk-experiment"
    component = sm.describe_trial_component(TrialComponentName=config["RunName"])
    assert component["Status"]["PrimaryStatus"] == "Completed"
    assert component["Parameters"]["train"] == {"NumberValue": 0.7}
    assert component["Parameters"]["solver"] == {"StringValue": "lbfgs"}
    notes_uri = component["InputArtifacts"]["notes"]["Value"]
    bucket, key = notes_uri.removeprefix("s3://").split("/", 1)
    s3 = session.boto_session.client("s3")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"hello"
    assert component["OutputArtifacts"]["data"] == {"MediaType": "text/csv",
                                                     "Value": "s3://bucket/data.csv"}  # fmt: skip
    [loss] = component["Metrics"]
    assert (loss["MetricName"], loss["Count"], loss["Last"], loss["Min"]) == ("loss", 3, 0.3, 0.3)

    with load_run(experiment_name="sdk-experiment", run_name="first-run",
                  sagemaker_session=session) as loaded:  # fmt: skip
        assert loaded.experiment_config == config
        loaded.log_metric(name="loss", value=0.1, step=3)
        loaded.log_confusion_matrix(y_true=[0, 1, 1, 0], y_pred=[0, 1, 0, 0], title="cm")
    component = sm.describe_trial_component(TrialComponentName=config["RunName"])
    assert component["Metrics"][0]["Count"] == 4
    edges = sm.list_associations(SourceArn=component["TrialComponentArn"])
    [edge] = edges["AssociationSummaries"]
    artifact = sm.describe_artifact(ArtifactArn=edge["DestinationArn"])
    bucket, key = artifact["Source"]["SourceUri"].removeprefix("s3://").split("/", 1)
    matrix = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert matrix["confusionMatrix"] == [[2, 0], [1, 1]]

    frame = ExperimentAnalytics(experiment_name="sdk-experiment",
                                sagemaker_session=session).dataframe()  # fmt: skip
    row = frame[frame["TrialComponentName"] == config["RunName"]].iloc[0]
    assert row["train"] == pytest.approx(0.7)
    assert row["loss - Count"] == 4
    assert row["loss - Min"] == pytest.approx(0.1)


LOGGING_TRAIN = """\
import os
os.environ["SAGEMAKER_SUPPRESS_V2_WARNING"] = "1"
from sagemaker.experiments.run import load_run
from sagemaker.session import Session

if __name__ == "__main__":
    session = Session(default_bucket="smlocal-sagemaker")
    with load_run(sagemaker_session=session) as run:  # the run, found from the job's ARN
        run.log_parameter("in_job", 1)
        for step, accuracy in enumerate([0.5, 0.75]):
            run.log_metric(name="accuracy", value=accuracy, step=step)
    open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write("trained")
"""


def test_load_run_inside_a_training_script_logs_to_the_run(
    smlocal_sagemaker_session: Any, tmp_path: Path
) -> None:
    from sagemaker.experiments.run import Run
    from sagemaker.sklearn.estimator import SKLearn

    session = smlocal_sagemaker_session
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(LOGGING_TRAIN)
    estimator = SKLearn(entry_point="train.py", source_dir=str(source), framework_version="1.2-1",
                        role="arn:aws:iam::123456789012:role/SageMakerRole",
                        instance_type="ml.m5.large", instance_count=1, sagemaker_session=session,
                        output_path=f"s3://{session.default_bucket()}/runs")  # fmt: skip
    with Run(experiment_name="sdk-in-job", run_name="job-run", sagemaker_session=session) as run:
        estimator.fit(logs=False)
        config = run.experiment_config
    job = estimator.latest_training_job.describe()
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    sm = session.sagemaker_client
    component = sm.describe_trial_component(TrialComponentName=config["RunName"])
    assert component["Parameters"]["in_job"] == {"NumberValue": 1}
    [accuracy] = component["Metrics"]
    assert (accuracy["Count"], accuracy["Last"], accuracy["Max"]) == (2, 0.75, 0.75)
    job_component = sm.describe_trial_component(
        TrialComponentName=f"{job['TrainingJobName']}-aws-training-job"
    )
    assert job_component["Status"]["PrimaryStatus"] == "Completed"
    by_source = sm.list_trial_components(SourceArn=job["TrainingJobArn"])
    assert [c["TrialComponentName"] for c in by_source["TrialComponentSummaries"]] == [
        job_component["TrialComponentName"]
    ]
