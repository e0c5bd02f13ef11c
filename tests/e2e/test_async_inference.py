"""Asynchronous inference end to end through boto3 and the AWS CLI: AsyncInferenceConfig,
InvokeEndpointAsync, outputs and failures in S3, SNS notifications, Data Capture, errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from smlocal.capture_sink.validate import check_record
from tests.support import ROLE, XGBOOST_IMAGE, unique, wait_for_status

ROW = b"7.7,3.0,6.1,2.3"  # iris: class 2
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
BUCKET = "async-io"


def async_endpoint(
    sm: Any,
    model_data: str,
    output: dict[str, Any],
    *,
    client_config: dict[str, Any] | None = None,
    capture: dict[str, Any] | None = None,
    count: int = 1,
) -> str:
    """An InService asynchronous endpoint serving the iris model."""
    name = unique("Async")
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": model_data},
    )
    config: dict[str, Any] = {"OutputConfig": output}
    if client_config is not None:
        config["ClientConfig"] = client_config
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": count,
                "InstanceType": "ml.m5.large",
            }
        ],
        AsyncInferenceConfig=config,
        **({"DataCaptureConfig": capture} if capture else {}),
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    assert wait_for_status(sm, name, timeout=300)["EndpointStatus"] == "InService"
    return name


def wait_for_object(s3: Any, uri: str, timeout: float = 120) -> dict[str, Any]:
    """get_object of an s3:// URI once it exists."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    deadline = time.monotonic() + timeout
    while True:
        try:
            return s3.get_object(Bucket=bucket, Key=key)  # type: ignore[no-any-return]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchKey" or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def exists(s3: Any, uri: str) -> bool:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bool(s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount"))


@pytest.fixture(scope="module")
def sm(smlocal: Any) -> Any:
    return smlocal.client("sagemaker")


@pytest.fixture(scope="module")
def runtime(smlocal: Any) -> Any:
    return smlocal.client("sagemaker-runtime", config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def s3(smlocal: Any) -> Any:
    s3 = smlocal.client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    return s3


@pytest.fixture(scope="module")
def queue(smlocal: Any) -> tuple[str, str, Any]:
    """An SNS topic (success and error) with an SQS queue subscribed, in the embedded moto."""
    sns, sqs = smlocal.client("sns"), smlocal.client("sqs")
    topic = sns.create_topic(Name=unique("async-results"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("async-results"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, url, sqs


@pytest.fixture(scope="module")
def endpoint(sm: Any, s3: Any, iris_model_data: str, queue: tuple[str, str, Any]) -> str:
    topic = queue[0]
    return async_endpoint(
        sm,
        iris_model_data,
        {
            "S3OutputPath": f"s3://{BUCKET}/output",
            "S3FailurePath": f"s3://{BUCKET}/failure/",
            "NotificationConfig": {
                "SuccessTopic": topic,
                "ErrorTopic": topic,
                "IncludeInferenceResponseIn": ["SUCCESS_NOTIFICATION_TOPIC"],
            },
        },
        client_config={"MaxConcurrentInvocationsPerInstance": 2},
        capture={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{BUCKET}/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
        },
    )


def put_input(s3: Any, body: bytes) -> str:
    key = f"input/{unique('row')}.csv"
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


SEEN: dict[str, dict] = {}  # notifications read from the queue, by inferenceId


def messages(queue: tuple[str, str, Any], inference_id: str, timeout: float = 120) -> dict:
    """The SNS notification (the message SageMaker published) about one inference; every
    message read is kept, so tests sharing the queue never hide each other's."""
    _, url, sqs = queue
    deadline = time.monotonic() + timeout
    while inference_id not in SEEN:
        assert time.monotonic() < deadline, f"no notification about {inference_id}"
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for raw in answer.get("Messages", []):
            message = json.loads(json.loads(raw["Body"])["Message"])
            SEEN[message.get("inferenceId", "")] = message
            sqs.delete_message(QueueUrl=url, ReceiptHandle=raw["ReceiptHandle"])
    return SEEN[inference_id]


def test_describe_echoes_the_async_config(sm: Any, endpoint: str) -> None:
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint)["AsyncInferenceConfig"]
    described = sm.describe_endpoint(EndpointName=endpoint)
    assert described["AsyncInferenceConfig"] == config
    assert config["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 2}
    assert config["OutputConfig"]["S3OutputPath"] == f"s3://{BUCKET}/output"


def test_invoke_async_writes_the_output_and_notifies(
    runtime: Any, s3: Any, endpoint: str, queue: tuple[str, str, Any], smlocal: Any
) -> None:
    location = put_input(s3, ROW)
    response = runtime.invoke_endpoint_async(
        EndpointName=endpoint,
        InputLocation=location,
        ContentType="text/csv",
        InferenceId="row-1",
        CustomAttributes="trace=1",
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert response["InferenceId"] == "row-1"
    assert re.fullmatch(rf"s3://{BUCKET}/output/{UUID}\.out", response["OutputLocation"])
    uuid = response["OutputLocation"].rsplit("/", 1)[1][: -len(".out")]
    assert response["FailureLocation"] == f"s3://{BUCKET}/failure/{uuid}-error.out"
    output = wait_for_object(s3, response["OutputLocation"])
    assert output["Body"].read() == b"2.0\n"
    assert output["ContentType"] == "text/csv; charset=utf-8"
    message = messages(queue, "row-1")
    assert list(message) == [
        "awsRegion", "eventTime", "receivedTime", "invocationStatus", "requestParameters",
        "responseParameters", "inferenceId", "eventVersion", "eventSource", "eventName",
    ]  # fmt: skip
    assert message["invocationStatus"] == "Completed"
    assert message["requestParameters"] == {
        "contentType": "text/csv",
        "endpointName": endpoint,
        "inputLocation": location,
    }
    assert message["responseParameters"] == {
        "contentType": "text/csv; charset=utf-8",
        "outputLocation": response["OutputLocation"],
        "responseBody": {"content": "2.0\n", "encoding": "UTF-8"},
    }
    assert (message["eventSource"], message["eventName"]) == ("aws:sagemaker", "InferenceResult")
    assert not exists(s3, response["FailureLocation"])
    # captured like a real-time invocation, with the inference id
    records = [
        r for r in smlocal.captures(endpoint) if r["eventMetadata"].get("inferenceId") == "row-1"
    ]
    assert len(records) == 1
    assert check_record(records[0]) == []
    data = records[0]["captureData"]
    assert data["endpointInput"]["data"] == ROW.decode()
    assert data["endpointOutput"]["data"] == "2.0\n"
    assert records[0]["eventMetadata"]["customAttributes"] == ["trace=1"]


def test_a_model_error_goes_to_the_failure_location(
    runtime: Any, s3: Any, endpoint: str, queue: tuple[str, str, Any]
) -> None:
    response = runtime.invoke_endpoint_async(
        EndpointName=endpoint, InputLocation=put_input(s3, b"1,2"), ContentType="text/csv"
    )
    assert re.fullmatch(UUID, response["InferenceId"])  # generated when not given
    failure = wait_for_object(s3, response["FailureLocation"])
    assert b"Feature size of csv inference data 2" in failure["Body"].read()
    message = messages(queue, response["InferenceId"])
    assert message["invocationStatus"] == "Failed"
    assert message["failureReason"] == (
        "ClientError: Received client error (400) from model. See the SageMaker Endpoint "
        "logs in your account for more information."
    )
    assert message["responseParameters"] == {"failureLocation": response["FailureLocation"]}
    assert not exists(s3, response["OutputLocation"])


def test_a_missing_input_fails_the_request(runtime: Any, s3: Any, endpoint: str) -> None:
    response = runtime.invoke_endpoint_async(
        EndpointName=endpoint, InputLocation=f"s3://{BUCKET}/input/none.csv"
    )
    failure = wait_for_object(s3, response["FailureLocation"]).get("Body").read()
    assert b"Failed to download data" in failure


def test_inline_body_extension_and_filename(runtime: Any, s3: Any, endpoint: str) -> None:
    response = runtime.invoke_endpoint_async(
        EndpointName=endpoint,
        Body=ROW,
        ContentType="text/csv",
        S3OutputPathExtension="batch/7",
        Filename="row.csv",
    )
    assert response["OutputLocation"] == f"s3://{BUCKET}/output/batch/7/row.csv"
    assert wait_for_object(s3, response["OutputLocation"])["Body"].read() == b"2.0\n"


def error_of(call: Any, **kwargs: Any) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response  # type: ignore[no-any-return]


def test_errors(runtime: Any, smlocal: Any, endpoint: str) -> None:
    sync = error_of(runtime.invoke_endpoint, EndpointName=endpoint, Body=ROW)
    assert sync["Error"]["Code"] == "ValidationError"
    assert "InvokeEndpointAsync" in sync["Error"]["Message"]
    both = error_of(
        runtime.invoke_endpoint_async, EndpointName=endpoint, Body=ROW, InputLocation="s3://b/k"
    )
    assert "mutually exclusive" in both["Error"]["Message"]
    neither = error_of(runtime.invoke_endpoint_async, EndpointName=endpoint)
    assert neither["Error"]["Code"] == "ValidationError"
    missing = error_of(runtime.invoke_endpoint_async, EndpointName="nope", InputLocation="s3://b/k")
    assert missing["Error"]["Message"].startswith("Endpoint nope of account ")
    unchecked = smlocal.client(
        "sagemaker-runtime", config=Config(parameter_validation=False, retries={"max_attempts": 1})
    )
    ttl = error_of(
        unchecked.invoke_endpoint_async,
        EndpointName=endpoint,
        InputLocation="s3://b/k",
        RequestTTLSeconds=5,
    )
    assert ttl["Error"]["Code"] == "ValidationError"
    assert "at 'requestTTLSeconds' failed to satisfy constraint" in ttl["Error"]["Message"]
    too_big = error_of(runtime.invoke_endpoint_async, EndpointName=endpoint, Body=b"x" * 128001)
    assert too_big["Error"]["Code"] == "ValidationError"


def test_config_errors(sm: Any, iris_model_data: str) -> None:
    name = unique("async-bad")
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": iris_model_data},
    )
    variant = {"VariantName": "A", "ModelName": name, "InitialInstanceCount": 1}
    cases = [
        ({"OutputConfig": {}}, "must specify S3OutputPath or S3FailurePath"),
        ({"OutputConfig": {"S3OutputPath": "https://x"}}, "is not a valid S3 URI"),
        (
            {
                "OutputConfig": {
                    "S3OutputPath": "s3://b/o",
                    "NotificationConfig": {"IncludeInferenceResponseIn": ["EVERYWHERE"]},
                }
            },
            "enum value set",
        ),
        (
            {
                "OutputConfig": {
                    "S3OutputPath": "s3://b/o",
                    "NotificationConfig": {
                        "IncludeInferenceResponseIn": ["ERROR_NOTIFICATION_TOPIC"]
                    },
                }
            },
            "has no ErrorTopic",
        ),
    ]
    for config, words in cases:
        error = error_of(
            sm.create_endpoint_config,
            EndpointConfigName=unique("cfg"),
            ProductionVariants=[variant],
            AsyncInferenceConfig=config,
        )
        assert error["Error"]["Code"] == "ValidationException"
        assert words in error["Error"]["Message"]
    serverless = error_of(
        sm.create_endpoint_config,
        EndpointConfigName=unique("cfg"),
        ProductionVariants=[
            {
                "VariantName": "A",
                "ModelName": name,
                "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 1},
            }
        ],
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://b/o"}},
    )
    assert "serverless" in serverless["Error"]["Message"]


def test_the_aws_cli_invokes_async(smlocal: Any, s3: Any, endpoint: str) -> None:
    location = put_input(s3, ROW)
    done = subprocess.run(
        [
            sys.executable, "-m", "awscli", "sagemaker-runtime", "invoke-endpoint-async", "--endpoint-name", endpoint,
            "--input-location", location, "--content-type", "text/csv",
            "--inference-id", "cli-1",
        ],
        env={**os.environ, **smlocal.env},
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    answer = json.loads(done.stdout)
    assert answer["InferenceId"] == "cli-1"
    assert wait_for_object(s3, answer["OutputLocation"])["Body"].read() == b"2.0\n"


def test_an_output_s3_refuses_fails_the_request(
    sm: Any, runtime: Any, s3: Any, iris_model_data: str
) -> None:
    name = async_endpoint(
        sm,
        iris_model_data,
        {"S3OutputPath": "s3://no-such-bucket-here/out", "S3FailurePath": f"s3://{BUCKET}/f"},
    )
    response = runtime.invoke_endpoint_async(EndpointName=name, Body=ROW, ContentType="text/csv")
    failure = wait_for_object(s3, response["FailureLocation"])["Body"].read().decode()
    assert failure == (
        f"ClientError: Failed to upload the response to {response['OutputLocation']}: NoSuchBucket"
    )
    sm.delete_endpoint(EndpointName=name)


def test_requests_accepted_while_the_endpoint_is_updated_are_all_answered(
    smlocal: Any, sm: Any, s3: Any, iris_model_data: str
) -> None:
    """Clients keep invoking while UpdateEndpoint moves to a config with two instances:
    every 202 gets its output, whichever configuration ran it."""
    import threading

    name = async_endpoint(sm, iris_model_data, {"S3OutputPath": f"s3://{BUCKET}/updating"})
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-b",
        ProductionVariants=[
            {
                "VariantName": "B",
                "ModelName": name,
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
            }
        ],
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/updated"}},
    )
    client = smlocal.client(
        "sagemaker-runtime", config=Config(retries={"max_attempts": 1}, max_pool_connections=8)
    )
    accepted: list[str] = []
    failed: list[BaseException] = []
    done = threading.Event()

    def invoke() -> None:
        while not done.is_set():
            try:
                accepted.append(
                    client.invoke_endpoint_async(
                        EndpointName=name, Body=ROW, ContentType="text/csv"
                    )["OutputLocation"]
                )
            except BaseException as exc:
                failed.append(exc)
                return

    threads = [threading.Thread(target=invoke) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        sm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-b")
        assert wait_for_status(sm, name, timeout=300)["EndpointStatus"] == "InService"
        after = len(accepted) + 5
        while len(accepted) < after and not failed:  # some after the update, too
            time.sleep(0.05)
    finally:
        done.set()
        for thread in threads:
            thread.join(60)
    assert failed == []
    for output in accepted:
        assert wait_for_object(s3, output, timeout=300)["Body"].read() == b"2.0\n"
    sm.delete_endpoint(EndpointName=name)
