"""A pipeline execution running when the emulator stops ends Failed at the next start, with
a reason saying so; RetryPipelineExecution runs it again from the step that did not finish."""

from __future__ import annotations

import json
import time

from tests.support import ROLE, XGBOOST_IMAGE

TRAIN = {
    "Name": "Long",
    "Type": "Training",
    "Arguments": {
        "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": {"objective": "multi:softmax", "num_class": "3", "num_round": "10000000"},
        "InputDataConfig": [{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://restart/iris"}}}],
        "OutputDataConfig": {"S3OutputPath": "s3://restart/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    },
}  # fmt: skip


def poll(check, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


def steps(sm, arn: str) -> list[dict]:
    return sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]


def test_an_execution_interrupted_by_a_restart_fails_and_can_be_retried(smlocal_factory) -> None:
    emulator = smlocal_factory()
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="restart")
    rows = "\n".join(f"{i % 3},{i % 7}.1,3.5,1.4,0.2" for i in range(60))
    s3.put_object(Bucket="restart", Key="iris/iris.csv", Body=rows.encode())
    sm = emulator.client("sagemaker")
    sm.create_pipeline(PipelineName="interrupted", RoleArn=ROLE,
                       PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": [TRAIN]}))  # fmt: skip
    arn = sm.start_pipeline_execution(PipelineName="interrupted")["PipelineExecutionArn"]
    poll(lambda: steps(sm, arn) and steps(sm, arn)[0]["StepStatus"] == "Executing")
    emulator.restart()
    sm = emulator.client("sagemaker")
    described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"].startswith(
        "smlocal stopped while this pipeline execution was running"
    )
    [step] = steps(sm, arn)
    assert (step["StepStatus"], step["FailureReason"]) == ("Failed", described["FailureReason"])
    sm.retry_pipeline_execution(PipelineExecutionArn=arn)
    poll(lambda: steps(sm, arn)[0]["StepStatus"] == "Executing")
    assert steps(sm, arn)[0]["AttemptCount"] == 2
    sm.stop_pipeline_execution(PipelineExecutionArn=arn)
    poll(lambda: sm.describe_pipeline_execution(
        PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Stopped")  # fmt: skip
    assert steps(sm, arn)[0]["StepStatus"] == "Stopped"


def test_reset_stops_running_executions_and_deletes_pipelines(smlocal_factory) -> None:
    emulator = smlocal_factory()
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="restart")
    s3.put_object(
        Bucket="restart", Key="iris/iris.csv", Body=b"0,5.1,3.5,1.4,0.2\n1,6.2,2.9,4.3,1.3\n"
    )
    sm = emulator.client("sagemaker")
    sm.create_pipeline(PipelineName="reset-me", RoleArn=ROLE,
                       PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": [TRAIN]}))  # fmt: skip
    arn = sm.start_pipeline_execution(PipelineName="reset-me")["PipelineExecutionArn"]
    poll(lambda: steps(sm, arn) and steps(sm, arn)[0]["StepStatus"] == "Executing")
    emulator.reset()
    assert sm.list_pipelines()["PipelineSummaries"] == []
    assert (
        sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
        == "Stopped"
    )
    job = steps(sm, arn)[0]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    assert sm.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] == "Stopped"
