"""The SageMaker SDK's PipelineModel, unmodified: an SKLearnModel with a user inference
script feeding the XGBoost model, deployed with Data Capture and predicted through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib

from tests.e2e.test_multi_container import PREPROCESS, ROWS
from tests.support import ROLE, XGBOOST_IMAGE, unique


def test_pipeline_model_deploys_predicts_and_captures(
    smlocal: Any, smlocal_sagemaker_session: Any, iris_model_data: str, tmp_path: Path
) -> None:
    from sagemaker.deserializers import CSVDeserializer
    from sagemaker.model import Model
    from sagemaker.model_monitor import DataCaptureConfig
    from sagemaker.pipeline import PipelineModel
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer
    from sagemaker.sklearn.model import SKLearnModel
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    session = smlocal_sagemaker_session
    code = tmp_path / "code"
    code.mkdir()
    (code / "inference.py").write_text(PREPROCESS)
    features, _ = load_iris(return_X_y=True)
    (tmp_path / "model").mkdir()
    joblib.dump(StandardScaler().fit(features), tmp_path / "model" / "model.joblib")
    import tarfile

    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "model" / "model.joblib", arcname="model.joblib")
    pre_data = session.upload_data(str(tmp_path / "model.tar.gz"), key_prefix="pipeline-sdk/pre")

    sklearn_model = SKLearnModel(
        model_data=pre_data, role=ROLE, entry_point="inference.py", source_dir=str(code),
        framework_version="1.2-1", sagemaker_session=session,
    )  # fmt: skip
    xgb_model = Model(
        image_uri=XGBOOST_IMAGE, model_data=iris_model_data, role=ROLE, sagemaker_session=session
    )
    name = unique("pipeline-sdk")
    bucket = session.default_bucket()
    pipeline = PipelineModel(
        models=[sklearn_model, xgb_model],
        role=ROLE,
        name=name,
        sagemaker_session=session,
        predictor_cls=Predictor,
    )
    predictor = pipeline.deploy(
        initial_instance_count=1, instance_type="ml.m5.large", endpoint_name=name,
        serializer=CSVSerializer(), deserializer=CSVDeserializer(),
        data_capture_config=DataCaptureConfig(
            enable_capture=True, sampling_percentage=100,
            destination_s3_uri=f"s3://{bucket}/pipeline-sdk/capture",
        ),
    )  # fmt: skip
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    answer = predictor.predict(rows)
    assert len(answer) == 2

    described = session.sagemaker_client.describe_model(ModelName=name)
    assert [c["Image"].split("/")[-1].split(":")[0] for c in described["Containers"]] == [
        "sagemaker-scikit-learn", "sagemaker-xgboost",
    ]  # fmt: skip
    # the pipeline's input (what the SDK sent) and its final output are captured
    [record] = smlocal.captures(name)
    sent = record["captureData"]["endpointInput"]
    assert sent["observedContentType"] == "text/csv"
    assert sent["data"] == ROWS.rstrip("\n")
    got = record["captureData"]["endpointOutput"]["data"]
    assert [row.split(",") for row in got.strip().split("\n")] == answer
    predictor.delete_endpoint()
