"""An endpoint's lifecycle is a transaction: listed ⇔ routed ⇔ running, whatever the order of
calls, and a deleted endpoint neither answers nor leaves a model server behind."""

from __future__ import annotations

import threading
import time

import botocore.exceptions
import psutil
import pytest

from tests.support import ROLE, XGBOOST_IMAGE, create_config, unique, wait_for_status

ROW = b"7.7,3.0,6.1,2.3"


def model_servers(emulator) -> list[psutil.Process]:
    """The emulator's model servers (gunicorn masters it started), still running."""
    found = []
    for child in psutil.Process(emulator.proc.pid).children():
        try:
            if "serve" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def endpoint_of(process: psutil.Process) -> str | None:
    """The endpoint a model server runs for (from its environment)."""
    try:
        return process.environ().get("SMLOCAL_ENDPOINT_NAME")
    except psutil.Error:
        return None


def upload_model(emulator, iris_tar, bucket: str) -> str:
    """The iris model.tar.gz in a new bucket of the emulator's S3; its URI."""
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(iris_tar), bucket, "model.tar.gz")
    return f"s3://{bucket}/model.tar.gz"


def wait_quiet(sm, timeout: float = 120) -> list[dict]:
    """Wait until no endpoint is on its way anywhere; return ListEndpoints' entries."""
    deadline = time.monotonic() + timeout
    while True:
        listed = sm.list_endpoints(MaxResults=100)["Endpoints"]
        moving = [e for e in listed if e["EndpointStatus"] not in ("InService", "Failed")]
        if not moving:
            return listed
        assert time.monotonic() < deadline, f"still moving: {moving}"
        time.sleep(0.1)


def invoke_status(runtime, name: str) -> str:
    try:
        runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=ROW)
    except botocore.exceptions.ClientError as exc:
        return exc.response["Error"]["Code"]
    return "OK"


def settled_servers(emulator, expected: int, timeout: float = 30) -> list[psutil.Process]:
    """Model servers, once their number is `expected` (stopping ones need a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        servers = model_servers(emulator)
        if len(servers) == expected or time.monotonic() > deadline:
            return servers
        time.sleep(0.1)


def test_a_deleted_endpoint_stops_answering_and_leaves_no_model_server(
    smlocal_factory, iris_tar
) -> None:
    emulator = smlocal_factory()
    sm = emulator.client("sagemaker")
    runtime = emulator.client("sagemaker-runtime")
    data = upload_model(emulator, iris_tar, "lc-models")
    config = create_config(sm, data)
    for _ in range(3):
        name = unique("gone")
        sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
        sm.delete_endpoint(EndpointName=name)
        assert invoke_status(runtime, name) == "ValidationError"
    assert wait_quiet(sm) == []
    assert settled_servers(emulator, 0) == []

    # deleted after it came up: no answer from the moment DeleteEndpoint returns
    name = unique("served")
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
    assert wait_for_status(sm, name)["EndpointStatus"] == "InService"
    assert invoke_status(runtime, name) == "OK"
    sm.delete_endpoint(EndpointName=name)
    assert invoke_status(runtime, name) == "ValidationError"
    assert wait_quiet(sm) == []
    assert settled_servers(emulator, 0) == []


def test_racing_clients_on_one_name_leave_it_consistent(smlocal_factory, iris_tar) -> None:
    emulator = smlocal_factory()
    sm = emulator.client("sagemaker")
    data = upload_model(emulator, iris_tar, "race")
    configs = [create_config(sm, data) for _ in range(2)]
    name = unique("raced")
    stop = time.monotonic() + 8
    codes: list[str] = []

    def client(seed: int) -> None:
        import random

        rng = random.Random(seed)
        local = emulator.client("sagemaker")
        while time.monotonic() < stop:
            call = rng.choice(("create", "create", "update", "delete", "delete"))
            try:
                if call == "create":
                    local.create_endpoint(EndpointName=name, EndpointConfigName=rng.choice(configs))
                elif call == "update":
                    local.update_endpoint(EndpointName=name, EndpointConfigName=rng.choice(configs))
                else:
                    local.delete_endpoint(EndpointName=name)
            except botocore.exceptions.ClientError as exc:
                codes.append(exc.response["Error"]["Code"])
            time.sleep(rng.random() * 0.2)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(codes) <= {"ValidationException"}, codes
    listed = wait_quiet(sm)
    runtime = emulator.client("sagemaker-runtime")
    serving = [e["EndpointName"] for e in listed if e["EndpointStatus"] == "InService"]
    servers = settled_servers(emulator, len(serving))
    assert sorted(endpoint_of(p) for p in servers) == sorted(serving)
    assert invoke_status(runtime, name) == ("OK" if serving else "ValidationError")
    if listed:
        sm.delete_endpoint(EndpointName=name)
    assert wait_quiet(sm) == []
    assert settled_servers(emulator, 0) == []


@pytest.mark.parametrize("victim", ["master", "workers"])
def test_a_dead_model_server_is_replaced(smlocal_factory, iris_tar, victim: str) -> None:
    emulator = smlocal_factory()
    sm = emulator.client("sagemaker")
    runtime = emulator.client("sagemaker-runtime")
    data = upload_model(emulator, iris_tar, "heal")
    config = create_config(sm, data)
    name = unique("heal")
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
    assert wait_for_status(sm, name)["EndpointStatus"] == "InService"
    [server] = model_servers(emulator)
    doomed = [server] if victim == "master" else server.children()
    for process in doomed:
        process.kill()
    deadline = time.monotonic() + 60
    while invoke_status(runtime, name) != "OK":
        assert time.monotonic() < deadline, emulator.log()[-3000:]
        time.sleep(0.2)
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    [replacement] = settled_servers(emulator, 1)
    if victim == "master":
        assert replacement.pid != server.pid
    sm.delete_endpoint(EndpointName=name)
    assert wait_quiet(sm) == []
    assert settled_servers(emulator, 0) == []


NAMES = ("prop-a", "prop-b", "prop-c")


@pytest.fixture(scope="module")
def lifecycle_emulator(tmp_path_factory, iris_tar):
    from smlocal.emulator.pytest_plugin import SmlocalEmulator

    emulator = SmlocalEmulator(tmp_path_factory.mktemp("lifecycle")).start()
    data = upload_model(emulator, iris_tar, "prop-models")
    sm = emulator.client("sagemaker")
    configs = [create_config(sm, data) for _ in range(2)]
    configs.append(create_config(sm, data, variants=2))
    yield emulator, configs
    emulator.stop()


def test_random_call_sequences_keep_listed_routed_and_running_in_step(lifecycle_emulator) -> None:
    """Hypothesis drives random Create/Update/Delete/Invoke sequences on three names, with
    and without waiting in between; after each wait, what is listed InService is exactly
    what answers and exactly what runs, and a deleted endpoint never answers. Derandomized:
    a fixed draw of sequences, so the counts asserted at the end cannot miss by chance."""
    from hypothesis import HealthCheck, settings
    from hypothesis import strategies as st
    from hypothesis.stateful import (
        RuleBasedStateMachine,
        initialize,
        rule,
        run_state_machine_as_test,
    )

    emulator, configs = lifecycle_emulator
    sm = emulator.client("sagemaker")
    runtime = emulator.client("sagemaker-runtime")
    names, choices = st.sampled_from(NAMES), st.sampled_from(configs)
    stats = {"deleted": 0, "settled": 0}

    class Lifecycle(RuleBasedStateMachine):
        @initialize(name=names, config=choices)
        def start_with_one(self, name: str, config: str) -> None:
            assert call(sm.create_endpoint, EndpointName=name, EndpointConfigName=config) is None

        @rule(name=names, config=choices)
        def create(self, name: str, config: str) -> None:
            error = call(sm.create_endpoint, EndpointName=name, EndpointConfigName=config)
            assert error is None or "Cannot create already existing" in error, error

        @rule(name=names, config=choices)
        def update(self, name: str, config: str) -> None:
            error = call(sm.update_endpoint, EndpointName=name, EndpointConfigName=config)
            assert error is None or error.startswith("ValidationException"), error

        @rule(name=names)
        def delete(self, name: str) -> None:
            error = call(sm.delete_endpoint, EndpointName=name)
            assert error is None or error.startswith("ValidationException"), error
            if error is None:
                assert invoke_status(runtime, name) == "ValidationError"
                stats["deleted"] += 1

        @rule()
        def settle(self) -> None:
            check_in_step(emulator, sm, runtime)
            stats["settled"] += 1

        @rule(name=names)
        def invoke(self, name: str) -> None:
            listed = {e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]}
            status = invoke_status(runtime, name)
            if name not in listed:
                assert status == "ValidationError"

        def teardown(self) -> None:
            check_in_step(emulator, sm, runtime)
            for entry in sm.list_endpoints()["Endpoints"]:
                sm.delete_endpoint(EndpointName=entry["EndpointName"])
            assert wait_quiet(sm) == []
            assert settled_servers(emulator, 0) == []

    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=15,
            stateful_step_count=12,
            deadline=None,
            database=None,
            derandomize=True,  # the same sequences on every run: CI cannot flake on a draw
            suppress_health_check=list(HealthCheck),
        ),
    )
    assert stats["deleted"], stats  # the sequences did reach both
    assert stats["settled"], stats


def call(operation, **params) -> str | None:
    """None when the call succeeds, else "Code: message"."""
    try:
        operation(**params)
    except botocore.exceptions.ClientError as exc:
        return f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}"
    return None


def check_in_step(emulator, sm, runtime) -> None:
    """listed InService ⇔ answers ⇔ runs (after every transition has finished)."""
    listed = wait_quiet(sm)
    serving = sorted(e["EndpointName"] for e in listed if e["EndpointStatus"] == "InService")
    variants = {
        e["EndpointName"]: len(
            sm.describe_endpoint(EndpointName=e["EndpointName"])["ProductionVariants"]
        )
        for e in listed
        if e["EndpointStatus"] == "InService"
    }
    servers = settled_servers(emulator, sum(variants.values()))
    running = sorted(endpoint_of(p) or "?" for p in servers)
    assert running == sorted(n for n, count in variants.items() for _ in range(count))
    for name in NAMES:
        assert invoke_status(runtime, name) == ("OK" if name in serving else "ValidationError")


def wait_until_answering(emulator, runtime, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while invoke_status(runtime, name) != "OK":
        assert time.monotonic() < deadline, emulator.log()[-3000:]
        time.sleep(0.2)


def test_heals_survive_racing_calls_and_each_endpoint_counts_its_own_deaths(
    smlocal_factory, iris_tar
) -> None:
    emulator = smlocal_factory()
    sm, runtime = emulator.client("sagemaker"), emulator.client("sagemaker-runtime")
    config = create_config(sm, upload_model(emulator, iris_tar, "heal-race"))
    name = unique("healrace")
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
    assert wait_for_status(sm, name)["EndpointStatus"] == "InService"
    for _ in range(3):  # a re-weigh while the replacement starts must not strand a dead server
        [server] = model_servers(emulator)
        server.kill()
        time.sleep(1.2)
        sm.update_endpoint_weights_and_capacities(
            EndpointName=name,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredWeight": 1.0}],
        )
        wait_until_answering(emulator, runtime, name)
        assert wait_for_status(sm, name)["EndpointStatus"] == "InService"
    sm.delete_endpoint(EndpointName=name)
    assert wait_quiet(sm) == []
    # the same name again: a new endpoint, with no deaths counted against it yet
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
    assert wait_for_status(sm, name)["EndpointStatus"] == "InService"
    [server] = model_servers(emulator)
    server.kill()
    wait_until_answering(emulator, runtime, name)
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    sm.delete_endpoint(EndpointName=name)
    assert wait_quiet(sm) == []
    assert settled_servers(emulator, 0) == []


def test_instances_asked_for_are_the_model_servers_running_even_after_a_heal(
    smlocal_factory, iris_tar
) -> None:
    emulator = smlocal_factory()
    sm, runtime = emulator.client("sagemaker"), emulator.client("sagemaker-runtime")
    config = create_config(sm, upload_model(emulator, iris_tar, "scale"))
    name = unique("scale")
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
    assert wait_for_status(sm, name)["EndpointStatus"] == "InService"
    with pytest.raises(botocore.exceptions.ClientError, match="must be at least 1"):
        sm.update_endpoint_weights_and_capacities(
            EndpointName=name,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 0}],
        )
    sm.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}],
    )
    assert (
        wait_for_status(sm, name, ("InService",))["ProductionVariants"][0]["CurrentInstanceCount"]
        == 3
    )
    servers = settled_servers(emulator, 3)
    assert len(servers) == 3  # an instance is a model server (of one worker by default)
    assert [len(s.children()) for s in servers] == [1, 1, 1]
    servers[1].kill()
    wait_until_answering(emulator, runtime, name)
    deadline = time.monotonic() + 60
    while servers[1].pid in [s.pid for s in model_servers(emulator)]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    replaced = settled_servers(emulator, 3)
    assert len(replaced) == 3
    assert {s.pid for s in replaced} & {s.pid for s in servers} == {servers[0].pid, servers[2].pid}
    sm.delete_endpoint(EndpointName=name)
    assert wait_quiet(sm) == []
    assert settled_servers(emulator, 0) == []


def test_a_models_environment_cannot_set_smlocals_own_variables(
    smlocal_factory, iris_tar, tmp_path
) -> None:
    emulator = smlocal_factory()
    sm = emulator.client("sagemaker")
    data = upload_model(emulator, iris_tar, "env-override")
    elsewhere = tmp_path / "elsewhere"
    name = unique("envover")
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": XGBOOST_IMAGE,
            "ModelDataUrl": data,
            "Environment": {
                "SMLOCAL_PARENT_PID": "0",
                "SMLOCAL_CAPTURE_SPOOL_DIR": str(elsewhere),
                "SMLOCAL_ENDPOINT_NAME": "someone-else",
                "MY_SETTING": "kept",
            },
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"}
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": "s3://env-override/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
    )  # fmt: skip
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    assert wait_for_status(sm, name)["EndpointStatus"] == "InService"
    [server] = model_servers(emulator)
    environment = server.environ()
    assert environment["SMLOCAL_PARENT_PID"] == str(emulator.proc.pid)
    assert environment["SMLOCAL_ENDPOINT_NAME"] == name
    assert environment["SMLOCAL_CAPTURE_SPOOL_DIR"].startswith(str(emulator.data_dir.resolve()))
    assert environment["MY_SETTING"] == "kept"
    assert environment["PYTHONDONTWRITEBYTECODE"] == "1"
    assert not elsewhere.exists()
    sm.delete_endpoint(EndpointName=name)
    assert wait_quiet(sm) == []


def test_an_accepted_update_carries_on_after_a_kill(smlocal_factory, iris_tar) -> None:
    emulator = smlocal_factory()
    sm = emulator.client("sagemaker")
    data = upload_model(emulator, iris_tar, "carry-on")
    first, second = create_config(sm, data), create_config(sm, data)
    name = unique("carry")
    sm.create_endpoint(EndpointName=name, EndpointConfigName=first)
    assert wait_for_status(sm, name)["EndpointStatus"] == "InService"
    sm.update_endpoint(EndpointName=name, EndpointConfigName=second)
    emulator.proc.kill()  # acknowledged, not yet done
    emulator.proc.wait()
    emulator.start()
    sm = emulator.client("sagemaker")
    described = wait_for_status(sm, name, ("InService",))
    while "PendingDeploymentSummary" in described:
        described = wait_for_status(sm, name, ("InService",))
    assert described["EndpointConfigName"] == second
    assert invoke_status(emulator.client("sagemaker-runtime"), name) == "OK"
    sm.delete_endpoint(EndpointName=name)
    assert wait_quiet(sm) == []
