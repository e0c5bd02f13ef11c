"""Search through boto3 and the SageMaker SDK against a real emulator."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from examples.train_deploy_capture import iris_csv
from tests.support import ROLE, XGBOOST_IMAGE, unique

SPEC = {
    "Containers": [{"Image": XGBOOST_IMAGE, "ModelDataUrl": "s3://models/iris/model.tar.gz"}],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}


@pytest.fixture(scope="module")
def sm(smlocal):
    return smlocal.client("sagemaker")


@pytest.fixture(scope="module")
def registry(sm) -> dict:
    """A group with three versions: pending, approved (tagged), rejected (described)."""
    group = unique("search-group")
    sm.create_model_package_group(
        ModelPackageGroupName=group, Tags=[{"Key": "suite", "Value": group}]
    )
    arns = []
    for status, extra in (
        ("PendingManualApproval", {}),
        ("Approved", {"Tags": [{"Key": "stage", "Value": "prod"}]}),
        ("Rejected", {"ModelPackageDescription": "too slow"}),
    ):
        arns.append(sm.create_model_package(ModelPackageGroupName=group,
            InferenceSpecification=SPEC, ModelApprovalStatus=status, **extra,
        )["ModelPackageArn"])  # fmt: skip
        time.sleep(0.01)  # distinct creation times
    return {"group": group, "arns": arns}


def versions(sm, *filters, operator=None, **params) -> list[int]:
    expression: dict = {"Filters": [{"Name": "ModelPackageGroupName", "Operator": "Equals",
                                     "Value": params.pop("group")}]}  # fmt: skip
    expression["SubExpressions"] = [{"Filters": list(filters), "Operator": operator or "And"}]
    results = sm.search(Resource="ModelPackage", SearchExpression=expression, **params)["Results"]
    return [r["ModelPackage"]["ModelPackageVersion"] for r in results]


def test_filters_by_property_tag_and_operator(sm, registry) -> None:
    group = registry["group"]
    approved = {"Name": "ModelApprovalStatus", "Operator": "Equals", "Value": "Approved"}
    rejected = {"Name": "ModelApprovalStatus", "Operator": "Equals", "Value": "Rejected"}
    assert versions(sm, approved, group=group) == [2]
    assert versions(sm, approved, rejected, group=group) == []
    assert versions(sm, approved, rejected, operator="Or", group=group) == [3, 2]
    not_pending = {"Name": "ModelApprovalStatus", "Operator": "NotEquals",
                   "Value": "PendingManualApproval"}  # fmt: skip
    assert versions(sm, not_pending, group=group, SortBy="CreationTime",
                    SortOrder="Ascending") == [2, 3]  # fmt: skip
    assert versions(sm, {"Name": "Tags.stage", "Operator": "Equals", "Value": "prod"},
                    group=group) == [2]  # fmt: skip
    assert versions(sm, {"Name": "ModelPackageDescription", "Operator": "Exists"},
                    group=group) == [3]  # fmt: skip
    assert versions(sm, {"Name": "ModelPackageDescription", "Operator": "NotExists"},
                    group=group) == [2, 1]  # fmt: skip
    assert versions(sm, {"Name": "ModelPackageDescription", "Operator": "Contains",
                         "Value": "slow"}, group=group) == [3]  # fmt: skip
    assert versions(sm, {"Name": "ModelApprovalStatus", "Operator": "In",
                         "Value": "Approved,Rejected"}, group=group) == [3, 2]  # fmt: skip
    assert versions(sm, {"Name": "ModelPackageVersion", "Operator": "GreaterThanOrEqualTo",
                         "Value": "2"}, group=group) == [3, 2]  # fmt: skip
    containers = {"Name": "InferenceSpecification.Containers.Image", "Operator": "Equals",
                  "Value": XGBOOST_IMAGE}  # fmt: skip
    assert versions(sm, containers, group=group) == [3, 2, 1]


def test_results_are_paged_and_carry_tags(sm, registry) -> None:
    group = registry["group"]
    expression = {"Filters": [{"Name": "ModelPackageGroupName", "Value": group}]}
    first = sm.search(Resource="ModelPackage", SearchExpression=expression, MaxResults=2,
                      SortBy="ModelPackageVersion", SortOrder="Ascending")  # fmt: skip
    second = sm.search(Resource="ModelPackage", SearchExpression=expression, MaxResults=2,
                       SortBy="ModelPackageVersion", SortOrder="Ascending",
                       NextToken=first["NextToken"])  # fmt: skip
    pages = [[r["ModelPackage"]["ModelPackageArn"] for r in p["Results"]] for p in (first, second)]
    assert pages == [registry["arns"][:2], registry["arns"][2:]]
    assert "NextToken" not in second
    assert first["Results"][1]["ModelPackage"]["Tags"] == [{"Key": "stage", "Value": "prod"}]

    groups = sm.search(Resource="ModelPackageGroup", SearchExpression={"Filters": [
        {"Name": "Tags.suite", "Operator": "Equals", "Value": group}]})["Results"]  # fmt: skip
    assert [g["ModelPackageGroup"]["ModelPackageGroupName"] for g in groups] == [group]
    assert groups[0]["ModelPackageGroup"]["Tags"] == [{"Key": "suite", "Value": group}]


def test_types_smlocal_cannot_hold_find_nothing_and_bad_values_are_refused(sm, registry) -> None:
    assert sm.search(Resource="FeatureGroup")["Results"] == []
    bad = {"Filters": [{"Name": "ModelPackageVersion", "Operator": "GreaterThan", "Value": "x"}]}
    with pytest.raises(ClientError) as caught:
        sm.search(Resource="ModelPackage", SearchExpression=bad)
    assert caught.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "The value 'x' of the filter on ModelPackageVersion is not a number.",
    }


def test_training_jobs_by_metric_hyperparameter_time_and_nested_channel(smlocal, sm, tmp_path):
    s3 = smlocal.client("s3")
    bucket = unique("search-data")
    s3.create_bucket(Bucket=bucket)
    train, validation = iris_csv(tmp_path)
    s3.upload_file(str(train), bucket, "train/iris.csv")
    s3.upload_file(str(validation), bucket, "validation/iris.csv")
    name = unique("search-train")
    channels = [{"ChannelName": c, "ContentType": "csv", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{c}/"}}}
        for c in ("train", "validation")]  # fmt: skip
    sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"objective": "multi:softmax", "num_class": "3", "num_round": "2",
                         "eval_metric": "merror"},
        InputDataConfig=channels, OutputDataConfig={"S3OutputPath": f"s3://{bucket}/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600}, Tags=[{"Key": "suite", "Value": name}],
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while (job := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] not in (
        "Completed", "Failed"):  # fmt: skip
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert job["TrainingJobStatus"] == "Completed"
    merror = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}["validation:merror"]

    def found(*filters, nested=None) -> list[str]:
        mine = {"Name": "Tags.suite", "Operator": "Equals", "Value": name}
        expression: dict = {"Filters": [mine, *filters]}
        if nested:
            expression["NestedFilters"] = [nested]
        results = sm.search(Resource="TrainingJob", SearchExpression=expression)["Results"]
        return [r["TrainingJob"]["TrainingJobName"] for r in results]

    assert found() == [name]
    assert found({"Name": "Metrics.validation:merror", "Operator": "LessThanOrEqualTo",
                  "Value": str(merror)}) == [name]  # fmt: skip
    assert found({"Name": "Metrics.validation:merror", "Operator": "LessThan",
                  "Value": str(merror)}) == []  # fmt: skip
    assert found({"Name": "HyperParameters.num_round", "Value": "2"}) == [name]
    before = job["CreationTime"].isoformat()
    assert found({"Name": "CreationTime", "Operator": "GreaterThanOrEqualTo",
                  "Value": before}) == [name]  # fmt: skip
    assert found({"Name": "TrainingEndTime", "Operator": "LessThan", "Value": before}) == []
    channel = {"NestedPropertyName": "InputDataConfig", "Filters": [
        {"Name": "InputDataConfig.ChannelName", "Value": "validation"},
        {"Name": "InputDataConfig.DataSource.S3DataSource.S3Uri", "Operator": "Contains",
         "Value": "/validation/"}]}  # fmt: skip
    assert found(nested=channel) == [name]
    crossed = {"NestedPropertyName": "InputDataConfig", "Filters": [
        {"Name": "InputDataConfig.ChannelName", "Value": "train"},
        {"Name": "InputDataConfig.DataSource.S3DataSource.S3Uri", "Operator": "Contains",
         "Value": "/validation/"}]}  # fmt: skip
    assert found(nested=crossed) == []  # one channel must satisfy both


def test_the_sdk_finds_a_model_package_group_by_name(smlocal_sagemaker_session, registry) -> None:
    """Session.search as `model.register()` calls it to see whether the group exists."""
    response = smlocal_sagemaker_session.search(
        resource="ModelPackageGroup",
        search_expression={"Filters": [{"Name": "ModelPackageGroupName",
                                        "Value": registry["group"], "Operator": "Equals"}]},
    )  # fmt: skip
    assert [r["ModelPackageGroup"]["ModelPackageGroupName"] for r in response["Results"]] == [
        registry["group"]
    ]
