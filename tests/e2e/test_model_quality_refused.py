"""A model-quality baseline through the real SDK fails with a clear reason (issue 10, item 8):
smlocal's analyzer computes data quality only and never labels it as another analysis."""

from __future__ import annotations

import pytest


def test_model_quality_suggest_baseline_fails_and_writes_nothing(smlocal_sagemaker_session) -> None:
    from sagemaker.exceptions import UnexpectedStatusException
    from sagemaker.model_monitor import ModelQualityMonitor
    from sagemaker.model_monitor.dataset_format import DatasetFormat

    session = smlocal_sagemaker_session
    bucket = session.default_bucket()
    s3 = session.boto_session.client("s3")
    s3.put_object(
        Bucket=bucket, Key="mq/data.csv", Body=b"prediction,probability,label\n1,0.9,1\n0,0.2,1\n"
    )
    monitor = ModelQualityMonitor(
        role="arn:aws:iam::123456789012:role/R",
        instance_count=1,
        instance_type="ml.m5.xlarge",
        sagemaker_session=session,
    )
    with pytest.raises(UnexpectedStatusException) as caught:
        monitor.suggest_baseline(
            baseline_dataset=f"s3://{bucket}/mq/data.csv",
            dataset_format=DatasetFormat.csv(header=True),
            output_s3_uri=f"s3://{bucket}/mq/out",
            problem_type="BinaryClassification",
            inference_attribute="prediction",
            probability_attribute="probability",
            ground_truth_attribute="label",
            wait=True,
            logs=False,
        )
    reason = (
        "analysis_type='MODEL_QUALITY': smlocal's analyzer computes data quality only "
        "(no analysis_type, or DATA_QUALITY); MODEL_QUALITY is not emulated."
    )
    assert reason in str(caught.value)
    job = session.sagemaker_client.describe_processing_job(
        ProcessingJobName=monitor.latest_baselining_job_name
    )
    assert (job["ProcessingJobStatus"], job["FailureReason"]) == ("Failed", reason)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="mq/out")
