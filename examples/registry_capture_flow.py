"""Model registry → deploy → turn capture on → good and bad requests.

The second classic flow, with the unmodified SageMaker Python SDK v2: register a model
version, deploy the approved package, switch Data Capture on with
`update_data_capture_config` (a blue/green UpdateEndpoint), then send a good request and a
bad one. Run against smlocal like examples/iris_xgboost_capture.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import sagemaker
from botocore.exceptions import ClientError
from sagemaker.model import Model, ModelPackage
from sagemaker.model_monitor import DataCaptureConfig
from sagemaker.predictor import Predictor
from sagemaker.s3 import S3Uploader
from sagemaker.serializers import CSVSerializer

from examples.common import ROLE, session_with_bucket
from examples.iris_xgboost_capture import BUCKET, read_captures, train_and_package

GROUP = "iris-models"


def run(session: sagemaker.Session, endpoint_name: str = "iris-registry") -> dict[str, object]:
    """Register, deploy, enable capture, invoke; return what happened."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = train_and_package(Path(tmp))
        model_data = S3Uploader.upload(
            str(archive), f"s3://{BUCKET}/registry", sagemaker_session=session
        )
    image = sagemaker.image_uris.retrieve("xgboost", session.boto_region_name, version="1.7-1")
    registered = Model(image_uri=image, model_data=model_data, role=ROLE, sagemaker_session=session)
    package = registered.register(
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=["ml.m5.large"],
        transform_instances=["ml.m5.large"],
        model_package_group_name=GROUP,
    )
    ModelPackage(
        role=ROLE, model_package_arn=package.model_package_arn, sagemaker_session=session
    ).deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name=endpoint_name)
    predictor = Predictor(endpoint_name, session, serializer=CSVSerializer())
    capture_uri = f"s3://{BUCKET}/registry-capture"
    predictor.update_data_capture_config(
        DataCaptureConfig(
            enable_capture=True,
            sampling_percentage=100,
            destination_s3_uri=capture_uri,
            sagemaker_session=session,
        )
    )
    good = predictor.predict("7.7,3.0,6.1,2.3")
    try:
        predictor.predict("7.7,3.0,not-a-number,2.3")
        bad = None
    except ClientError as error:
        bad = error.response
    captured = read_captures(session, f"{capture_uri}/{endpoint_name}", 1)
    described = session.sagemaker_client.describe_endpoint(EndpointName=endpoint_name)
    predictor.delete_endpoint()
    return {
        "package": package.model_package_arn,
        "good": good,
        "bad": bad,
        "captured": captured,
        "capture": described.get("DataCaptureConfig"),
    }


def main() -> None:
    session = session_with_bucket(BUCKET)
    result = run(session)
    print("model package:", result["package"])
    print("good answer:", result["good"])
    print("bad answer:", result["bad"]["Error"] if result["bad"] else None)
    print("captured:", result["captured"])


if __name__ == "__main__":
    main()
