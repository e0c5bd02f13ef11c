"""SageMaker Experiments through boto3: experiments, trials, trial components, their
associations, SageMaker Metrics' BatchPutMetrics, lineage artifacts, and Search over them."""

from __future__ import annotations

import math
import statistics
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions
import pytest


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _error(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(**params)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


@pytest.fixture
def sm(smlocal: Any) -> Any:
    return smlocal.client("sagemaker")


@pytest.fixture
def run(sm: Any) -> dict[str, str]:
    """An experiment, a trial of it and a component in the trial."""
    names = {"experiment": _name("exp"), "trial": _name("trial"), "component": _name("tc")}
    sm.create_experiment(ExperimentName=names["experiment"], Description="first")
    sm.create_trial(TrialName=names["trial"], ExperimentName=names["experiment"])
    sm.create_trial_component(
        TrialComponentName=names["component"],
        Parameters={"lr": {"NumberValue": 0.1}, "opt": {"StringValue": "adam"}},
        Status={"PrimaryStatus": "InProgress"},
    )
    sm.associate_trial_component(TrialComponentName=names["component"], TrialName=names["trial"])
    return names


def test_experiment_lifecycle_and_errors(sm: Any) -> None:
    name = _name("Exp")
    arn = sm.create_experiment(ExperimentName=name, DisplayName="shown", Tags=[
        {"Key": "team", "Value": "ml"}])["ExperimentArn"]  # fmt: skip
    assert arn.endswith(f":experiment/{name.lower()}")
    described = sm.describe_experiment(ExperimentName=name)
    assert described["ExperimentName"] == name
    assert described["DisplayName"] == "shown"
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    code, message = _error(sm.create_experiment, ExperimentName=name.lower())
    assert code == "ValidationException"
    assert "already exists" in message
    sm.update_experiment(ExperimentName=name, Description="changed")
    assert sm.describe_experiment(ExperimentName=name)["Description"] == "changed"
    sm.delete_experiment(ExperimentName=name)
    code, message = _error(sm.describe_experiment, ExperimentName=name)
    assert code == "ResourceNotFound"
    assert message == f"Experiment '{arn}' does not exist."
    assert _error(sm.delete_experiment, ExperimentName=name)[0] == "ResourceNotFound"
    assert _error(sm.update_experiment, ExperimentName=name)[0] == "ResourceNotFound"
    assert _error(sm.create_experiment, ExperimentName="no_underscores")[0] == (
        "ValidationException"
    )


def test_list_experiments_sorts_filters_and_pages(sm: Any) -> None:
    names = [_name(f"list-{i}") for i in range(3)]
    for name in names:
        sm.create_experiment(ExperimentName=name)
    after = datetime.now(UTC) - timedelta(minutes=5)
    listed: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = sm.list_experiments(MaxResults=2, SortBy="Name", SortOrder="Ascending",
                                   CreatedAfter=after, **token)  # fmt: skip
        listed += [s["ExperimentName"] for s in page["ExperimentSummaries"]]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    mine = [n for n in listed if n in names]
    assert mine == sorted(names)
    future = datetime.now(UTC) + timedelta(days=1)
    assert sm.list_experiments(CreatedAfter=future)["ExperimentSummaries"] == []


def test_trials_belong_to_an_existing_experiment(sm: Any, run: dict[str, str]) -> None:
    code, message = _error(sm.create_trial, TrialName=_name("t"), ExperimentName="missing-exp")
    assert code == "ResourceNotFound"
    assert "Experiment '" in message
    assert "does not exist" in message
    code, message = _error(sm.create_trial, TrialName=run["trial"],
                           ExperimentName=run["experiment"])  # fmt: skip
    assert code == "ValidationException"
    assert "already exists" in message
    described = sm.describe_trial(TrialName=run["trial"])
    assert described["ExperimentName"] == run["experiment"]
    trials = sm.list_trials(ExperimentName=run["experiment"])["TrialSummaries"]
    assert [t["TrialName"] for t in trials] == [run["trial"]]
    of_component = sm.list_trials(TrialComponentName=run["component"])["TrialSummaries"]
    assert [t["TrialName"] for t in of_component] == [run["trial"]]
    assert _error(sm.list_trials, ExperimentName="missing-exp")[0] == "ResourceNotFound"
    assert _error(sm.list_trials, TrialComponentName="missing-tc")[0] == "ResourceNotFound"
    sm.update_trial(TrialName=run["trial"], DisplayName="group")
    assert sm.describe_trial(TrialName=run["trial"])["DisplayName"] == "group"
    # an experiment with trials, and a trial with components, are not deleted
    assert _error(sm.delete_experiment, ExperimentName=run["experiment"])[0] == (
        "ValidationException"
    )
    assert _error(sm.delete_trial, TrialName=run["trial"])[0] == "ValidationException"
    assert _error(sm.describe_trial, TrialName="missing-trial") == (
        "ResourceNotFound",
        f"Trial '{described['TrialArn'].rsplit('/', 1)[0]}/missing-trial' does not exist.",
    )


def test_trial_component_update_associate_and_delete(sm: Any, run: dict[str, str]) -> None:
    name = run["component"]
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    sm.update_trial_component(
        TrialComponentName=name,
        Status={"PrimaryStatus": "Completed", "Message": "done"},
        StartTime=start,
        Parameters={"epochs": {"NumberValue": 3}},
        ParametersToRemove=["opt"],
        OutputArtifacts={
            "model": {"Value": "s3://b/model.tar.gz", "MediaType": "application/gzip"}
        },
    )
    described = sm.describe_trial_component(TrialComponentName=name)
    assert described["Parameters"] == {"lr": {"NumberValue": 0.1}, "epochs": {"NumberValue": 3}}
    assert described["Status"] == {"PrimaryStatus": "Completed", "Message": "done"}
    assert described["StartTime"] == start
    assert described["OutputArtifacts"]["model"]["Value"] == "s3://b/model.tar.gz"
    by_arn = sm.describe_trial_component(TrialComponentName=described["TrialComponentArn"])
    assert by_arn["TrialComponentName"] == name
    trial_arn = sm.describe_trial(TrialName=run["trial"])["TrialArn"]
    wrong_type = trial_arn.rsplit("/", 1)[0] + f"/{name}"  # an ARN of a trial, not a component
    code, message = _error(sm.describe_trial_component, TrialComponentName=wrong_type)
    assert code == "ResourceNotFound"
    assert message.endswith("does not exist.")
    listed = sm.list_trial_components(TrialName=run["trial"])["TrialComponentSummaries"]
    assert [c["TrialComponentName"] for c in listed] == [name]
    listed = sm.list_trial_components(ExperimentName=run["experiment"])
    assert [c["TrialComponentName"] for c in listed["TrialComponentSummaries"]] == [name]
    assert _error(sm.list_trial_components, TrialName="missing-trial")[0] == "ResourceNotFound"
    code, _ = _error(sm.list_trial_components, TrialName=run["trial"],
                     ExperimentName=run["experiment"])  # fmt: skip
    assert code == "ValidationException"

    assert _error(sm.delete_trial_component, TrialComponentName=name)[0] == ("ValidationException")
    sm.associate_trial_component(TrialComponentName=name, TrialName=run["trial"])  # again
    sm.disassociate_trial_component(TrialComponentName=name, TrialName=run["trial"])
    code, _ = _error(sm.disassociate_trial_component, TrialComponentName=name,
                     TrialName=run["trial"])  # fmt: skip
    assert code == "ResourceNotFound"
    assert _error(sm.associate_trial_component, TrialComponentName="missing-tc",
                  TrialName=run["trial"])[0] == "ResourceNotFound"  # fmt: skip
    sm.delete_trial_component(TrialComponentName=name)
    code, message = _error(sm.describe_trial_component, TrialComponentName=name)
    assert code == "ResourceNotFound"
    assert message.startswith("Trial Component '")
    sm.create_trial_component(TrialComponentName=name)
    code, message = _error(sm.create_trial_component, TrialComponentName=name)
    assert code == "ValidationException"
    assert "already exists" in message
    assert _error(sm.update_trial_component, TrialComponentName="missing-tc")[0] == (
        "ResourceNotFound"
    )


def test_batch_put_metrics_summaries_as_aws_aggregates_them(
    smlocal: Any, sm: Any, run: dict[str, str]
) -> None:
    metrics = smlocal.client("sagemaker-metrics")
    values = [0.9, 0.5, 0.7, 0.2]
    base = datetime.now(UTC)
    data = [{"MetricName": "loss", "Timestamp": base + timedelta(seconds=i), "Step": i,
             "Value": v} for i, v in enumerate(values)]  # fmt: skip
    data.append({"MetricName": "acc", "Timestamp": base, "Value": 0.8})
    # the latest timestamp's value is Last, whatever the order they arrive in
    answer = metrics.batch_put_metrics(TrialComponentName=run["component"], MetricData=data[::-1])
    assert "Errors" not in answer
    summaries = {
        m["MetricName"]: m
        for m in sm.describe_trial_component(TrialComponentName=run["component"])["Metrics"]
    }
    loss = summaries["loss"]
    assert loss["Count"] == 4
    assert loss["Last"] == 0.2
    assert loss["Min"] == 0.2
    assert loss["Max"] == 0.9
    assert math.isclose(loss["Avg"], statistics.mean(values))
    assert math.isclose(loss["StdDev"], statistics.stdev(values))
    assert summaries["acc"]["Count"] == 1
    assert summaries["acc"]["StdDev"] == 0
    assert loss["SourceArn"].endswith(f":experiment-trial-component/{run['component']}")

    bad = [{"MetricName": "loss", "Timestamp": base, "Value": v}
           for v in (float("nan"), 0.0, float("inf"))]  # fmt: skip
    answer = metrics.batch_put_metrics(TrialComponentName=run["component"], MetricData=bad)
    assert [(e["Code"], e["MetricIndex"]) for e in answer["Errors"]] == [
        ("VALIDATION_ERROR", 0),
        ("VALIDATION_ERROR", 2),
    ]
    [loss] = [m for m in sm.describe_trial_component(TrialComponentName=run["component"])[
        "Metrics"] if m["MetricName"] == "loss"]  # fmt: skip
    assert loss["Count"] == 5
    assert loss["Min"] == 0.0
    code, _ = _error(metrics.batch_put_metrics, TrialComponentName="missing-tc", MetricData=data)
    assert code == "ResourceNotFound"
    code, _ = _error(metrics.batch_put_metrics, TrialComponentName="Upper-Case", MetricData=data)
    assert code == "ValidationException"


def test_search_finds_components_by_parent_and_metric(
    smlocal: Any, sm: Any, run: dict[str, str]
) -> None:
    smlocal.client("sagemaker-metrics").batch_put_metrics(
        TrialComponentName=run["component"],
        MetricData=[{"MetricName": "val:auc", "Timestamp": datetime.now(UTC), "Value": 0.75}],
    )
    found = sm.search(Resource="ExperimentTrialComponent", SearchExpression={"Filters": [
        {"Name": "TrialComponentName", "Operator": "Equals", "Value": run["component"]},
        {"Name": "Parents.TrialName", "Operator": "Equals", "Value": run["trial"]},
        {"Name": "Metrics.val:auc.Max", "Operator": "GreaterThan", "Value": "0.5"},
    ]})["Results"]  # fmt: skip
    assert len(found) == 1
    record = found[0]["TrialComponent"]
    assert record["Parents"] == [{"TrialName": run["trial"], "ExperimentName": run["experiment"]}]
    assert record["Parameters"]["opt"] == {"StringValue": "adam"}
    none = sm.search(Resource="ExperimentTrialComponent", SearchExpression={"Filters": [
        {"Name": "TrialComponentName", "Operator": "Equals", "Value": run["component"]},
        {"Name": "Parents.TrialName", "Operator": "Equals", "Value": "other-trial"},
    ]})["Results"]  # fmt: skip
    assert none == []
    trials = sm.search(Resource="ExperimentTrial", SearchExpression={"Filters": [
        {"Name": "ExperimentName", "Operator": "Equals", "Value": run["experiment"]}]})  # fmt: skip
    [trial] = trials["Results"]
    summaries = trial["Trial"]["TrialComponentSummaries"]
    assert [s["TrialComponentName"] for s in summaries] == [run["component"]]
    experiments = sm.search(Resource="Experiment", SearchExpression={"Filters": [
        {"Name": "ExperimentName", "Operator": "Equals", "Value": run["experiment"]}]})  # fmt: skip
    assert experiments["Results"][0]["Experiment"]["Description"] == "first"


def test_lineage_artifact_and_association(sm: Any, run: dict[str, str]) -> None:
    component_arn = sm.describe_trial_component(TrialComponentName=run["component"])[
        "TrialComponentArn"
    ]
    arn = sm.create_artifact(ArtifactName="confusion-matrix", ArtifactType="ConfusionMatrix",
                             Source={"SourceUri": "s3://b/cm.json", "SourceTypes": [
                                 {"SourceIdType": "S3ETag", "Value": "abc"}]})["ArtifactArn"]  # fmt: skip
    assert sm.describe_artifact(ArtifactArn=arn)["ArtifactType"] == "ConfusionMatrix"
    sm.add_association(SourceArn=component_arn, DestinationArn=arn, AssociationType="Produced")
    code, message = _error(sm.add_association, SourceArn=component_arn, DestinationArn=arn)
    assert code == "ValidationException"
    assert "already exists" in message
    listed = sm.list_associations(SourceArn=component_arn)["AssociationSummaries"]
    assert [(a["DestinationArn"], a["DestinationType"], a["SourceType"]) for a in listed] == [
        (arn, "Artifact", "TrialComponent")
    ]
    missing = arn.rsplit("/", 1)[0] + "/" + "0" * 32
    assert _error(sm.add_association, SourceArn=component_arn, DestinationArn=missing)[0] == (
        "ResourceNotFound"
    )
    sm.delete_association(SourceArn=component_arn, DestinationArn=arn)
    assert _error(sm.delete_association, SourceArn=component_arn, DestinationArn=arn)[0] == (
        "ResourceNotFound"
    )
    sm.delete_artifact(ArtifactArn=arn)
    assert _error(sm.describe_artifact, ArtifactArn=arn)[0] == "ResourceNotFound"


def test_experiments_survive_a_restart(smlocal_factory: Any) -> None:
    emulator = smlocal_factory()
    sm = emulator.client("sagemaker")
    sm.create_experiment(ExperimentName="kept")
    sm.create_trial(TrialName="kept-trial", ExperimentName="kept")
    sm.create_trial_component(TrialComponentName="kept-run")
    sm.associate_trial_component(TrialComponentName="kept-run", TrialName="kept-trial")
    emulator.client("sagemaker-metrics").batch_put_metrics(
        TrialComponentName="kept-run",
        MetricData=[{"MetricName": "loss", "Timestamp": datetime.now(UTC), "Value": 1.5}],
    )
    emulator.restart()
    sm = emulator.client("sagemaker")
    assert sm.describe_trial(TrialName="kept-trial")["ExperimentName"] == "kept"
    [metric] = sm.describe_trial_component(TrialComponentName="kept-run")["Metrics"]
    assert metric["Last"] == 1.5
    assert metric["Count"] == 1
    listed = sm.list_trial_components(TrialName="kept-trial")["TrialComponentSummaries"]
    assert [c["TrialComponentName"] for c in listed] == ["kept-run"]


def test_a_job_naming_a_missing_experiment_or_trial_is_not_created(
    sm: Any, run: dict[str, str]
) -> None:
    def create(name: str, config: dict[str, str]) -> Any:
        return sm.create_processing_job(
            ProcessingJobName=name,
            RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
            AppSpecification={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"},
            ProcessingResources={
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "VolumeSizeInGB": 1,
                }
            },
            ExperimentConfig=config,
        )

    for config, code in (
        ({"ExperimentName": "missing-exp"}, "ResourceNotFound"),
        ({"ExperimentName": run["experiment"], "TrialName": "missing-trial"}, "ResourceNotFound"),
    ):
        name = _name("job")
        assert _error(create, name=name, config=config)[0] == code
        assert _error(sm.describe_processing_job, ProcessingJobName=name)[0] == (
            "ValidationException"
        )
        assert _error(sm.describe_trial_component,
                      TrialComponentName=f"{name}-aws-processing-job")[0] == "ResourceNotFound"  # fmt: skip
    other = _name("exp")
    sm.create_experiment(ExperimentName=other)
    code, message = _error(create, name=_name("job"),
                           config={"ExperimentName": other, "TrialName": run["trial"]})  # fmt: skip
    assert code == "ValidationException"
    assert f"belongs to experiment '{run['experiment']}'" in message


def test_search_by_name_matches_as_the_full_search_does(sm: Any, run: dict[str, str]) -> None:
    def names(value: str, operator: str = "And") -> list[str]:
        results = sm.search(Resource="ExperimentTrialComponent", SearchExpression={
            "Filters": [{"Name": "TrialComponentName", "Operator": "Equals", "Value": value},
                        {"Name": "DisplayName", "Operator": "Exists"}],
            "Operator": operator})["Results"]  # fmt: skip
        return [r["TrialComponent"]["TrialComponentName"] for r in results]

    assert names(run["component"]) == [run["component"]]
    assert names(run["component"].upper()) == []  # Equals compares text as given
    assert names("missing-tc") == []
    assert run["component"] in names("missing-tc", operator="Or")


def test_reset_deletes_experiments_in_the_order_sagemaker_requires(smlocal_factory: Any) -> None:
    emulator = smlocal_factory()
    sm = emulator.client("sagemaker")
    sm.create_experiment(ExperimentName="gone")
    for trial in ("gone-a", "gone-b"):
        sm.create_trial(TrialName=trial, ExperimentName="gone")
        sm.create_trial_component(TrialComponentName=f"{trial}-run")
        sm.associate_trial_component(TrialComponentName=f"{trial}-run", TrialName="gone-a")
    sm.associate_trial_component(TrialComponentName="gone-a-run", TrialName="gone-b")
    emulator.reset()
    assert sm.list_trial_components()["TrialComponentSummaries"] == []
    assert sm.list_trials()["TrialSummaries"] == []
    assert sm.list_experiments()["ExperimentSummaries"] == []
