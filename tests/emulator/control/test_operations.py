"""The control plane through boto3 against a real emulator: every operation and its errors."""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support import ROLE, XGBOOST_IMAGE, deploy, unique, wait_for_status


@pytest.fixture(scope="module")
def sm(smlocal):
    return smlocal.client("sagemaker")


@pytest.fixture(scope="module")
def sm_unchecked(smlocal):
    """A client that skips botocore's own client-side checks, to reach the server's."""
    return smlocal.client("sagemaker", config=Config(parameter_validation=False))


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:123456789012:{kind}/{name.lower()}"


def test_models_create_describe_list_delete(sm, iris_model_data) -> None:
    name = unique("Model-Case")
    created = sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": iris_model_data},
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    assert created["ModelArn"] == arn("model", name)
    described = sm.describe_model(ModelName=name)
    assert described["ModelName"] == name
    assert described["PrimaryContainer"] == {
        "Image": XGBOOST_IMAGE,
        "ModelDataUrl": iris_model_data,
    }
    assert described["ExecutionRoleArn"] == ROLE
    assert name in [m["ModelName"] for m in sm.list_models(NameContains=name)["Models"]]
    assert sm.list_tags(ResourceArn=created["ModelArn"])["Tags"] == [{"Key": "team", "Value": "ml"}]
    code, message = error_of(
        sm.create_model,
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_IMAGE},
    )
    assert (code, message) == (
        "ValidationException",
        f'Cannot create already existing model "{arn("model", name)}".',
    )
    sm.delete_model(ModelName=name)
    code, message = error_of(sm.describe_model, ModelName=name)
    assert (code, message) == (
        "ValidationException",
        f'Could not find model "{arn("model", name)}".',
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"ModelName": "bad name", "PrimaryContainer": {"Image": XGBOOST_IMAGE}},
            "1 validation error detected: Value 'bad name' at 'modelName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?$",
        ),
        (
            {"ModelName": "m" * 64, "PrimaryContainer": {"Image": XGBOOST_IMAGE}},
            f"1 validation error detected: Value '{'m' * 64}' at 'modelName' failed to satisfy "
            "constraint: Member must have length less than or equal to 63",
        ),
        (
            {"ModelName": "no-container-model"},
            "Either PrimaryContainer or Containers must be specified.",
        ),
        (
            {"ModelName": "no-image-model", "PrimaryContainer": {"ModelDataUrl": "s3://b/k"}},
            "A container must specify Image or ModelPackageName.",
        ),
    ],
)
def test_bad_models_get_aws_errors_and_nothing_is_stored(sm, sm_unchecked, kwargs, message) -> None:
    assert error_of(sm_unchecked.create_model, **kwargs) == ("ValidationException", message)
    stored = [m["ModelName"] for m in sm.list_models(MaxResults=100)["Models"]]
    assert kwargs["ModelName"] not in stored


def test_endpoint_config_needs_existing_models_and_unique_variants(sm, iris_model_data) -> None:
    name = unique("cfg")
    code, message = error_of(
        sm.create_endpoint_config,
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "A",
                "ModelName": "missing-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    assert (code, message) == (
        "ValidationException",
        f'Could not find model "{arn("model", "missing-model")}".',
    )
    model = unique("m")
    sm.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": iris_model_data},
    )
    variant = {
        "VariantName": "A",
        "ModelName": model,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    code, message = error_of(
        sm.create_endpoint_config, EndpointConfigName=name, ProductionVariants=[variant, variant]
    )
    assert (code, message) == (
        "ValidationException",
        "The production variant names of an endpoint config must be unique.",
    )
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 50,
        "DestinationS3Uri": "s3://captures/x",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }
    sm.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[variant], DataCaptureConfig=capture
    )
    described = sm.describe_endpoint_config(EndpointConfigName=name)
    assert described["DataCaptureConfig"] == capture
    assert described["ProductionVariants"][0]["InitialVariantWeight"] == 1.0
    code, message = error_of(
        sm.create_endpoint_config, EndpointConfigName=name, ProductionVariants=[variant]
    )
    assert (
        message
        == f'Cannot create already existing endpoint configuration "{arn("endpoint-config", name)}".'
    )
    code, message = error_of(
        sm.create_endpoint_config,
        EndpointConfigName=unique("cfg"),
        ProductionVariants=[variant],
        DataCaptureConfig={**capture, "InitialSamplingPercentage": 101},
    )
    assert (code, message) == (
        "ValidationException",
        "1 validation error detected: Value '101' at 'dataCaptureConfig.initialSamplingPercentage' "
        "failed to satisfy constraint: Member must have value less than or equal to 100",
    )
    sm.delete_endpoint_config(EndpointConfigName=name)
    assert error_of(sm.describe_endpoint_config, EndpointConfigName=name)[1] == (
        f'Could not find endpoint configuration "{arn("endpoint-config", name)}".'
    )


def test_endpoint_lifecycle_and_listing(sm, smlocal, iris_model_data) -> None:
    name = unique("Ep")
    sm.create_model(
        ModelName=f"{name}-m",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": iris_model_data},
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-m",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    created = sm.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=[])
    assert created["EndpointArn"] == arn("endpoint", name)
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] in ("Creating", "InService")
    described = wait_for_status(sm, name)
    assert described["EndpointStatus"] == "InService"
    variant = described["ProductionVariants"][0]
    assert variant["VariantName"] == "AllTraffic"
    assert variant["CurrentWeight"] == 1.0
    assert variant["DeployedImages"][0]["SpecifiedImage"] == XGBOOST_IMAGE
    assert "DataCaptureConfig" not in described
    _, message = error_of(sm.create_endpoint, EndpointName=name.lower(), EndpointConfigName=name)
    assert message == f'Cannot create already existing endpoint "{arn("endpoint", name)}".'
    listed = sm.list_endpoints(NameContains=name, StatusEquals="InService")["Endpoints"]
    assert [e["EndpointName"] for e in listed] == [name]
    sm.delete_endpoint(EndpointName=name)
    waiter = sm.get_waiter("endpoint_deleted")
    waiter.wait(EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert (
        error_of(sm.delete_endpoint, EndpointName=name)[1]
        == f'Could not find endpoint "{arn("endpoint", name)}".'
    )


def test_unsupported_image_fails_with_a_reason(sm, iris_model_data) -> None:
    name = unique("byoc")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own-model:latest"
    described = deploy(
        sm, name, [{"name": "AllTraffic", "model_data": iris_model_data, "image": image}]
    )
    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"] == (
        f"Image {image} of production variant AllTraffic needs Docker: without it smlocal runs "
        "only SageMaker's XGBoost and scikit-learn images (repositories sagemaker-xgboost and "
        "sagemaker-scikit-learn). Start smlocal with --backend docker to run other images."
    )
    _, message = error_of(sm.update_endpoint, EndpointName=name, EndpointConfigName=name)
    assert (
        message
        == f'Cannot update endpoint "{arn("endpoint", name)}" in status Failed; delete it and create it again.'
    )
    sm.delete_endpoint(EndpointName=name)


def test_a_model_that_cannot_load_fails_the_endpoint_with_the_reason(
    sm, smlocal, tmp_path, iris_model_data
) -> None:
    import tarfile

    from tests.support import ROOT

    legacy = ROOT / "tests" / "data" / "legacy-xgboost" / "1.7.6" / "regression.bin"
    truncated = tmp_path / "xgboost-model"
    truncated.write_bytes(legacy.read_bytes()[:700])
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(truncated, arcname="xgboost-model")
    smlocal.client("s3").upload_file(str(archive), "models", "broken/model.tar.gz")
    name = unique("broken")
    described = deploy(
        sm, name, [{"name": "AllTraffic", "model_data": "s3://models/broken/model.tar.gz"}]
    )
    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"] == (
        "The primary container for production variant AllTraffic did not pass the ping health "
        "check: model failed to load: cannot load xgboost-model: the legacy XGBoost model "
        "ends early: tree 0 needs 260 bytes at offset 486, the file has 700"
    )


def test_tags(sm, iris_model_data) -> None:
    name = unique("tagged")
    model_arn = sm.create_model(
        ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": XGBOOST_IMAGE}
    )["ModelArn"]
    sm.add_tags(
        ResourceArn=model_arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    )
    sm.add_tags(ResourceArn=model_arn, Tags=[{"Key": "a", "Value": "3"}])
    assert sm.list_tags(ResourceArn=model_arn)["Tags"] == [
        {"Key": "a", "Value": "3"},
        {"Key": "b", "Value": "2"},
    ]
    sm.delete_tags(ResourceArn=model_arn, TagKeys=["a"])
    assert sm.list_tags(ResourceArn=model_arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    _, message = error_of(sm.list_tags, ResourceArn=arn("model", "nothing-here"))
    assert message == f'Could not find resource "{arn("model", "nothing-here")}".'


def test_model_registry(sm, iris_model_data) -> None:
    group = unique("churn-models")
    sm.create_model_package_group(ModelPackageGroupName=group, ModelPackageGroupDescription="d")
    assert (
        sm.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupStatus"]
        == "Completed"
    )
    spec = {
        "Containers": [
            {"Image": XGBOOST_IMAGE, "ModelDataUrl": iris_model_data, "Environment": {"A": "1"}}
        ],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    first = sm.create_model_package(ModelPackageGroupName=group, InferenceSpecification=spec)[
        "ModelPackageArn"
    ]
    second = sm.create_model_package(
        ModelPackageGroupName=group, InferenceSpecification=spec, ModelApprovalStatus="Approved"
    )["ModelPackageArn"]
    assert first == f"{arn('model-package', group)}/1"
    assert second.endswith("/2")
    described = sm.describe_model_package(ModelPackageName=first)
    assert (described["ModelPackageVersion"], described["ModelApprovalStatus"]) == (
        1,
        "PendingManualApproval",
    )
    assert described["ModelPackageStatus"] == "Completed"
    versions = sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    assert [v["ModelPackageVersion"] for v in versions] == [1, 2]
    latest = sm.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )
    assert [v["ModelPackageArn"] for v in latest["ModelPackageSummaryList"]] == [second]
    _, message = error_of(
        sm.create_model,
        ModelName=unique("from-pkg"),
        ExecutionRoleArn=ROLE,
        Containers=[{"ModelPackageName": first}],
    )
    assert message.startswith(
        f"Model package {first} has ModelApprovalStatus PendingManualApproval"
    )
    sm.update_model_package(
        ModelPackageArn=first, ModelApprovalStatus="Approved", ApprovalDescription="ok"
    )
    model = unique("from-pkg")
    sm.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE,
        Containers=[{"ModelPackageName": first, "Environment": {"B": "2"}}],
    )
    assert sm.describe_model(ModelName=model)["Containers"] == [
        {"ModelPackageName": first, "Environment": {"B": "2"}}
    ]
    _, message = error_of(sm.delete_model_package_group, ModelPackageGroupName=group)
    assert message == f"Model package group {group} still holds model packages; delete them first."
    sm.delete_model_package(ModelPackageName=first)
    sm.delete_model_package(ModelPackageName=second)
    sm.delete_model_package_group(ModelPackageGroupName=group)
    assert (
        error_of(sm.describe_model_package, ModelPackageName=first)[1]
        == f'Could not find model package "{first}".'
    )


def test_an_operation_smlocal_does_not_emulate_says_so(sm) -> None:
    code, message = error_of(sm.list_notebook_instances)
    assert (code, message) == (
        "UnknownOperationException",
        "SageMaker.ListNotebookInstances is part of the SageMaker API but smlocal does not emulate it.",
    )


def test_pagination(sm) -> None:
    prefix = unique("page")
    for i in range(5):
        sm.create_model(
            ModelName=f"{prefix}-{i}",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": XGBOOST_IMAGE},
        )
    first = sm.list_models(NameContains=prefix, MaxResults=2, SortBy="Name", SortOrder="Ascending")
    second = sm.list_models(
        NameContains=prefix,
        MaxResults=2,
        SortBy="Name",
        SortOrder="Ascending",
        NextToken=first["NextToken"],
    )
    third = sm.list_models(
        NameContains=prefix,
        MaxResults=2,
        SortBy="Name",
        SortOrder="Ascending",
        NextToken=second["NextToken"],
    )
    names = [m["ModelName"] for page in (first, second, third) for m in page["Models"]]
    assert names == [f"{prefix}-{i}" for i in range(5)]
    assert "NextToken" not in third


def test_model_data_may_be_a_local_path(sm, smlocal, iris_tar) -> None:
    name = unique("local")
    described = deploy(sm, name, [{"name": "AllTraffic", "model_data": str(iris_tar)}])
    assert described["EndpointStatus"] == "InService"
    runtime = smlocal.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(
        EndpointName=name, ContentType="text/csv", Body=b"7.7,3.0,6.1,2.3"
    )
    assert answer["Body"].read() == b"2.0\n"
    code, message = error_of(
        sm.create_model,
        ModelName=unique("rel"),
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": "relative/model.tar.gz"},
    )
    assert code == "ValidationException"
    assert (
        "at 'primaryContainer.modelDataUrl' failed to satisfy constraint: Member must satisfy regular expression pattern"
        in message
    )


def test_an_endpoint_in_progress_cannot_be_updated(sm, iris_model_data) -> None:
    name = unique("busy")
    deploy(sm, name, [{"name": "AllTraffic", "model_data": iris_model_data}], wait=False)
    _, message = error_of(sm.update_endpoint, EndpointName=name, EndpointConfigName=name)
    assert message == f'Cannot update in-progress endpoint "{arn("endpoint", name)}".'
    _, message = error_of(
        sm.update_endpoint_weights_and_capacities,
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredWeight": 2.0}],
    )
    assert message == f'Cannot update in-progress endpoint "{arn("endpoint", name)}".'
    assert wait_for_status(sm, name)["EndpointStatus"] == "InService"
