"""Shadow variants (ShadowProductionVariants): the shadow gets a copy of each request, its
answer is never the caller's and its failures never reach the caller, both variants' traffic
is captured under their own variant names (the shadow's records marked invocationSource
ShadowExperiment), and `smlocal captures diff` compares the two."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from smlocal.capture_sink.diff import difference, side_text
from smlocal.capture_sink.listing import list_capture_files
from smlocal.capture_sink.validate import check_lines
from tests.emulator.hosting.script_models import (
    FAILING_SCRIPT,
    create_model,
    script_variant,
)
from tests.emulator.hosting.test_logs import events_until
from tests.support import SMLOCAL, unique, wait_for_status

PREDICT_SCRIPT = b"""
import os, joblib
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""
ROWS = [
    "5.1,3.5,1.4,0.2",
    "6.2,2.9,4.3,1.3",
    "7.7,3.0,6.1,2.3",
    "5.0,3.4,1.5,0.2",
    "6.0,2.2,5.0,1.5",
    "4.9,2.5,4.5,1.7",
]
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": "s3://shadow-captures/capture",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
}


def _body(i: int) -> bytes:
    """Two rows (the scikit-learn container refuses one): row i and the next."""
    return f"{ROWS[i % len(ROWS)]}\n{ROWS[(i + 1) % len(ROWS)]}".encode()


def shadow_endpoint(smlocal, production: dict, shadow: dict, weight: float = 1.0) -> str:  # type: ignore[no-untyped-def]
    sm = smlocal.client("sagemaker")
    name = unique("shadow")
    prod_model = create_model(sm, unique("prod-model"), production)
    shadow_model = create_model(sm, unique("shadow-model"), shadow)
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "Prod",
                "ModelName": prod_model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": 1.0,
            }
        ],
        ShadowProductionVariants=[
            {
                "VariantName": "Shadow",
                "ModelName": shadow_model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": weight,
            }
        ],
        DataCaptureConfig=CAPTURE,
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_for_status(sm, name, timeout=300)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return name


@pytest.fixture(scope="module")
def bucket(smlocal) -> str:  # type: ignore[no-untyped-def]
    s3 = smlocal.client("s3")
    if "shadow-captures" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="shadow-captures")
    return "shadow-captures"


def records_until(smlocal, name: str, variant: str, count: int, timeout: float = 120) -> list[dict]:  # type: ignore[no-untyped-def]
    """The variant's capture records once there are `count` (the shadow answers after the
    caller got production's answer, so its records may come a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        smlocal.flush_captures(name)
        files = list_capture_files(
            f"s3://shadow-captures/capture/{name}/{variant}/", s3_client=smlocal.client("s3")
        )
        lines = [line for f in files for line in f.read().splitlines()]
        if len(lines) >= count or time.monotonic() > deadline:
            for f in files:  # every file holds to the capture record contract
                assert list(check_lines(f.read(), f.uri)) == []
            return [json.loads(line) for line in lines]
        time.sleep(0.5)


def test_shadow_traffic_is_captured_apart_and_diffed(
    smlocal, iris_model_data, bucket, tmp_path
) -> None:
    shadow = script_variant(smlocal, tmp_path, PREDICT_SCRIPT)
    name = shadow_endpoint(smlocal, {"model_data": iris_model_data}, shadow)
    sm, runtime = smlocal.client("sagemaker"), smlocal.client("sagemaker-runtime")
    described = sm.describe_endpoint(EndpointName=name)
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["Prod"]
    assert [v["VariantName"] for v in described["ShadowProductionVariants"]] == ["Shadow"]
    assert described["ShadowProductionVariants"][0]["CurrentInstanceCount"] == 1

    calls = 12
    for i in range(calls):
        extra = {"InferenceId": f"req-{i}"} if i % 2 else {}
        answer = runtime.invoke_endpoint(
            EndpointName=name, ContentType="text/csv", Body=_body(i), **extra
        )
        assert answer["InvokedProductionVariant"] == "Prod"
        answer["Body"].read()
    with pytest.raises(ClientError) as caught:  # a shadow is not a variant a caller targets
        runtime.invoke_endpoint(
            EndpointName=name, ContentType="text/csv", Body=_body(0), TargetVariant="Shadow"
        )
    assert caught.value.response["Error"]["Code"] == "ValidationError"

    prod = records_until(smlocal, name, "Prod", calls)
    copies = records_until(smlocal, name, "Shadow", calls)
    assert len(prod) == len(copies) == calls
    assert all("invocationSource" not in r["eventMetadata"] for r in prod)
    assert all(r["eventMetadata"]["invocationSource"] == "ShadowExperiment" for r in copies)
    ids = sorted(r["eventMetadata"].get("inferenceId", "") for r in copies)
    assert ids == sorted(r["eventMetadata"].get("inferenceId", "") for r in prod)
    # xgboost answers "1.0", scikit-learn "[1, ...]": what the diff must find, computed here
    by_input = {side_text(r, "endpointInput"): side_text(r, "endpointOutput") for r in copies}
    expected = sum(
        difference(side_text(r, "endpointOutput"), by_input[side_text(r, "endpointInput")], 0.0) > 0
        for r in prod
    )

    env = {**os.environ, **smlocal.env}
    out = subprocess.run(
        [*SMLOCAL, "captures", "diff", f"s3://{bucket}/capture/{name}/", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    report = json.loads(out)
    assert report["productionRecords"] == report["shadowRecords"] == calls
    assert report["matchedPairs"] == calls
    assert report["unmatchedProduction"] == report["unmatchedShadow"] == 0
    assert report["disagreements"] == expected
    assert report["disagreementRate"] == expected / calls
    two = subprocess.run(
        [
            *SMLOCAL,
            "captures",
            "diff",
            f"s3://{bucket}/capture/{name}/Prod/",
            f"s3://{bucket}/capture/{name}/Shadow/",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert f"matched pairs:       {calls}" in two

    # promote the shadow: an UpdateEndpoint to a config whose production variant is its model
    shadow_model = sm.describe_endpoint_config(EndpointConfigName=name)["ShadowProductionVariants"][
        0
    ]["ModelName"]
    promoted = unique("promoted")
    sm.create_endpoint_config(
        EndpointConfigName=promoted,
        ProductionVariants=[
            {
                "VariantName": "Shadow",
                "ModelName": shadow_model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.update_endpoint(EndpointName=name, EndpointConfigName=promoted)
    described = wait_for_status(sm, name, ("InService", "Failed"), timeout=300)
    assert described["EndpointConfigName"] == promoted
    assert "ShadowProductionVariants" not in described
    answer = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=_body(0))
    assert answer["InvokedProductionVariant"] == "Shadow"
    sm.delete_endpoint(EndpointName=name)


def test_a_failing_shadow_never_reaches_the_caller(
    smlocal, iris_model_data, bucket, tmp_path
) -> None:
    shadow = script_variant(smlocal, tmp_path, FAILING_SCRIPT)
    name = shadow_endpoint(smlocal, {"model_data": iris_model_data}, shadow)
    runtime = smlocal.client("sagemaker-runtime", config=Config(retries={"total_max_attempts": 1}))
    for i in range(5):
        answer = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=_body(i))
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert answer["InvokedProductionVariant"] == "Prod"
    # the shadow did get the copies, and failed on them (its log says so)
    events = events_until(
        smlocal.client("logs"), f"/aws/sagemaker/Endpoints/{name}", "smlocal-shadow-failure", 60
    )
    assert any(e["logStreamName"].startswith("Shadow/") for e in events)
    assert len(records_until(smlocal, name, "Prod", 5)) == 5
    assert records_until(smlocal, name, "Shadow", 0) == []  # failed invocations: not captured
    smlocal.client("sagemaker").delete_endpoint(EndpointName=name)


def test_shadow_configs_aws_refuses_are_refused(smlocal, iris_model_data) -> None:
    sm = smlocal.client("sagemaker")
    model = create_model(sm, unique("m"), {"model_data": iris_model_data})

    def variant(name: str) -> dict:
        return {
            "VariantName": name,
            "ModelName": model,
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1,
        }

    for production, shadows, message in (
        ([variant("A"), variant("B")], [variant("S")], "exactly one variant"),
        ([variant("A")], [variant("S"), variant("T")], "exactly one variant"),
        ([variant("A")], [variant("a")], "must be unique"),
    ):
        with pytest.raises(ClientError) as caught:
            sm.create_endpoint_config(
                EndpointConfigName=unique("bad"),
                ProductionVariants=production,
                ShadowProductionVariants=shadows,
            )
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        assert message in caught.value.response["Error"]["Message"]


def test_the_shadow_gets_its_weight_s_share_of_requests() -> None:
    """InitialVariantWeight of the shadow relative to production's sets the share copied."""
    import random

    from smlocal.emulator.hosting.routing import EndpointRoute, VariantRoute
    from smlocal.emulator.runtime.shadow import mirror, share

    class Pool:
        busy = 0
        sent = 0

        def send(self, request, done, timeout) -> None:  # type: ignore[no-untyped-def]
            Pool.sent += 1
            done(None, ConnectionError("down"))  # a failure is swallowed

    production = VariantRoute("Prod", 2.0, ())
    shadow = VariantRoute("Shadow", 0.5, (Pool(),), shadow=True)  # type: ignore[arg-type]
    assert share(shadow, production) == 0.25
    assert share(VariantRoute("S", 9.0, (), shadow=True), production) == 1.0
    route = EndpointRoute("e", (production, shadow))
    assert route.choose(random.Random(1)) is production  # never routed to on its own
    assert route.variant("Shadow") is None
    rng = random.Random(7)
    answers: list[tuple[str, int]] = []
    for _ in range(4000):
        mirror(
            route, production, b"", rng, 1.0, answered=lambda v, s, t: answers.append((v.name, s))
        )
    assert 800 < Pool.sent < 1200
    assert answers == [("Shadow", 0)] * Pool.sent  # each copy counted for the shadow (its metrics)


def test_the_aws_cli_creates_a_shadow_config_and_describes_it(smlocal, iris_model_data) -> None:
    import sys
    from pathlib import Path

    aws = Path(sys.executable).parent / "aws"
    if not aws.exists():
        pytest.skip("the AWS CLI is not installed")
    sm = smlocal.client("sagemaker")
    model = create_model(sm, unique("cli-model"), {"model_data": iris_model_data})
    name = unique("cli-shadow")

    def variant(variant_name: str, extra: str) -> str:
        return f"VariantName={variant_name},ModelName={model},{extra}"

    env = {**os.environ, **smlocal.env}
    subprocess.run(
        [
            str(aws), "sagemaker", "create-endpoint-config", "--endpoint-config-name", name,
            "--production-variants",
            variant("Prod", "InstanceType=ml.m5.large,InitialInstanceCount=1"),
            "--shadow-production-variants",
            variant("Shadow", "ServerlessConfig={MemorySizeInMB=1024,MaxConcurrency=2}"),
        ],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    described = json.loads(
        subprocess.run(
            [str(aws), "sagemaker", "describe-endpoint-config", "--endpoint-config-name", name],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    )
    (shadow,) = described["ShadowProductionVariants"]
    assert shadow["VariantName"] == "Shadow"
    assert shadow["ServerlessConfig"] == {"MemorySizeInMB": 1024, "MaxConcurrency": 2}
    refused = subprocess.run(
        [
            str(aws), "sagemaker", "create-endpoint-config", "--endpoint-config-name",
            unique("cli-bad"), "--production-variants",
            variant("Prod", "InstanceType=ml.m5.large,ServerlessConfig={MemorySizeInMB=1024,MaxConcurrency=2}"),
        ],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "ValidationException" in refused.stderr
    assert "both ServerlessConfig and InstanceType" in refused.stderr


def test_a_hung_shadow_gets_a_bounded_backlog_of_copies() -> None:
    """A shadow whose server accepts connections and never answers: copies stop at BACKLOG
    per instance (each held a connection until the invocation timeout, without end before),
    and once they time out new copies go again."""
    import asyncio
    import random
    import socket

    from smlocal.emulator.hosting.routing import EndpointRoute, VariantRoute
    from smlocal.emulator.hosting.upstream import UpstreamPool
    from smlocal.emulator.runtime.shadow import BACKLOG, mirror

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    loop = asyncio.new_event_loop()
    try:
        pool = UpstreamPool(loop, listener.getsockname()[1])
        production = VariantRoute("Prod", 1.0, ())
        shadow = VariantRoute("Shadow", 1.0, (pool,), shadow=True)
        route = EndpointRoute("e", (production, shadow))
        answers: list[int] = []
        request = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"

        async def burst(count: int, timeout: float) -> None:
            for _ in range(count):
                mirror(route, production, request, random.Random(1), timeout,
                       answered=lambda v, s, t: answers.append(s))  # fmt: skip
            await asyncio.sleep(0.5)

        loop.run_until_complete(burst(5 * BACKLOG, 60.0))
        assert pool.busy == BACKLOG
        accepted = 0
        listener.settimeout(1.0)
        held = []
        while True:
            try:
                held.append(listener.accept()[0])
                accepted += 1
            except TimeoutError:
                break
        assert accepted == BACKLOG
        for conn in held:
            conn.close()  # the hung copies end: new ones may go
        loop.run_until_complete(asyncio.sleep(1.0))
        assert pool.busy == 0
        assert answers == [0] * BACKLOG
        loop.run_until_complete(burst(3, 60.0))
        assert pool.busy == 3
        for _ in range(3):
            listener.accept()[0].close()
        loop.run_until_complete(asyncio.sleep(1.0))
        assert pool.busy == 0
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.close()
        listener.close()
