"""The classic flow: train iris XGBoost, deploy it with Data Capture, predict, read captures.

Unmodified SageMaker Python SDK v2 code; only the environment points it at smlocal:

    smlocal up &            # or: make run
    export AWS_ENDPOINT_URL=http://127.0.0.1:4599 AWS_ACCESS_KEY_ID=test \\
           AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
    python -m examples.iris_xgboost_capture
"""

from __future__ import annotations

import json
import tarfile
import tempfile
import time
from pathlib import Path

import sagemaker
import xgboost as xgb
from sagemaker.deserializers import CSVDeserializer
from sagemaker.model import Model
from sagemaker.model_monitor import DataCaptureConfig
from sagemaker.predictor import Predictor
from sagemaker.s3 import S3Downloader, S3Uploader
from sagemaker.serializers import CSVSerializer
from sklearn.datasets import load_iris

from examples.common import ROLE, session_with_bucket

BUCKET = "iris-example-bucket"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]


def train_and_package(folder: Path) -> Path:
    """Train iris multi:softmax (2 rounds) and package it as SageMaker training would."""
    features, labels = load_iris(return_X_y=True)
    booster = xgb.train({"objective": "multi:softmax", "num_class": 3},
                        xgb.DMatrix(features, label=labels), num_boost_round=2)  # fmt: skip
    booster.save_model(str(folder / "xgboost-model.json"))
    (folder / "xgboost-model.json").rename(folder / "xgboost-model")
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "xgboost-model", arcname="xgboost-model")
    return archive


def run(session: sagemaker.Session, endpoint_name: str = "iris-xgb-capture") -> dict[str, object]:
    """Deploy, predict, read the captured records back; return what happened."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = train_and_package(Path(tmp))
        model_data = S3Uploader.upload(
            str(archive), f"s3://{BUCKET}/iris", sagemaker_session=session
        )
    image = sagemaker.image_uris.retrieve("xgboost", session.boto_region_name, version="1.7-1")
    capture_uri = f"s3://{BUCKET}/datacapture"
    model = Model(image_uri=image, model_data=model_data, role=ROLE, sagemaker_session=session)
    model.deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        endpoint_name=endpoint_name,
        data_capture_config=DataCaptureConfig(
            enable_capture=True,
            sampling_percentage=100,
            destination_s3_uri=capture_uri,
            sagemaker_session=session,
        ),
    )
    predictor = Predictor(
        endpoint_name, session, serializer=CSVSerializer(), deserializer=CSVDeserializer()
    )
    predictions = [predictor.predict(row) for row in ROWS]
    captured = read_captures(session, f"{capture_uri}/{endpoint_name}", len(ROWS))
    predictor.delete_endpoint()
    return {"predictions": predictions, "captured": captured}


def read_captures(
    session: sagemaker.Session, prefix: str, expected: int, timeout: float = 120
) -> list[dict]:
    """Capture files appear once the model server rolls them over; read every record."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = S3Downloader.list(prefix, sagemaker_session=session)
        records = [
            json.loads(line)
            for uri in files
            for line in S3Downloader.read_file(uri, sagemaker_session=session).splitlines()
        ]
        if len(records) >= expected:
            return records
        time.sleep(1)
    return []


def main() -> None:
    session = session_with_bucket(BUCKET)
    result = run(session)
    print("predictions:", result["predictions"])
    for record in result["captured"]:
        print(json.dumps(record))


if __name__ == "__main__":
    main()
