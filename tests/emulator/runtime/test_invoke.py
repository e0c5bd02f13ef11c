"""InvokeEndpoint through boto3 against a real emulator: routing, answers, every error."""

from __future__ import annotations

import io
import tarfile
import threading
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support import ROLE, SKLEARN_IMAGE, XGBOOST_IMAGE, deploy, unique, wait_for_status


@pytest.fixture(scope="module")
def sm(smlocal):
    return smlocal.client("sagemaker")


@pytest.fixture(scope="module")
def runtime(smlocal):
    return smlocal.client("sagemaker-runtime", config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def endpoint(sm, iris_model_data) -> str:
    name = unique("Iris-Runtime")
    assert (
        deploy(sm, name, [{"name": "AllTraffic", "model_data": iris_model_data}])["EndpointStatus"]
        == "InService"
    )
    return name


def error_of(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


def test_invoke_answers_with_the_containers_body_and_variant(runtime, endpoint) -> None:
    response = runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body=b"7.7,3.0,6.1,2.3"
    )
    assert response["Body"].read() == b"2.0\n"
    assert response["ContentType"] == "text/csv; charset=utf-8"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert "CustomAttributes" not in response  # only when the container sets it


def test_a_container_error_is_a_model_error(runtime, endpoint) -> None:
    response = error_of(
        runtime.invoke_endpoint, EndpointName=endpoint, ContentType="text/csv", Body=b"1,2"
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["Error"]["Code"] == "ModelError"
    original = (
        "Unable to evaluate payload provided: Feature size of csv inference data 2 is not "
        "consistent with feature size of trained model 4."
    )
    assert response["Error"]["Message"] == (
        f'Received client error (400) from primary with message "{original}". See '
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:"
        f"group=/aws/sagemaker/Endpoints/{endpoint} in account 123456789012 for more information."
    )
    assert response["OriginalStatusCode"] == 400
    assert response["OriginalMessage"] == original
    assert response["LogStreamArn"] == (
        f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/{endpoint}"
    )
    unsupported = error_of(
        runtime.invoke_endpoint, EndpointName=endpoint, ContentType="image/png", Body=b"x"
    )
    assert unsupported["OriginalStatusCode"] == 415


def test_json_to_an_xgboost_endpoint_is_the_containers_415(runtime, endpoint) -> None:
    """The XGBoost container reads no JSON (data_utils.get_content_type, 0.90-1 to 3.0-5)."""
    response = error_of(
        runtime.invoke_endpoint,
        EndpointName=endpoint,
        ContentType="application/json",
        Body=b"[[7.7, 3.0, 6.1, 2.3]]",
    )
    assert response["Error"]["Code"] == "ModelError"
    assert response["OriginalStatusCode"] == 415
    assert response["OriginalMessage"] == (
        "application/json is not an accepted ContentType: csv, libsvm, parquet, "
        "recordio-protobuf, text/csv, text/libsvm, text/x-libsvm, application/x-parquet, "
        "application/x-recordio-protobuf."
    )
    assert response["Error"]["Message"].startswith(
        f'Received client error (415) from primary with message "{response["OriginalMessage"]}".'
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"EndpointName": "no-such-endpoint"},
            "Endpoint no-such-endpoint of account 123456789012 not found.",
        ),
        (
            {"TargetModel": "model.tar.gz"},
            "Endpoint {endpoint} is not a multi-model endpoint and does not support target model header.",
        ),
        (
            {"TargetVariant": "Nope"},
            "Endpoint {endpoint} has no production variant Nope (it has: AllTraffic).",
        ),
        (
            {"InferenceId": "i" * 65},
            f"1 validation error detected: Value '{'i' * 65}' at 'inferenceId' failed to "
            "satisfy constraint: Member must have length less than or equal to 64",
        ),
        (
            {"Body": b"0" * (6 * 1024 * 1024 + 1)},
            "1 validation error detected: Value at 'body' failed to satisfy constraint: "
            "Member must have length less than or equal to 6291456",
        ),
    ],
)
def test_bad_invocations_get_validation_errors(runtime, endpoint, kwargs, message) -> None:
    params = {
        "EndpointName": endpoint,
        "ContentType": "text/csv",
        "Body": b"5.1,3.5,1.4,0.2",
        **kwargs,
    }
    response = error_of(runtime.invoke_endpoint, **params)
    assert response["Error"] == {
        "Code": "ValidationError",
        "Message": message.format(endpoint=endpoint),
    }
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_the_endpoint_name_must_match_in_case(runtime, endpoint) -> None:
    response = error_of(
        runtime.invoke_endpoint,
        EndpointName=endpoint.lower(),
        ContentType="text/csv",
        Body=b"1,2,3,4",
    )
    assert (
        response["Error"]["Message"]
        == f"Endpoint {endpoint.lower()} of account 123456789012 not found."
    )


def test_an_endpoint_that_is_not_in_service_yet(sm, runtime, iris_model_data) -> None:
    name = unique("early")
    deploy(sm, name, [{"name": "AllTraffic", "model_data": iris_model_data}], wait=False)
    response = error_of(
        runtime.invoke_endpoint, EndpointName=name, ContentType="text/csv", Body=b"1,2,3,4"
    )
    assert response["Error"]["Message"] == (
        f"Endpoint {name} of account 123456789012 is not ready to serve invocations: its status is Creating."
    )
    wait_for_status(sm, name)


def test_weights_split_traffic_and_target_variant_pins_it(sm, runtime, iris_model_data) -> None:
    name = unique("ab")
    deploy(sm, name, [
        {"name": "A", "model_data": iris_model_data, "weight": 0.7},
        {"name": "B", "model_data": iris_model_data, "weight": 0.3},
    ])  # fmt: skip
    counts = {"A": 0, "B": 0}
    for _ in range(1000):
        answer = runtime.invoke_endpoint(
            EndpointName=name, ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2"
        )
        counts[answer["InvokedProductionVariant"]] += 1
    # binomial(1000, 0.7): mean 700, sd 14.5; five sd either side
    assert 700 - 73 <= counts["A"] <= 700 + 73, counts
    for _ in range(20):
        pinned = runtime.invoke_endpoint(
            EndpointName=name, TargetVariant="B", ContentType="text/csv", Body=b"1,2,3,4"
        )
        assert pinned["InvokedProductionVariant"] == "B"
    sm.update_endpoint_weights_and_capacities(
        EndpointName=name, DesiredWeightsAndCapacities=[{"VariantName": "A", "DesiredWeight": 0.0}]
    )
    described = wait_for_status(sm, name, ("InService",))
    assert [v["CurrentWeight"] for v in described["ProductionVariants"]] == [0.0, 0.3]
    for _ in range(30):
        answer = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=b"1,2,3,4")
        assert answer["InvokedProductionVariant"] == "B"
    missing = error_of(
        sm.update_endpoint_weights_and_capacities,
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "C", "DesiredWeight": 1.0}],
    )
    assert missing["Error"]["Message"] == (
        f'Variant C does not exist for endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name.lower()}".'
    )


SLOW_SCRIPT = b"""
import os
import joblib
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
import time
RELEASE = %a  # the test creates this file once it has seen the timeout
def predict_fn(data, model):
    if data[0][0] > 100:  # far longer than the invocation timeout, unless released
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not os.path.exists(RELEASE):
            time.sleep(0.05)
    return model.predict(data)
"""


def test_a_container_that_takes_too_long_times_out(smlocal_factory, tmp_path) -> None:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    emulator = smlocal_factory(env={"SMLOCAL_INVOCATION_TIMEOUT": "1"})
    sm, s3 = emulator.client("sagemaker"), emulator.client("s3")
    runtime = emulator.client("sagemaker-runtime", config=Config(retries={"max_attempts": 1}))
    features, labels = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=300).fit(features, labels), tmp_path / "model.joblib")
    model_tar, code_tar = io.BytesIO(), io.BytesIO()
    with tarfile.open(fileobj=model_tar, mode="w:gz") as tar:
        tar.add(tmp_path / "model.joblib", arcname="model.joblib")
    release = tmp_path / "release"
    script = SLOW_SCRIPT % str(release)
    with tarfile.open(fileobj=code_tar, mode="w:gz") as tar:
        info = tarfile.TarInfo("slow.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    s3.create_bucket(Bucket="slow")
    s3.put_object(Bucket="slow", Key="model.tar.gz", Body=model_tar.getvalue())
    s3.put_object(Bucket="slow", Key="sourcedir.tar.gz", Body=code_tar.getvalue())
    env = {
        "SAGEMAKER_PROGRAM": "slow.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "s3://slow/sourcedir.tar.gz",
    }
    name = unique("slow")
    deploy(
        sm,
        name,
        [
            {
                "name": "AllTraffic",
                "model_data": "s3://slow/model.tar.gz",
                "image": SKLEARN_IMAGE,
                "env": env,
            }
        ],
    )
    # two rows each: the scikit-learn container squeezes one CSV row to 1-D, which predict refuses
    fast = runtime.invoke_endpoint(
        EndpointName=name, ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2\n7.7,3.0,6.1,2.3"
    )
    assert fast["Body"].read() == b"[0, 2]"
    started = time.monotonic()
    slow = b"500,3.5,1.4,0.2\n5.1,3.5,1.4,0.2"
    try:
        response = error_of(
            runtime.invoke_endpoint, EndpointName=name, ContentType="text/csv", Body=slow
        )
    finally:
        release.touch()  # the model answers now, so stopping the emulator does not wait for it
    assert time.monotonic() - started < 60  # the 1 s timeout fired, not the 120 s model
    assert response["Error"]["Code"] == "ModelError"
    assert response["OriginalStatusCode"] == 0
    assert response["Error"]["Message"].startswith(
        'Received server error (0) from primary with message "Your invocation timed out while '
        "waiting for a response from container primary."
    )


def new_version(sm, name: str, image: str, model_data: str) -> None:
    """A model and an endpoint config, both called `name`, with one AllTraffic variant."""
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": image, "ModelDataUrl": model_data},
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": name,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])


def test_blue_green_update_under_traffic_loses_no_request(
    sm, runtime, smlocal, tmp_path, iris_model_data
) -> None:
    from tests.conftest import train_iris_tar

    softprob = train_iris_tar(tmp_path / "softprob", objective="multi:softprob")
    smlocal.client("s3").upload_file(str(softprob), "models", "softprob/model.tar.gz")
    name = unique("bluegreen")
    deploy(sm, name, [{"name": "AllTraffic", "model_data": iris_model_data}])
    failures: list[str] = []
    answers: list[bytes] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            try:
                body = runtime.invoke_endpoint(
                    EndpointName=name, ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2"
                )["Body"].read()
                answers.append(body)
            except Exception as exc:
                failures.append(repr(exc))

    threads = [threading.Thread(target=traffic) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        second_config = unique("bluegreen-v2")
        new_version(sm, second_config, XGBOOST_IMAGE, "s3://models/softprob/model.tar.gz")
        sm.update_endpoint(EndpointName=name, EndpointConfigName=second_config)
        assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Updating"
        described = wait_for_status(sm, name, ("InService",))
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert described["EndpointConfigName"] == second_config
    assert answers[0] == b"0.0\n"
    assert answers[-1].count(b",") == 2  # softprob: three probabilities
    # a failed update rolls back and says why, and traffic still flows
    broken = unique("broken")
    new_version(sm, broken, "example.com/not-a-framework:1", iris_model_data)
    sm.update_endpoint(EndpointName=name, EndpointConfigName=broken)
    time.sleep(0.2)
    described = wait_for_status(sm, name, ("InService",))
    assert described["EndpointConfigName"] == second_config
    assert described["FailureReason"].startswith(
        "The update was rolled back: Image example.com/not-a-framework:1 of production variant "
        "AllTraffic needs Docker"
    )
    again = runtime.invoke_endpoint(
        EndpointName=name, ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2"
    )
    assert again["Body"].read().count(b",") == 2
