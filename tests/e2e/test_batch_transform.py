"""The SageMaker SDK's Transformer, unmodified, against smlocal: AWS's batch-transform
data-capture flow (model.transformer(...).transform(..., wait=True))."""

from __future__ import annotations

import json
import time

from sklearn.datasets import load_iris

from tests.support import ROLE, XGBOOST_IMAGE


def test_the_sdk_transformer_runs_a_job_and_captures_it(
    smlocal_sagemaker_session, iris_model_data, capsys
) -> None:
    from sagemaker.inputs import BatchDataCaptureConfig
    from sagemaker.model import Model

    session = smlocal_sagemaker_session
    s3 = session.boto_session.client("s3", endpoint_url=session.s3_client.meta.endpoint_url)
    bucket = session.default_bucket()
    rows = "\n".join(",".join(str(v) for v in row) for row in load_iris(return_X_y=True)[0][:20])
    s3.put_object(Bucket=bucket, Key="transform-input/rows.csv", Body=rows)
    capture = f"s3://{bucket}/datacapture"
    model = Model(image_uri=XGBOOST_IMAGE, model_data=iris_model_data, role=ROLE,
                  sagemaker_session=session)  # fmt: skip
    transformer = model.transformer(
        instance_count=1, instance_type="ml.m4.xlarge", accept="text/csv", assemble_with="Line",
        output_path=f"s3://{bucket}/transform-output",
    )  # fmt: skip
    transformer.transform(
        f"s3://{bucket}/transform-input", content_type="text/csv", split_type="Line",
        join_source="Input",
        batch_data_capture_config=BatchDataCaptureConfig(
            destination_s3_uri=capture, generate_inference_id=True
        ),
        wait=True,
    )  # fmt: skip
    job = session.describe_transform_job(transformer.latest_transform_job.name)
    assert job["TransformJobStatus"] == "Completed"
    body = s3.get_object(Bucket=bucket, Key="transform-output/rows.csv.out")["Body"].read()
    lines = body.decode().splitlines()
    assert len(lines) == 20
    cells = lines[0].split(",")
    assert len(cells) == 4 + 1 + 2  # the input, the prediction, the inference id and time
    assert cells[-1].endswith("Z")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="datacapture/")["Contents"]]
    inputs = [k for k in keys if k.startswith("datacapture/input/")]
    outputs = [k for k in keys if k.startswith("datacapture/output/")]
    assert len(inputs) == 1
    assert len(outputs) == 1
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=outputs[0])["Body"].read())
    assert manifest == [{"prefix": f"s3://{bucket}/transform-output/"}, "rows.csv.out"]


def test_a_data_quality_schedule_reads_the_batch_captures(
    smlocal_sagemaker_session, iris_model_data
) -> None:
    """DefaultModelMonitor with a BatchTransformInput, as AWS's batch-transform data-quality
    notebook creates it (here a NOW schedule, to run at once): the execution analyses the
    files the transform job's input manifests name, against the baseline."""
    from sagemaker.inputs import BatchDataCaptureConfig
    from sagemaker.model import Model
    from sagemaker.model_monitor import (
        BatchTransformInput,
        CronExpressionGenerator,
        DefaultModelMonitor,
        MonitoringDatasetFormat,
    )
    from sagemaker.model_monitor.dataset_format import DatasetFormat

    session = smlocal_sagemaker_session
    s3 = session.boto_session.client("s3", endpoint_url=session.s3_client.meta.endpoint_url)
    bucket = session.default_bucket()
    features = load_iris(return_X_y=True)[0]
    header = "sepal_length,sepal_width,petal_length,petal_width"
    baseline = header + "\n" + "\n".join(",".join(str(v) for v in row) for row in features)
    s3.put_object(Bucket=bucket, Key="dq/baseline/iris.csv", Body=baseline)
    # sepal_length missing from every row: a completeness violation
    wide = ["," + ",".join(str(v) for v in row[1:]) for row in features[:30]]
    s3.put_object(Bucket=bucket, Key="dq/transform-input/rows.csv", Body="\n".join(wide))
    capture = f"s3://{bucket}/dq/datacapture"
    model = Model(image_uri=XGBOOST_IMAGE, model_data=iris_model_data, role=ROLE,
                  sagemaker_session=session)  # fmt: skip
    transformer = model.transformer(instance_count=1, instance_type="ml.m4.xlarge",
                                    accept="text/csv", assemble_with="Line",
                                    output_path=f"s3://{bucket}/dq/transform-output")  # fmt: skip
    transformer.transform(f"s3://{bucket}/dq/transform-input", content_type="text/csv",
                          split_type="Line", wait=True, logs=False,
                          batch_data_capture_config=BatchDataCaptureConfig(
                              destination_s3_uri=capture))  # fmt: skip
    monitor = DefaultModelMonitor(role=ROLE, instance_count=1, instance_type="ml.m5.xlarge",
                                  max_runtime_in_seconds=1800, sagemaker_session=session)  # fmt: skip
    monitor.suggest_baseline(
        baseline_dataset=f"s3://{bucket}/dq/baseline/iris.csv",
        dataset_format=DatasetFormat.csv(header=True),
        output_s3_uri=f"s3://{bucket}/dq/baseline-results", wait=True, logs=False,
    )  # fmt: skip
    monitor.create_monitoring_schedule(
        batch_transform_input=BatchTransformInput(
            data_captured_destination_s3_uri=capture,
            destination="/opt/ml/processing/input",
            dataset_format=MonitoringDatasetFormat.csv(header=False),
        ),
        output_s3_uri=f"s3://{bucket}/dq/reports",
        statistics=monitor.baseline_statistics(),
        constraints=monitor.suggested_constraints(),
        schedule_cron_expression=CronExpressionGenerator.now(),
        data_analysis_start_time="-PT1H",
        data_analysis_end_time="-PT0H",
        enable_cloudwatch_metrics=True,
    )  # fmt: skip
    described = monitor.describe_schedule()
    job_input = session.sagemaker_client.describe_data_quality_job_definition(
        JobDefinitionName=described["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"]
    )["DataQualityJobInput"]
    assert job_input["BatchTransformInput"]["DataCapturedDestinationS3Uri"] == capture
    assert "EndpointName" not in described
    executions = []
    for _ in range(600):
        executions = monitor.list_executions()
        if executions:
            break
        time.sleep(0.1)
    execution = executions[-1]
    execution.wait(logs=False)
    status = execution.describe()
    assert status["ProcessingJobStatus"] == "Completed", status.get("FailureReason")
    statistics = monitor.latest_monitoring_statistics().body_dict
    assert statistics["dataset"]["item_count"] == 30
    assert [f["name"] for f in statistics["features"]] == header.split(",")
    violations = monitor.latest_monitoring_constraint_violations().body_dict["violations"]
    assert {(v["feature_name"], v["constraint_check_type"]) for v in violations} == {
        ("sepal_length", "data_type_check"),  # the analyzer's words for a column all missing
        ("sepal_length", "completeness_check"),
    }
    cloudwatch = session.boto_session.client(
        "cloudwatch", endpoint_url=session.s3_client.meta.endpoint_url
    )
    listed = cloudwatch.list_metrics(
        Namespace="aws/sagemaker/ModelMonitoring/data-metrics",  # a batch transform's
        Dimensions=[{"Name": "MonitoringSchedule", "Value": described["MonitoringScheduleName"]}],
    )["Metrics"]
    assert "feature_non_null_petal_width" in {m["MetricName"] for m in listed}
    assert {d["Name"] for m in listed for d in m["Dimensions"]} == {"MonitoringSchedule"}


def test_a_model_quality_schedule_merges_the_batch_outputs_with_ground_truth(
    smlocal_sagemaker_session, iris_model_data
) -> None:
    """ModelQualityMonitor with a BatchTransformInput, as AWS's batch-transform model-quality
    notebook creates it (a NOW schedule here): the transform job appends an inference id to
    each output record, the ground truth names it, the execution merges and checks."""
    from datetime import UTC, datetime

    from sagemaker.inputs import BatchDataCaptureConfig
    from sagemaker.model import Model
    from sagemaker.model_monitor import (
        BatchTransformInput,
        CronExpressionGenerator,
        ModelQualityMonitor,
        MonitoringDatasetFormat,
    )
    from sagemaker.model_monitor.dataset_format import DatasetFormat

    session = smlocal_sagemaker_session
    s3 = session.boto_session.client("s3", endpoint_url=session.s3_client.meta.endpoint_url)
    bucket = session.default_bucket()
    features, labels = load_iris(return_X_y=True)
    rows = "\n".join(",".join(str(v) for v in row) for row in features[40:110])
    s3.put_object(Bucket=bucket, Key="mq/transform-input/rows.csv", Body=rows)
    capture = f"s3://{bucket}/mq/datacapture"
    model = Model(image_uri=XGBOOST_IMAGE, model_data=iris_model_data, role=ROLE,
                  sagemaker_session=session)  # fmt: skip
    transformer = model.transformer(instance_count=1, instance_type="ml.m4.xlarge",
                                    accept="text/csv", assemble_with="Line",
                                    output_path=f"s3://{bucket}/mq/transform-output")  # fmt: skip
    transformer.transform(f"s3://{bucket}/mq/transform-input", content_type="text/csv",
                          split_type="Line", join_source="Input", wait=True, logs=False,
                          batch_data_capture_config=BatchDataCaptureConfig(
                              destination_s3_uri=capture, generate_inference_id=True))  # fmt: skip
    body = s3.get_object(Bucket=bucket, Key="mq/transform-output/rows.csv.out")["Body"].read()
    outputs = [line.split(",") for line in body.decode().splitlines()]
    # as the notebook does: one label file per record, named by the record's inference id;
    # every tenth label is wrong
    hour = f"{datetime.now(UTC):%Y/%m/%d/%H}"
    for number, (record, label) in enumerate(zip(outputs, labels[40:110], strict=True)):
        value = (int(label) + (number % 10 == 0)) % 3
        line = {"groundTruthData": {"data": str(value), "encoding": "CSV"},
                "eventMetadata": {"eventId": record[-2]}, "eventVersion": "0"}  # fmt: skip
        s3.put_object(Bucket=bucket, Key=f"mq/gt/{hour}/{record[-2]}.jsonl", Body=json.dumps(line))
    baseline = "label,prediction\n" + "\n".join(f"{int(v)},{int(v)}" for v in labels)
    s3.put_object(Bucket=bucket, Key="mq/baseline/validation.csv", Body=baseline)
    monitor = ModelQualityMonitor(role=ROLE, instance_count=1, instance_type="ml.m5.xlarge",
                                  max_runtime_in_seconds=1800, sagemaker_session=session)  # fmt: skip
    monitor.suggest_baseline(
        baseline_dataset=f"s3://{bucket}/mq/baseline/validation.csv",
        dataset_format=DatasetFormat.csv(header=True), problem_type="MulticlassClassification",
        output_s3_uri=f"s3://{bucket}/mq/baseline-results", ground_truth_attribute="label",
        inference_attribute="prediction", wait=True, logs=False,
    )  # fmt: skip
    monitor.create_monitoring_schedule(
        batch_transform_input=BatchTransformInput(
            data_captured_destination_s3_uri=capture,
            destination="/opt/ml/processing/input",
            dataset_format=MonitoringDatasetFormat.csv(header=False),
            inference_attribute="4",  # after the 4 joined input columns
        ),
        ground_truth_input=f"s3://{bucket}/mq/gt",
        problem_type="MulticlassClassification",
        output_s3_uri=f"s3://{bucket}/mq/reports",
        constraints=monitor.suggested_constraints(),
        schedule_cron_expression=CronExpressionGenerator.now(),
        data_analysis_start_time="-PT1H",
        data_analysis_end_time="-PT0H",
        enable_cloudwatch_metrics=True,
    )  # fmt: skip
    described = monitor.describe_schedule()
    assert (described["MonitoringType"], "EndpointName" in described) == ("ModelQuality", False)
    executions = []
    for _ in range(600):
        executions = monitor.list_executions()
        if executions:
            break
        time.sleep(0.1)
    execution = executions[-1]
    execution.wait(logs=False)
    status = execution.describe()
    assert status["ProcessingJobStatus"] == "Completed", status.get("FailureReason")
    statistics = monitor.latest_monitoring_statistics().body_dict
    assert statistics["dataset"]["item_count"] == 70
    metrics = statistics["multiclass_classification_metrics"]
    predicted = [int(float(r[4])) for r in outputs]
    truth = [(int(v) + (n % 10 == 0)) % 3 for n, v in enumerate(labels[40:110])]
    accuracy = sum(p == t for p, t in zip(predicted, truth, strict=True)) / 70
    assert metrics["accuracy"]["value"] == accuracy
    assert accuracy < 1.0  # the baseline's is 1.0: a violation
    violations = monitor.latest_monitoring_constraint_violations().body_dict["violations"]
    assert "accuracy" in [v["metric_name"] for v in violations]
    assert {v["constraint_check_type"] for v in violations} == {"LessThanThreshold"}
