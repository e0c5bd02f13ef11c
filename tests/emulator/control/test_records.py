"""Typed records read the documents stored by earlier versions, and the generic Kind (pure)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.endpoint_configs import ENDPOINT_CONFIGS, EndpointConfig
from smlocal.emulator.control.job_definitions import DEFINITIONS, DataQualityJobDefinition
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.control.model_package_records import ModelPackage, ModelPackageGroup
from smlocal.emulator.control.model_packages import GROUPS, PACKAGES
from smlocal.emulator.control.model_quality_definitions import ModelQualityJobDefinition
from smlocal.emulator.control.models import MODELS, Model
from smlocal.emulator.control.operations import ControlPlane
from smlocal.emulator.control.tags import tags_of
from smlocal.emulator.errors import (
    AWSError,
    ResourceInUse,
    ResourceNotFound,
    ValidationException,
)
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.store import Store

ARN = "arn:aws:sagemaker:us-east-1:123456789012"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"

# Documents exactly as the version before the records stored them (written by its operations).
MODEL = {
    "ModelName": "Churn-Model",
    "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": "s3://b/m.tar.gz"},
    "ExecutionRoleArn": "arn:aws:iam::123456789012:role/r",
    "ModelArn": f"{ARN}:model/churn-model",
    "CreationTime": 1700000000.123,
    "EnableNetworkIsolation": False,
    "_Runnable": [{"Image": IMAGE, "ModelDataUrl": "s3://b/m.tar.gz", "Environment": {}}],
}
MODEL_FROM_PACKAGE = {
    "ModelName": "from-pkg",
    "Containers": [{"ModelPackageName": f"{ARN}:model-package/grp/1", "Environment": {"B": "2"}}],
    "ModelArn": f"{ARN}:model/from-pkg",
    "CreationTime": 1700000001.0,
    "EnableNetworkIsolation": True,
    "_Runnable": [{"Image": IMAGE, "ModelDataUrl": None, "Environment": {"A": "1", "B": "2"}}],
}
ENDPOINT_CONFIG = {
    "EndpointConfigName": "cfg",
    "ProductionVariants": [
        {
            "VariantName": "A",
            "ModelName": "churn-model",
            "InstanceType": "ml.m5.large",
            "InitialVariantWeight": 1.0,
            "InitialInstanceCount": 1,
        }
    ],
    "DataCaptureConfig": {
        "EnableCapture": True,
        "InitialSamplingPercentage": 50,
        "DestinationS3Uri": "s3://c/x",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    },
    "EndpointConfigArn": f"{ARN}:endpoint-config/cfg",
    "CreationTime": 1700000002.0,
}
GROUP = {
    "ModelPackageGroupName": "grp",
    "ModelPackageGroupArn": f"{ARN}:model-package-group/grp",
    "ModelPackageGroupDescription": None,
    "CreationTime": 1700000003.0,
    "CreatedBy": {},
    "ModelPackageGroupStatus": "Completed",
}
VERSION = {
    "ModelPackageName": "grp",
    "ModelPackageGroupName": "grp",
    "ModelPackageVersion": 1,
    "ModelPackageArn": f"{ARN}:model-package/grp/1",
    "ModelApprovalStatus": "Approved",
    "InferenceSpecification": {
        "Containers": [{"Image": IMAGE, "Environment": {"A": "1"}}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    },
    "CustomerMetadataProperties": {"m": "1"},
    "CreationTime": 1700000004.0,
    "LastModifiedTime": 1700000005.0,
    "ModelPackageStatus": "Completed",
    "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
    "CreatedBy": {},
    "_ClientToken": "token-1",
    "ApprovalDescription": "ok",
    "ModelCard": {"ModelCardStatus": "Draft"},
}
UNVERSIONED = {
    "ModelPackageName": "solo",
    "ModelPackageArn": f"{ARN}:model-package/solo",
    "ModelApprovalStatus": None,
    "CertifyForMarketplace": False,
    "CreationTime": 1700000006.0,
    "LastModifiedTime": 1700000006.0,
    "ModelPackageStatus": "Completed",
    "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
    "CreatedBy": {},
    "_ClientToken": None,
}
DEFINITION = {
    "JobDefinitionName": "dq",
    "DataQualityAppSpecification": {"ImageUri": "img"},
    "DataQualityJobInput": {"EndpointInput": {"EndpointName": "ep", "LocalPath": "/opt/ml"}},
    "DataQualityJobOutputConfig": {"MonitoringOutputs": []},
    "JobResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}},
    "RoleArn": "arn:aws:iam::123456789012:role/r",
    "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    "JobDefinitionArn": f"{ARN}:data-quality-job-definition/dq",
    "CreationTime": 1700000007.0,
}
MODEL_QUALITY_DEFINITION = {
    "JobDefinitionArn": f"{ARN}:model-quality-job-definition/mq",
    "JobDefinitionName": "mq",
    "CreationTime": 1700000008.0,
    "ModelQualityBaselineConfig": {"ConstraintsResource": {"S3Uri": "s3://b/c.json"}},
    "ModelQualityAppSpecification": {"ImageUri": "img", "ProblemType": "Regression"},
    "ModelQualityJobInput": {
        "EndpointInput": {"EndpointName": "ep", "LocalPath": "/opt/ml", "InferenceAttribute": "0"},
        "GroundTruthS3Input": {"S3Uri": "s3://b/gt"},
    },
    "ModelQualityJobOutputConfig": {"MonitoringOutputs": []},
    "JobResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}},
    "RoleArn": "arn:aws:iam::123456789012:role/r",
}
STORED: list[tuple[str, str, dict[str, Any], Any]] = [
    ("model", "churn-model", MODEL, Model),
    ("model", "from-pkg", MODEL_FROM_PACKAGE, Model),
    ("endpoint-config", "cfg", ENDPOINT_CONFIG, EndpointConfig),
    ("model-package-group", "grp", GROUP, ModelPackageGroup),
    ("model-package", "grp/1", VERSION, ModelPackage),
    ("model-package", "solo", UNVERSIONED, ModelPackage),
    ("data-quality-job-definition", "dq", DEFINITION, DataQualityJobDefinition),
    ("model-quality-job-definition", "mq", MODEL_QUALITY_DEFINITION, ModelQualityJobDefinition),
]


@pytest.mark.parametrize(("kind", "key", "doc", "record"), STORED, ids=[s[1] for s in STORED])
def test_a_document_stored_today_loads_and_is_stored_back_unchanged(
    kind: str, key: str, doc: dict[str, Any], record: Any
) -> None:
    loaded = record.from_document(copy.deepcopy(doc))
    assert loaded.to_document() == doc
    assert loaded.key.lower() == key


def test_describe_lists_the_aws_keys_only_and_drops_unset_ones() -> None:
    assert "_Runnable" not in Model.from_document(MODEL).describe()
    assert Model.from_document(MODEL).describe()["EnableNetworkIsolation"] is False
    version = ModelPackage.from_document(VERSION).describe()
    assert "_ClientToken" not in version
    assert "ModelCard" not in version
    assert list(version)[:4] == [
        "ModelPackageName",
        "ModelPackageGroupName",
        "ModelPackageVersion",
        "ModelPackageArn",
    ]
    unversioned = ModelPackage.from_document(UNVERSIONED)
    assert "ModelApprovalStatus" not in unversioned.describe()
    assert unversioned.describe()["CertifyForMarketplace"] is False
    assert "ModelPackageGroupDescription" not in ModelPackageGroup.from_document(GROUP).describe()
    assert DataQualityJobDefinition.from_document(DEFINITION).summary() == {
        "MonitoringJobDefinitionName": "dq",
        "MonitoringJobDefinitionArn": f"{ARN}:data-quality-job-definition/dq",
        "CreationTime": 1700000007.0,
        "EndpointName": "ep",
    }


def test_a_data_directory_written_before_the_records_is_served(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    for kind, key, doc, _ in STORED:
        store.put(kind, key, doc)
    store.close()
    ctx = Context(Store(tmp_path / "state.db"), EmulatorSettings(data_dir=tmp_path))
    plane = ControlPlane(ctx)
    described = plane("DescribeModel", {"ModelName": "CHURN-MODEL"})
    assert described == {k: v for k, v in MODEL.items() if k != "_Runnable"}
    version = plane("DescribeModelPackage", {"ModelPackageName": f"{ARN}:model-package/grp/1"})
    assert version == {k: v for k, v in VERSION.items() if k not in ("_ClientToken", "ModelCard")}
    listed = plane("ListModelPackages", {"ModelPackageType": "Both"})["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in listed] == [
        f"{ARN}:model-package/grp/1",
        f"{ARN}:model-package/solo",
    ]
    definitions = plane("ListDataQualityJobDefinitions", {"EndpointName": "ep"})
    assert definitions["JobDefinitionSummaries"] == [
        DataQualityJobDefinition.from_document(DEFINITION).summary()
    ]
    assert MODELS.get(ctx, "from-pkg").to_document()["_Runnable"] == MODEL_FROM_PACKAGE["_Runnable"]


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return Context(Store(), EmulatorSettings(data_dir=tmp_path), clock=lambda: 1700000000.0)


@pytest.mark.parametrize(
    ("kind", "name", "error", "message"),
    [
        (MODELS, "Nope", ValidationException, f'Could not find model "{ARN}:model/nope".'),
        (
            ENDPOINT_CONFIGS,
            "nope",
            ValidationException,
            f'Could not find endpoint configuration "{ARN}:endpoint-config/nope".',
        ),
        (
            GROUPS,
            f"{ARN}:model-package-group/Nope",
            ValidationException,
            f'Could not find model package group "{ARN}:model-package-group/nope".',
        ),
        (
            PACKAGES,
            f"{ARN}:model-package/Grp/9",
            ValidationException,
            f'Could not find model package "{ARN}:model-package/Grp/9".',
        ),
        (
            PACKAGES,
            "nope",
            ValidationException,
            f'Could not find model package "{ARN}:model-package/nope".',
        ),
        (
            DEFINITIONS,
            "nope",
            ResourceNotFound,
            f'Could not find job definition "{ARN}:data-quality-job-definition/nope".',
        ),
    ],
)
def test_not_found_names_the_kind_and_the_arn(
    ctx: Context, kind: Any, name: str, error: type[AWSError], message: str
) -> None:
    with pytest.raises(error) as caught:
        kind.get(ctx, name)
    assert caught.value.message == message
    assert kind.find(ctx, name) is None


def test_add_refuses_a_taken_name_in_any_case_and_delete_drops_the_tags(ctx: Context) -> None:
    definition = DataQualityJobDefinition.from_document(DEFINITION)
    DEFINITIONS.add(ctx, definition, [{"Key": "team", "Value": "ml"}])
    assert tags_of(ctx, definition.arn) == [{"Key": "team", "Value": "ml"}]
    with pytest.raises(ResourceInUse) as caught:
        DEFINITIONS.add(ctx, DataQualityJobDefinition.from_document({**DEFINITION}), [])
    assert caught.value.message == (
        f'Cannot create already existing job definition "{ARN}:data-quality-job-definition/dq".'
    )
    refused: list[str] = []
    assert DEFINITIONS.delete(ctx, "DQ", refuse=lambda d: refused.append(d.name)) == {}
    assert refused == ["dq"]
    assert DEFINITIONS.find(ctx, "dq") is None
    assert tags_of(ctx, definition.arn) == []


def test_a_refusal_leaves_the_record_and_its_tags(ctx: Context) -> None:
    model = Model.from_document(MODEL)
    MODELS.add(ctx, model, [{"Key": "a", "Value": "1"}])

    def refuse(_: Model) -> None:
        raise ValidationException("in use")

    with pytest.raises(ValidationException):
        MODELS.delete(ctx, "churn-model", refuse=refuse)
    assert MODELS.get(ctx, "churn-model") == model
    assert tags_of(ctx, model.arn) == [{"Key": "a", "Value": "1"}]


def test_listing_filters_sorts_and_pages_the_records_keep_accepts(ctx: Context) -> None:
    for i, name in enumerate(["b", "A", "c", "d"]):
        doc = {**MODEL, "ModelName": name, "ModelArn": f"{ARN}:model/{name.lower()}"}
        MODELS.add(ctx, Model.from_document({**doc, "CreationTime": 1700000000.0 + i}), [])
    newest_first = MODELS.listing(ctx, {})
    assert [m["ModelName"] for m in newest_first["Models"]] == ["d", "c", "A", "b"]
    assert newest_first["NextToken"] is None
    params: dict[str, Any] = {"SortBy": "Name", "SortOrder": "Ascending", "MaxResults": 2}
    first = MODELS.listing(ctx, params, keep=lambda m: m.name != "c")
    assert [m["ModelName"] for m in first["Models"]] == ["A", "b"]
    second = MODELS.listing(
        ctx, {**params, "NextToken": first["NextToken"]}, keep=lambda m: m.name != "c"
    )
    assert [m["ModelName"] for m in second["Models"]] == ["d"]
    assert second["NextToken"] is None
    assert first["Models"] == [
        {"ModelName": "A", "ModelArn": f"{ARN}:model/a", "CreationTime": 1700000001.0},
        {"ModelName": "b", "ModelArn": f"{ARN}:model/b", "CreationTime": 1700000000.0},
    ]


def test_a_kind_may_word_its_errors_its_own_way_and_sort_by_more_keys(ctx: Context) -> None:
    jobs = Kind(
        resource="model",
        load=Model.from_document,
        noun="job",
        name_key="ModelName",
        list_key="Jobs",
        sort_keys={"Role": "ExecutionRoleArn"},
        missing_text="Could not find requested job with name {name}",
        duplicate=ResourceInUse,
        duplicate_text="A job with this name already exists ({arn})",
    )
    with pytest.raises(ValidationException) as missing:
        jobs.get(ctx, "Nope")
    assert missing.value.message == "Could not find requested job with name Nope"
    for name, role in (("x", "role/b"), ("y", "role/a")):
        doc = {
            **MODEL,
            "ModelName": name,
            "ModelArn": f"{ARN}:model/{name}",
            "ExecutionRoleArn": role,
        }
        jobs.add(ctx, Model.from_document(doc), [])
    with pytest.raises(ResourceInUse) as taken:
        jobs.add(
            ctx, Model.from_document({**MODEL, "ModelName": "X", "ModelArn": f"{ARN}:model/x"}), []
        )
    assert taken.value.message == f"A job with this name already exists ({ARN}:model/x)"
    by_role = jobs.listing(ctx, {"SortBy": "Role", "SortOrder": "Ascending"})
    assert [j["ModelName"] for j in by_role["Jobs"]] == ["y", "x"]
