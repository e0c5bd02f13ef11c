"""The typed Context: managers wired in by role, a missing one named, and what the endpoint
manager asks of the control plane (DescribeEndpoint's shaping, a deleted endpoint's tags)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smlocal.emulator.control import processing_jobs, training_jobs
from smlocal.emulator.control.context import Context, ManagerMissing, Managers, wired
from smlocal.emulator.control.endpoints import EndpointDocuments, create_endpoint
from smlocal.emulator.control.tags import set_tags, tags_of
from smlocal.emulator.hosting.endpoint_records import Endpoint, Plan
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.store import Store

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 50,
    "DestinationS3Uri": "s3://bucket/capture",
    "CaptureOptions": [{"CaptureMode": "Input"}],
}


def _context(tmp_path: Path, managers: Managers | None = None) -> Context:
    return Context(
        Store(), EmulatorSettings(data_dir=tmp_path), lambda: 1700000000.0, managers or Managers()
    )


def test_a_missing_manager_is_named(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    with pytest.raises(ManagerMissing, match="no endpoint manager is wired"):
        create_endpoint_with_a_config(ctx)
    with pytest.raises(ManagerMissing, match="no processing manager"):
        processing_jobs.runner(ctx)
    with pytest.raises(ManagerMissing, match="no training manager"):
        training_jobs.training(ctx)


def test_a_wired_manager_is_returned(tmp_path: Path) -> None:
    class Runner:
        def start(self, name: str) -> None:
            pass

        def stop(self, name: str) -> None:
            pass

    runner = Runner()
    ctx = _context(tmp_path, Managers(processing=runner))
    assert processing_jobs.runner(ctx) is runner
    assert wired(runner, "processing") is runner


def test_endpoint_documents_shape_a_live_plan_as_describe_shows_it(tmp_path: Path) -> None:
    plan = Plan.from_document(
        {
            "EndpointConfigName": "config",
            "Variants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "m",
                    "Image": IMAGE,
                    "Weight": 1.0,
                    "InstanceCount": 2,
                }
            ],
            "DataCaptureConfig": CAPTURE,
        }
    )
    variants, capture = EndpointDocuments(_context(tmp_path)).live(plan, 123.0)
    assert [
        (v["VariantName"], v["CurrentInstanceCount"], v["DesiredWeight"]) for v in variants
    ] == [("AllTraffic", 2, 1.0)]
    image = variants[0]["DeployedImages"][0]
    assert (image["SpecifiedImage"], image["ResolutionTime"]) == (IMAGE, 123.0)
    assert image["ResolvedImage"].startswith(IMAGE.split(":", maxsplit=1)[0] + "@sha256:")
    assert capture == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 50,
        "DestinationS3Uri": "s3://bucket/capture",
    }


def test_endpoint_documents_forget_a_deleted_endpoints_tags(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    arn = ctx.arn("endpoint", "gone")
    set_tags(ctx, arn, [{"Key": "team", "Value": "ml"}])
    assert tags_of(ctx, arn) == [{"Key": "team", "Value": "ml"}]
    gone = Endpoint("gone", arn, "config", 1.0, Plan("config", []))
    EndpointDocuments(ctx).forget(gone)
    assert tags_of(ctx, arn) == []


def create_endpoint_with_a_config(ctx: Context) -> None:
    """CreateEndpoint of a stored one-variant config, so that only the manager is missing."""
    ctx.store.put(
        "model",
        "m",
        {
            "ModelName": "m",
            "ModelArn": ctx.arn("model", "m"),
            "CreationTime": 0.0,
            "_Runnable": [{"Image": IMAGE, "ModelDataUrl": "s3://b/model.tar.gz"}],
        },
    )
    ctx.store.put(
        "endpoint-config",
        "c",
        {
            "EndpointConfigName": "c",
            "EndpointConfigArn": ctx.arn("endpoint-config", "c"),
            "CreationTime": 0.0,
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "m"}],
        },
    )
    create_endpoint(ctx, {"EndpointName": "e", "EndpointConfigName": "c"})
