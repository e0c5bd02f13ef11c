"""The pipeline executor and its expressions as units: retry policies against a scripted
control plane (a job failing with an internal error cannot be caused on purpose through
the emulator), property paths, Join, JsonGet and conditions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from smlocal.emulator.errors import InternalFailure
from smlocal.emulator.jobs.pipeline_records import PipelineExecution, get_execution, save_execution
from smlocal.emulator.jobs.pipelines.executor import PipelineExecutor
from smlocal.emulator.jobs.pipelines.expressions import Scope, StepFailed, holds, resolve, walk
from smlocal.emulator.jobs.pipelines.plan import DefinitionError, parameter_values, parse, steps_of
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.state import State
from smlocal.emulator.support.store import Store

PIPELINE = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p"


class ScriptedJobs:
    """CreateTrainingJob/DescribeTrainingJob answering from a script of endings."""

    def __init__(self, endings: list[str], create_faults: int = 0) -> None:
        self.endings = endings
        self.create_faults = create_faults
        self.jobs: dict[str, str] = {}

    def __call__(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        name = params["TrainingJobName"]
        if operation == "CreateTrainingJob":
            if self.create_faults:
                self.create_faults -= 1
                raise InternalFailure("We encountered an internal error. Please try again.")
            self.jobs[name] = self.endings.pop(0)
            return {"TrainingJobArn": f"arn:training-job/{name}"}
        ending = self.jobs[name]
        status = ending if ending in ("Completed", "Stopped") else "Failed"
        described = {"TrainingJobArn": f"arn:training-job/{name}", "TrainingJobStatus": status}
        return {**described, **({} if status != "Failed" else {"FailureReason": ending})}


def run_training(tmp_path, jobs: ScriptedJobs, policies: list[dict]) -> dict[str, Any]:
    """Run a one-step Training pipeline to its end; the step's record."""
    state = State(Store(), EmulatorSettings(data_dir=tmp_path))
    step = {"Name": "Train", "Type": "Training", "Arguments": {}, "RetryPolicies": policies}
    execution = PipelineExecution(
        arn=f"{PIPELINE}/execution/abcdefabcdef", pipeline_arn=PIPELINE, pipeline_name="p",
        status="Executing", creation_time=1.0, last_modified_time=1.0,
        definition=json.dumps({"Steps": [step]}), parameters={},
    )  # fmt: skip
    save_execution(state, execution)
    executor = PipelineExecutor(state, jobs, poll=0.01)
    executor.start(execution.arn)
    executor.wait(30)
    ended = get_execution(state, execution.arn)
    run = ended.step("Train")
    assert run is not None
    return {"status": ended.status, **run}


def policy(*kinds: str, attempts: int = 5) -> dict:
    return {"ExceptionType": list(kinds), "IntervalSeconds": 0.01, "BackoffRate": 1.0,
            "MaxAttempts": attempts}  # fmt: skip


INTERNAL = "InternalServerError: We encountered an internal error. Please try again."


def test_a_job_failing_with_an_internal_error_is_retried(tmp_path) -> None:
    jobs = ScriptedJobs([INTERNAL, INTERNAL, "Completed"])
    run = run_training(tmp_path, jobs, [policy("SageMaker.JOB_INTERNAL_ERROR")])
    assert (run["status"], run["StepStatus"], run["AttemptCount"]) == ("Succeeded", "Succeeded", 3)
    assert len(jobs.jobs) == 3  # each attempt is a new job


def test_retries_stop_at_max_attempts(tmp_path) -> None:
    jobs = ScriptedJobs([INTERNAL, INTERNAL, INTERNAL])
    run = run_training(tmp_path, jobs, [policy("SageMaker.JOB_INTERNAL_ERROR", attempts=1)])
    assert (run["status"], run["StepStatus"], run["AttemptCount"]) == ("Failed", "Failed", 2)
    assert run["FailureReason"] == INTERNAL


def test_a_failure_no_policy_names_is_not_retried(tmp_path) -> None:
    jobs = ScriptedJobs(["ClientError: bad hyperparameter", "Completed"])
    run = run_training(tmp_path, jobs, [policy("SageMaker.JOB_INTERNAL_ERROR")])
    assert (run["StepStatus"], run["AttemptCount"]) == ("Failed", 1)
    assert run["FailureReason"] == "ClientError: bad hyperparameter"


def test_a_service_fault_is_retried_by_a_step_policy(tmp_path) -> None:
    jobs = ScriptedJobs(["Completed"], create_faults=1)
    run = run_training(tmp_path, jobs, [policy("Step.SERVICE_FAULT", "Step.THROTTLING")])
    assert (run["StepStatus"], run["AttemptCount"]) == ("Succeeded", 2)
    unretried = run_training(tmp_path, ScriptedJobs(["Completed"], create_faults=1), [])
    assert unretried["FailureReason"] == (
        "InternalFailure: We encountered an internal error. Please try again.")  # fmt: skip


def test_a_job_stopped_outside_the_pipeline_fails_its_step(tmp_path) -> None:
    run = run_training(tmp_path, ScriptedJobs(["Stopped"]), [])
    assert (run["status"], run["StepStatus"]) == ("Failed", "Failed")
    assert run["FailureReason"].endswith("was stopped outside the pipeline.")


def scope(properties: dict | None = None, files: dict | None = None) -> Scope:
    def variable(name: str) -> Any:
        return {"PipelineExecutionId": "abc"}[name]

    return Scope({"Count": 3, "On": True}, variable, lambda step: (properties or {})[step],
                 lambda step, name: (files or {})[(step, name)], lambda uri: (files or {})[uri])  # fmt: skip


def test_property_paths_pick_list_items_by_name_or_index() -> None:
    described = {"ProcessingOutputConfig": {"Outputs": [
        {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}},
        {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/test"}}]},
        "FinalMetricDataList": [{"MetricName": "validation:auc", "Value": 0.9}]}  # fmt: skip
    found = scope({"Proc": described})
    get = {"Get": "Steps.Proc.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"}
    assert resolve(get, found) == "s3://b/test"
    assert (
        resolve({"Get": "Steps.Proc.ProcessingOutputConfig.Outputs[0].OutputName"}, found)
        == "train"
    )
    assert walk(described, "FinalMetricDataList['validation:auc'].Value", "x") == 0.9
    with pytest.raises(StepFailed, match="'nothing' is not there"):
        resolve({"Get": "Steps.Proc.ProcessingOutputConfig.Outputs['nothing']"}, found)
    with pytest.raises(StepFailed, match="Step Later has not run"):
        resolve({"Get": "Steps.Later.ModelArtifacts"}, found)


def test_join_and_json_get() -> None:
    files = {("Eval", "Report"): {"metrics": {"acc": [{"value": "0.8"}]}},
             "s3://b/r.json": {"n": 4}}  # fmt: skip
    found = scope(files=files)
    joined = {"Std:Join": {"On": "/", "Values": ["s3:/", {"Get": "Execution.PipelineExecutionId"},
                                                 {"Get": "Parameters.Count"}, {"Get": "Parameters.On"}]}}  # fmt: skip
    assert resolve(joined, found) == "s3://abc/3/true"
    report = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"},
                              "Path": "metrics.acc[0].value"}}  # fmt: skip
    assert resolve(report, found) == "0.8"
    assert resolve({"Std:JsonGet": {"S3Uri": "s3://b/r.json", "Path": "n"}}, found) == 4
    condition = {"Type": "GreaterThan", "LeftValue": report, "RightValue": 0.7}
    assert holds(condition, found)  # a number in a string compares as a number


def test_parameters_take_their_types() -> None:
    document = parse(json.dumps({"Steps": [], "Parameters": [
        {"Name": "I", "Type": "Integer", "DefaultValue": 1},
        {"Name": "F", "Type": "Float", "DefaultValue": 0.5},
        {"Name": "B", "Type": "Boolean", "DefaultValue": False},
        {"Name": "S", "Type": "String", "DefaultValue": "x"}]}))  # fmt: skip
    given = [
        {"Name": "I", "Value": "7"},
        {"Name": "F", "Value": "2.5"},
        {"Name": "B", "Value": "true"},
    ]
    assert parameter_values(document, given) == {"I": 7, "F": 2.5, "B": True, "S": "x"}
    with pytest.raises(DefinitionError, match="is not a valid Boolean"):
        parameter_values(document, [{"Name": "B", "Value": "yes"}])


def test_branch_steps_depend_on_their_condition_and_references() -> None:
    inner = {"Name": "Reg", "Type": "RegisterModel",
             "Arguments": {"X": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}}}  # fmt: skip
    steps = steps_of({"Steps": [
        {"Name": "Train", "Type": "Training", "Arguments": {}},
        {"Name": "Check", "Type": "Condition", "Arguments": {"Conditions": [], "IfSteps": [inner]}},
    ]})  # fmt: skip
    assert steps["Reg"].needs == {"Check", "Train"}
    assert steps["Reg"].branch == ("Check", True)
    assert steps["Check"].needs == frozenset()


def test_executions_left_running_by_a_crash_end_at_start_up(tmp_path) -> None:
    state = State(Store(tmp_path / "state.db"), EmulatorSettings(data_dir=tmp_path))
    running = PipelineExecution(
        arn=f"{PIPELINE}/execution/aaaaaaaaaaaa", pipeline_arn=PIPELINE, pipeline_name="p",
        status="Executing", creation_time=1.0, last_modified_time=1.0,
        definition=json.dumps({"Steps": []}), parameters={},
        steps=[{"StepName": "Train", "StepStatus": "Executing", "StartTime": 1.0},
               {"StepName": "Before", "StepStatus": "Succeeded", "StartTime": 0.5}],
    )  # fmt: skip
    stopping = PipelineExecution(**{**vars(running), "arn": f"{PIPELINE}/execution/bbbbbbbbbbbb",
                                    "status": "Stopping", "steps": []})  # fmt: skip
    save_execution(state, running)
    save_execution(state, stopping)
    state.store.close()
    reopened = State(Store(tmp_path / "state.db"), EmulatorSettings(data_dir=tmp_path))
    PipelineExecutor(reopened, ScriptedJobs([])).abandon_unfinished()
    ended = get_execution(reopened, running.arn)
    assert ended.status == "Failed"
    assert ended.failure_reason is not None
    assert ended.failure_reason.startswith(
        "smlocal stopped while this pipeline execution was running"
    )
    assert [(s["StepName"], s["StepStatus"]) for s in ended.steps] == [
        ("Train", "Failed"), ("Before", "Succeeded")]  # fmt: skip
    assert get_execution(reopened, stopping.arn).status == "Stopped"
