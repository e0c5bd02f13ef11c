"""Endpoint invocation metrics in CloudWatch, per variant and minute, as SageMaker publishes
them; read back as the SDK's A/B-testing notebooks read them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from smlocal.emulator.runtime.metrics import EndpointMetrics
from smlocal.emulator.settings import EmulatorSettings
from tests.support import XGBOOST_IMAGE, deploy, unique

ROW = b"7.7,3.0,6.1,2.3"
COUNTS = (
    "Invocations",
    "InvocationsPerInstance",
    "Invocation4XXErrors",
    "Invocation5XXErrors",
)


def statistics(cw, endpoint: str, variant: str, metric: str, stats: list[str]) -> list[dict]:
    now = datetime.now(UTC)
    return cw.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": variant},
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=stats,
    )["Datapoints"]


def total(points: list[dict], stat: str = "Sum") -> float:
    return sum(p[stat] for p in points)


def wait_for_sum(cw, endpoint: str, variant: str, metric: str, want: float) -> list[dict]:
    deadline = time.monotonic() + 15
    while True:
        points = statistics(cw, endpoint, variant, metric, ["Sum"])
        if total(points) >= want:
            return points
        assert time.monotonic() < deadline, f"{metric} of {variant}: {points}, want {want}"
        time.sleep(0.2)


def test_ab_variants_publish_their_own_metrics(smlocal_factory, iris_tar) -> None:
    emulator = smlocal_factory(env={"SMLOCAL_METRICS_PERIOD_SECONDS": "0.3"})
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="ab-models")
    s3.upload_file(str(iris_tar), "ab-models", "model.tar.gz")
    name = unique("ab")
    variants = [
        {"name": "VariantA", "model_data": "s3://ab-models/model.tar.gz", "count": 2},
        {"name": "VariantB", "model_data": "s3://ab-models/model.tar.gz"},
    ]
    deploy(emulator.client("sagemaker"), name, variants)
    runtime = emulator.client("sagemaker-runtime", config=Config(retries={"max_attempts": 1}))
    for _ in range(6):
        runtime.invoke_endpoint(
            EndpointName=name, TargetVariant="VariantA", ContentType="text/csv", Body=ROW
        )
    for _ in range(3):
        runtime.invoke_endpoint(
            EndpointName=name, TargetVariant="VariantB", ContentType="text/csv", Body=ROW
        )
    with pytest.raises(ClientError):  # the container answers 400: a 4XX error of VariantB
        runtime.invoke_endpoint(
            EndpointName=name, TargetVariant="VariantB", ContentType="text/csv", Body=b"1,2"
        )
    cw = emulator.client("cloudwatch")
    wait_for_sum(cw, name, "VariantA", "Invocations", 6)
    wait_for_sum(cw, name, "VariantB", "Invocations", 4)
    time.sleep(0.5)  # nothing more arrives
    assert total(statistics(cw, name, "VariantA", "Invocations", ["Sum"])) == 6
    assert total(statistics(cw, name, "VariantB", "Invocations", ["Sum"])) == 4
    assert total(statistics(cw, name, "VariantA", "InvocationsPerInstance", ["Sum"])) == 3
    assert total(statistics(cw, name, "VariantB", "InvocationsPerInstance", ["Sum"])) == 4
    assert total(statistics(cw, name, "VariantA", "Invocation4XXErrors", ["Sum"])) == 0
    assert total(statistics(cw, name, "VariantB", "Invocation4XXErrors", ["Sum"])) == 1
    assert total(statistics(cw, name, "VariantB", "Invocation5XXErrors", ["Sum"])) == 0
    for variant, count in (("VariantA", 6), ("VariantB", 4)):
        for metric in ("ModelLatency", "OverheadLatency"):
            points = statistics(
                cw, name, variant, metric, ["SampleCount", "Average", "Minimum", "Maximum"]
            )
            assert total(points, "SampleCount") == count
            assert all(p["Unit"] == "Microseconds" for p in points)
            assert all(0 < p["Minimum"] <= p["Average"] <= p["Maximum"] for p in points)
            assert all(p["Maximum"] < 5_000_000 for p in points)  # microseconds, not seconds
    # data points stand for whole minutes
    for point in statistics(cw, name, "VariantA", "Invocations", ["Sum"]):
        assert point["Timestamp"].second == 0
    listed = cw.list_metrics(Namespace="AWS/SageMaker", MetricName="ModelLatency")["Metrics"]
    assert {
        "Namespace": "AWS/SageMaker",
        "MetricName": "ModelLatency",
        "Dimensions": [
            {"Name": "EndpointName", "Value": name},
            {"Name": "VariantName", "Value": "VariantA"},
        ],
    } in listed


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def aggregator(clock: Clock) -> tuple[EndpointMetrics, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []
    metrics = EndpointMetrics(EmulatorSettings(), clock=clock, send=sent.extend)
    return metrics, sent


def by_name(sent: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    return {d["MetricName"]: d["StatisticValues"] for d in sent}


def test_a_minute_is_sent_once_it_has_closed() -> None:
    clock = Clock(600.0)
    metrics, sent = aggregator(clock)
    metrics.record("e", "v", 1, 200, model_us=1000.0, overhead_us=50.0)
    metrics.record("e", "v", 1, 500, model_us=3000.0, overhead_us=70.0)
    metrics.record("e", "v", 1, 0, model_us=None, overhead_us=60.0)  # no answer: a 5XX
    clock.now = 659.9
    metrics.flush()
    assert sent == []
    clock.now = 660.0
    metrics.flush()
    stats = by_name(sent)
    assert stats["Invocations"] == {"SampleCount": 3, "Sum": 3, "Minimum": 1.0, "Maximum": 1.0}
    assert stats["Invocation5XXErrors"]["Sum"] == 2
    assert stats["Invocation4XXErrors"] == {
        "SampleCount": 3, "Sum": 0, "Minimum": 0.0, "Maximum": 0.0,
    }  # fmt: skip
    assert stats["ModelLatency"] == {
        "SampleCount": 2, "Sum": 4000.0, "Minimum": 1000.0, "Maximum": 3000.0,
    }  # fmt: skip
    assert stats["OverheadLatency"]["SampleCount"] == 3
    assert {d["Timestamp"] for d in sent} == {datetime.fromtimestamp(600, UTC)}
    sent.clear()
    metrics.flush()
    assert sent == []  # sent once


def test_stop_sends_the_open_minute_and_a_failing_send_is_survived() -> None:
    clock = Clock(1000.0)
    sent: list[dict[str, Any]] = []

    def send(data: list[dict[str, Any]]) -> None:
        if not sent:
            sent.append({})
            raise ConnectionError("CloudWatch is away")
        sent.extend(data)

    metrics = EndpointMetrics(EmulatorSettings(), clock=clock, send=send)
    metrics.record("e", "v", 2, 200, model_us=10.0, overhead_us=1.0)
    metrics.stop()  # the first send fails (logged), nothing raises
    metrics.record("e", "v", 2, 200, model_us=10.0, overhead_us=1.0)
    metrics.stop()
    stats = by_name(sent[1:])
    assert stats["Invocations"]["Sum"] == 1
    assert stats["InvocationsPerInstance"] == {
        "SampleCount": 1, "Sum": 0.5, "Minimum": 0.5, "Maximum": 0.5,
    }  # fmt: skip


def test_a_minute_with_only_a_server_start_sends_model_setup_time_alone() -> None:
    clock = Clock(1200.0)
    metrics, sent = aggregator(clock)
    metrics.setup("e", "v", 1.5)
    metrics.stop()
    assert by_name(sent) == {
        "ModelSetupTime": {"SampleCount": 1, "Sum": 1.5e6, "Minimum": 1.5e6, "Maximum": 1.5e6}
    }
    assert sent[0]["Unit"] == "Microseconds"


def test_serverless_variants_publish_model_setup_time(smlocal_factory, iris_tar) -> None:
    """ModelSetupTime is a serverless endpoint metric (AWS's serverless monitoring docs):
    published for a ServerlessConfig variant's server start, never for an instance variant."""
    emulator = smlocal_factory(env={"SMLOCAL_METRICS_PERIOD_SECONDS": "0.3"})
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="setup-models")
    s3.upload_file(str(iris_tar), "setup-models", "model.tar.gz")
    sm = emulator.client("sagemaker")
    model = unique("setup-model")
    sm.create_model(
        ModelName=model,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": "s3://setup-models/model.tar.gz"},
    )
    names = {}
    for kind, variant in (
        ("serverless", {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}),
        ("instance", {"InstanceType": "ml.m5.large", "InitialInstanceCount": 1}),
    ):
        name = names[kind] = unique(kind)
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": model, **variant}],
        )
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    waiter = sm.get_waiter("endpoint_in_service")
    for name in names.values():
        waiter.wait(EndpointName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    runtime = emulator.client("sagemaker-runtime")
    for name in names.values():
        runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=ROW)
    cw = emulator.client("cloudwatch")
    for name in names.values():
        wait_for_sum(cw, name, "AllTraffic", "Invocations", 1)
    fields = ["SampleCount", "Minimum", "Maximum"]
    setup = statistics(cw, names["serverless"], "AllTraffic", "ModelSetupTime", fields)
    assert total(setup, "SampleCount") == 1
    assert setup[0]["Unit"] == "Microseconds"
    assert 1_000 < setup[0]["Minimum"] < 600_000_000  # the start took ms to minutes, in µs
    assert statistics(cw, names["instance"], "AllTraffic", "ModelSetupTime", fields) == []


def test_live_figures_count_since_start_and_keep_the_latest_latencies() -> None:
    from smlocal.emulator.runtime.metrics import LIVE_SECONDS, RECENT

    now = [1_000_000.0]
    metrics = EndpointMetrics(EmulatorSettings(), clock=lambda: now[0], send=lambda data: None)
    assert metrics.live("ep") == {}
    for i in range(1, 101):  # 1 ms .. 100 ms, one per second
        metrics.record("Ep", "A", 1, 200, model_us=i * 1000 - 100, overhead_us=100)
        now[0] += 1
    metrics.record("Ep", "A", 1, 400, model_us=50_000 - 100, overhead_us=100)
    metrics.record("Ep", "A", 1, 0, model_us=None, overhead_us=100)  # no answer: a 5XX
    metrics.record("other", "A", 1, 200, model_us=1000, overhead_us=0)
    figures = metrics.live("ep")["A"]  # the name in any case, as the API takes it
    assert figures == {
        "Invocations": 102,
        "Invocation4XXErrors": 1,
        "Invocation5XXErrors": 1,
        "PerSecond": round(62 / LIVE_SECONDS, 3),  # 60 s of the traffic and the 2 errors
        "Samples": 102,
        "P50": 50.0,  # nearest rank over 0.1 (the unanswered), 1..100 and the 50 of the 400
        "P90": 90.0,
        "P99": 99.0,
    }
    for _ in range(RECENT):
        metrics.record("Ep", "A", 1, 200, model_us=1000, overhead_us=0)
    assert metrics.live("ep")["A"]["Samples"] == RECENT
    assert metrics.live("ep")["A"]["P99"] == 1.0
