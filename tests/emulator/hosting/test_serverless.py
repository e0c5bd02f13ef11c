"""Serverless variants (ServerlessConfig): CreateEndpointConfig's rules, DescribeEndpoint's
CurrentServerlessConfig, MaxConcurrency as a cap answered with ThrottlingException, and the
SageMaker SDK's ServerlessInferenceConfig deploy."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.emulator.hosting.script_models import SLOW_SCRIPT, create_model, script_variant
from tests.support import ROLE, XGBOOST_IMAGE, unique, wait_for_status

ROW = b"5.1,3.5,1.4,0.2"
# the scikit-learn container squeezes one CSV row to 1-D, which predict refuses: two rows
TWO_ROWS = ROW + b"\n" + ROW
SERVERLESS = {"MemorySizeInMB": 2048, "MaxConcurrency": 2}


def _config(sm, model: str, **variant) -> str:  # type: ignore[no-untyped-def]
    name = unique("sls")
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": model, **variant}],
    )
    return name


@pytest.fixture(scope="module")
def xgb_model(smlocal, iris_model_data) -> str:  # type: ignore[no-untyped-def]
    return create_model(
        smlocal.client("sagemaker"), unique("sls-model"), {"model_data": iris_model_data}
    )


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        (
            {"ServerlessConfig": SERVERLESS, "InstanceType": "ml.m5.large"},
            "specifies both ServerlessConfig and InstanceType",
        ),
        (
            {"ServerlessConfig": SERVERLESS, "InitialInstanceCount": 1},
            "specifies both ServerlessConfig and InitialInstanceCount",
        ),
        (
            {"ServerlessConfig": {"MemorySizeInMB": 1500, "MaxConcurrency": 1}},
            "valid values are 1024, 2048, 3072, 4096, 5120 and 6144",
        ),
        (
            {"ServerlessConfig": {**SERVERLESS, "ProvisionedConcurrency": 3}},
            "ProvisionedConcurrency (3) of production variant AllTraffic must be less than or "
            "equal to its MaxConcurrency (2)",
        ),
        ({"ServerlessConfig": {"MemorySizeInMB": 7168, "MaxConcurrency": 1}}, "6144"),
        ({"ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 201}}, "200"),
    ],
)
def test_serverless_configs_aws_refuses_are_refused(smlocal, xgb_model, variant, message) -> None:
    sm = smlocal.client("sagemaker")
    with pytest.raises(ClientError) as caught:
        _config(sm, xgb_model, **variant)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert message in caught.value.response["Error"]["Message"]


def test_data_capture_is_refused_on_a_serverless_endpoint(smlocal, xgb_model) -> None:
    """AWS lists Data Capture among the features serverless inference does not support."""
    sm = smlocal.client("sagemaker")
    with pytest.raises(ClientError) as caught:
        sm.create_endpoint_config(
            EndpointConfigName=unique("sls"),
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": xgb_model,
                    "ServerlessConfig": SERVERLESS,
                }
            ],
            DataCaptureConfig={
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": "s3://models/capture",
                "CaptureOptions": [{"CaptureMode": "Input"}],
            },
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "not supported for serverless endpoints" in caught.value.response["Error"]["Message"]


def test_describe_shows_the_serverless_config_instead_of_instance_counts(
    smlocal, xgb_model
) -> None:
    sm = smlocal.client("sagemaker")
    config = {**SERVERLESS, "ProvisionedConcurrency": 1}
    name = _config(sm, xgb_model, ServerlessConfig=config)
    assert (
        sm.describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"][0][
            "ServerlessConfig"
        ]
        == config
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_for_status(sm, name, timeout=300)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    (summary,) = described["ProductionVariants"]
    assert summary["CurrentServerlessConfig"] == config
    assert summary["DesiredServerlessConfig"] == config
    assert "CurrentInstanceCount" not in summary
    assert "DesiredInstanceCount" not in summary
    answer = smlocal.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=name, ContentType="text/csv", Body=ROW
    )
    assert answer["Body"].read().strip() == b"0.0"
    sm.delete_endpoint(EndpointName=name)


def test_invocations_beyond_max_concurrency_are_throttled(smlocal, tmp_path) -> None:
    """Eight concurrent clients of a variant whose model takes 3 s, MaxConcurrency 2: the
    requests beyond two in flight get ThrottlingException (HTTP 400, as SageMaker answers);
    the others are served, and once they are done the endpoint serves again."""
    sm = smlocal.client("sagemaker")
    variant = script_variant(smlocal, tmp_path, SLOW_SCRIPT)
    model = create_model(sm, unique("slow"), variant)
    name = _config(sm, model, ServerlessConfig=SERVERLESS)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_for_status(sm, name, timeout=300)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    runtime = smlocal.client(
        "sagemaker-runtime",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=120, max_pool_connections=20),
    )
    outcomes: list[object] = []
    start = threading.Barrier(8)

    def call() -> None:
        start.wait()
        try:
            got = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=TWO_ROWS)
            assert got["ResponseMetadata"]["RetryAttempts"] == 0
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    errors = [o for o in outcomes if o != "ok"]
    assert len(outcomes) == 8
    assert 1 <= outcomes.count("ok") <= 2, outcomes
    assert errors, outcomes
    for error in errors:
        assert isinstance(error, dict)
        assert error["Error"]["Code"] == "ThrottlingException", error
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "MaxConcurrency of 2" in error["Error"]["Message"]
    answer = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=TWO_ROWS)
    assert answer["Body"].read().split() == [b"[0,", b"0]"]
    sm.delete_endpoint(EndpointName=name)


def test_the_sdk_deploys_a_serverless_inference_config(
    smlocal_sagemaker_session, iris_model_data
) -> None:
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer
    from sagemaker.serverless import ServerlessInferenceConfig

    session = smlocal_sagemaker_session
    model = Model(
        image_uri=XGBOOST_IMAGE,
        model_data=iris_model_data,
        role=ROLE,
        sagemaker_session=session,
        predictor_cls=Predictor,
    )
    name = unique("sdk-sls")
    predictor = model.deploy(
        endpoint_name=name,
        serverless_inference_config=ServerlessInferenceConfig(
            memory_size_in_mb=1024, max_concurrency=3
        ),
        serializer=CSVSerializer(),
    )
    try:
        assert predictor.predict([5.1, 3.5, 1.4, 0.2]).strip() == b"0.0"
        described = session.sagemaker_client.describe_endpoint(EndpointName=name)
        assert described["ProductionVariants"][0]["CurrentServerlessConfig"] == {
            "MemorySizeInMB": 1024,
            "MaxConcurrency": 3,
        }
    finally:
        predictor.delete_endpoint()


def _streams(logs, endpoint: str) -> list[str]:  # type: ignore[no-untyped-def]
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    try:
        listed = logs.describe_log_streams(logGroupName=group)["logStreams"]
    except ClientError:
        return []
    return sorted(s["logStreamName"] for s in listed)


def _logged(logs, endpoint: str, text: str) -> bool:  # type: ignore[no-untyped-def]
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    try:
        events = logs.filter_log_events(logGroupName=group)["events"]
    except ClientError:
        return False
    return any(text in e["message"] for e in events)


def test_an_idle_serverless_variant_scales_to_zero_and_starts_cold(
    smlocal_factory, iris_tar
) -> None:
    """With a 2-second idle setting (the default is 300 s): the variant's model server stops
    once idle (its log says gunicorn shut down), the next invocations wait for one new server
    (a new instance: a new log stream) and are answered; a variant with
    ProvisionedConcurrency stays warm."""
    emulator = smlocal_factory(env={"SMLOCAL_SERVERLESS_IDLE_SECONDS": "2"})
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="cold")
    s3.upload_file(str(iris_tar), "cold", "model.tar.gz")
    sm, logs = emulator.client("sagemaker"), emulator.client("logs")
    model = create_model(sm, unique("cold"), {"model_data": "s3://cold/model.tar.gz"})
    cold = _config(sm, model, ServerlessConfig={"MemorySizeInMB": 1024, "MaxConcurrency": 5})
    warm = _config(
        sm,
        model,
        ServerlessConfig={"MemorySizeInMB": 1024, "MaxConcurrency": 5, "ProvisionedConcurrency": 1},
    )
    for name in (cold, warm):
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    for name in (cold, warm):
        described = wait_for_status(sm, name, timeout=300)
        assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    runtime = emulator.client("sagemaker-runtime", config=Config(read_timeout=300))
    for name in (cold, warm):
        runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=ROW)
    assert len(_streams(logs, cold)) == 1

    deadline = time.monotonic() + 120
    while not _logged(logs, cold, "Shutting down"):
        assert time.monotonic() < deadline, "the idle serverless variant never scaled to zero"
        time.sleep(0.5)
    assert not _logged(logs, warm, "Shutting down")  # ProvisionedConcurrency keeps it warm

    answers: list[bytes] = []

    def call() -> None:
        got = runtime.invoke_endpoint(EndpointName=cold, ContentType="text/csv", Body=ROW)
        answers.append(got["Body"].read().strip())

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert answers == [b"0.0"] * 3
    assert len(_streams(logs, cold)) == 2  # one cold start for the three waiting requests
    assert len(_streams(logs, warm)) == 1
    answer = runtime.invoke_endpoint(EndpointName=warm, ContentType="text/csv", Body=ROW)
    assert answer["Body"].read().strip() == b"0.0"


HUNGRY_SCRIPT = b"""
import os, time, joblib  # noqa
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
def predict_fn(data, model):
    if data[0][0] > 100:  # hold 1.5 GB for a while
        hoard = b"x" * (1536 * 1024 * 1024)
        time.sleep(30)
        del hoard
    return model.predict(data)
"""


def test_a_server_above_its_memory_size_is_stopped_and_replaced(smlocal, tmp_path) -> None:
    """MemorySizeInMB 1024 is the model server's budget: a request that makes it hold 1.5 GB
    fails (the server is stopped, as a container at its memory limit is), and the variant
    serves again from a new server."""
    sm = smlocal.client("sagemaker")
    model = create_model(sm, unique("hungry"), script_variant(smlocal, tmp_path, HUNGRY_SCRIPT))
    name = _config(sm, model, ServerlessConfig={"MemorySizeInMB": 1024, "MaxConcurrency": 2})
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_for_status(sm, name, timeout=300)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    runtime = smlocal.client(
        "sagemaker-runtime", config=Config(retries={"total_max_attempts": 1}, read_timeout=120)
    )
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(
            EndpointName=name, ContentType="text/csv", Body=b"500,1,1,1\n" + ROW
        )
    assert caught.value.response["Error"]["Code"] == "ModelError"
    deadline = time.monotonic() + 120
    while True:  # the supervisor starts a new server in the killed one's place
        try:
            answer = runtime.invoke_endpoint(
                EndpointName=name, ContentType="text/csv", Body=TWO_ROWS
            )
            break
        except ClientError:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    assert answer["Body"].read().split() == [b"[0,", b"0]"]
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    sm.delete_endpoint(EndpointName=name)


def test_group_rss_counts_this_process_group() -> None:
    import os

    from smlocal.emulator.hosting.memory_budget import group_rss

    used = group_rss(os.getpgrp())
    assert used is not None
    assert used > 10 * 1024 * 1024  # this pytest process alone holds more than 10 MB
    assert group_rss(os.getpgrp(), proc=__import__("pathlib").Path("/nonexistent")) is None


def test_held_requests_are_answered_when_a_delete_drops_the_queued_cold_start() -> None:
    """A wake queued behind other work of the endpoint (a sleep still draining) is dropped by
    a DeleteEndpoint's cancel: the requests it held get the 503 at once instead of hanging
    until the client gives up (the wake used to vanish without a word)."""
    import asyncio
    from types import SimpleNamespace

    from smlocal.emulator.hosting.serverless import ServerlessScaler
    from smlocal.emulator.runtime.cold_starts import ColdStarts
    from smlocal.emulator.support.serial import SerialQueues, Work

    loop = asyncio.new_event_loop()
    queues = SerialQueues()
    settings = SimpleNamespace(serverless_idle_seconds=300.0)
    manager = SimpleNamespace(loop=loop, queues=queues, ctx=SimpleNamespace(settings=settings))
    scaler = ServerlessScaler(manager)  # type: ignore[arg-type]
    failed: list[tuple[int, str]] = []
    all_failed = loop.create_future()

    def fail(respond, error, request_id) -> None:  # type: ignore[no-untyped-def]
        failed.append((error.status, request_id))
        if len(failed) == 3:
            all_failed.set_result(None)

    held = ColdStarts(scaler.wake, lambda request, respond: None, fail)
    blocker = threading.Event()
    queues.submit(Work("ep", "sleep", "", lambda work: work.cancel.wait(60) and blocker.set()))
    for n in range(3):
        held.hold("ep", "AllTraffic", object(), lambda *a: None, f"r{n}")  # type: ignore[arg-type]
    queues.cancel("ep")  # what DeleteEndpoint does once its write committed
    loop.run_until_complete(asyncio.wait_for(all_failed, 60))
    assert failed == [(503, "r0"), (503, "r1"), (503, "r2")]
    assert held.held == {}
    assert blocker.wait(60)
    assert queues.wait(60)
    queues.closed = True
    late = loop.create_future()
    scaler.wake("ep", "AllTraffic", late.set_result)  # after shutdown: answered too
    assert loop.run_until_complete(asyncio.wait_for(late, 60)) is False
    loop.close()


def _model_servers(endpoint: str) -> list[int]:
    """Pids of live processes started for this endpoint (model servers carry its name)."""
    from pathlib import Path

    mark = f"SMLOCAL_ENDPOINT_NAME={endpoint}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if mark in environ and state != "Z":
            found.append(int(entry.name))
    return found


def test_deleting_a_serverless_endpoint_asleep_or_starting_cold_leaves_no_server(
    smlocal_factory, iris_tar
) -> None:
    """Deleted while scaled to zero, or while its cold start holds requests: the held request
    gets an AWS error (not a hang), the name is then unknown (no route left behind) and no
    model server process of either endpoint is left."""
    emulator = smlocal_factory(env={"SMLOCAL_SERVERLESS_IDLE_SECONDS": "2"})
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="gone")
    s3.upload_file(str(iris_tar), "gone", "model.tar.gz")
    sm, logs = emulator.client("sagemaker"), emulator.client("logs")
    model = create_model(sm, unique("gone"), {"model_data": "s3://gone/model.tar.gz"})
    names = [
        _config(sm, model, ServerlessConfig={"MemorySizeInMB": 1024, "MaxConcurrency": 5})
        for _ in range(2)
    ]
    for name in names:
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    for name in names:
        described = wait_for_status(sm, name, timeout=300)
        assert described["EndpointStatus"] == "InService", described.get("FailureReason")
        assert _model_servers(name)
    deadline = time.monotonic() + 120
    while not all(_logged(logs, name, "Shutting down") for name in names):
        assert time.monotonic() < deadline, "the idle serverless variants never scaled to zero"
        time.sleep(0.5)
    starting = names[1]  # names[0] is deleted while asleep
    runtime = emulator.client(
        "sagemaker-runtime", config=Config(read_timeout=300, retries={"total_max_attempts": 1})
    )
    outcome: list[object] = []

    def call() -> None:
        try:
            runtime.invoke_endpoint(EndpointName=starting, ContentType="text/csv", Body=ROW)
            outcome.append("answered")
        except ClientError as exc:
            outcome.append(exc.response["Error"]["Code"])

    held = threading.Thread(target=call)
    held.start()
    deadline = time.monotonic() + 60
    while len(_streams(logs, starting)) < 2:  # its cold start has begun
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for name in names:
        sm.delete_endpoint(EndpointName=name)
    held.join(timeout=120)
    assert not held.is_alive(), "a request held for a cold start hung after the delete"
    assert outcome in (["ServiceUnavailable"], ["answered"], ["ValidationError"])
    for name in names:
        deadline = time.monotonic() + 120
        while True:
            try:
                sm.describe_endpoint(EndpointName=name)
            except ClientError:
                break
            assert time.monotonic() < deadline
            time.sleep(0.2)
        with pytest.raises(ClientError) as caught:
            runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=ROW)
        assert caught.value.response["Error"]["Code"] == "ValidationError"  # the runtime's
        assert "not found" in caught.value.response["Error"]["Message"]
        deadline = time.monotonic() + 60
        while _model_servers(name):
            assert time.monotonic() < deadline, f"{name}: model servers left {_model_servers(name)}"
            time.sleep(0.2)
