"""The examples/ flows, run unmodified through the SageMaker SDK against the emulator."""

from __future__ import annotations

from examples import iris_xgboost_capture, registry_capture_flow
from examples.common import ensure_bucket


def test_iris_xgboost_with_capture(smlocal_sagemaker_session) -> None:
    session = smlocal_sagemaker_session
    ensure_bucket(session, iris_xgboost_capture.BUCKET)
    result = iris_xgboost_capture.run(session)
    assert result["predictions"] == [[["0.0"]], [["1.0"]], [["2.0"]]]
    captured = result["captured"]
    assert len(captured) == 3
    inputs = sorted(r["captureData"]["endpointInput"]["data"] for r in captured)
    assert inputs == ["5.1,3.5,1.4,0.2", "6.2,2.9,4.3,1.3", "7.7,3.0,6.1,2.3"]
    for record in captured:
        assert record["captureData"]["endpointInput"]["observedContentType"] == "text/csv"
        assert (
            record["captureData"]["endpointOutput"]["observedContentType"]
            == "text/csv; charset=utf-8"
        )
        assert record["captureData"]["endpointOutput"]["encoding"] == "CSV"


def test_registry_deploy_capture_good_and_bad_inputs(smlocal_sagemaker_session) -> None:
    session = smlocal_sagemaker_session
    ensure_bucket(session, registry_capture_flow.BUCKET)
    result = registry_capture_flow.run(session)
    assert result["package"].endswith(f":model-package/{registry_capture_flow.GROUP}/1")
    assert result["good"] == b"2.0\n"
    bad = result["bad"]
    assert bad["Error"]["Code"] == "ModelError"
    assert bad["OriginalStatusCode"] == 415  # the XGBoost container's answer to unreadable CSV
    assert bad["OriginalMessage"] == (
        "Loading csv data failed with Exception, please ensure data is in csv format:\n"
        " <class 'ValueError'>\n CSV row 1, column 3: 'not-a-number' is not a number"
    )
    assert result["capture"]["CaptureStatus"] == "Started"
    assert result["capture"]["CurrentSamplingPercentage"] == 100
    assert [r["captureData"]["endpointInput"]["data"] for r in result["captured"]] == [
        "7.7,3.0,6.1,2.3"
    ]
