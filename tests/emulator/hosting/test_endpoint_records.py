"""The endpoint record reads the documents smlocal stored before it existed, and writes
them back unchanged (a null-valued AWS key is left out: every reader treats it as unset)."""

from __future__ import annotations

import json
from typing import Any

from smlocal.emulator.hosting.endpoint_records import Endpoint, Plan

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/ep"
VARIANT = {
    "VariantName": "AllTraffic",
    "ModelName": "m2",
    "Image": IMAGE,
    "ModelDataUrl": "s3://bucket/model.tar.gz",
    "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
    "InstanceCount": 2,
    "Serverless": False,
    "Weight": 1.0,
    "StartupTimeout": 300,
}
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": "s3://bucket/capture",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
}
# An endpoint after a blue/green update, as the endpoint manager stored it before the record
# existed: the update cleared FailureReason, _PendingPlan and PendingDeploymentSummary to null.
STORED: dict[str, Any] = json.loads(
    json.dumps(
        {
            "EndpointName": "ep",
            "EndpointArn": ARN,
            "EndpointConfigName": "config-2",
            "CreationTime": 1700000000.0,
            "DataCaptureConfig": {
                "EnableCapture": True,
                "CaptureStatus": "Started",
                "CurrentSamplingPercentage": 100,
                "DestinationS3Uri": "s3://bucket/capture",
            },
            "_Plan": {
                "EndpointConfigName": "config-2",
                "Variants": [VARIANT],
                "DataCaptureConfig": CAPTURE,
            },
            "EndpointStatus": "InService",
            "LastModifiedTime": 1700000100.5,
            "_Op": "5f0c",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "DeployedImages": [
                        {
                            "SpecifiedImage": IMAGE,
                            "ResolvedImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/"
                            "sagemaker-xgboost@sha256:00",
                            "ResolutionTime": 1700000100.5,
                        }
                    ],
                    "CurrentWeight": 1.0,
                    "DesiredWeight": 1.0,
                    "CurrentInstanceCount": 2,
                    "DesiredInstanceCount": 2,
                }
            ],
            "FailureReason": None,
            "_PendingPlan": None,
            "PendingDeploymentSummary": None,
        }
    )
)


def test_a_stored_endpoint_reads_and_writes_back_unchanged() -> None:
    endpoint = Endpoint.from_document(STORED)
    assert (endpoint.status, endpoint.op, endpoint.plan.variants[0].instance_count) == (
        "InService",
        "5f0c",
        2,
    )
    kept = {k: v for k, v in STORED.items() if v is not None or k.startswith("_")}
    assert endpoint.to_document() == kept
    assert Endpoint.from_document(endpoint.to_document()) == endpoint


def test_describe_and_list_show_what_they_showed() -> None:
    endpoint = Endpoint.from_document(STORED)
    assert list(endpoint.describe()) == [
        "EndpointName",
        "EndpointArn",
        "EndpointConfigName",
        "ProductionVariants",
        "DataCaptureConfig",
        "EndpointStatus",
        "CreationTime",
        "LastModifiedTime",
    ]
    assert endpoint.describe()["ProductionVariants"] == STORED["ProductionVariants"]
    assert endpoint.summary() == {
        "EndpointName": "ep",
        "EndpointArn": ARN,
        "CreationTime": 1700000000.0,
        "LastModifiedTime": 1700000100.5,
        "EndpointStatus": "InService",
    }


def test_an_update_in_progress_and_a_plan_from_before_startup_timeouts() -> None:
    old_variant = {k: v for k, v in VARIANT.items() if k != "StartupTimeout"}
    pending = {"EndpointConfigName": "config-3", "Variants": [old_variant]}
    doc = {
        **STORED,
        "EndpointStatus": "Updating",
        "_PendingPlan": pending,
        "PendingDeploymentSummary": {"EndpointConfigName": "config-3", "StartTime": 5.0},
    }
    endpoint = Endpoint.from_document(doc)
    assert endpoint.pending_plan == Plan.from_document(pending)
    assert endpoint.pending_plan.variants[0].startup_timeout is None  # the emulator's default
    assert endpoint.describe()["PendingDeploymentSummary"] == doc["PendingDeploymentSummary"]
    endpoint.promote_pending()
    assert (endpoint.config_name, endpoint.pending_plan, endpoint.pending_summary) == (
        "config-3",
        None,
        None,
    )
    assert endpoint.plan.endpoint_config_name == "config-3"


def test_status_moves_are_kept_with_their_failure_reason_and_bounded() -> None:
    from smlocal.emulator.hosting.endpoint_records import HISTORY

    endpoint = Endpoint.from_document(STORED)
    endpoint.moved("Updating", 1700000200.0)
    endpoint.moved("InService", 1700000300.0, "The new config's model failed its health check.")
    again = Endpoint.from_document(endpoint.to_document())
    assert again.history == [
        {"Status": "Updating", "Time": 1700000200.0},
        {"Status": "InService", "Time": 1700000300.0,
         "FailureReason": "The new config's model failed its health check."},
    ]  # fmt: skip
    assert "_StatusHistory" not in again.describe()
    for i in range(HISTORY + 5):
        again.moved("InService", float(i))
    assert len(again.history) == HISTORY
    assert again.history[-1]["Time"] == float(HISTORY + 4)


def test_shadow_summaries_are_described_apart_and_read_back() -> None:
    """DescribeEndpoint lists a shadow variant under ShadowProductionVariants; the stored
    document (which is DescribeEndpoint's output) reads back into the same record."""
    shadow = {**VARIANT, "VariantName": "Shadow", "Shadow": True}
    serverless = {**VARIANT, "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 3}}
    doc = json.loads(json.dumps(STORED))
    doc["_Plan"]["Variants"] = [serverless, shadow]
    summary = doc["ProductionVariants"][0]
    doc["ProductionVariants"] = [summary, {**summary, "VariantName": "Shadow"}]
    endpoint = Endpoint.from_document(doc)
    described = endpoint.describe()
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["AllTraffic"]  # type: ignore[attr-defined]
    assert [v["VariantName"] for v in described["ShadowProductionVariants"]] == ["Shadow"]  # type: ignore[attr-defined]
    again = Endpoint.from_document(endpoint.to_document())
    assert again.describe() == described
    assert [v.shadow for v in again.plan.variants] == [False, True]
    assert again.plan.variants[0].max_concurrency == 3
    assert again.plan.variants[1].max_concurrency is None
