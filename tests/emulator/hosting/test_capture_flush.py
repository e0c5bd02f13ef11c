"""Captures are flushed into S3 before a monitoring execution reads them (issue 10, item 6),
with SageMaker's 60-second spool roll; the edge route and `smlocal captures flush`."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.emulator.jobs.test_monitoring_jobs import (
    ANALYZER,
    baseline_request,
    wait_execution,
    wait_job,
)
from tests.emulator.test_plugin_helpers import raw_server
from tests.support import ROLE, SMLOCAL, deploy, refused_port, unique

IRIS_ROWS = ["5.1,3.5,1.4,0.2", "6.2,2.9,4.3,1.3", "7.7,3.0,6.1,2.3", "5.0,3.4,1.5,0.2"]
BASELINE = "prediction,f0,f1,f2,f3\n" + "".join(f"0,{row}\n" for row in IRIS_ROWS * 5)
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": "s3://mon/capture",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory, iris_tar):
    from smlocal.emulator.pytest_plugin import SmlocalEmulator

    folder = tmp_path_factory.mktemp("flush")
    started = SmlocalEmulator(folder, {"SMLOCAL_CAPTURE_ROLL_SECONDS": "60"}).start()
    s3 = started.client("s3")
    s3.create_bucket(Bucket="mon")
    s3.upload_file(str(iris_tar), "mon", "model/model.tar.gz")
    s3.put_object(Bucket="mon", Key="data/baseline.csv", Body=BASELINE.encode())
    yield started
    started.stop()


def captured_records(s3, endpoint: str) -> int:
    listed = s3.list_objects_v2(Bucket="mon", Prefix=f"capture/{endpoint}/").get("Contents", [])
    bodies = (s3.get_object(Bucket="mon", Key=o["Key"])["Body"].read() for o in listed)
    return sum(len(body.splitlines()) for body in bodies)


def two_variant_endpoint(emulator, name: str, invocations: int) -> None:
    """Two variants of two workers each, every invocation captured; nothing rolled yet."""
    sm, runtime = emulator.client("sagemaker"), emulator.client("sagemaker-runtime")
    model = "s3://mon/model/model.tar.gz"
    variants = [{"name": v, "model_data": model, "count": 2} for v in ("A", "B")]
    assert deploy(sm, name, variants, capture=CAPTURE)["EndpointStatus"] == "InService"
    for i in range(invocations):
        runtime.invoke_endpoint(
            EndpointName=name,
            Body=IRIS_ROWS[i % 4].encode(),
            ContentType="text/csv",
            TargetVariant="AB"[i % 2],
        )


def test_a_now_execution_sees_the_records_still_spooled(emulator) -> None:
    sm, s3 = emulator.client("sagemaker"), emulator.client("s3")
    endpoint = unique("flushed")
    two_variant_endpoint(emulator, endpoint, 12)
    assert captured_records(s3, endpoint) == 0  # still in the spools (60 s roll)
    baseline = unique("iris-baseline")
    sm.create_processing_job(**baseline_request(baseline, "s3://mon/data/baseline.csv"))
    assert wait_job(sm, baseline)["ProcessingJobStatus"] == "Completed"
    schedule = unique("now")
    sm.create_monitoring_schedule(
        MonitoringScheduleName=schedule,
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT1H", "DataAnalysisEndTime": "-PT0H"},
            "MonitoringType": "DataQuality",
            "MonitoringJobDefinition": {
                "BaselineConfig": {
                    "ConstraintsResource": {"S3Uri": f"s3://mon/baselines/{baseline}/constraints.json"},
                    "StatisticsResource": {"S3Uri": f"s3://mon/baselines/{baseline}/statistics.json"},
                },
                "MonitoringInputs": [{"EndpointInput": {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input/endpoint"}}],
                "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://mon/reports", "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "Continuous"}}]},
                "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
                "MonitoringAppSpecification": {"ImageUri": ANALYZER},
                "RoleArn": ROLE,
            },
        },
    )  # fmt: skip
    execution = wait_execution(sm, schedule)
    assert execution["MonitoringExecutionStatus"].startswith("Completed"), execution.get(
        "FailureReason"
    )
    assert captured_records(s3, endpoint) == 12
    reports = s3.list_objects_v2(Bucket="mon", Prefix=f"reports/{endpoint}/")["Contents"]
    key = next(o["Key"] for o in reports if o["Key"].endswith("statistics.json"))
    statistics = json.loads(s3.get_object(Bucket="mon", Key=key)["Body"].read())
    assert statistics["dataset"]["item_count"] == 12


def post(url: str) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_the_edge_route_and_the_cli_flush_every_variant(emulator) -> None:
    s3 = emulator.client("s3")
    endpoint = unique("route")
    two_variant_endpoint(emulator, endpoint, 6)
    assert captured_records(s3, endpoint) == 0
    status, _, answer = post(f"{emulator.url}/_smlocal/endpoints/{endpoint}/capture/flush")
    assert status == 200
    assert answer["EndpointName"] == endpoint
    assert sorted(answer["Variants"]) == ["A", "B"]
    assert captured_records(s3, endpoint) == 6
    runtime = emulator.client("sagemaker-runtime")
    for _ in range(3):
        runtime.invoke_endpoint(
            EndpointName=endpoint, Body=b"5.0,3.4,1.5,0.2", ContentType="text/csv"
        )
    done = subprocess.run(
        [*SMLOCAL, "captures", "flush", endpoint, "--url", emulator.url],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["EndpointName"] == endpoint
    assert captured_records(s3, endpoint) == 9
    runtime.invoke_endpoint(EndpointName=endpoint, Body=b"5.0,3.4,1.5,0.2", ContentType="text/csv")
    assert sorted(emulator.flush_captures(endpoint)["Variants"]) == ["A", "B"]  # pytest plugin
    assert captured_records(s3, endpoint) == 10


def test_the_flush_route_keeps_the_edge_trust_rules(emulator) -> None:
    url = f"{emulator.url}/_smlocal/endpoints/any/capture/flush"
    request = urllib.request.Request(
        url, data=b"", method="POST", headers={"Origin": "http://evil.example"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url, timeout=10)  # GET
    assert caught.value.code == 405


def test_flushing_an_unknown_endpoint_is_a_404(emulator) -> None:
    status, headers, answer = post(f"{emulator.url}/_smlocal/endpoints/nothing-here/capture/flush")
    assert status == 404
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert answer["Message"] == (
        'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/nothing-here".'
    )
    done = subprocess.run(
        [*SMLOCAL, "captures", "flush", "nothing-here", "--url", emulator.url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith(
        "smlocal captures flush: ValidationException: Could not find endpoint"
    )


def test_a_bug_in_a_flush_still_answers_the_client() -> None:
    """An unexpected exception in the flush thread is a 500 InternalFailure, not a request
    left without an answer (a pure unit: the edge's bridge with a store that fails)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from smlocal.emulator.wire.edge import FlushBridge
    from smlocal.emulator.wire.http_server import Request

    class BrokenStore:
        def get(self, kind: str, name: str) -> None:
            raise RuntimeError("the store broke")

    class State:
        store = BrokenStore()

    class Manager:  # the endpoint manager, as far as the flush reads it
        ctx = State()

    loop = asyncio.new_event_loop()
    answered: asyncio.Future = loop.create_future()
    with ThreadPoolExecutor(1) as executor:
        bridge = FlushBridge(Manager(), loop, executor)  # type: ignore[arg-type]
        request = Request("POST", "/_smlocal/endpoints/iris/capture/flush", "", [], b"",
                          "1.1", True, "127.0.0.1")  # fmt: skip
        bridge(request, lambda *answer: answered.set_result(answer))
        status, headers, body = loop.run_until_complete(asyncio.wait_for(answered, 10))
    loop.close()
    assert status == 500
    assert dict(headers).get("x-amzn-ErrorType", "").startswith("InternalFailure"), headers
    assert b"RuntimeError: the store broke" in body


def test_a_model_server_that_does_not_answer_a_flush_is_named() -> None:
    """A model server gone from its port, or one whose error answer is cut short: FlushFailed
    (the edge's InternalFailure) saying so, not urllib's or http.client's bare exception."""
    from smlocal.emulator.hosting.capture_flush import FlushFailed, _flush_server

    with refused_port() as port, pytest.raises(FlushFailed) as caught:
        _flush_server(port, "A", 1.0)
    assert caught.value.message == (
        f"Capture flush of variant A failed: its model server at http://127.0.0.1:{port} did "
        "not answer (Connection refused)"
    )
    cut_short = b'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 100\r\n\r\n{"err'
    with raw_server(cut_short) as url, pytest.raises(FlushFailed) as caught:
        _flush_server(int(url.rsplit(":", 1)[1]), "A", 1.0)
    assert caught.value.message == (
        "Capture flush of variant A failed: HTTP 500 Internal Server Error (its body was cut short)"
    )


@pytest.mark.parametrize("count", [1, 2])
def test_a_flush_while_an_instance_is_replaced_flushes_the_replacement(emulator, count) -> None:
    """An instance's server killed (SIGKILL, master and workers) with records in its spool:
    a flush sent before its replacement serves waits for the replacement, which starts on
    the same spool, and flushes it, rather than failing with the dead server's refused or
    reset connection. Every record spooled before the kill reaches S3 (with two instances,
    the survivor's too)."""
    import os
    import signal

    from tests.emulator.hosting.test_instances import settled

    sm, runtime, s3 = (emulator.client(c) for c in ("sagemaker", "sagemaker-runtime", "s3"))
    endpoint = unique("replaced")
    model = "s3://mon/model/model.tar.gz"
    variant = {"name": "AllTraffic", "model_data": model, "count": count}
    assert deploy(sm, endpoint, [variant], capture=CAPTURE)["EndpointStatus"] == "InService"
    for i in range(8):
        runtime.invoke_endpoint(
            EndpointName=endpoint, Body=IRIS_ROWS[i % 4].encode(), ContentType="text/csv"
        )
    victim = settled(emulator, endpoint, count)[0]
    assert captured_records(s3, endpoint) == 0  # still in the spool (60 s roll)
    os.killpg(victim.pid, signal.SIGKILL)
    status, _, answer = post(f"{emulator.url}/_smlocal/endpoints/{endpoint}/capture/flush")
    assert status == 200, answer
    assert answer["Variants"]["AllTraffic"]["Instances"] == count
    assert victim.pid not in [s.pid for s in settled(emulator, endpoint, count)]
    assert captured_records(s3, endpoint) == 8
    sm.delete_endpoint(EndpointName=endpoint)


class _GoneServer:
    """A model server whose port refuses connections; `alive` as told."""

    def __init__(self, port: int, alive: bool = False) -> None:
        self.port = port
        self.running = alive

    def alive(self) -> bool:
        return self.running


class _Manager:
    """The endpoint manager as far as the flush's wait for a replacement reads it."""

    def __init__(self, serving) -> None:
        self.serving = serving  # a callable: the live variants of this moment

    def live_variants(self):
        return self.serving()


def _instance(port: int, alive: bool = False):
    from smlocal.emulator.hosting.backends import VariantPlan
    from smlocal.emulator.hosting.fleet import RunningInstance

    plan = VariantPlan("e", "A", "image", None, {}, 1, startup_timeout=60.0)
    return RunningInstance(plan, _GoneServer(port, alive))  # type: ignore[arg-type]


def test_a_flush_gives_up_when_the_gone_instance_is_not_replaced() -> None:
    """Pure unit: the dead instance's place no longer served (its endpoint deleted, or Failed
    because its instance keeps dying): the flush fails at once with the server's error; an
    instance replaced again and again is tried three times in all, not forever."""
    from smlocal.emulator.hosting.capture_flush import ServerGone, _flush_instance
    from smlocal.emulator.hosting.fleet import RunningVariant

    with refused_port() as port:
        dead = _instance(port)
        gone = _Manager(lambda: [])
        with pytest.raises(ServerGone) as caught:
            _flush_instance(gone, "e", "A", dead, 1.0)  # type: ignore[arg-type]
        assert "did not answer (Connection refused)" in caught.value.message

        made = []

        def always_a_new_one():
            made.append(_instance(port))
            return [("e", "A", RunningVariant(dead.plan, (made[-1],), None))]

        with pytest.raises(ServerGone):
            _flush_instance(_Manager(always_a_new_one), "e", "A", dead, 1.0)  # type: ignore[arg-type]
        assert len(made) == 2  # the two replacements; the third attempt's failure is final

        asleep = _instance(port)
        asleep.asleep = True
        sleeping = _Manager(lambda: [("e", "A", RunningVariant(dead.plan, (asleep,), None))])
        with pytest.raises(ServerGone):
            _flush_instance(sleeping, "e", "A", asleep, 1.0)  # type: ignore[arg-type]
