"""A pipeline execution's PipelineExperimentConfig never fails a step whose job would
otherwise run: a trial of another experiment (or one deleted since the start) is not joined."""

from __future__ import annotations

from typing import Any

from tests.pipeline_sdk import BUCKET, analyzer_step, pipeline_of, run
from tests.support import unique


def test_a_trial_of_another_experiment_does_not_fail_the_step(
    pipelines_session: Any, pipelines_iris: dict[str, str], smlocal: Any
) -> None:
    from sagemaker.workflow.pipeline_experiment_config import PipelineExperimentConfig

    sm = smlocal.client("sagemaker")
    theirs, mine, trial = unique("theirs"), unique("mine"), unique("taken")
    sm.create_experiment(ExperimentName=theirs)
    sm.create_trial(TrialName=trial, ExperimentName=theirs)
    out = f"s3://{BUCKET}/{unique('profile')}"
    pipeline = pipeline_of(pipelines_session, analyzer_step(
        pipelines_session, "Profile", pipelines_iris["train"], out))  # fmt: skip
    pipeline.pipeline_experiment_config = PipelineExperimentConfig(mine, trial)
    execution, steps = run(pipeline)
    assert steps["Profile"]["StepStatus"] == "Succeeded", steps["Profile"]
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    # the trial still holds only what was put in it: the job joined nothing
    assert sm.describe_trial(TrialName=trial)["ExperimentName"] == theirs
    assert sm.list_trial_components(TrialName=trial)["TrialComponentSummaries"] == []
