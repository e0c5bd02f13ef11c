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


def test_attach_analytics_and_register_read_the_job_back(smlocal_sagemaker_session) -> None:
    """`Estimator.attach` rebuilds the estimator from DescribeTrainingJob,
    `training_job_analytics` lists the algorithm's metrics and reads their values from
    CloudWatch, and `register` finds (Search) or creates the group, as on AWS."""
    import sagemaker
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput

    session = smlocal_sagemaker_session
    session.boto_session.client("s3").create_bucket(Bucket=train_deploy_capture.BUCKET)
    data = train_deploy_capture.upload_data(session)
    estimator = Estimator(
        image_uri=sagemaker.image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1"),
        role=train_deploy_capture.ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{train_deploy_capture.BUCKET}/attach/output",
        hyperparameters=train_deploy_capture.HYPERPARAMETERS,
        sagemaker_session=session,
    )
    estimator.fit({"train": TrainingInput(data["train"], content_type="csv"),
                   "validation": TrainingInput(data["validation"], content_type="csv")},
                  logs=False)  # fmt: skip
    name = estimator.latest_training_job.name

    attached = Estimator.attach(name, sagemaker_session=session)
    assert attached.model_data == estimator.model_data
    assert attached.output_kms_key == ""
    assert attached.hyperparameters()["num_round"] == "2"

    frame = attached.training_job_analytics.dataframe()
    merror = frame[frame["metric_name"] == "validation:merror"]
    assert len(merror) >= 1
    final = {m["MetricName"]: m["Value"] for m in
             session.describe_training_job(name)["FinalMetricDataList"]}  # fmt: skip
    assert 0 <= merror["value"].iloc[-1] <= 1
    assert set(frame["metric_name"]) == {"train:merror", "validation:merror"}
    assert set(final) == {"train:merror", "validation:merror"}

    group = f"iris-{name[-12:]}"
    package = attached.register(
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=["ml.m5.large"],
        transform_instances=["ml.m5.large"],
        model_package_group_name=group,
        approval_status="Approved",
    )
    described = session.sagemaker_client.describe_model_package(
        ModelPackageName=package.model_package_arn
    )
    assert (described["ModelPackageGroupName"], described["ModelPackageVersion"]) == (group, 1)
    container = described["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == estimator.model_data
