"""A model server that cannot start (its script exits or dies at import) fails the endpoint
as SageMaker fails it: `Failed` with the ping health check's FailureReason, the traceback in
the endpoint's log group, no process left; an update to such a model is rolled back."""

from __future__ import annotations

import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest

from smlocal.emulator.hosting.backends import VariantPlan
from smlocal.emulator.hosting.fleet import wait_healthy
from tests.emulator.hosting.test_logs import events_until
from tests.support import (
    ROLE,
    SKLEARN_IMAGE,
    SKLEARN_MODEL_FN,
    SKLEARN_SCRIPT_ENV,
    deploy,
    listening_socket,
    sklearn_archive,
    unique,
    wait_for_status,
)

PING_FAILED = (
    "The primary container for production variant AllTraffic did not pass the ping health "
    "check. Please check CloudWatch logs for this endpoint."
)
# a training script used as the entry point: argparse at import, no __main__ guard
ARGPARSE_AT_IMPORT = SKLEARN_MODEL_FN + (
    "\nimport argparse\n\n"
    "parser = argparse.ArgumentParser()\n"
    'parser.add_argument("--epochs", type=int, default=1)\n'
    "args = parser.parse_args()\n"
)
# a worker that dies at start without raising (os._exit skips every handler)
EXITS_AT_IMPORT = (
    SKLEARN_MODEL_FN + '\nimport os\n\nprint("smlocal-dying", flush=True)\nos._exit(7)\n'
)


def sklearn_model_data(emulator: Any, script: str) -> str:
    """An iris model.tar.gz with code/inference.py holding `script`, in S3; its URI."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    archive = sklearn_archive(LogisticRegression(max_iter=300).fit(features, labels), script)
    bucket = unique("startup").lower()
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="model.tar.gz", Body=archive)
    return f"s3://{bucket}/model.tar.gz"


def variant(emulator: Any, script: str) -> dict[str, object]:
    return {
        "name": "AllTraffic",
        "model_data": sklearn_model_data(emulator, script),
        "image": SKLEARN_IMAGE,
        "env": SKLEARN_SCRIPT_ENV,
    }


def processes_of(endpoint: str) -> list[int]:
    """The pids of live processes started for the endpoint (their SMLOCAL_ENDPOINT_NAME)."""
    marker = f"SMLOCAL_ENDPOINT_NAME={endpoint}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize(
    ("script", "logged"),
    [
        (ARGPARSE_AT_IMPORT, ("error: unrecognized arguments: serve", "SystemExit: 2")),
        (EXITS_AT_IMPORT, ("smlocal-dying", "exited with code 7")),
    ],
    ids=["argparse-exits", "worker-dies"],
)
def test_a_script_that_ends_the_worker_at_import_fails_the_endpoint(
    smlocal: Any, script: str, logged: tuple[str, ...]
) -> None:
    name = unique("startup")
    described = deploy(smlocal.client("sagemaker"), name, [variant(smlocal, script)])
    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"] == PING_FAILED
    assert processes_of(name) == []
    group = f"/aws/sagemaker/Endpoints/{name}"
    events = events_until(smlocal.client("logs"), group, "Worker failed to boot.")
    text = "\n".join(e["message"] for e in events)
    assert all(line in text for line in logged), text


def test_an_update_to_a_script_that_exits_at_import_is_rolled_back(smlocal: Any) -> None:
    sm = smlocal.client("sagemaker")
    name = unique("rollback")
    assert deploy(sm, name, [variant(smlocal, SKLEARN_MODEL_FN)])["EndpointStatus"] == "InService"
    bad = unique("rollback-bad")
    sm.create_model(
        ModelName=bad,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": sklearn_model_data(smlocal, ARGPARSE_AT_IMPORT),
            "Environment": SKLEARN_SCRIPT_ENV,
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName=bad,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": bad, "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"}
        ],
    )  # fmt: skip
    sm.update_endpoint(EndpointName=name, EndpointConfigName=bad)
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Updating"
    described = wait_for_status(sm, name, ("InService", "Failed"))
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == name
    assert PING_FAILED in described["FailureReason"]
    answer = smlocal.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=name, ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3"
    )
    assert answer["Body"].read() == b"[0, 2]"
    assert len(processes_of(name)) == 2  # the old instance's master and its worker


def test_the_sdk_s_deploy_of_an_entry_point_that_exits_at_import_raises(
    smlocal_sagemaker_session: Any, tmp_path: Path
) -> None:
    from sagemaker.exceptions import UnexpectedStatusException
    from sagemaker.sklearn.model import SKLearnModel

    session = smlocal_sagemaker_session
    (tmp_path / "train.py").write_text(ARGPARSE_AT_IMPORT)
    model_data = session.upload_data(
        str(write_model_archive(tmp_path)), key_prefix=unique("sdk-startup")
    )
    model = SKLearnModel(
        model_data=model_data, role=ROLE, entry_point="train.py", source_dir=str(tmp_path),
        framework_version="1.2-1", sagemaker_session=session,
    )  # fmt: skip
    name = unique("sdk-startup")
    with pytest.raises(UnexpectedStatusException, match="did not pass the ping health check"):
        model.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name=name)
    assert processes_of(name) == []


def write_model_archive(folder: Path) -> Path:
    """model.tar.gz with an iris model.joblib, beside (not inside) the entry point's folder."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    out = folder.parent / f"{folder.name}-model"
    out.mkdir()
    joblib.dump(LogisticRegression(max_iter=300).fit(features, labels), out / "model.joblib")
    path = out / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(out / "model.joblib", arcname="model.joblib")
    return path


class SilentServer:
    """A server that runs and accepts connections but never answers (a worker stuck loading)."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path

    def alive(self) -> bool:
        return True

    def stop(self, timeout: float = 40.0) -> None:
        pass


def test_a_ping_never_answered_within_the_start_up_timeout_gets_sagemaker_s_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plan = VariantPlan(
        endpoint="silent", variant="AllTraffic", image=SKLEARN_IMAGE, model_data_url=None,
        environment={}, instance_count=1, startup_timeout=0.5,
    )  # fmt: skip
    sock = listening_socket()
    try:
        server = SilentServer(sock.getsockname()[1], tmp_path / "server.log")
        reason = wait_healthy(plan, server, threading.Event())
    finally:
        sock.close()
    assert reason == PING_FAILED
    assert "did not pass the ping health check within 0 s (last answer: no answer)" in caplog.text


def test_a_script_raising_at_import_fails_at_once_with_the_reason(smlocal: Any) -> None:
    """An exception (not an exit) leaves the server up, its ping saying why: smlocal's
    FailureReason carries that reason (a row in docs/fidelity.md), the log group too."""
    script = SKLEARN_MODEL_FN + '\nraise ValueError("smlocal-broken")\n'
    name = unique("startup")
    described = deploy(smlocal.client("sagemaker"), name, [variant(smlocal, script)])
    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"] == (
        "The primary container for production variant AllTraffic did not pass the ping health "
        "check: model failed to load: importing inference.py failed: ValueError: "
        "smlocal-broken (line 9 of inference.py)"
    )
    assert processes_of(name) == []
    group = f"/aws/sagemaker/Endpoints/{name}"
    events_until(smlocal.client("logs"), group, "ValueError: smlocal-broken")
