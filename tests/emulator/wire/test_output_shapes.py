"""Results into JSON 1.1 output documents, shaped by the botocore service model."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from smlocal.emulator.wire.output_shapes import OutputShapeError, shape_output
from smlocal.emulator.wire.service_models import sagemaker_model

CREATED = dt.datetime(2018, 6, 24, 19, 59, 29, 986000, tzinfo=dt.UTC)


def describe_endpoint_result(**overrides):
    return {
        "EndpointName": "demo-ep",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/demo-ep",
        "EndpointConfigName": "demo-ep",
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "DeployedImages": [{"SpecifiedImage": "img", "ResolutionTime": CREATED}],
                "CurrentWeight": 1.0,
                "DesiredWeight": 1.0,
                "CurrentInstanceCount": 1,
                "DesiredInstanceCount": 1,
            }
        ],
        "DataCaptureConfig": None,
        "EndpointStatus": "InService",
        "FailureReason": None,
        "CreationTime": CREATED,
        "LastModifiedTime": dt.datetime(2018, 6, 24, 19, 59, 30),  # naive: UTC
        **overrides,
    }


def test_json_output_drops_none_and_writes_epoch_seconds():
    document = shape_output(
        sagemaker_model(), "DescribeEndpoint", describe_endpoint_result(), strict=True
    )
    assert document == {
        "EndpointName": "demo-ep",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/demo-ep",
        "EndpointConfigName": "demo-ep",
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "DeployedImages": [{"SpecifiedImage": "img", "ResolutionTime": 1529870369.986}],
                "CurrentWeight": 1.0,
                "DesiredWeight": 1.0,
                "CurrentInstanceCount": 1,
                "DesiredInstanceCount": 1,
            }
        ],
        "EndpointStatus": "InService",
        "CreationTime": 1529870369.986,
        "LastModifiedTime": 1529870370.0,
    }
    assert '"CreationTime": 1529870369.986' in json.dumps(document)


def test_epoch_numbers_pass_through_as_timestamps():
    document = shape_output(
        sagemaker_model(),
        "DescribeEndpoint",
        describe_endpoint_result(CreationTime=1529870369.9861234),
    )
    assert document["CreationTime"] == 1529870369.986


def test_lists_and_maps_drop_none_values():
    result = {"Models": [{"ModelName": "m", "ModelArn": "a", "CreationTime": CREATED}, None]}
    assert shape_output(sagemaker_model(), "ListModels", result, strict=True) == {
        "Models": [{"ModelName": "m", "ModelArn": "a", "CreationTime": 1529870369.986}]
    }
    result = {"ModelCardVersionSummaryList": None, "NoSuchKey": None}  # None is absence, even here
    assert shape_output(sagemaker_model(), "ListModels", result, strict=True) == {}


def test_strict_mode_catches_drift_from_botocore():
    model = sagemaker_model()
    with pytest.raises(OutputShapeError, match=r"DescribeEndpoint.Status is not a member"):
        shape_output(model, "DescribeEndpoint", describe_endpoint_result(Status="x"), strict=True)
    with pytest.raises(OutputShapeError, match=r"EndpointStatus = 'Running' is not in the enum"):
        shape_output(
            model,
            "DescribeEndpoint",
            describe_endpoint_result(EndpointStatus="Running"),
            strict=True,
        )
    variants = [{"VariantName": "v", "CurrentInstanceCount": "1"}]
    with pytest.raises(OutputShapeError, match=r"CurrentInstanceCount does not fit"):
        shape_output(
            model,
            "DescribeEndpoint",
            describe_endpoint_result(ProductionVariants=variants),
            strict=True,
        )
    with pytest.raises(OutputShapeError, match=r"DeleteModel has no output"):
        shape_output(model, "DeleteModel", {"ModelArn": "a"}, strict=True)


def test_lenient_mode_drops_unknown_keys():
    document = shape_output(
        sagemaker_model(),
        "DescribeEndpoint",
        describe_endpoint_result(Status="x", _internal=object()),
    )
    assert "Status" not in document
    assert "_internal" not in document
    assert shape_output(sagemaker_model(), "DeleteModel", {}) == {}
