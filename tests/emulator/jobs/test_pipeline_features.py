"""Pipeline features through the SDK: typed parameters, conditions, Join and execution
variables, DependsOn and parallel steps, step caching, Model, RegisterModel and QualityCheck
steps (success and failure), StopPipelineExecution."""

from __future__ import annotations

import json

import pytest

from tests.pipeline_sdk import (
    BUCKET,
    analyzer_step,
    model,
    pipeline_of,
    register_step,
    run,
    step_args,
    training_step,
    wait_for,
)
from tests.support import ROLE, XGBOOST_IMAGE, unique


@pytest.fixture(scope="module")
def sm(smlocal):
    return smlocal.client("sagemaker")


LONG = {"objective": "multi:softmax", "num_class": 3, "num_round": 10_000_000}


def test_typed_parameters_conditions_join_and_execution_variables(pipelines_session) -> None:
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import (
        ConditionEquals,
        ConditionGreaterThan,
        ConditionGreaterThanOrEqualTo,
        ConditionIn,
        ConditionLessThan,
        ConditionLessThanOrEqualTo,
        ConditionNot,
        ConditionOr,
    )  # fmt: skip
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.parameters import (
        ParameterBoolean,
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )  # fmt: skip

    count, ratio = (
        ParameterInteger("Count", default_value=3),
        ParameterFloat("Ratio", default_value=0.5),
    )
    flag, word = (
        ParameterBoolean("Flag", default_value=True),
        ParameterString("Word", default_value="blue"),
    )
    said = Join(
        on="|", values=["yes", ExecutionVariables.PIPELINE_EXECUTION_ID, count, ratio, flag, word]
    )
    check = ConditionStep("Check", conditions=[
        ConditionGreaterThan(count, 2), ConditionLessThanOrEqualTo(ratio, 0.5),
        ConditionLessThan(ratio, 1), ConditionEquals(flag, True), ConditionIn(word, ["blue", "green"]),
        ConditionNot(ConditionEquals(word, "red")),
        ConditionOr([ConditionEquals(count, 100), ConditionGreaterThanOrEqualTo(ratio, 0.5)]),
    ], if_steps=[FailStep("Yes", error_message=said)], else_steps=[])  # fmt: skip
    pipeline = pipeline_of(pipelines_session, check, parameters=[count, ratio, flag, word])
    execution, steps = run(pipeline)
    execution_id = execution.arn.rsplit("/", 1)[1]
    assert steps["Yes"]["FailureReason"] == f"yes|{execution_id}|3|0.5|true|blue"
    assert execution.list_parameters()["PipelineParameters"] == [
        {"Name": "Count", "Value": "3"}, {"Name": "Ratio", "Value": "0.5"},
        {"Name": "Flag", "Value": "true"}, {"Name": "Word", "Value": "blue"}]  # fmt: skip
    for changed in ({"Count": 2}, {"Ratio": 0.75}, {"Flag": False}, {"Word": "red"}):
        execution, steps = run(pipeline, **changed)
        assert execution.describe()["PipelineExecutionStatus"] == "Succeeded", changed
        assert steps["Check"]["Metadata"] == {"Condition": {"Outcome": "False"}}, changed
        assert "Yes" not in steps
    execution, steps = run(pipeline, Word="green", Ratio=0.25, Count=100)
    assert steps["Yes"]["FailureReason"].endswith("|100|0.25|true|green")


def test_independent_steps_run_in_parallel_and_depends_on_waits(
    pipelines_session, pipelines_iris
) -> None:
    out = f"s3://{BUCKET}/{unique('parallel')}"
    left = analyzer_step(pipelines_session, "Left", pipelines_iris["train"], f"{out}/left")
    right = analyzer_step(pipelines_session, "Right", pipelines_iris["validation"], f"{out}/right")
    after = analyzer_step(
        pipelines_session,
        "After",
        pipelines_iris["train"],
        f"{out}/after",
        depends_on=[left, right],
    )
    execution, steps = run(pipeline_of(pipelines_session, left, right, after))
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    left, right, after = steps["Left"], steps["Right"], steps["After"]
    assert left["StartTime"] < right["EndTime"]
    assert right["StartTime"] < left["EndTime"]
    assert after["StartTime"] >= max(left["EndTime"], right["EndTime"])


def test_step_caching(pipelines_session, pipelines_iris) -> None:
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.steps import CacheConfig

    data = ParameterString("Data", default_value=pipelines_iris["train"])
    cache = CacheConfig(enable_caching=True, expire_after="PT1H")
    profile = analyzer_step(pipelines_session, "Profile", data, f"s3://{BUCKET}/{unique('cached')}",
                            cache_config=cache)  # fmt: skip
    pipeline = pipeline_of(pipelines_session, profile, parameters=[data])
    first, steps = run(pipeline)
    assert "CacheHitResult" not in steps["Profile"]
    _, again = run(pipeline)
    assert again["Profile"]["StepStatus"] == "Succeeded"
    assert again["Profile"]["CacheHitResult"] == {"SourcePipelineExecutionArn": first.arn}
    assert again["Profile"]["Metadata"] == steps["Profile"]["Metadata"]
    _, other = run(pipeline, Data=pipelines_iris["validation"])
    assert "CacheHitResult" not in other["Profile"]
    assert other["Profile"]["Metadata"] != steps["Profile"]["Metadata"]


def test_model_and_register_steps(pipelines_session, pipelines_iris, sm) -> None:
    from sagemaker.workflow.model_step import ModelStep

    train = training_step(
        pipelines_session, "Train", pipelines_iris["train"], f"s3://{BUCKET}/{unique('models')}"
    )
    made = step_args(model(pipelines_session, train).create, instance_type="ml.m5.large")
    create = step_args(ModelStep, "Create", step_args=made)
    refused = register_step(pipelines_session, "Refused", train, unique("group"), approval="Bogus")
    execution, steps = run(pipeline_of(pipelines_session, train, create, refused))
    assert execution.describe()["PipelineExecutionStatus"] == "Failed"
    made = steps["Create-CreateModel"]
    assert made["StepStatus"] == "Succeeded"
    described = sm.describe_model(ModelName=made["Metadata"]["Model"]["Arn"].rsplit("/", 1)[1])
    training = sm.describe_training_job(
        TrainingJobName=steps["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    )
    assert (
        described["PrimaryContainer"]["ModelDataUrl"]
        == training["ModelArtifacts"]["S3ModelArtifacts"]
    )
    failed = steps["Refused-RegisterModel"]
    assert failed["StepStatus"] == "Failed"
    assert failed["FailureReason"].startswith("ValidationException: ")
    assert "Bogus" in failed["FailureReason"]


def test_a_model_step_that_cannot_create_its_model_fails(pipelines_session) -> None:
    from sagemaker.model import Model
    from sagemaker.workflow.model_step import ModelStep

    bad = Model(image_uri=XGBOOST_IMAGE, model_data=f"s3://{BUCKET}/none.tar.gz", role=ROLE,
                env={"1-not-a-name": "x"}, sagemaker_session=pipelines_session)  # fmt: skip
    made = step_args(bad.create, instance_type="ml.m5.large")
    execution, steps = run(
        pipeline_of(pipelines_session, step_args(ModelStep, "Bad", step_args=made))
    )
    assert execution.describe()["PipelineExecutionStatus"] == "Failed"
    failed = steps["Bad-CreateModel"]
    assert failed["StepStatus"] == "Failed"
    assert failed["FailureReason"].startswith("ValidationException: ")
    assert "1-not-a-name" in failed["FailureReason"]


def test_stop_pipeline_execution_stops_the_running_job(
    pipelines_session, pipelines_iris, sm
) -> None:
    train = training_step(
        pipelines_session,
        "Long",
        pipelines_iris["train"],
        f"s3://{BUCKET}/long",
        hyperparameters=LONG,
    )
    pipeline = pipeline_of(pipelines_session, train)
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start()
    step = wait_for(lambda: next(iter(execution.list_steps()), {}).get("Metadata"))
    sm.stop_pipeline_execution(PipelineExecutionArn=execution.arn)
    assert execution.describe()["PipelineExecutionStatus"] in ("Stopping", "Stopped")
    wait_for(lambda: execution.describe()["PipelineExecutionStatus"] == "Stopped")
    assert execution.list_steps()[0]["StepStatus"] == "Stopped"
    job = sm.describe_training_job(TrainingJobName=step["TrainingJob"]["Arn"].rsplit("/", 1)[1])
    assert job["TrainingJobStatus"] == "Stopped"


@pytest.fixture(scope="module")
def odd_data(smlocal) -> str:
    """Iris-shaped rows with text where numbers belong."""
    rows = "\n".join(f"{i % 3},5.1,abc,1.4,0.2" for i in range(30)) + "\n"
    key = f"{unique('odd')}/rows.csv"
    smlocal.client("s3").put_object(Bucket=BUCKET, Key=key, Body=rows.encode())
    return f"s3://{BUCKET}/{key}"


def quality_step(session, name: str, dataset: str, out: str, model_quality: bool = False, **kwargs):
    from sagemaker.model_monitor.dataset_format import DatasetFormat
    from sagemaker.workflow.check_job_config import CheckJobConfig
    from sagemaker.workflow.quality_check_step import (
        DataQualityCheckConfig,
        ModelQualityCheckConfig,
        QualityCheckStep,
    )  # fmt: skip

    job = CheckJobConfig(role=ROLE, instance_count=1, instance_type="ml.m5.xlarge",
                         sagemaker_session=session)  # fmt: skip
    common = {"baseline_dataset": dataset, "dataset_format": DatasetFormat.csv(header=False),
              "output_s3_uri": out}  # fmt: skip
    config = (
        ModelQualityCheckConfig(
            problem_type="MulticlassClassification",
            inference_attribute="0",  # a headerless CSV names columns by index
            ground_truth_attribute="1",
            **common,
        )
        if model_quality
        else DataQualityCheckConfig(**common)
    )
    return step_args(QualityCheckStep, name, quality_check_config=config, check_job_config=job,
                     **kwargs)  # fmt: skip


def test_quality_check_baselines_then_finds_violations(
    pipelines_session, pipelines_iris, odd_data, sm
) -> None:
    out, group = f"s3://{BUCKET}/{unique('quality')}", unique("quality-group")
    baseline = quality_step(pipelines_session, "Baseline", pipelines_iris["train"], f"{out}/base",
                            skip_check=True, register_new_baseline=True,
                            model_package_group_name=group)  # fmt: skip
    check = quality_step(
        pipelines_session, "Check", odd_data, f"{out}/check", skip_check=False,
        register_new_baseline=False, model_package_group_name=group,
        supplied_baseline_statistics=baseline.properties.CalculatedBaselineStatistics,
        supplied_baseline_constraints=baseline.properties.CalculatedBaselineConstraints,
    )  # fmt: skip
    execution, steps = run(pipeline_of(pipelines_session, baseline, check))
    assert execution.describe()["PipelineExecutionStatus"] == "Failed"
    made = steps["Baseline"]
    assert made["StepStatus"] == "Succeeded"
    metadata = made["Metadata"]["QualityCheck"]
    assert metadata["CalculatedBaselineConstraints"] == f"{out}/base/constraints.json"
    assert metadata["BaselineUsedForDriftCheckStatistics"] == f"{out}/base/statistics.json"
    assert (metadata["CheckType"], metadata["SkipCheck"], metadata["RegisterNewBaseline"]) == (
        "DATA_QUALITY", True, True)  # fmt: skip
    job = sm.describe_processing_job(ProcessingJobName=metadata["CheckJobArn"].rsplit("/", 1)[1])
    assert job["ProcessingJobStatus"] == "Completed"
    checked = steps["Check"]
    assert checked["StepStatus"] == "Failed"
    assert checked["FailureReason"].startswith(
        "ClientError: Quality check failed: CompletedWithViolations"
    )
    report = checked["Metadata"]["QualityCheck"]["ViolationReport"]
    assert report == f"{out}/check/constraint_violations.json"
    assert checked["Metadata"]["QualityCheck"]["BaselineUsedForDriftCheckConstraints"] == (
        metadata["CalculatedBaselineConstraints"])  # fmt: skip


def test_a_quality_check_without_a_baseline_fails(pipelines_session, pipelines_iris) -> None:
    out = f"s3://{BUCKET}/{unique('quality')}"
    unbased = quality_step(pipelines_session, "Unbased", pipelines_iris["train"], f"{out}/a",
                           skip_check=False, model_package_group_name=unique("empty"))  # fmt: skip
    execution, steps = run(pipeline_of(pipelines_session, unbased))
    assert execution.describe()["PipelineExecutionStatus"] == "Failed"
    assert "has no baseline to check against" in steps["Unbased"]["FailureReason"]


def _predictions(smlocal, wrong_every: int) -> str:  # type: ignore[no-untyped-def]
    """Prediction (_c0) and label (_c1) of 60 rows, one in `wrong_every` mispredicted."""
    rows = [f"{i % 3},{(i + 1) % 3 if i % wrong_every == 0 else i % 3}" for i in range(60)]
    key = f"{unique('predictions')}/rows.csv"
    smlocal.client("s3").put_object(Bucket=BUCKET, Key=key, Body="\n".join(rows) + "\n")
    return f"s3://{BUCKET}/{key}"


def test_model_quality_check_baselines_then_finds_violations(
    pipelines_session, smlocal, sm
) -> None:
    out = f"s3://{BUCKET}/{unique('model-quality')}"
    good, bad = _predictions(smlocal, 10), _predictions(smlocal, 1)
    baseline = quality_step(pipelines_session, "Baseline", good, f"{out}/base",
                            model_quality=True, skip_check=True, register_new_baseline=True)  # fmt: skip
    check = quality_step(
        pipelines_session, "Check", bad, f"{out}/check", model_quality=True, skip_check=False,
        register_new_baseline=False,
        supplied_baseline_statistics=baseline.properties.CalculatedBaselineStatistics,
        supplied_baseline_constraints=baseline.properties.CalculatedBaselineConstraints,
    )  # fmt: skip
    execution, steps = run(pipeline_of(pipelines_session, baseline, check))
    assert execution.describe()["PipelineExecutionStatus"] == "Failed"
    made = steps["Baseline"]
    assert made["StepStatus"] == "Succeeded", made.get("FailureReason")
    metadata = made["Metadata"]["QualityCheck"]
    assert metadata["CheckType"] == "MODEL_QUALITY"
    assert metadata["CalculatedBaselineStatistics"] == f"{out}/base/statistics.json"
    key = f"{out.removeprefix(f's3://{BUCKET}/')}/base/statistics.json"
    body = smlocal.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    accuracy = json.loads(body)["multiclass_classification_metrics"]["accuracy"]["value"]
    assert accuracy == pytest.approx(0.9)
    job = sm.describe_processing_job(ProcessingJobName=metadata["CheckJobArn"].rsplit("/", 1)[1])
    assert job["Environment"]["analysis_type"] == "MODEL_QUALITY"
    checked = steps["Check"]
    assert checked["StepStatus"] == "Failed"
    assert checked["FailureReason"].startswith(
        "ClientError: Quality check failed: CompletedWithViolations")  # fmt: skip
    assert checked["Metadata"]["QualityCheck"]["ViolationReport"] == (
        f"{out}/check/constraint_violations.json")  # fmt: skip


def test_a_custom_job_prefix_names_the_job(pipelines_session, pipelines_iris, sm) -> None:
    from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig

    step = training_step(pipelines_session, "Train", pipelines_iris["train"],
                         f"s3://{BUCKET}/prefixed", base_job_name="my-prefix")  # fmt: skip
    pipeline = pipeline_of(pipelines_session, step)
    pipeline.pipeline_definition_config = PipelineDefinitionConfig(use_custom_job_prefix=True)
    execution, steps = run(pipeline)
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    name = steps["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    assert name.startswith("my-prefix-")


def test_a_condition_that_cannot_be_evaluated_fails(pipelines_session, pipelines_iris) -> None:
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThan
    from sagemaker.workflow.functions import JsonGet

    profile = analyzer_step(pipelines_session, "Profile", pipelines_iris["train"],
                            f"s3://{BUCKET}/{unique('profile')}")  # fmt: skip
    missing = JsonGet(step_name="Profile", property_file="Statistics", json_path="no.such.path")
    check = ConditionStep("Check", conditions=[ConditionGreaterThan(missing, 1)])
    execution, steps = run(pipeline_of(pipelines_session, profile, check))
    assert execution.describe()["PipelineExecutionStatus"] == "Failed"
    assert steps["Check"]["StepStatus"] == "Failed"
    assert steps["Check"]["FailureReason"] == (
        "Std:JsonGet found nothing at 'no.such.path' in property file Statistics of step Profile.")  # fmt: skip


def test_max_parallel_execution_steps_runs_one_at_a_time(pipelines_session, pipelines_iris) -> None:
    from sagemaker.workflow.parallelism_config import ParallelismConfiguration

    out = f"s3://{BUCKET}/{unique('serial')}"
    first = analyzer_step(pipelines_session, "First", pipelines_iris["train"], f"{out}/1")
    second = analyzer_step(pipelines_session, "Second", pipelines_iris["validation"], f"{out}/2")
    pipeline = pipeline_of(pipelines_session, first, second)
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start(parallelism_config=ParallelismConfiguration(1))
    execution.wait(max_attempts=1200)  # 0.2 s polls (pipelines_session): up to 4 minutes
    assert execution.describe()["ParallelismConfiguration"] == {"MaxParallelExecutionSteps": 1}
    earlier, later = sorted(execution.list_steps(), key=lambda s: s["StartTime"])
    assert later["StartTime"] >= earlier["EndTime"]


def test_a_quality_check_uses_the_baseline_registered_in_its_group(
    pipelines_session, pipelines_iris, odd_data, iris_model_data, sm
) -> None:
    from sagemaker.drift_check_baselines import DriftCheckBaselines
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource
    from sagemaker.workflow.model_step import ModelStep

    out, group = f"s3://{BUCKET}/{unique('registered')}", unique("drift-group")
    baseline = quality_step(pipelines_session, "Baseline", pipelines_iris["train"], f"{out}/base",
                            skip_check=True, register_new_baseline=True,
                            model_package_group_name=group)  # fmt: skip
    drift = DriftCheckBaselines(
        model_data_statistics=MetricsSource("application/json",
                                            baseline.properties.BaselineUsedForDriftCheckStatistics),
        model_data_constraints=MetricsSource("application/json",
                                             baseline.properties.BaselineUsedForDriftCheckConstraints),
    )  # fmt: skip
    iris_model = Model(image_uri=XGBOOST_IMAGE, model_data=iris_model_data, role=ROLE,
                       sagemaker_session=pipelines_session)  # fmt: skip
    registered = step_args(iris_model.register, content_types=["text/csv"],
                           response_types=["text/csv"], model_package_group_name=group,
                           approval_status="Approved", drift_check_baselines=drift)  # fmt: skip
    register = step_args(ModelStep, "Register", step_args=registered)
    first, steps = run(pipeline_of(pipelines_session, baseline, register))
    assert first.describe()["PipelineExecutionStatus"] == "Succeeded"
    package = sm.describe_model_package(
        ModelPackageName=steps["Register-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    )
    constraints = f"{out}/base/constraints.json"
    assert package["DriftCheckBaselines"]["ModelDataQuality"]["Constraints"]["S3Uri"] == constraints
    check = quality_step(pipelines_session, "Check", odd_data, f"{out}/check", skip_check=False,
                         register_new_baseline=False, model_package_group_name=group)  # fmt: skip
    second, steps = run(pipeline_of(pipelines_session, check))
    assert second.describe()["PipelineExecutionStatus"] == "Failed"
    metadata = steps["Check"]["Metadata"]["QualityCheck"]
    assert metadata["BaselineUsedForDriftCheckConstraints"] == constraints
    assert "CompletedWithViolations" in steps["Check"]["FailureReason"]
