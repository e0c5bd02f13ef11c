"""SageMaker Experiments against hostile input, racing clients, kills, and pipelines whose
PipelineExperimentConfig cannot be resolved (an execution never fails for it)."""

from __future__ import annotations

import json
import math
import statistics
import threading
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.emulator.jobs.test_pipeline_api import MODE, condition, definition, fail, finished
from tests.faults import NO_RETRIES, _hammer, kill
from tests.support import ROLE


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _put(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url + "/BatchPutMetrics", data=body, method="PUT",
        headers={"Content-Type": "application/json", **(headers or {})},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_batch_put_metrics_is_local_only_and_refuses_bad_bodies(smlocal: Any) -> None:
    sm = smlocal.client("sagemaker")
    component = _name("tc")
    sm.create_trial_component(TrialComponentName=component)
    now = datetime.now(UTC).timestamp()
    body = json.dumps({"TrialComponentName": component, "MetricData": [
        {"MetricName": "m", "Timestamp": now, "Value": 1.0}]}).encode()  # fmt: skip
    assert _put(smlocal.url, body, {"Host": "evil.example"})[0] == 403
    assert _put(smlocal.url, body, {"Origin": "http://evil.example"})[0] == 403
    assert not sm.describe_trial_component(TrialComponentName=component).get("Metrics")
    for bad in (b"{not json", b"[1, 2]", body.replace(b"1.0", b'"x"'),
                body.replace(str(now).encode(), b"Infinity")):  # fmt: skip
        assert _put(smlocal.url, bad)[0] == 400, bad
    many = json.dumps({"TrialComponentName": component, "MetricData": [
        {"MetricName": "m", "Timestamp": now, "Value": 1.0}] * 10_000}).encode()  # fmt: skip
    status, answer = _put(smlocal.url, many)
    assert status == 400
    assert b"less than or equal to 10" in answer
    assert _put(smlocal.url, body.replace(b"1.0", b"NaN"))[0] == 200  # refused by index
    assert _put(smlocal.url, body)[0] == 200
    [metric] = sm.describe_trial_component(TrialComponentName=component)["Metrics"]
    assert metric["Count"] == 1


def test_racing_metric_writers_keep_exact_summaries(smlocal: Any) -> None:
    sm = smlocal.client("sagemaker")
    component = _name("tc")
    sm.create_trial_component(TrialComponentName=component)
    values = {i: [float(i * 100 + j) / 7 for j in range(40)] for i in range(8)}
    failures: list[Exception] = []

    def write(i: int) -> None:
        metrics = smlocal.client("sagemaker-metrics")
        try:
            for k in range(0, 40, 10):
                metrics.batch_put_metrics(TrialComponentName=component, MetricData=[
                    {"MetricName": "loss", "Timestamp": datetime.now(UTC), "Value": v}
                    for v in values[i][k : k + 10]])  # fmt: skip
        except Exception as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert failures == []
    [loss] = sm.describe_trial_component(TrialComponentName=component)["Metrics"]
    every = [v for chunk in values.values() for v in chunk]
    assert loss["Count"] == len(every)
    assert (loss["Min"], loss["Max"]) == (min(every), max(every))
    assert math.isclose(loss["Avg"], statistics.mean(every))
    assert math.isclose(loss["StdDev"], statistics.stdev(every))


def _outcome(call: Any, **params: Any) -> str:
    try:
        call(**params)
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "ok"


def _race(smlocal: Any, trial: str, component: str) -> dict[str, str]:
    """AssociateTrialComponent and DeleteTrialComponent of one component at once."""
    out: dict[str, str] = {}

    def associate() -> None:
        out["associate"] = _outcome(smlocal.client("sagemaker").associate_trial_component,
                                    TrialComponentName=component, TrialName=trial)  # fmt: skip

    def delete() -> None:
        out["delete"] = _outcome(smlocal.client("sagemaker").delete_trial_component,
                                 TrialComponentName=component)  # fmt: skip

    threads = [threading.Thread(target=associate), threading.Thread(target=delete)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return out


def test_racing_associate_and_delete_leave_no_orphan(smlocal: Any) -> None:
    sm = smlocal.client("sagemaker")
    experiment, trial = _name("ex"), _name("tr")
    sm.create_experiment(ExperimentName=experiment)
    sm.create_trial(TrialName=trial, ExperimentName=experiment)
    for _ in range(15):
        component = _name("tc")
        sm.create_trial_component(TrialComponentName=component)
        out = _race(smlocal, trial, component)
        listed = [c["TrialComponentName"] for c in
                  sm.list_trial_components(TrialName=trial)["TrialComponentSummaries"]]  # fmt: skip
        exists = _outcome(sm.describe_trial_component, TrialComponentName=component) == "ok"
        assert sorted(out.values()).count("ok") == 1, out
        assert (component in listed) == exists == (out["associate"] == "ok"), (out, listed)


def test_an_experiment_deleted_while_trials_are_made_leaves_no_orphan(smlocal: Any) -> None:
    sm = smlocal.client("sagemaker")
    for _ in range(8):
        experiment = _name("ex")
        sm.create_experiment(ExperimentName=experiment)
        made: list[str] = []

        def create(i: int, experiment: str = experiment, made: list[str] = made) -> None:
            name = f"{experiment}-t{i}"
            if _outcome(smlocal.client("sagemaker").create_trial, TrialName=name,
                        ExperimentName=experiment) == "ok":  # fmt: skip
                made.append(name)

        def delete(experiment: str = experiment) -> None:
            _outcome(smlocal.client("sagemaker").delete_experiment, ExperimentName=experiment)

        threads = [threading.Thread(target=create, args=(i,)) for i in range(4)]
        threads.append(threading.Thread(target=delete))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        if made:  # a trial was made: its experiment is still there
            assert sm.describe_experiment(ExperimentName=experiment)["ExperimentName"]
        for name in made:
            assert sm.describe_trial(TrialName=name)["ExperimentName"] == experiment


def test_metrics_and_associations_survive_a_kill(smlocal_factory: Any) -> None:
    emulator = smlocal_factory()
    sm = emulator.client("sagemaker")
    sm.create_experiment(ExperimentName="killed")
    sm.create_trial(TrialName="killed-trial", ExperimentName="killed")
    sm.create_trial_component(TrialComponentName="killed-run")
    sm.associate_trial_component(TrialComponentName="killed-run", TrialName="killed-trial")
    emulator.client("sagemaker-metrics").batch_put_metrics(
        TrialComponentName="killed-run",
        MetricData=[{"MetricName": "loss", "Timestamp": datetime.now(UTC), "Value": v}
                    for v in (1.0, 2.0, 4.0)],
    )  # fmt: skip
    kill(emulator)
    emulator.start()
    sm = emulator.client("sagemaker")
    [metric] = sm.describe_trial_component(TrialComponentName="killed-run")["Metrics"]
    assert (metric["Count"], metric["Min"], metric["Max"]) == (3, 1.0, 4.0)
    assert math.isclose(metric["StdDev"], statistics.stdev([1.0, 2.0, 4.0]))
    listed = sm.list_trial_components(TrialName="killed-trial")["TrialComponentSummaries"]
    assert [c["TrialComponentName"] for c in listed] == ["killed-run"]


@pytest.mark.parametrize(
    "config",
    [
        {
            "ExperimentName": {
                "Std:JsonGet": {"PropertyFile": {"Get": "Steps.A.PropertyFiles.f"}, "Path": "a"}
            },
            "TrialName": "t",
        },
        {"ExperimentName": {"Std:JsonGet": {"S3Uri": "s3://no-bucket/x.json", "Path": "a"}}},
        {"ExperimentName": {"Std:Join": {"On": "-", "Values": 5}}},
        {"ExperimentName": {"Std:Join": "x"}},
        {"ExperimentName": {"Get": 5}},
        {"ExperimentName": ["a"], "TrialName": None},
        "not an object",
        {"ExperimentName": "a" * 121, "TrialName": "b" * 121},
    ],
)
def test_an_unresolvable_experiment_config_never_fails_the_execution(
    smlocal: Any, config: object
) -> None:
    sm = smlocal.client("sagemaker")
    body = json.loads(definition(condition("Check", {"Get": "Parameters.Mode"}, "pass",
                                           else_steps=[fail("Stop")]), parameters=MODE))  # fmt: skip
    body["PipelineExperimentConfig"] = config
    name = _name("pipe")
    sm.create_pipeline(PipelineName=name, PipelineDefinition=json.dumps(body), RoleArn=ROLE)
    arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    assert finished(sm, arn)["PipelineExecutionStatus"] == "Succeeded"


def test_values_that_would_overflow_a_summary_are_refused_by_index(smlocal: Any) -> None:
    sm = smlocal.client("sagemaker")
    metrics = smlocal.client("sagemaker-metrics")
    component = _name("tc")
    sm.create_trial_component(TrialComponentName=component)
    now = datetime.now(UTC)
    data = [{"MetricName": "loss", "Timestamp": now, "Value": v} for v in (1.0, 1e200, 2.0)]
    data += [{"MetricName": "big", "Timestamp": now, "Value": v} for v in (1.7e308, -1.7e308)]
    answer = metrics.batch_put_metrics(TrialComponentName=component, MetricData=data)
    assert [(e["Code"], e["MetricIndex"]) for e in answer["Errors"]] == [
        ("VALIDATION_ERROR", 1), ("VALIDATION_ERROR", 4)]  # fmt: skip
    shown = {m["MetricName"]: m for m in
             sm.describe_trial_component(TrialComponentName=component)["Metrics"]}  # fmt: skip
    assert (shown["loss"]["Count"], shown["loss"]["Max"], shown["loss"]["Avg"]) == (2, 2.0, 1.5)
    assert math.isclose(shown["loss"]["StdDev"], statistics.stdev([1.0, 2.0]))
    assert (shown["big"]["Count"], shown["big"]["Avg"], shown["big"]["StdDev"]) == (1, 1.7e308, 0)


def test_acknowledged_metrics_survive_a_kill_mid_write(smlocal_factory: Any) -> None:
    emulator = smlocal_factory()
    emulator.client("sagemaker").create_trial_component(TrialComponentName="hammered")
    acknowledged = [0] * 4

    def writer(index: int, stop: threading.Event) -> None:
        metrics = emulator.client("sagemaker-metrics", config=NO_RETRIES)
        while not stop.is_set():
            value = acknowledged[index] + 1  # 1, 2, 3, ...: Count, Max and Last are all n
            try:
                metrics.batch_put_metrics(TrialComponentName="hammered", MetricData=[
                    {"MetricName": f"m{index}", "Timestamp": float(value), "Value": value}])  # fmt: skip
            except Exception:  # the emulator is gone
                return
            acknowledged[index] = value

    _hammer(emulator, writer, len(acknowledged), 100, lambda: sum(acknowledged))
    emulator.start()
    shown = {m["MetricName"]: m for m in emulator.client("sagemaker").describe_trial_component(
        TrialComponentName="hammered")["Metrics"]}  # fmt: skip
    for index, count in enumerate(acknowledged):
        if count == 0:
            continue
        metric = shown[f"m{index}"]
        # every acknowledged value, and at most the one in flight at the kill
        assert count <= metric["Count"] <= count + 1, (index, count, metric)
        assert metric["Max"] == metric["Last"] == metric["Count"]
        assert metric["Min"] == 1
        assert math.isclose(metric["Avg"], (metric["Count"] + 1) / 2)


def test_an_arn_of_another_account_or_region_names_no_component(smlocal: Any) -> None:
    sm = smlocal.client("sagemaker")
    component = _name("tc")
    arn = sm.create_trial_component(TrialComponentName=component)["TrialComponentArn"]
    assert sm.describe_trial_component(TrialComponentName=arn)["TrialComponentName"] == component
    for other in (arn.replace(":123456789012:", ":999999999999:"),
                  arn.replace(":us-east-1:", ":eu-west-1:")):  # fmt: skip
        with pytest.raises(ClientError) as raised:
            sm.describe_trial_component(TrialComponentName=other)
        assert raised.value.response["Error"]["Code"] == "ResourceNotFound"
        assert (
            raised.value.response["Error"]["Message"]
            == f"Trial Component '{other}' does not exist."
        )


def test_an_artifact_arn_of_another_account_names_no_artifact(smlocal: Any) -> None:
    sm = smlocal.client("sagemaker")
    component = _name("tc")
    component_arn = sm.create_trial_component(TrialComponentName=component)["TrialComponentArn"]
    arn = sm.create_artifact(ArtifactType="ConfusionMatrix",
                             Source={"SourceUri": "s3://b/cm.json"})["ArtifactArn"]  # fmt: skip
    sm.add_association(SourceArn=component_arn, DestinationArn=arn)
    foreign = arn.replace(":123456789012:", ":999999999999:")
    for call in (sm.describe_artifact, sm.delete_artifact):
        with pytest.raises(ClientError) as raised:
            call(ArtifactArn=foreign)
        assert raised.value.response["Error"]["Code"] == "ResourceNotFound"
    assert sm.describe_artifact(ArtifactArn=arn)["ArtifactArn"] == arn
    listed = sm.list_associations(SourceArn=component_arn)["AssociationSummaries"]
    assert [a["DestinationArn"] for a in listed] == [arn]
    sm.delete_artifact(ArtifactArn=arn)  # its own ARN: it goes, and its associations with it
    assert sm.list_associations(SourceArn=component_arn)["AssociationSummaries"] == []


def test_a_null_in_the_experiment_config_makes_no_experiment_named_none(smlocal: Any) -> None:
    sm = smlocal.client("sagemaker")
    body = json.loads(definition(condition("Check", {"Get": "Parameters.Mode"}, "pass",
                                           else_steps=[fail("Stop")]), parameters=MODE))  # fmt: skip
    trial = _name("trial")
    body["PipelineExperimentConfig"] = {"ExperimentName": None, "TrialName": trial}
    name = _name("pipe")
    sm.create_pipeline(PipelineName=name, PipelineDefinition=json.dumps(body), RoleArn=ROLE)
    arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    assert finished(sm, arn)["PipelineExecutionStatus"] == "Succeeded"
    with pytest.raises(ClientError):
        sm.describe_experiment(ExperimentName="None")
    with pytest.raises(ClientError):
        sm.describe_trial(TrialName=trial)


def test_a_component_made_again_does_not_inherit_the_deleted_ones_lineage(smlocal: Any) -> None:
    sm = smlocal.client("sagemaker")
    component = _name("tc")
    arn = sm.create_trial_component(TrialComponentName=component)["TrialComponentArn"]
    artifact = sm.create_artifact(ArtifactType="ConfusionMatrix",
                                  Source={"SourceUri": "s3://b/cm.json"})["ArtifactArn"]  # fmt: skip
    sm.add_association(SourceArn=arn, DestinationArn=artifact, AssociationType="Produced")
    sm.delete_trial_component(TrialComponentName=component)
    assert sm.list_associations(DestinationArn=artifact)["AssociationSummaries"] == []
    sm.create_trial_component(TrialComponentName=component)
    assert sm.list_associations(SourceArn=arn)["AssociationSummaries"] == []
    assert sm.describe_artifact(ArtifactArn=artifact)["ArtifactArn"] == artifact
