"""The lenient-containers switch, through a real emulator and boto3.

Without it one CSV row sent to a scikit-learn endpoint is a ModelError carrying the
container's HTML 500 page, as in SageMaker; with it (`smlocal up --lenient-containers`,
SMLOCAL_LENIENT_CONTAINERS=1 in the emulator's environment, or the pytest plugin's option)
the row is predicted. A model's own Environment cannot switch it on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from smlocal.emulator.hosting.backends import VariantPlan
from smlocal.emulator.hosting.backends.docker import container_environment
from smlocal.emulator.hosting.backends.process import ProcessBackend
from smlocal.emulator.settings import EmulatorSettings
from tests.support import SKLEARN_IMAGE, SKLEARN_SCRIPT_ENV, deploy, sklearn_archive, unique

ONE_ROW = b"6.2,2.9,4.3,1.3"
TWO_ROWS = b"6.2,2.9,4.3,1.3\n7.7,3.0,6.1,2.3"
PAGE = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n'
    "<title>500 Internal Server Error</title>\n"
    "<h1>Internal Server Error</h1>\n"
    "<p>The server encountered an internal error and was unable to complete your request."
    " Either the server is overloaded or there is an error in the application.</p>\n"
)


def sklearn_endpoint(emulator, tmp_path: Path, env: dict[str, str] | None = None) -> str:  # type: ignore[no-untyped-def]
    """An iris LogisticRegression on the scikit-learn image, with SKLearnModel's inference.py."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    archive = sklearn_archive(LogisticRegression(max_iter=300).fit(features, labels))
    bucket = unique("lenient").lower()
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="model.tar.gz", Body=archive)
    name = unique("lenient")
    variant = {
        "name": "AllTraffic",
        "model_data": f"s3://{bucket}/model.tar.gz",
        "image": SKLEARN_IMAGE,
        "env": {**SKLEARN_SCRIPT_ENV, **(env or {})},
    }
    described = deploy(emulator.client("sagemaker"), name, [variant])
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return name


def runtime_of(emulator):  # type: ignore[no-untyped-def]
    return emulator.client("sagemaker-runtime", config=Config(retries={"max_attempts": 1}))


@pytest.mark.parametrize("model_env", [{}, {"SMLOCAL_LENIENT_CONTAINERS": "1"}])
def test_one_csv_row_is_a_model_error_by_default(smlocal, tmp_path, model_env) -> None:  # type: ignore[no-untyped-def]
    name = sklearn_endpoint(smlocal, tmp_path, model_env)
    runtime = runtime_of(smlocal)
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=ONE_ROW)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["Error"]["Code"] == "ModelError"
    assert error["OriginalStatusCode"] == 500
    assert error["OriginalMessage"] == PAGE
    assert error["Error"]["Message"].startswith(
        f'Received server error (500) from primary with message "{PAGE}". See https://'
    )
    two = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=TWO_ROWS)
    assert two["Body"].read() == b"[1, 2]"


@pytest.mark.parametrize(
    ("env", "args"),
    [({}, ("--lenient-containers",)), ({"SMLOCAL_LENIENT_CONTAINERS": "1"}, ())],
    ids=["flag", "environment"],
)
def test_a_lenient_emulator_serves_one_csv_row(smlocal_factory, tmp_path, env, args) -> None:  # type: ignore[no-untyped-def]
    emulator = smlocal_factory(env=env, args=args)
    name = sklearn_endpoint(emulator, tmp_path)
    answer = runtime_of(emulator).invoke_endpoint(
        EndpointName=name, ContentType="text/csv", Accept="text/csv", Body=ONE_ROW
    )
    assert answer["Body"].read() == b"1\n"
    assert answer["ContentType"] == "text/csv; charset=utf-8"


def test_an_unreadable_switch_stops_the_emulator(smlocal_factory) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError, match="SMLOCAL_LENIENT_CONTAINERS='maybe' is not a boolean"):
        smlocal_factory(env={"SMLOCAL_LENIENT_CONTAINERS": "maybe"})


@pytest.mark.parametrize("lenient", [False, True])
def test_both_backends_pass_the_emulators_switch_not_the_models(
    tmp_path: Path, lenient: bool
) -> None:
    emulator_env = {"SMLOCAL_LENIENT_CONTAINERS": "1" if lenient else "0"}
    settings = EmulatorSettings.from_env(emulator_env, data_dir=tmp_path)
    plan = VariantPlan(
        endpoint="e",
        variant="v",
        image=SKLEARN_IMAGE,
        model_data_url=None,
        environment={"SMLOCAL_LENIENT_CONTAINERS": "0" if lenient else "1"},
        instance_count=1,
    )
    child = ProcessBackend(settings).environment(plan)
    assert child["SMLOCAL_LENIENT_CONTAINERS"] == ("1" if lenient else "0")
    container = container_environment(settings, plan, {})
    assert container["SMLOCAL_LENIENT_CONTAINERS"] == ("1" if lenient else "0")


INNER_TEST = """
import io, tarfile, uuid

from botocore.config import Config

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"


def test_one_row(smlocal, tmp_path):
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=300).fit(x, y), tmp_path / "model.joblib")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        tar.add(tmp_path / "model.joblib", arcname="model.joblib")
        script = b"import os, joblib\\ndef model_fn(d):\\n    return joblib.load(os.path.join(d, 'model.joblib'))\\n"
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    s3, sm = smlocal.client("s3"), smlocal.client("sagemaker")
    s3.create_bucket(Bucket="models")
    s3.put_object(Bucket="models", Key="m.tar.gz", Body=archive.getvalue())
    name = "plugin-" + uuid.uuid4().hex[:8]
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/R",
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": "s3://models/m.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
    )
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
               "InstanceType": "ml.m5.large"}
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    runtime = smlocal.client("sagemaker-runtime", config=Config(retries={"max_attempts": 1}))
    try:
        answer = runtime.invoke_endpoint(
            EndpointName=name, ContentType="text/csv", Body=b"6.2,2.9,4.3,1.3"
        )
    except runtime.exceptions.ModelError:
        print("SMLOCAL-OUTCOME: ModelError")
    else:
        print("SMLOCAL-OUTCOME:", answer["Body"].read().decode())
"""


@pytest.mark.parametrize(
    ("ini", "args", "outcome"),
    [
        ("", (), "ModelError"),
        ("smlocal_lenient_containers = true\n", (), "[1]"),
        ("", ("--smlocal-lenient-containers",), "[1]"),
    ],
    ids=["default", "ini", "command-line"],
)
def test_the_pytest_plugin_opts_in(
    tmp_path: Path, ini: str, args: tuple[str, ...], outcome: str
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n" + ini)
    (project / "test_inner.py").write_text(textwrap.dedent(INNER_TEST))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SMLOCAL_"))}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        check=False,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SMLOCAL-OUTCOME: {outcome}\n" in done.stdout, done.stdout
