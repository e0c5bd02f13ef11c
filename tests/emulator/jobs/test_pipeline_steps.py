"""Pipelines as the SageMaker SDK builds and runs them: `Pipeline.upsert()`, `start()`,
`execution.wait()` and `execution.list_steps()`, unmodified, against the emulator. Each
step type succeeds and fails; Processing steps run the Model Monitor analyzer image and
Training steps the built-in XGBoost algorithm."""

from __future__ import annotations

import pytest

from tests.pipeline_sdk import (
    BUCKET,
    analyzer_step,
    iris_pipeline,
    pipeline_of,
    run,
    training_step,
    transform_steps,
)
from tests.support import ROLE, unique

ARN = "arn:aws:sagemaker:us-east-1:123456789012"


@pytest.fixture(scope="module")
def sm(smlocal):
    return smlocal.client("sagemaker")


def test_process_train_evaluate_condition_register(pipelines_session, pipelines_iris, sm) -> None:
    group = unique("iris-group")
    pipeline = iris_pipeline(pipelines_session, unique("iris"), pipelines_iris, group)
    execution, steps = run(pipeline)
    described = execution.describe()
    assert described["PipelineExecutionStatus"] == "Succeeded"
    assert described["PipelineExperimentConfig"] == {
        "ExperimentName": pipeline.name, "TrialName": execution.arn.rsplit("/", 1)[1]}  # fmt: skip
    assert {name: step["StepStatus"] for name, step in steps.items()} == {
        "Process": "Succeeded", "Train": "Succeeded", "Evaluate": "Succeeded",
        "CheckRows": "Succeeded", "Register-RegisterModel": "Succeeded"}  # fmt: skip
    assert steps["CheckRows"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    assert steps["Process"]["EndTime"] <= steps["Train"]["StartTime"]  # DependsOn
    training = sm.describe_training_job(
        TrainingJobName=steps["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    )
    package = sm.describe_model_package(
        ModelPackageName=steps["Register-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    )
    assert package["ModelPackageGroupName"] == group
    assert package["ModelApprovalStatus"] == "Approved"
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == training["ModelArtifacts"]["S3ModelArtifacts"]
    processing = sm.describe_processing_job(
        ProcessingJobName=steps["Process"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[1]
    )
    assert (
        processing["ProcessingInputs"][0]["S3Input"]["S3Uri"] == pipelines_iris["train"]
    )  # a parameter
    assert (
        pipeline.upsert(role_arn=ROLE)["PipelineArn"] == f"{ARN}:pipeline/{pipeline.name.lower()}"
    )
    # the steps' jobs joined the execution's trial of the pipeline's experiment, as on SageMaker
    trial = execution.arn.rsplit("/", 1)[1]
    assert training["ExperimentConfig"] == {"ExperimentName": pipeline.name, "TrialName": trial}
    assert sm.describe_trial(TrialName=trial)["ExperimentName"] == pipeline.name
    components = sm.list_trial_components(TrialName=trial)["TrialComponentSummaries"]
    assert {c["TrialComponentName"] for c in components} >= {
        f"{training['TrainingJobName']}-aws-training-job",
        f"{processing['ProcessingJobName']}-aws-processing-job",
    }


def test_a_condition_that_does_not_hold_runs_the_fail_step(
    pipelines_session, pipelines_iris, sm
) -> None:
    pipeline = iris_pipeline(pipelines_session, unique("iris"), pipelines_iris, unique("group"))
    execution, steps = run(pipeline, LeastRows=1000)
    described = execution.describe()
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "Step failure: One or multiple steps failed."
    assert steps["CheckRows"]["Metadata"] == {"Condition": {"Outcome": "False"}}
    assert "Register-RegisterModel" not in steps
    assert steps["TooFewRows"]["StepStatus"] == "Failed"
    assert steps["TooFewRows"]["FailureReason"] == "too few validation rows"
    assert steps["TooFewRows"]["Metadata"] == {"Fail": {"ErrorMessage": "too few validation rows"}}


def test_a_failed_processing_step_and_retry_after_the_data_arrives(
    pipelines_session, pipelines_iris, sm, smlocal
) -> None:
    from sagemaker.workflow.parameters import ParameterString

    prefix = f"s3://{BUCKET}/{unique('later')}"
    data = ParameterString("Data", default_value=prefix)
    later = analyzer_step(pipelines_session, "Profile", data, f"{prefix}-out")
    pipeline = pipeline_of(pipelines_session, later, parameters=[data])
    execution, steps = run(pipeline)
    assert execution.describe()["PipelineExecutionStatus"] == "Failed"
    step = steps["Profile"]
    assert step["StepStatus"] == "Failed"
    job = sm.describe_processing_job(
        ProcessingJobName=step["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[1]
    )
    assert job["ProcessingJobStatus"] == "Failed"
    assert step["FailureReason"] == job["FailureReason"]
    assert "No S3 objects found" in step["FailureReason"]
    smlocal.client("s3").copy_object(Bucket=BUCKET, Key=f"{prefix[len(f's3://{BUCKET}/'):]}/iris.csv",
                                     CopySource=f"{BUCKET}/pipeline-tests/train/train.csv")  # fmt: skip
    sm.retry_pipeline_execution(PipelineExecutionArn=execution.arn)
    execution.wait(max_attempts=1200)  # 0.2 s polls (pipelines_session): up to 4 minutes
    retried = {s["StepName"]: s for s in execution.list_steps()}["Profile"]
    assert (retried["StepStatus"], retried["AttemptCount"]) == ("Succeeded", 2)
    assert "FailureReason" not in execution.describe()


def test_a_failed_training_step_reports_the_jobs_failure(
    pipelines_session, pipelines_iris, sm
) -> None:
    bad = {"objective": "reg:nonsense", "num_round": 2}
    step = training_step(
        pipelines_session,
        "Train",
        pipelines_iris["train"],
        f"s3://{BUCKET}/bad",
        hyperparameters=bad,
    )
    execution, steps = run(pipeline_of(pipelines_session, step))
    assert execution.describe()["PipelineExecutionStatus"] == "Failed"
    train = steps["Train"]
    name = train["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    job = sm.describe_training_job(TrainingJobName=name)
    assert job["TrainingJobStatus"] == "Failed"
    assert train["FailureReason"] == job["FailureReason"]
    assert name.startswith(f"pipelines-{execution.arn.rsplit('/', 1)[1]}-train-")


def _features(smlocal, key: str, rows: list[str]) -> str:  # type: ignore[no-untyped-def]
    smlocal.client("s3").put_object(Bucket=BUCKET, Key=key, Body="".join(f"{r}\n" for r in rows))
    return f"s3://{BUCKET}/{key.rsplit('/', 1)[0]}"


def test_a_transform_step_scores_with_the_trained_model(
    pipelines_session, pipelines_iris, sm, smlocal
) -> None:
    out = f"s3://{BUCKET}/{unique('scored')}"
    data = _features(smlocal, f"{unique('rows')}/rows.csv",
                     ["5.1,3.5,1.4,0.2", "6.2,2.9,4.3,1.3", "7.7,3.0,6.1,2.3"])  # fmt: skip
    train = training_step(pipelines_session, "Train", pipelines_iris["train"], f"{out}/model")
    create, score = transform_steps(pipelines_session, "Score", train, data, f"{out}/predictions")
    # a later step reads the transform's output through its properties
    profile = analyzer_step(pipelines_session, "Profile",
                            score.properties.TransformOutput.S3OutputPath, f"{out}/profile")  # fmt: skip
    execution, steps = run(pipeline_of(pipelines_session, train, create, score, profile))
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    assert steps["Score"]["StepStatus"] == "Succeeded"
    name = steps["Score"]["Metadata"]["TransformJob"]["Arn"].rsplit("/", 1)[1]
    job = sm.describe_transform_job(TransformJobName=name)
    assert job["TransformJobStatus"] == "Completed"
    made = steps["ScoreModel-CreateModel"]["Metadata"]["Model"]["Arn"]
    assert made.endswith(f"model/{job['ModelName'].lower()}")  # ARNs are lower case
    assert job["TransformOutput"]["S3OutputPath"] == f"{out}/predictions"
    key = f"{out.removeprefix(f's3://{BUCKET}/')}/predictions/rows.csv.out"
    body = smlocal.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    assert body.split() == ["0.0", "1.0", "2.0"]
    processing = sm.describe_processing_job(
        ProcessingJobName=steps["Profile"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[1])  # fmt: skip
    assert processing["ProcessingInputs"][0]["S3Input"]["S3Uri"] == f"{out}/predictions"


def test_a_failed_transform_step_reports_the_jobs_failure(
    pipelines_session, pipelines_iris, sm, smlocal
) -> None:
    out = f"s3://{BUCKET}/{unique('unscored')}"
    data = _features(smlocal, f"{unique('bad-rows')}/rows.csv", ["not,a,number,row"])
    train = training_step(pipelines_session, "Train", pipelines_iris["train"], f"{out}/model")
    create, score = transform_steps(pipelines_session, "Score", train, data, f"{out}/predictions")
    execution, steps = run(pipeline_of(pipelines_session, train, create, score))
    described = execution.describe()
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "Step failure: One or multiple steps failed."
    step = steps["Score"]
    name = step["Metadata"]["TransformJob"]["Arn"].rsplit("/", 1)[1]
    job = sm.describe_transform_job(TransformJobName=name)
    assert job["TransformJobStatus"] == "Failed"
    assert step["StepStatus"] == "Failed"
    assert step["FailureReason"] == job["FailureReason"]
    assert job["FailureReason"].startswith("ClientError")
