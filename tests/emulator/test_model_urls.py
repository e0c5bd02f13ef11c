"""ModelDataUrl in every S3 URL form, and code repacked at /opt/ml/model/code, through boto3."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from tests.support import ROLE, SKLEARN_IMAGE, XGBOOST_IMAGE, deploy, unique, wait_for_status

BUCKET = "model-urls"
REGION = "us-east-1"

INFERENCE = b"""
import os

def model_fn(model_dir):
    with open(os.path.join(model_dir, "answer.txt")) as f:
        return f.read()

def transform_fn(model, body, content_type, accept):
    return model
"""


def repacked_tar() -> bytes:
    """A model.tar.gz laid out as the SDK repacks it: model files plus code/inference.py."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in (("answer.txt", b"from repacked code"), ("code/inference.py", INFERENCE)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture(scope="module")
def uploaded(smlocal, iris_tar: Path) -> str:  # type: ignore[no-untyped-def]
    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.upload_file(str(iris_tar), BUCKET, "prefix/xgb-churn-prediction-model.tar.gz")
    s3.put_object(Bucket=BUCKET, Key="repacked/model.tar.gz", Body=repacked_tar())
    return "prefix/xgb-churn-prediction-model.tar.gz"


HTTPS_FORMS = [
    # the form of AWS's Model Monitor introduction notebook (sm-model_monitor_introduction)
    "https://{b}.s3-{r}.amazonaws.com/{k}",
    "https://{b}.s3.{r}.amazonaws.com/{k}",
    "https://s3.{r}.amazonaws.com/{b}/{k}",
    "https://s3-{r}.amazonaws.com/{b}/{k}",
    "https://{b}.s3.amazonaws.com/{k}",
    "https://s3.amazonaws.com/{b}/{k}",
    "https://{b}.s3.dualstack.{r}.amazonaws.com/{k}",
]


@pytest.mark.parametrize("form", HTTPS_FORMS)
def test_https_model_data_urls_serve(smlocal, uploaded: str, form: str) -> None:  # type: ignore[no-untyped-def]
    sm, runtime = smlocal.client("sagemaker"), smlocal.client("sagemaker-runtime")
    url = form.format(b=BUCKET, r=REGION, k=uploaded)
    name = unique("https-url")
    described = deploy(sm, name, [{"name": "AllTraffic", "model_data": url}])
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    answer = runtime.invoke_endpoint(
        EndpointName=name, ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2"
    )
    assert answer["Body"].read().strip() == b"0.0"
    sm.delete_endpoint(EndpointName=name)


def test_a_url_that_is_not_s3_fails_the_endpoint(smlocal, uploaded: str) -> None:  # type: ignore[no-untyped-def]
    sm = smlocal.client("sagemaker")
    url = f"https://{BUCKET}.s3.amazonaws.com.evil.example/{uploaded}"
    described = deploy(sm, unique("evil-url"), [{"name": "AllTraffic", "model_data": url}])
    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"] == (
        "Failed to download model data for production variant AllTraffic: "
        f"{url} is not an Amazon S3 URL (s3://BUCKET/KEY or "
        "https://BUCKET.s3.REGION.amazonaws.com/KEY)"
    )


SUBMIT = {"SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code", "SAGEMAKER_PROGRAM": "inference.py"}


def test_code_repacked_at_opt_ml_model_code_serves(smlocal, uploaded: str) -> None:  # type: ignore[no-untyped-def]
    sm, runtime = smlocal.client("sagemaker"), smlocal.client("sagemaker-runtime")
    name = unique("repacked")
    variant: dict[str, object] = {
        "name": "AllTraffic",
        "model_data": f"s3://{BUCKET}/repacked/model.tar.gz",
        "image": SKLEARN_IMAGE,
        "env": SUBMIT,
    }
    described = deploy(sm, name, [variant])
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    answer = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=b"1")
    assert answer["Body"].read() == b"from repacked code"
    sm.delete_endpoint(EndpointName=name)


def test_a_model_package_with_repacked_code_serves(smlocal, uploaded: str) -> None:  # type: ignore[no-untyped-def]
    sm, runtime = smlocal.client("sagemaker"), smlocal.client("sagemaker-runtime")
    group = unique("repacked-group")
    sm.create_model_package_group(ModelPackageGroupName=group)
    arn = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": SKLEARN_IMAGE,
                    "ModelDataUrl": f"https://{BUCKET}.s3.{REGION}.amazonaws.com/repacked/model.tar.gz",
                    "Environment": SUBMIT,
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    name = unique("package")
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": arn}])
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_for_status(sm, name)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    answer = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=b"1")
    assert answer["Body"].read() == b"from repacked code"
    sm.delete_endpoint(EndpointName=name)


def _source(uri: str, data_type: str = "S3Object", compression: str = "Gzip") -> dict[str, object]:
    return {"S3DataSource": {"S3Uri": uri, "S3DataType": data_type, "CompressionType": compression}}


def test_a_model_data_source_serves_as_model_data_url_does(smlocal, uploaded: str) -> None:  # type: ignore[no-untyped-def]
    # What the SDK's Session.create_model_from_job sends (the workshop's batch transform).
    sm, runtime = smlocal.client("sagemaker"), smlocal.client("sagemaker-runtime")
    name = unique("data-source")
    container = {"Image": XGBOOST_IMAGE, "ModelDataSource": _source(f"s3://{BUCKET}/{uploaded}")}
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)
    assert sm.describe_model(ModelName=name)["PrimaryContainer"] == container
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}])  # fmt: skip
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_for_status(sm, name)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    answer = runtime.invoke_endpoint(
        EndpointName=name, ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2"
    )
    assert answer["Body"].read().strip() == b"0.0"
    sm.delete_endpoint(EndpointName=name)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"ModelDataSource": _source("s3://b/prefix/", "S3Prefix", "None")},
         "smlocal loads model data from a model.tar.gz only: ModelDataSource.S3DataSource "
         "needs S3DataType S3Object and CompressionType Gzip."),
        ({"ModelDataSource": _source("s3://b/m.tar.gz"), "ModelDataUrl": "s3://b/m.tar.gz"},
         "Either ModelDataUrl or ModelDataSource can be specified, but not both."),
    ],
)  # fmt: skip
def test_model_data_sources_smlocal_cannot_load_are_refused(smlocal, extra, message) -> None:  # type: ignore[no-untyped-def]
    from botocore.exceptions import ClientError

    sm = smlocal.client("sagemaker")
    with pytest.raises(ClientError) as refused:
        sm.create_model(ModelName=unique("bad-source"), ExecutionRoleArn=ROLE,
                        PrimaryContainer={"Image": XGBOOST_IMAGE, **extra})  # fmt: skip
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == message
