"""The classic notebook: train the built-in XGBoost on iris, deploy with Data Capture, predict.

Unmodified SageMaker Python SDK v2 code (Estimator.fit, deploy, Predictor); only the
environment points it at smlocal:

    smlocal up &
    export AWS_ENDPOINT_URL=http://127.0.0.1:4599 AWS_ACCESS_KEY_ID=test \\
           AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
    python -m examples.train_deploy_capture
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import boto3
import sagemaker
from sagemaker.deserializers import CSVDeserializer
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model_monitor import DataCaptureConfig
from sagemaker.s3 import S3Uploader
from sagemaker.serializers import CSVSerializer
from sklearn.datasets import load_iris

from examples.iris_xgboost_capture import read_captures

BUCKET = "iris-training-example"
PREFIX = "iris-xgboost"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"  # any role ARN; SageMaker needs one
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]
HYPERPARAMETERS = {
    "objective": "multi:softmax",
    "num_class": 3,
    "num_round": 2,
    "max_depth": 3,
    "eval_metric": "merror",
}


def iris_csv(folder: Path) -> tuple[Path, Path]:
    """Iris as SageMaker's XGBoost wants it: label first, no header; every third row validates."""
    features, labels = load_iris(return_X_y=True)
    lines = [
        ",".join([str(int(label)), *(f"{value:g}" for value in row)])
        for row, label in zip(features, labels, strict=True)
    ]
    train, validation = folder / "train.csv", folder / "validation.csv"
    train.write_text("\n".join(line for i, line in enumerate(lines) if i % 3) + "\n")
    validation.write_text("\n".join(line for i, line in enumerate(lines) if i % 3 == 0) + "\n")
    return train, validation


def upload_data(session: sagemaker.Session) -> dict[str, str]:
    """Upload the two CSV files; their S3 prefixes by channel."""
    uris = {}
    with tempfile.TemporaryDirectory() as tmp:
        for channel, path in zip(("train", "validation"), iris_csv(Path(tmp)), strict=True):
            uris[channel] = S3Uploader.upload(
                str(path), f"s3://{BUCKET}/{PREFIX}/{channel}", sagemaker_session=session
            )
    return uris


def run(
    session: sagemaker.Session, endpoint_name: str = "iris-trained-capture"
) -> dict[str, object]:
    """Train, deploy with capture, predict, read the captures back; return what happened."""
    data = upload_data(session)
    image = sagemaker.image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1")
    estimator = Estimator(
        image_uri=image,
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{BUCKET}/{PREFIX}/output",
        hyperparameters=HYPERPARAMETERS,
        sagemaker_session=session,
    )
    estimator.fit(
        {
            "train": TrainingInput(data["train"], content_type="csv"),
            "validation": TrainingInput(data["validation"], content_type="csv"),
        }
    )
    job = session.describe_training_job(estimator.latest_training_job.name)
    capture_uri = f"s3://{BUCKET}/{PREFIX}/datacapture"
    predictor = estimator.deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        endpoint_name=endpoint_name,
        serializer=CSVSerializer(),
        deserializer=CSVDeserializer(),
        data_capture_config=DataCaptureConfig(
            enable_capture=True,
            sampling_percentage=100,
            destination_s3_uri=capture_uri,
            sagemaker_session=session,
        ),
    )
    predictions = [predictor.predict(row) for row in ROWS]
    captured = read_captures(session, f"{capture_uri}/{endpoint_name}", len(ROWS))
    predictor.delete_endpoint()
    return {
        "job": job,
        "model_data": estimator.model_data,
        "predictions": predictions,
        "captured": captured,
    }


def main() -> None:
    session = sagemaker.Session(boto3.Session(), default_bucket=BUCKET)
    s3 = session.boto_session.client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    result = run(session)
    print("model:", result["model_data"])
    print("predictions:", result["predictions"])
    for record in result["captured"]:  # type: ignore[attr-defined]
        print(json.dumps(record))


if __name__ == "__main__":
    main()
