"""Pipelines and their executions through boto3: the round trips and every refusal, in
SageMaker's codes and words. The pipelines here have Condition and Fail steps only (no jobs),
so their executions end at once."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.support import ROLE, unique

ARN = "arn:aws:sagemaker:us-east-1:123456789012"


def definition(*steps: dict, parameters: list | None = None) -> str:
    return json.dumps(
        {"Version": "2020-12-01", "Parameters": parameters or [], "Steps": list(steps)}
    )


def fail(name: str, message: object = "boom", **extra) -> dict:
    return {"Name": name, "Type": "Fail", "Arguments": {"ErrorMessage": message}, **extra}


def condition(name: str, left: object, right: object, if_steps=(), else_steps=()) -> dict:
    return {"Name": name, "Type": "Condition", "Arguments": {
        "Conditions": [{"Type": "Equals", "LeftValue": left, "RightValue": right}],
        "IfSteps": list(if_steps), "ElseSteps": list(else_steps)}}  # fmt: skip


MODE = [{"Name": "Mode", "Type": "String", "DefaultValue": "pass"}]
PASSING = definition(condition("Check", {"Get": "Parameters.Mode"}, "pass",
                               else_steps=[fail("Stop")]), parameters=MODE)  # fmt: skip


@pytest.fixture(scope="module")
def sm(smlocal):
    return smlocal.client("sagemaker")


def create(sm, body: str = PASSING, name: str | None = None) -> str:
    name = name or unique("pipe")
    sm.create_pipeline(PipelineName=name, PipelineDefinition=body, RoleArn=ROLE,
                       )  # fmt: skip
    return name


def start(sm, name: str, **parameters: str) -> str:
    given = [{"Name": k, "Value": v} for k, v in parameters.items()]
    return sm.start_pipeline_execution(PipelineName=name, PipelineParameters=given,
                                       )["PipelineExecutionArn"]  # fmt: skip


def finished(sm, arn: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        if described["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
            return described
        assert time.monotonic() < deadline, described
        time.sleep(0.1)


def refused(call, **params) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_create_describe_update_list_delete(sm) -> None:
    name = create(sm)
    described = sm.describe_pipeline(PipelineName=name)
    assert described["PipelineArn"] == f"{ARN}:pipeline/{name.lower()}"
    assert (described["PipelineStatus"], described["PipelineDisplayName"]) == ("Active", name)
    assert json.loads(described["PipelineDefinition"]) == json.loads(PASSING)
    assert sm.describe_pipeline(PipelineName=described["PipelineArn"])["PipelineName"] == name
    updated = sm.update_pipeline(PipelineName=name, PipelineDescription="second",
                                 PipelineDefinition=definition(fail("Only")))  # fmt: skip
    assert updated["PipelineVersionId"] == 2
    described = sm.describe_pipeline(PipelineName=name)
    assert described["PipelineDescription"] == "second"
    assert json.loads(described["PipelineDefinition"])["Steps"][0]["Name"] == "Only"
    listed = sm.list_pipelines(PipelineNamePrefix=name)["PipelineSummaries"]
    assert [p["PipelineName"] for p in listed] == [name]
    assert sm.delete_pipeline(PipelineName=name)["PipelineArn"] \
        == described["PipelineArn"]  # fmt: skip
    assert sm.list_pipelines(PipelineNamePrefix=name)["PipelineSummaries"] == []


def test_list_pipelines_sorts_and_pages(sm) -> None:
    prefix = unique("sorted")
    names = [create(sm, name=f"{prefix}-{n}") for n in ("b", "a", "c")]
    by_name = sm.list_pipelines(PipelineNamePrefix=prefix, SortBy="Name", SortOrder="Ascending")
    assert [p["PipelineName"] for p in by_name["PipelineSummaries"]] == sorted(names)
    first = sm.list_pipelines(PipelineNamePrefix=prefix, MaxResults=2)
    assert [p["PipelineName"] for p in first["PipelineSummaries"]] == names[::-1][:2]
    rest = sm.list_pipelines(PipelineNamePrefix=prefix, MaxResults=2, NextToken=first["NextToken"])
    assert [p["PipelineName"] for p in rest["PipelineSummaries"]] == [names[0]]


def test_missing_pipeline_is_resource_not_found(sm) -> None:
    arn = f"{ARN}:pipeline/nowhere"
    message = f"Pipeline '{arn}' does not exist."
    for call, params in (
        (sm.describe_pipeline, {"PipelineName": "nowhere"}),
        (sm.update_pipeline, {"PipelineName": "nowhere", "PipelineDescription": "x"}),
        (sm.delete_pipeline, {"PipelineName": "nowhere"}),
        (sm.start_pipeline_execution, {"PipelineName": "nowhere"}),
        (sm.list_pipeline_executions, {"PipelineName": "nowhere"}),
    ):
        assert refused(call, **params) == ("ResourceNotFound", message)


def test_a_name_taken_is_refused_so_that_upsert_updates(sm) -> None:
    name = create(sm)
    code, message = refused(sm.create_pipeline, PipelineName=name, PipelineDefinition=PASSING,
                            RoleArn=ROLE)  # fmt: skip
    assert code == "ValidationException"
    assert message == (
        "Pipeline names must be unique within an AWS account and region. Pipeline with name "
        f"({name}) already exists."
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "the pipeline definition is not valid JSON"),
        (json.dumps({"Version": "2020-12-01"}), "must be a JSON object with a Steps list"),
        (definition(fail("A"), fail("A")), "more than one step named A"),
        (definition(fail("A", DependsOn=["Z"])), "step A depends on Z, which the pipeline"),
        (definition(fail("A", DependsOn=["B"]), fail("B", DependsOn=["A"])), "in a cycle (A, B)"),
        (definition({"Name": "NoType"}), "every step of the pipeline definition needs a Name"),
    ],
)
def test_a_definition_that_cannot_run_is_refused(sm, body: str, reason: str) -> None:
    code, message = refused(sm.create_pipeline, PipelineName=unique("bad"),
                            PipelineDefinition=body, RoleArn=ROLE)  # fmt: skip
    assert code == "ValidationException"
    assert message.startswith("Invalid pipeline definition: ")
    assert reason in message


def test_parameters_are_checked_at_start(sm) -> None:
    typed = [{"Name": "Count", "Type": "Integer", "DefaultValue": 1},
             {"Name": "Needed", "Type": "String"}]  # fmt: skip
    name = create(sm, definition(fail("F"), parameters=typed))
    for parameters, message in (
        ({"Needed": "x", "Other": "1"}, "Parameter 'Other' is not defined in the pipeline definition."),
        ({"Needed": "x", "Count": "many"}, "Value 'many' of parameter 'Count' is not a valid Integer."),
        ({}, "Parameter 'Needed' has no default value and was not given."),
    ):  # fmt: skip
        assert refused(start, sm=sm, name=name, **parameters) == ("ValidationException", message)


def test_an_execution_and_its_steps(sm) -> None:
    name = create(sm)
    arn = start(sm, name)
    assert arn.startswith(f"{ARN}:pipeline/{name.lower()}/execution/")
    assert len(arn.rsplit("/", 1)[1]) == 12
    described = finished(sm, arn)
    assert described["PipelineExecutionStatus"] == "Succeeded"
    assert "PipelineExperimentConfig" not in described  # the definition has none
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert [(s["StepName"], s["StepStatus"], s["Metadata"]) for s in steps] == [
        ("Check", "Succeeded", {"Condition": {"Outcome": "True"}})]  # fmt: skip
    for_execution = sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)
    assert for_execution["PipelineDefinition"] == PASSING
    summaries = sm.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]
    assert [(s["PipelineExecutionArn"], s["PipelineExecutionStatus"]) for s in summaries] == [
        (arn, "Succeeded")]  # fmt: skip
    assert sm.describe_pipeline(PipelineName=name)["LastRunTime"] == described["CreationTime"]


def test_an_execution_keeps_the_definition_it_started_with(sm) -> None:
    name = create(sm)
    arn = start(sm, name)
    sm.update_pipeline(PipelineName=name, PipelineDefinition=definition(fail("New")))
    assert sm.describe_pipeline_definition_for_execution(
        PipelineExecutionArn=arn)["PipelineDefinition"] == PASSING  # fmt: skip
    later = start(sm, name)
    assert finished(sm, later)["PipelineExecutionStatus"] == "Failed"


def test_the_else_branch_runs_when_the_condition_does_not_hold(sm) -> None:
    name = create(sm)
    arn = start(sm, name, Mode="other")
    described = finished(sm, arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "Step failure: One or multiple steps failed."
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn, SortOrder="Ascending")
    assert [(s["StepName"], s["StepStatus"]) for s in steps["PipelineExecutionSteps"]] == [
        ("Check", "Succeeded"), ("Stop", "Failed")]  # fmt: skip
    stop = steps["PipelineExecutionSteps"][1]
    assert stop["Metadata"] == {"Fail": {"ErrorMessage": "boom"}}
    assert stop["FailureReason"] == "boom"
    listed = sm.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]
    assert listed[0]["PipelineExecutionFailureReason"] == described["FailureReason"]


def test_missing_execution_is_resource_not_found(sm) -> None:
    arn = f"{ARN}:pipeline/nowhere/execution/abcdefabcdef"
    message = f"Pipeline execution '{arn}' does not exist."
    for call, params in (
        (sm.describe_pipeline_execution, {}),
        (sm.list_pipeline_execution_steps, {}),
        (sm.describe_pipeline_definition_for_execution, {}),
        (sm.list_pipeline_parameters_for_execution, {}),
        (sm.stop_pipeline_execution, {}),
        (sm.retry_pipeline_execution, {}),
    ):
        assert refused(call, PipelineExecutionArn=arn, **params) == ("ResourceNotFound", message)


def test_stop_and_retry_in_the_wrong_status_conflict(sm) -> None:
    arn = start(sm, create(sm))
    finished(sm, arn)
    code, message = refused(sm.stop_pipeline_execution, PipelineExecutionArn=arn,
                            )  # fmt: skip
    assert (code, message) == ("ConflictException", f"Pipeline execution '{arn}' is in status "
                               "Succeeded; only a pipeline execution in status Executing can be stopped.")  # fmt: skip
    code, message = refused(sm.retry_pipeline_execution, PipelineExecutionArn=arn,
                            )  # fmt: skip
    assert code == "ConflictException"
    assert message.endswith("only a pipeline execution in status Failed or Stopped can be retried.")


def test_unsupported_step_types_fail_the_execution_naming_the_type(sm) -> None:
    tuning = {"Name": "Score", "Type": "Tuning", "Arguments": {}}
    arn = start(sm, create(sm, definition(tuning)))
    described = finished(sm, arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "Step Score: Tuning steps are not run by smlocal." in described["FailureReason"]
    step = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"][0]
    assert step["StepStatus"] == "Failed"
    assert step["FailureReason"].startswith(
        "Step Score is of type Tuning, which smlocal does not run"
    )


def test_a_definition_read_from_s3(sm, smlocal) -> None:
    s3 = smlocal.client("s3")
    bucket = unique("definitions")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="p.json", Body=PASSING.encode())
    name = unique("from-s3")
    location = {"Bucket": bucket, "ObjectKey": "p.json"}
    sm.create_pipeline(PipelineName=name, RoleArn=ROLE, PipelineDefinitionS3Location=location)
    assert sm.describe_pipeline(PipelineName=name)["PipelineDefinition"] == PASSING
    missing = {"Bucket": bucket, "ObjectKey": "none.json"}
    code, message = refused(
        sm.update_pipeline, PipelineName=name, PipelineDefinitionS3Location=missing
    )
    assert code == "ValidationException"
    assert message.startswith(
        f"Could not read the pipeline definition from s3://{bucket}/none.json"
    )
    code, message = refused(sm.create_pipeline, PipelineName=unique("none"), RoleArn=ROLE)
    assert (code, message) == (
        "ValidationException",
        "Either PipelineDefinition or PipelineDefinitionS3Location must be provided.",
    )


def test_list_pipeline_executions_sorts_filters_and_pages(sm) -> None:
    name = create(sm)
    arns = [start(sm, name) for _ in range(3)]
    for arn in arns:
        finished(sm, arn)
    listed = sm.list_pipeline_executions(PipelineName=name, SortOrder="Ascending")
    assert [e["PipelineExecutionArn"] for e in listed["PipelineExecutionSummaries"]] == arns
    page = sm.list_pipeline_executions(PipelineName=name, MaxResults=2)
    assert [e["PipelineExecutionArn"] for e in page["PipelineExecutionSummaries"]] == arns[::-1][:2]
    rest = sm.list_pipeline_executions(PipelineName=name, MaxResults=2, NextToken=page["NextToken"])
    assert [e["PipelineExecutionArn"] for e in rest["PipelineExecutionSummaries"]] == arns[:1]
    second = sm.describe_pipeline_execution(PipelineExecutionArn=arns[1])["CreationTime"]
    after = sm.list_pipeline_executions(PipelineName=name, CreatedAfter=second)
    assert [e["PipelineExecutionArn"] for e in after["PipelineExecutionSummaries"]] == [arns[2]]


def test_upsert_creates_then_updates_and_merges_tags(
    smlocal, smlocal_sagemaker_session, sm
) -> None:
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.pipeline import Pipeline

    name = unique("upserted")
    pipeline = Pipeline(name, steps=[FailStep("F", error_message="x")],
                        sagemaker_session=smlocal_sagemaker_session)  # fmt: skip
    arn = pipeline.upsert(role_arn=ROLE, tags=[{"Key": "team", "Value": "a"}])["PipelineArn"]
    updated = pipeline.upsert(
        role_arn=ROLE, description="again", tags=[{"Key": "stage", "Value": "dev"}]
    )
    assert (updated["PipelineArn"], updated["PipelineVersionId"]) == (arn, 2)
    assert sm.describe_pipeline(PipelineName=name)["PipelineDescription"] == "again"
    tags = sm.list_tags(ResourceArn=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("stage", "dev"), ("team", "a")]
