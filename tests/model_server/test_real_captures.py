"""Capture files real SageMaker endpoints wrote: valid, and the XGBoost ones reproduced byte for byte.

tests/data/real-captures holds the files of shared/reference/real-captures (SOURCES.md says
where each came from). 03-06 come from AWS's churn examples, whose endpoints served
tests/data/churn-xgboost-0.90-model.tar.gz (the same blob in both notebooks) with
`sagemaker-xgboost:0.90-1-cpu-py3`; each record's input goes through a gunicorn model server
standing for that image, and what it answers must be the record's output exactly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from smlocal.capture_sink.validate import check_lines
from smlocal.model_server.xgboost_wire import encoded, joined_csv, wire_for
from tests.model_server.conftest import LEGACY_ARTIFACT, running
from tests.support import ROOT, ServerProcess, deploy, unique

CAPTURES = ROOT / "tests" / "data" / "real-captures"
FILES = sorted(CAPTURES.glob("*.jsonl"))
IMAGE_0901 = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:0.90-1-cpu-py3"
# the files whose endpoint served the churn model with the 0.90-1 image (SOURCES.md)
CHURN_0901 = ("03_", "04_", "05_", "06_")


def records(prefixes: tuple[str, ...]) -> list[dict[str, dict[str, str]]]:
    found = []
    for path in FILES:
        if path.name.startswith(prefixes):
            for line in path.read_text().splitlines():
                found.append(json.loads(line)["captureData"])
    return found


def test_every_real_capture_file_is_valid() -> None:
    assert len(FILES) == 10
    for path in FILES:
        assert list(check_lines(path.read_bytes(), path.name)) == [], path.name


@pytest.fixture(scope="module")
def churn_0901(
    legacy_xgboost: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    yield from running(
        legacy_xgboost, tmp_path_factory.mktemp("churn-0901"), env={"SMLOCAL_IMAGE": IMAGE_0901}
    )


@pytest.mark.parametrize("record", records(CHURN_0901), ids=lambda r: r["endpointOutput"]["data"])
def test_the_090_1_churn_endpoint_answers_byte_for_byte(
    churn_0901: ServerProcess, record: dict[str, dict[str, str]]
) -> None:
    sent, answered = record["endpointInput"], record["endpointOutput"]
    response = requests.post(
        churn_0901.url + "/invocations",
        data=sent["data"].encode(),
        headers={"Content-Type": sent["observedContentType"]},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.content == answered["data"].encode()
    assert response.headers["Content-Type"] == answered["observedContentType"]
    assert answered["encoding"] == "CSV"


def test_the_churn_captures_hold_ten_records_of_four_days() -> None:
    assert len(records(CHURN_0901)) == 10  # 3 + 2 + 3 + 2 lines
    assert {r["endpointOutput"]["observedContentType"] for r in records(CHURN_0901)} == {
        "text/csv; charset=utf-8"
    }


def test_several_rows_answer_on_one_line_in_090_1_and_one_per_line_from_1_2_2(
    churn_0901: ServerProcess,
) -> None:
    """Several captured rows in one request: joined with commas (no newline) as 0.90-1 does."""
    churn = records(CHURN_0901)
    body = "\n".join(r["endpointInput"]["data"] for r in churn[:3])
    response = requests.post(
        churn_0901.url + "/invocations", data=body, headers={"Content-Type": "text/csv"}, timeout=10
    )
    each = [r["endpointOutput"]["data"] for r in churn[:3]]
    assert response.text == ",".join(each)
    predictions = np.array([float(v) for v in each], dtype=np.float32)
    assert encoded(predictions, "text/csv").decode() == "".join(v + "\n" for v in each)


@pytest.mark.parametrize(
    ("image", "joined"),
    [
        ("sagemaker-xgboost:0.90-1-cpu-py3", True),
        ("sagemaker-xgboost:0.90-2-cpu-py3", True),
        ("sagemaker-xgboost:1.0-1-cpu-py3", True),
        ("sagemaker-xgboost:1.2-1", True),
        ("sagemaker-xgboost:1.2-2", False),
        ("sagemaker-xgboost:1.3-1", False),
        ("sagemaker-xgboost:1.5-1", False),
        ("sagemaker-xgboost:1.7-1", False),
        ("sagemaker-xgboost:3.0-5", False),
        ("sagemaker-xgboost:latest", False),
    ],
)
def test_each_captured_answer_is_what_its_version_writes_for_the_float32_prediction(
    image: str, joined: bool
) -> None:
    """The captured text is the shortest repr of the float32 value as a double (17 digits)."""
    for record in records(CHURN_0901):
        text = record["endpointOutput"]["data"]
        prediction = np.array([float(text)], dtype=np.float32)
        assert float(prediction[0]) == float(text)  # a float32 value, printed as a double
        wire = wire_for(image)
        assert wire.joined_csv is joined
        written = joined_csv(prediction) if joined else encoded(prediction, "text/csv")
        assert written.decode() == (text if joined else text + "\n")


def test_an_emulated_090_1_endpoint_captures_what_aws_captured(smlocal) -> None:  # type: ignore[no-untyped-def]
    """boto3 → emulator → 0.90-1 model server → capture in S3: each side of each record equal
    to the real one (data, observedContentType, mode, encoding); only ids and times differ."""
    s3 = smlocal.client("s3")
    bucket = unique("golden").lower()
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(LEGACY_ARTIFACT), bucket, "churn/model.tar.gz")
    name = unique("Churn-0901")
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{bucket}/datacapture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
    }
    variant = {"name": "AllTraffic", "model_data": f"s3://{bucket}/churn/model.tar.gz"}
    described = deploy(
        smlocal.client("sagemaker"), name, [{**variant, "image": IMAGE_0901}], capture=capture
    )
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    runtime = smlocal.client("sagemaker-runtime")
    real = records(CHURN_0901)
    for record in real:
        sent = record["endpointInput"]
        runtime.invoke_endpoint(
            EndpointName=name, ContentType=sent["observedContentType"], Body=sent["data"].encode()
        )
    smlocal.flush_captures(name)
    captured = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="datacapture/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
            captured.extend(json.loads(line)["captureData"] for line in body.splitlines())
    assert sorted(captured, key=sent_data) == sorted(real, key=sent_data)


def sent_data(record: dict[str, dict[str, str]]) -> str:
    return record["endpointInput"]["data"]
