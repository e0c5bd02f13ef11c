"""`smlocal up --example` brings the example endpoint back whatever the last run left: its
endpoint deleted with its model or config kept, or the endpoint Failed (its bucket deleted);
when it still cannot serve, `up` says so in one line and serves everything else."""

from __future__ import annotations

import json
import urllib.request

import pytest

ENDPOINT = "iris-example"
ROW = b"5.1,3.5,1.4,0.2"


def this_start(log: str) -> str:
    """What the emulator printed since its last start (its log file keeps every run)."""
    return log.rsplit("smlocal listening on", 1)[-1]


def assert_serving(emulator) -> None:
    printed = this_start(emulator.log())
    assert "Traceback" not in printed, printed
    assert "\nTry the example endpoint:\n" in printed, printed
    sm = emulator.client("sagemaker")
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "InService"
    answer = emulator.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="text/csv", Body=ROW
    )
    assert answer["Body"].read() == b"0.0\n"


@pytest.mark.parametrize(
    "also_deleted", [(), ("model",)], ids=["model-and-config-kept", "config-kept"]
)
def test_a_deleted_example_endpoint_is_built_again_over_what_was_kept(
    smlocal_factory, also_deleted
) -> None:
    emulator = smlocal_factory(args=("--example",))
    sm = emulator.client("sagemaker")
    sm.delete_endpoint(EndpointName=ENDPOINT)
    if "model" in also_deleted:
        sm.delete_model(ModelName=f"{ENDPOINT}-model")
    emulator.restart("--example")
    assert_serving(emulator)
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == [f"{ENDPOINT}-model"]
    configs = sm.list_endpoint_configs()["EndpointConfigs"]
    assert [c["EndpointConfigName"] for c in configs] == [ENDPOINT]


def _delete_bucket(emulator) -> None:
    s3 = emulator.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="smlocal-example"):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket="smlocal-example", Key=item["Key"])
    s3.delete_bucket(Bucket="smlocal-example")


def test_a_failed_example_endpoint_is_built_again(smlocal_factory) -> None:
    emulator = smlocal_factory(args=("--example",))
    _delete_bucket(emulator)  # the model data with it: the endpoint cannot come back as it was
    emulator.restart("--example")
    printed = this_start(emulator.log())
    assert f"the example endpoint {ENDPOINT} is Failed (" in printed
    assert "; building it again" in printed
    assert_serving(emulator)


def test_an_example_endpoint_that_cannot_serve_is_one_line_and_up_serves_on(
    smlocal_factory,
) -> None:
    emulator = smlocal_factory(args=("--example",))
    emulator.extra_env["SMLOCAL_MAX_MODEL_BYTES"] = "1000"  # the iris model is larger
    emulator.restart("--example")
    printed = this_start(emulator.log())
    assert "Traceback" not in printed, printed
    assert "Try the example endpoint" not in printed
    lines = [line for line in printed.splitlines() if "example endpoint cannot serve" in line]
    assert len(lines) == 1, printed
    assert lines[0].startswith(f"The example endpoint cannot serve: {ENDPOINT} is Failed: ")
    sm = emulator.client("sagemaker")
    described = sm.describe_endpoint(EndpointName=ENDPOINT)
    assert lines[0].endswith(described["FailureReason"])
    with urllib.request.urlopen(f"{emulator.url}/_smlocal/health", timeout=10) as answer:
        health = json.load(answer)
    assert health["status"] == "ready"
    assert health["detail"] == lines[0].replace("The example", "the example", 1)
