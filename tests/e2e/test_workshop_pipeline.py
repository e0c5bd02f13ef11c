"""The seed workshop's notebook 03 (SageMaker Pipelines) through the unmodified SDK.

aws-samples/amazon-sagemaker-from-idea-to-production, 03-sagemaker-pipeline.ipynb (SDK v2,
e301a6f), with the Session/role lines changed: preprocess (SKLearnProcessor) -> train (the
XGBoost algorithm) -> evaluate (a ScriptProcessor in the XGBoost image, its evaluation.json a
property file) -> a condition on the test AUC -> register the model with its metrics, or
fail; then the same pipeline with a model and a batch transform of the test rows beside the
registration (Experiments' PipelineExperimentConfig and the Lambda/Clarify imports unused).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline_sdk import run
from tests.workshop_pipeline import NAME, ROLE, prepare, start_parameters, workshop_pipeline

# As the notebook runs them: the SDK warns that a PipelineSession starts no job, and that
# ModelStep builds the steps it stands for (tests/pipeline_sdk.py's step_args does likewise).
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # fmt: skip


@pytest.fixture
def workshop(pipelines_session: Any, tmp_path: Path) -> dict[str, Any]:
    """The notebook's PipelineSession (its `execution.wait()` polls shortened), the data and
    scripts notebooks 00-02 leave, their S3 URLs."""
    urls = prepare(pipelines_session, tmp_path)
    return {"session": pipelines_session, "urls": urls, "folder": tmp_path}


def _read(session: Any, uri: str) -> str:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    s3 = session.boto_session.client("s3")
    return str(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())


def test_notebook_03_pipeline_registers_the_model_or_fails(workshop: dict[str, Any]) -> None:
    session, urls, name = workshop["session"], workshop["urls"], NAME
    pipeline = workshop_pipeline(session, urls, workshop["folder"])
    pipeline.upsert(role_arn=ROLE)
    definition = json.loads(pipeline.describe()["PipelineDefinition"])
    assert [s["Name"] for s in definition["Steps"]][-1] == f"{name}-check-test-score"

    execution, by_name = run(pipeline, **start_parameters(urls))
    described = execution.describe()
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    assert by_name[f"{name}-check-test-score"]["Metadata"]["Condition"]["Outcome"] == "True"
    assert f"{name}-fail" not in by_name
    report = json.loads(_read(session, f"{urls['evaluation']}/evaluation.json"))
    assert 0.75 < report["classification_metrics"]["auc_score"]["value"] <= 1
    baseline = _read(session, f"{urls['prediction_baseline']}/prediction_baseline.csv")
    assert baseline.splitlines()[0] == "prediction,probability,label"
    package = session.sagemaker_client.describe_model_package(
        ModelPackageName=by_name[f"{name}-register-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"])  # fmt: skip
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == (
        f"{urls['evaluation']}/evaluation.json")  # fmt: skip

    execution, by_name = run(pipeline, **start_parameters(urls, threshold=0.999))
    described = execution.describe()
    assert described["PipelineExecutionStatus"] == "Failed"
    assert by_name[f"{name}-fail"]["StepStatus"] == "Failed"
    failed = by_name[f"{name}-fail"]["Metadata"]["Fail"]["ErrorMessage"]
    assert failed == "Execution failed due to AUC Score > 0.999"


def test_notebook_03_pipeline_with_a_batch_transform(workshop: dict[str, Any]) -> None:
    session, urls, name = workshop["session"], workshop["urls"], NAME
    pipeline = workshop_pipeline(session, urls, workshop["folder"], transform=True)

    execution, by_name = run(pipeline, **start_parameters(urls))
    described = execution.describe()
    assert described["PipelineExecutionStatus"] == "Succeeded", [
        (s["StepName"], s.get("FailureReason")) for s in by_name.values()]  # fmt: skip
    arn = by_name[f"{name}-transform"]["Metadata"]["TransformJob"]["Arn"]
    job = session.sagemaker_client.describe_transform_job(TransformJobName=arn.rsplit("/", 1)[1])
    source = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert source == f"{urls['test']}/test_x.csv"
    assert job["TransformOutput"]["S3OutputPath"] == urls["transform"]
    scored = _read(session, f"{urls['transform']}/test_x.csv.out").split()
    labels = _read(session, f"{urls['test']}/test_y.csv").split()
    assert len(scored) == len(labels) == 300
    assert all(0 <= float(p) <= 1 for p in scored)
