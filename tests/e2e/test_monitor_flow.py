"""Model Monitor through the unmodified SageMaker SDK against the emulator."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from examples import monitor_flow
from examples.common import ensure_bucket


def test_baseline_schedule_now_and_the_data_type_violation(
    smlocal_sagemaker_session, smlocal
) -> None:
    session = smlocal_sagemaker_session
    ensure_bucket(session, monitor_flow.BUCKET)
    result = monitor_flow.run(session)
    assert result["status"] == "CompletedWithViolations"
    b_checks = [
        v
        for v in result["violations"]
        if v["feature_name"] == "b" and v["constraint_check_type"] == "data_type_check"
    ]
    assert b_checks == [
        {
            "feature_name": "b",
            "constraint_check_type": "data_type_check",
            "description": "Data type match requirement is not met. Expected data type: Integral, "
            "Expected match: 100.0%. Observed: Only 50.0% of data is Integral.",
        }
    ]
    assert not [v for v in result["violations"] if v["feature_name"] == "a"]
    statistics = result["statistics"].body_dict
    assert statistics["dataset"]["item_count"] == 20
    assert [f["name"] for f in statistics["features"]] == ["prediction", "a", "b"]
    execution = result["executions"][-1]
    assert execution.output.destination.split("/")[-4:-1][0].isdigit()  # .../yyyy/mm/dd/hh
    monitor, predictor = result["monitor"], result["predictor"]
    sm = smlocal.client("sagemaker")
    with pytest.raises(ClientError) as refused:
        sm.delete_endpoint(EndpointName=predictor.endpoint_name)
    assert refused.value.response["Error"]["Message"].startswith(
        f'Cannot delete endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/{predictor.endpoint_name}": '
        f"monitoring schedule(s) {monitor.monitoring_schedule_name} use it."
    )
    monitor.delete_monitoring_schedule()
    predictor.delete_endpoint()


def test_suggest_baseline_prints_the_job_log_and_the_sdk_reads_the_files(
    smlocal_sagemaker_session, capsys
) -> None:
    from sagemaker.model_monitor import DefaultModelMonitor
    from sagemaker.model_monitor.dataset_format import DatasetFormat

    session = smlocal_sagemaker_session
    s3 = session.boto_session.client("s3")
    s3.put_object(
        Bucket=session.default_bucket(),
        Key="logs-test/data.csv",
        Body=b"label,x\n0,1.5\n1,2.5\n0,3.0\n",
    )
    monitor = DefaultModelMonitor(
        role="arn:aws:iam::123456789012:role/R",
        instance_count=1,
        instance_type="ml.m5.xlarge",
        sagemaker_session=session,
    )
    monitor.suggest_baseline(
        baseline_dataset=f"s3://{session.default_bucket()}/logs-test/data.csv",
        dataset_format=DatasetFormat.csv(header=True),
        output_s3_uri=f"s3://{session.default_bucket()}/logs-test/out",
        wait=True,
        logs=True,
    )
    printed = capsys.readouterr().out
    assert "DefaultDataAnalyzer - INFO - Performing analysis with input:" in printed
    assert "Completed: Job completed successfully with no violations." in printed
    statistics = monitor.baseline_statistics().body_dict
    assert [f["name"] for f in statistics["features"]] == ["label", "x"]
    constraints = monitor.suggested_constraints().body_dict
    assert (
        constraints["monitoring_config"]["distribution_constraints"]["comparison_method"]
        == "Robust"
    )
