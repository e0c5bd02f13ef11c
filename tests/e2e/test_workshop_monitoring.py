"""The seed workshop's data-quality monitoring, through the unmodified SDK: 3 violations.

aws-samples/amazon-sagemaker-from-idea-to-production@6bf15f9, 06-monitoring.ipynb, run on AWS
on 2025-02-15/16: an XGBoost endpoint with Data Capture, a baseline suggested from the
59-column bank data without a header, a monitoring schedule with the workshop's record
preprocessor, compliant test rows and rows whose first column is -1. The scheduled execution
printed "CompletedWithViolations: Job completed successfully with 3 violations." and the
three were data_type_check on `_c0`, `_c12`, `_c1`. (smlocal used to report 16 to 21, with
drift on the same columns and a non-negativity check.)
"""

from __future__ import annotations

import random
import tarfile
from pathlib import Path

import numpy as np
import sagemaker
import xgboost as xgb
from sagemaker.model import Model
from sagemaker.model_monitor import CronExpressionGenerator, DataCaptureConfig, DefaultModelMonitor
from sagemaker.model_monitor.dataset_format import DatasetFormat
from sagemaker.predictor import Predictor
from sagemaker.s3 import S3Uploader
from sagemaker.serializers import CSVSerializer

from examples.common import ROLE, ensure_bucket
from examples.monitor_flow import wait_for_execution
from tests.model_monitor.monitor_helpers import WORKSHOP_PREPROCESSOR, bank_row

BUCKET = "workshop-monitoring"
NOT_INTEGRAL = (
    "Data type match requirement is not met. Expected data type: Integral, "
    "Expected match: 100.0%. Observed: Only 0.0% of data is Integral."
)


def _model(folder: Path, rows: list[list[int]]) -> Path:
    """A small binary XGBoost model over the 59 columns, as model.tar.gz."""
    features = np.array(rows, dtype=float)
    label = (features[:, 0] > 45).astype(float)  # any learnable target will do
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(features, label=label), 3)
    booster.save_model(str(folder / "xgboost-model.json"))
    (folder / "xgboost-model.json").rename(folder / "xgboost-model")
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "xgboost-model", arcname="xgboost-model")
    return archive


def test_the_seed_workshop_schedule_reports_three_data_type_violations(
    smlocal_sagemaker_session, tmp_path: Path
) -> None:
    session = smlocal_sagemaker_session
    ensure_bucket(session, BUCKET)
    rng = random.Random(1729)
    rows = [bank_row(rng) for _ in range(5000)]
    (tmp_path / "baseline.csv").write_text("\n".join(",".join(map(str, r)) for r in rows) + "\n")
    (tmp_path / "record_preprocessor.py").write_text(WORKSHOP_PREPROCESSOR)
    upload = lambda name, key: S3Uploader.upload(  # noqa: E731
        str(tmp_path / name), f"s3://{BUCKET}/{key}", sagemaker_session=session
    )
    model_data = upload(_model(tmp_path, rows).name, "model")
    baseline_uri, script_uri = (
        upload("baseline.csv", "baseline"),
        upload("record_preprocessor.py", "code"),
    )
    image = sagemaker.image_uris.retrieve("xgboost", session.boto_region_name, version="1.7-1")
    endpoint = "workshop-prod"
    Model(image_uri=image, model_data=model_data, role=ROLE, sagemaker_session=session).deploy(
        initial_instance_count=1, instance_type="ml.m5.large", endpoint_name=endpoint,
        data_capture_config=DataCaptureConfig(
            enable_capture=True, sampling_percentage=100,
            destination_s3_uri=f"s3://{BUCKET}/datacapture", sagemaker_session=session,
        ),
    )  # fmt: skip
    predictor = Predictor(endpoint, session, serializer=CSVSerializer())
    test_x = rng.sample(rows, 100)
    for row in test_x + [[-1, *r[1:]] for r in test_x]:  # compliant, then age -1 ("non-compliant")
        predictor.predict(",".join(map(str, row)))

    monitor = DefaultModelMonitor(
        role=ROLE, instance_count=1, instance_type="ml.m5.xlarge", volume_size_in_gb=20,
        max_runtime_in_seconds=3600, sagemaker_session=session,
    )  # fmt: skip
    monitor.suggest_baseline(
        baseline_dataset=baseline_uri,
        dataset_format=DatasetFormat.csv(header=False),
        output_s3_uri=f"s3://{BUCKET}/baseline/results",
        wait=True,
        logs=False,
    )
    monitor.create_monitoring_schedule(
        endpoint_input=endpoint,
        record_preprocessor_script=script_uri,
        output_s3_uri=f"s3://{BUCKET}/baseline/reports",
        statistics=monitor.baseline_statistics(),
        constraints=monitor.suggested_constraints(),
        schedule_cron_expression=CronExpressionGenerator.now(),
        data_analysis_start_time="-PT1H",
        data_analysis_end_time="-PT0H",
        enable_cloudwatch_metrics=True,
    )
    assert wait_for_execution(monitor) == "CompletedWithViolations"
    execution = monitor.list_executions()[-1]
    assert execution.describe()["ExitMessage"] == (
        "CompletedWithViolations: Job completed successfully with 3 violations."
    )
    assert sorted(
        (v["feature_name"], v["constraint_check_type"], v["description"])
        for v in execution.constraint_violations().body_dict["violations"]
    ) == [(name, "data_type_check", NOT_INTEGRAL) for name in ("_c0", "_c1", "_c12")]
    statistics = execution.statistics().body_dict
    assert statistics["dataset"]["item_count"] == 200
    monitor.delete_monitoring_schedule()
    predictor.delete_endpoint()
