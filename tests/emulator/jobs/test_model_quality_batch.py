"""Model-quality schedules with a BatchTransformInput, through boto3 against a real emulator:
a transform job with DataCaptureConfig GenerateInferenceId, ground truth naming its inference
ids, a NOW execution that merges the job's output records with the labels."""

from __future__ import annotations

import json
import random
import time
import urllib.request
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from sklearn.datasets import load_iris
from sklearn.metrics import accuracy_score

from tests.emulator.jobs.test_monitoring_jobs import ANALYZER
from tests.emulator.jobs.test_transform_jobs import model, wait_for  # noqa: F401 (fixture)
from tests.support import ROLE, unique

BUCKET = "mq-batch"
FEATURES, LABELS = load_iris(return_X_y=True)
PICKED = list(range(40, 110))  # the three classes


@pytest.fixture(scope="module")
def sm(smlocal):
    return smlocal.client("sagemaker")


@pytest.fixture(scope="module")
def s3(smlocal):
    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    rows = "\n".join(",".join(str(v) for v in FEATURES[i]) for i in PICKED)
    s3.put_object(Bucket=BUCKET, Key="input/rows.csv", Body=rows)
    return s3


def transform(sm, model: str, capture: str, generate_id: bool) -> dict:  # noqa: F811
    name = unique("mq-tj")
    sm.create_transform_job(
        TransformJobName=name, ModelName=model,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": f"s3://{BUCKET}/input"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{name}", "Accept": "text/csv",
                         "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        DataProcessing={"JoinSource": "Input"},
        DataCaptureConfig={"DestinationS3Uri": capture, "GenerateInferenceId": generate_id},
    )  # fmt: skip
    job = wait_for(sm, name)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    return job


def definition(sm, capture: str, ground_truth: str, **batch) -> str:
    name = unique("mq-batch-def")
    sm.create_model_quality_job_definition(
        JobDefinitionName=name,
        ModelQualityBaselineConfig={
            "ConstraintsResource": {"S3Uri": f"s3://{BUCKET}/baseline/constraints.json"}},
        ModelQualityAppSpecification={"ImageUri": ANALYZER,
                                      "ProblemType": "MulticlassClassification"},
        ModelQualityJobInput={
            "BatchTransformInput": {"DataCapturedDestinationS3Uri": capture,
                                    "DatasetFormat": {"Csv": {"Header": False}},
                                    "LocalPath": "/opt/ml/processing/input", **batch},
            "GroundTruthS3Input": {"S3Uri": ground_truth}},
        ModelQualityJobOutputConfig={"MonitoringOutputs": [{"S3Output": {
            "S3Uri": f"s3://{BUCKET}/reports", "LocalPath": "/opt/ml/processing/output"}}]},
        JobResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                        "VolumeSizeInGB": 20}},
        RoleArn=ROLE,
    )  # fmt: skip
    return name


def run_now(sm, name: str) -> dict:
    """A NOW schedule of the definition; its ended execution's summary (and its schedule's
    name under `schedule`)."""
    schedule = unique("mq-batch-now")
    sm.create_monitoring_schedule(MonitoringScheduleName=schedule, MonitoringScheduleConfig={
        "ScheduleConfig": {"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT1H",
                           "DataAnalysisEndTime": "-PT0H"},
        "MonitoringJobDefinitionName": name, "MonitoringType": "ModelQuality"})  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        found = sm.describe_monitoring_schedule(MonitoringScheduleName=schedule).get(
            "LastMonitoringExecutionSummary", {}
        )
        if found.get("MonitoringExecutionStatus") not in (None, "Pending", "InProgress"):
            return {**found, "schedule": schedule}
        assert time.monotonic() < deadline
        time.sleep(0.3)


def label(inference_id: str, value: str) -> str:
    return json.dumps({"groundTruthData": {"data": value, "encoding": "CSV"},
                       "eventMetadata": {"eventId": inference_id}, "eventVersion": "0"})  # fmt: skip


def test_an_execution_merges_the_transform_outputs_with_ground_truth(smlocal, sm, s3, model):  # noqa: F811
    capture = f"s3://{BUCKET}/capture-{unique('c')}"
    job = transform(sm, model, capture, generate_id=True)
    out = s3.get_object(Bucket=BUCKET, Key=f"out/{job['TransformJobName']}/rows.csv.out")
    records = [line.split(",") for line in out["Body"].read().decode().splitlines()]
    assert len(records) == len(PICKED)
    # the id names the record: labels in shuffled order, over two files; three labels wrong,
    # five records without a label, one label naming no record
    truth = {r[-2]: str(int(LABELS[i])) for r, i in zip(records, PICKED, strict=True)}
    wrong = [records[0][-2], records[20][-2], records[40][-2]]
    for inference_id in wrong:
        truth[inference_id] = str((int(truth[inference_id]) + 1) % 3)
    for record in records[-5:]:
        del truth[record[-2]]
    lines = [label(i, v) for i, v in truth.items()] + [label("no-such-id", "1")]
    random.Random(7).shuffle(lines)
    ground_truth = f"s3://{BUCKET}/gt-{unique('g')}"
    hour = f"{datetime.now(UTC):%Y/%m/%d/%H}"
    gt_key = ground_truth.removeprefix(f"s3://{BUCKET}/")
    s3.put_object(Bucket=BUCKET, Key=f"{gt_key}/{hour}/a.jsonl", Body="\n".join(lines[:30]))
    s3.put_object(Bucket=BUCKET, Key=f"{gt_key}/{hour}/b.jsonl", Body="\n".join(lines[30:]))
    predicted = {r[-2]: r[4] for r in records}
    expected = accuracy_score(
        [float(v) for v in truth.values()], [float(predicted[i]) for i in truth]
    )
    assert expected < 1.0
    constraints = {"version": 0.0, "multiclass_classification_constraints": {
        "accuracy": {"threshold": 0.99, "comparison_operator": "LessThanThreshold"}}}  # fmt: skip
    s3.put_object(Bucket=BUCKET, Key="baseline/constraints.json", Body=json.dumps(constraints))
    name = definition(sm, capture, ground_truth, InferenceAttribute="4")
    described = sm.describe_model_quality_job_definition(JobDefinitionName=name)
    assert described["ModelQualityJobInput"]["BatchTransformInput"]["InferenceAttribute"] == "4"
    listed = sm.list_model_quality_job_definitions(NameContains=name)["JobDefinitionSummaries"]
    assert "EndpointName" not in listed[0]

    found = run_now(sm, name)
    assert (found["MonitoringExecutionStatus"], found["MonitoringType"]) == (
        "CompletedWithViolations",
        "ModelQuality",
    ), found.get("FailureReason")
    assert "EndpointName" not in found
    processing = sm.describe_processing_job(
        ProcessingJobName=found["ProcessingJobArn"].rsplit("/", 1)[1]
    )
    [batch] = [i for i in processing["ProcessingInputs"] if i["InputName"].startswith("batch")]
    assert batch["S3Input"]["S3Uri"] == f"{capture}/output"  # the .out files, not the inputs
    assert processing["Environment"]["inference_attribute"] == "4"
    output = processing["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    bucket, key = output.removeprefix("s3://").split("/", 1)
    statistics = json.loads(
        s3.get_object(Bucket=bucket, Key=f"{key}/statistics.json")["Body"].read()
    )
    assert statistics["dataset"]["item_count"] == len(truth)
    metrics = statistics["multiclass_classification_metrics"]
    assert metrics["accuracy"]["value"] == pytest.approx(expected)
    violations = json.loads(
        s3.get_object(Bucket=bucket, Key=f"{key}/constraint_violations.json")["Body"].read()
    )["violations"]
    assert [v["metric_name"] for v in violations] == ["accuracy"]
    log = smlocal.client("logs").filter_log_events(logGroupName="/aws/sagemaker/ProcessingJobs",
        logStreamNamePrefix=processing["ProcessingJobName"])  # fmt: skip
    merged = f"Merged {len(truth)} of {len(records)} captured records with ground truth: 5 "
    assert any(merged in e["message"] for e in log["events"]), log["events"]
    assert any("1 ground truth records match no" in e["message"] for e in log["events"])
    # CloudWatch: the batch namespace, the schedule's dimension only
    listed = smlocal.client("cloudwatch").list_metrics(
        Namespace="aws/sagemaker/ModelMonitoring/model-metrics",
        Dimensions=[{"Name": "MonitoringSchedule", "Value": found["schedule"]}],
    )["Metrics"]
    assert "accuracy" in {m["MetricName"] for m in listed}
    assert {d["Name"] for m in listed for d in m["Dimensions"]} == {"MonitoringSchedule"}
    # the console's report page of the execution: the model-quality page
    report = (
        f"{smlocal.url}/_smlocal/monitoring/executions/{processing['ProcessingJobName']}/report"
    )
    with urllib.request.urlopen(report, timeout=60) as response:
        page = response.read().decode()
    assert "<dd>MulticlassClassification</dd>" in page
    assert "<td>accuracy</td><td><code>LessThanThreshold</code></td>" in page
    assert '<h2 id="confusion">Confusion matrix</h2>' in page


def test_without_inference_ids_the_execution_says_why_nothing_merged(sm, s3, model) -> None:  # noqa: F811
    capture = f"s3://{BUCKET}/capture-{unique('c')}"
    job = transform(sm, model, capture, generate_id=False)
    out = s3.get_object(Bucket=BUCKET, Key=f"out/{job['TransformJobName']}/rows.csv.out")
    first = out["Body"].read().decode().splitlines()[0].split(",")
    assert len(first) == 5  # the input and the prediction: no inference id, no time
    ground_truth = f"s3://{BUCKET}/gt-{unique('g')}"
    gt_key = ground_truth.removeprefix(f"s3://{BUCKET}/")
    s3.put_object(Bucket=BUCKET, Key=f"{gt_key}/{datetime.now(UTC):%Y/%m/%d/%H}/a.jsonl",
                  Body=label("some-id", "1"))  # fmt: skip
    found = run_now(sm, definition(sm, capture, ground_truth, InferenceAttribute="4"))
    assert found["MonitoringExecutionStatus"] == "Failed"
    assert f"none of the {len(PICKED)} transform output records" in found["FailureReason"]
    assert "GenerateInferenceId" in found["FailureReason"]


@pytest.mark.parametrize(
    ("job_input", "message"),
    [
        (
            {"EndpointInput": {"EndpointName": "e", "LocalPath": "/opt/ml/processing/input"},
             "BatchTransformInput": {"DataCapturedDestinationS3Uri": f"s3://{BUCKET}/c",
                                     "DatasetFormat": {"Csv": {}},
                                     "LocalPath": "/opt/ml/processing/input"}},
            "ModelQualityJobInput needs exactly one of EndpointInput and BatchTransformInput.",
        ),
        (
            {},
            "ModelQualityJobInput needs exactly one of EndpointInput and BatchTransformInput.",
        ),
        (
            {"BatchTransformInput": {"DataCapturedDestinationS3Uri": f"s3://{BUCKET}/c",
                                     "DatasetFormat": {"Parquet": {}},
                                     "LocalPath": "/opt/ml/processing/input"}},
            "smlocal monitors the model quality of batch transform output in Csv or Json "
            "datasets; Parquet is not emulated.",
        ),
    ],
)  # fmt: skip
def test_a_bad_input_is_refused(sm, job_input, message) -> None:
    with pytest.raises(ClientError) as caught:
        sm.create_model_quality_job_definition(
            JobDefinitionName=unique("bad"),
            ModelQualityAppSpecification={"ImageUri": ANALYZER, "ProblemType": "Regression"},
            ModelQualityJobInput={**job_input,
                                  "GroundTruthS3Input": {"S3Uri": f"s3://{BUCKET}/gt"}},
            ModelQualityJobOutputConfig={"MonitoringOutputs": [{"S3Output": {
                "S3Uri": f"s3://{BUCKET}/reports", "LocalPath": "/opt/ml/processing/output"}}]},
            JobResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                            "VolumeSizeInGB": 20}},
            RoleArn=ROLE,
        )  # fmt: skip
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["Error"]["Message"] == message


# A scikit-learn container script answering each JSON Lines record {"x": v} with {"score": v}.
SCORING_SCRIPT = """
import json


def model_fn(model_dir):
    return None


def input_fn(body, content_type):
    text = body if isinstance(body, str) else body.decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def predict_fn(rows, model):
    return rows


def output_fn(rows, accept):
    return "".join(json.dumps({"score": row["x"]}) + "\\n" for row in rows)
"""


def test_json_lines_outputs_are_merged_by_sagemaker_inference_id(sm, s3) -> None:
    """A JSON Lines transform job: GenerateInferenceId puts SageMakerInferenceId first in each
    output object; ProbabilityAttribute is a JSONPath into it."""
    import io
    import tarfile

    from tests.support import SKLEARN_IMAGE, SKLEARN_SCRIPT_ENV

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(SCORING_SCRIPT.encode())
        tar.addfile(info, io.BytesIO(SCORING_SCRIPT.encode()))
    s3.put_object(Bucket=BUCKET, Key="models/scoring.tar.gz", Body=archive.getvalue())
    scoring = unique("scoring")
    sm.create_model(ModelName=scoring, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": SKLEARN_IMAGE, "ModelDataUrl": f"s3://{BUCKET}/models/scoring.tar.gz",
        "Environment": SKLEARN_SCRIPT_ENV})  # fmt: skip
    scores = [0.9, 0.2, 0.7, 0.4, 0.8]
    labels = [1, 0, 0, 1, 1]  # at 0.5: tp, tn, fp, fn, tp
    s3.put_object(Bucket=BUCKET, Key="json-input/rows.jsonl",
                  Body="".join(json.dumps({"x": s}) + "\n" for s in scores))  # fmt: skip
    capture = f"s3://{BUCKET}/capture-{unique('j')}"
    name = unique("mq-json-tj")
    sm.create_transform_job(
        TransformJobName=name, ModelName=scoring,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": f"s3://{BUCKET}/json-input"}},
                        "ContentType": "application/jsonlines", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{name}",
                         "Accept": "application/jsonlines", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        DataCaptureConfig={"DestinationS3Uri": capture, "GenerateInferenceId": True},
    )  # fmt: skip
    job = wait_for(sm, name)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    body = s3.get_object(Bucket=BUCKET, Key=f"out/{name}/rows.jsonl.out")["Body"].read()
    records = [json.loads(line) for line in body.decode().splitlines()]
    assert [r["score"] for r in records] == scores
    ground_truth = f"s3://{BUCKET}/gt-{unique('g')}"
    gt_key = ground_truth.removeprefix(f"s3://{BUCKET}/")
    lines = [label(r["SageMakerInferenceId"], str(v)) for r, v in zip(records, labels, strict=True)]
    s3.put_object(Bucket=BUCKET, Key=f"{gt_key}/{datetime.now(UTC):%Y/%m/%d/%H}/a.jsonl",
                  Body="\n".join(lines))  # fmt: skip
    definition_name = unique("mq-json-def")
    sm.create_model_quality_job_definition(
        JobDefinitionName=definition_name,
        ModelQualityAppSpecification={"ImageUri": ANALYZER, "ProblemType": "BinaryClassification"},
        ModelQualityJobInput={
            "BatchTransformInput": {"DataCapturedDestinationS3Uri": capture,
                                    "DatasetFormat": {"Json": {"Line": True}},
                                    "LocalPath": "/opt/ml/processing/input",
                                    "ProbabilityAttribute": "$.score",
                                    "ProbabilityThresholdAttribute": 0.5},
            "GroundTruthS3Input": {"S3Uri": ground_truth}},
        ModelQualityJobOutputConfig={"MonitoringOutputs": [{"S3Output": {
            "S3Uri": f"s3://{BUCKET}/reports", "LocalPath": "/opt/ml/processing/output"}}]},
        JobResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                        "VolumeSizeInGB": 20}},
        RoleArn=ROLE,
    )  # fmt: skip
    found = run_now(sm, definition_name)
    assert found["MonitoringExecutionStatus"] == "Completed", found.get("FailureReason")
    processing = sm.describe_processing_job(
        ProcessingJobName=found["ProcessingJobArn"].rsplit("/", 1)[1]
    )
    output = processing["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    bucket, key = output.removeprefix("s3://").split("/", 1)
    statistics = json.loads(
        s3.get_object(Bucket=bucket, Key=f"{key}/statistics.json")["Body"].read()
    )
    metrics = statistics["binary_classification_metrics"]
    assert metrics["confusion_matrix"] == {"0": {"0": 1, "1": 1}, "1": {"0": 1, "1": 2}}
    assert metrics["accuracy"]["value"] == pytest.approx(3 / 5)
