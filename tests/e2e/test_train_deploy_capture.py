"""The classic notebook through the unmodified SageMaker SDK v2: fit, deploy with capture, predict."""

from __future__ import annotations

import re

from examples import train_deploy_capture


def test_fit_deploy_predict_and_capture(smlocal_sagemaker_session, capsys) -> None:
    session = smlocal_sagemaker_session
    session.boto_session.client("s3").create_bucket(Bucket=train_deploy_capture.BUCKET)

    result = train_deploy_capture.run(session)

    printed = capsys.readouterr().out
    # fit(logs=True) printed the secondary statuses and the container's per-round metrics
    for status in ("Starting", "Downloading", "Training", "Uploading", "Completed"):
        assert f" {status} - " in printed
    assert re.search(r"\[0\]#011train-merror:\d\.\d{5}#011validation-merror:\d\.\d{5}", printed)
    assert re.search(r"\[1\]#011train-merror:\d\.\d{5}#011validation-merror:\d\.\d{5}", printed)
    job = result["job"]
    assert job["TrainingJobStatus"] == "Completed"
    assert result["model_data"] == (
        f"s3://{train_deploy_capture.BUCKET}/{train_deploy_capture.PREFIX}/output/"
        f"{job['TrainingJobName']}/output/model.tar.gz"
    )
    assert {m["MetricName"] for m in job["FinalMetricDataList"]} == {
        "train:merror",
        "validation:merror",
    }
    assert result["predictions"] == [[["0.0"]], [["1.0"]], [["2.0"]]]
    inputs = sorted(r["captureData"]["endpointInput"]["data"] for r in result["captured"])
    assert inputs == ["5.1,3.5,1.4,0.2", "6.2,2.9,4.3,1.3", "7.7,3.0,6.1,2.3"]
    outputs = sorted(r["captureData"]["endpointOutput"]["data"] for r in result["captured"])
    assert outputs == ["0.0\n", "1.0\n", "2.0\n"]
