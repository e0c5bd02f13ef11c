"""The seed workshop's notebook 02 (SageMaker containers) through the unmodified SDK.

aws-samples/amazon-sagemaker-from-idea-to-production, 02-sagemaker-containers.ipynb (SDK v2,
e301a6f; its script-mode training from 9ac866d), cell by cell with the Session/role lines
changed: the bank-marketing CSV uploaded, an SKLearnProcessor job preprocessing it, the
built-in XGBoost algorithm trained and its AUCs read from FinalMetricDataList, an endpoint
with Data Capture predicting the test rows, a batch transform of them, the warm-pool
estimator's five fits, XGBoost script mode with `training_job_analytics`, and the optional
hyperparameter tuning section (its Bayesian tuner, fit, status, `tuner.deploy` and the
predictions; 4 jobs 2 at a time instead of 30 jobs 3 at a time), with the SDK's
`analytics()`, `best_training_job()`, `attach` and `best_estimator()` besides. Experiments'
`Run` and MLflow are left out.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tests.workshop import FEATURES, HYPERPARAMETERS, PREPROCESSING, TRAIN, bank_marketing_csv

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
PREFIX = "from-idea-to-prod/xgboost"


@pytest.fixture
def workshop(smlocal_sagemaker_session: Any, tmp_path: Path) -> dict[str, Any]:
    """What notebook 00 and the first cells of 02 leave: the data uploaded, the S3 URLs."""
    session = smlocal_sagemaker_session
    data = tmp_path / "data" / "bank-additional" / "bank-additional-full.csv"
    data.parent.mkdir(parents=True)
    data.write_text(bank_marketing_csv())
    bucket = session.default_bucket()
    urls = {name: f"s3://{bucket}/{PREFIX}/{name}"
            for name in ("train", "validation", "test", "baseline", "output", "transform")}  # fmt: skip
    urls["input"] = session.upload_data(path=str(data), bucket=bucket, key_prefix=f"{PREFIX}/input")
    (tmp_path / "preprocessing.py").write_text(PREPROCESSING)
    return {"session": session, "urls": urls, "folder": tmp_path}


def _preprocess(session: Any, urls: dict[str, str], folder: Path) -> Any:
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.sklearn.processing import SKLearnProcessor

    processor = SKLearnProcessor(framework_version="0.23-1", role=ROLE,
                                 instance_type="ml.m5.large", instance_count=1,
                                 base_job_name="from-idea-to-prod-processing",
                                 sagemaker_session=session)  # fmt: skip
    inputs = [ProcessingInput(source=urls["input"], destination="/opt/ml/processing/input",
                              s3_input_mode="File", s3_data_distribution_type="ShardedByS3Key")]  # fmt: skip
    outputs = [
        ProcessingOutput(output_name=f"{name}_data", source=f"/opt/ml/processing/output/{name}",
                         destination=urls[name])
        for name in ("train", "validation", "test", "baseline")
    ]  # fmt: skip
    processor.run(inputs=inputs, outputs=outputs, code=str(folder / "preprocessing.py"), wait=True)
    return processor


def _training_inputs(urls: dict[str, str]) -> dict[str, Any]:
    from sagemaker.inputs import TrainingInput

    return {"train": TrainingInput(urls["train"], content_type="csv"),
            "validation": TrainingInput(urls["validation"], content_type="csv")}  # fmt: skip


def _test_rows(session: Any, urls: dict[str, str], folder: Path) -> tuple[Any, Any]:
    """The notebook's `aws s3 cp` of test_x.csv and test_y.csv, read as it reads them."""
    from sagemaker.s3 import S3Downloader

    S3Downloader.download(urls["test"], str(folder / "tmp"), sagemaker_session=session)
    test_x = pd.read_csv(folder / "tmp" / "test_x.csv", names=[f"{i}" for i in range(FEATURES)])
    test_y = pd.read_csv(folder / "tmp" / "test_y.csv", names=["y"])
    return test_x, test_y


def test_notebook_02_process_train_deploy_transform(workshop: dict[str, Any]) -> None:
    import sagemaker

    session, urls, folder = workshop["session"], workshop["urls"], workshop["folder"]
    sm = session.sagemaker_client
    processor = _preprocess(session, urls, folder)
    described = sm.describe_processing_job(ProcessingJobName=processor._current_job_name)
    assert described["ProcessingJobStatus"] == "Completed"
    s3 = session.boto_session.client("s3")
    listed = s3.list_objects_v2(Bucket=session.default_bucket(), Prefix=PREFIX)["Contents"]
    names = {item["Key"].removeprefix(f"{PREFIX}/") for item in listed}
    assert {"train/train.csv", "validation/validation.csv", "test/test_x.csv", "test/test_y.csv",
            "baseline/baseline.csv"} <= names  # fmt: skip

    training_image = sagemaker.image_uris.retrieve("xgboost", region=session.boto_region_name,
                                                   version="1.5-1")  # fmt: skip
    estimator = sagemaker.estimator.Estimator(
        image_uri=training_image, instance_type="ml.m5.xlarge", instance_count=1, role=ROLE,
        max_run=20 * 60, output_path=urls["output"], sagemaker_session=session,
        base_job_name="from-idea-to-prod-training",
    )  # fmt: skip
    estimator.set_hyperparameters(**HYPERPARAMETERS)
    estimator.fit(_training_inputs(urls), wait=True, logs=False)
    metrics = sm.describe_training_job(TrainingJobName=estimator._current_job_name)
    final = {m["MetricName"]: m["Value"] for m in metrics["FinalMetricDataList"]}
    assert final["train:auc"] > final["validation:auc"] > 0.6, final

    predictor = estimator.deploy(
        initial_instance_count=1, instance_type="ml.m5.large", wait=False,
        data_capture_config=sagemaker.model_monitor.DataCaptureConfig(
            enable_capture=True, sampling_percentage=100,
            destination_s3_uri=f"s3://{session.default_bucket()}/{PREFIX}/data-capture"),
        endpoint_name=f"from-idea-to-prod-endpoint-{time.strftime('%d-%H-%M-%S', time.gmtime())}",
        serializer=sagemaker.serializers.CSVSerializer(),
        deserializer=sagemaker.deserializers.CSVDeserializer(),
    )  # fmt: skip
    sm.get_waiter("endpoint_in_service").wait(EndpointName=predictor.endpoint_name,
                                              WaiterConfig={"Delay": 1})  # fmt: skip
    test_x, test_y = _test_rows(session, urls, folder)
    predictions = np.array(predictor.predict(test_x.values), dtype=float).squeeze()
    assert predictions.shape == (len(test_y),)
    endpoint_auc = roc_auc_score(test_y, predictions)
    assert endpoint_auc > 0.6

    model_name = f"from-idea-to-prod-transform-{time.strftime('%d-%H-%M-%S', time.gmtime())}"
    model = session.create_model_from_job(training_job_name=estimator._current_job_name,
                                          name=model_name)  # fmt: skip
    transformer = sagemaker.transformer.Transformer(
        model_name=model, instance_count=1, instance_type="ml.m5.xlarge", accept="text/csv",
        assemble_with="Line", output_path=urls["transform"],
        base_transform_job_name="from-idea-to-prod-trasform", sagemaker_session=session,
    )  # fmt: skip
    transformer.transform(data=f"{urls['test']}/test_x.csv", content_type="text/csv",
                          split_type="Line", wait=True)  # fmt: skip
    described = sm.describe_transform_job(TransformJobName=transformer._current_job_name)
    assert described["TransformJobStatus"] == "Completed"
    output = s3.get_object(Bucket=session.default_bucket(),
                           Key=f"{PREFIX}/transform/test_x.csv.out")["Body"].read().decode()  # fmt: skip
    batch = pd.read_csv(pd.io.common.StringIO(output), names=["y_prob"])
    assert len(batch) == len(test_y)
    assert roc_auc_score(test_y, batch) == pytest.approx(endpoint_auc, abs=1e-6)
    predictor.delete_endpoint(delete_endpoint_config=True)


def test_notebook_02_xgboost_script_mode(workshop: dict[str, Any]) -> None:
    from sagemaker.xgboost.estimator import XGBoost

    session, urls, folder = workshop["session"], workshop["urls"], workshop["folder"]
    _preprocess(session, urls, folder)
    source = folder / "training"
    source.mkdir()
    (source / "train.py").write_text(TRAIN)
    (source / "requirements.txt").write_text("pandas\nscikit-learn\n")  # satisfied already
    estimator = XGBoost(
        entry_point="train.py", source_dir=str(source), framework_version="1.7-1",
        # a copy: the SDK adds sagemaker_program to the dict it is given
        hyperparameters=dict(HYPERPARAMETERS), role=ROLE, instance_count=1,
        instance_type="ml.m5.xlarge", output_path=urls["output"],
        base_job_name="from-idea-to-prod-training",
        environment={"USER": "workshop", "REGION": session.boto_region_name},
        sagemaker_session=session,
    )  # fmt: skip
    estimator.fit(_training_inputs(urls), wait=True, logs=False)
    frame = estimator.training_job_analytics.dataframe()
    by_name = dict(zip(frame["metric_name"], frame["value"], strict=True))
    assert set(by_name) >= {"train:auc", "validation:auc"}, frame
    assert by_name["train:auc"] > by_name["validation:auc"] > 0.6
    predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large")
    try:
        import sagemaker

        predictor.serializer = sagemaker.serializers.CSVSerializer()
        predictor.deserializer = sagemaker.deserializers.CSVDeserializer()
        test_x, test_y = _test_rows(session, urls, folder)
        predictions = np.array(predictor.predict(test_x.values), dtype=float).squeeze()
        assert roc_auc_score(test_y, predictions) > 0.6
    finally:
        predictor.delete_endpoint(delete_endpoint_config=True)


def test_notebook_02_warm_pool_fits(workshop: dict[str, Any]) -> None:
    """The estimator with `keep_alive_period_in_seconds` fit five times, max_depth changing."""
    import sagemaker

    session, urls, folder = workshop["session"], workshop["urls"], workshop["folder"]
    _preprocess(session, urls, folder)
    training_image = sagemaker.image_uris.retrieve("xgboost", region=session.boto_region_name,
                                                   version="1.5-1")  # fmt: skip
    estimator = sagemaker.estimator.Estimator(
        image_uri=training_image, instance_type="ml.m5.xlarge", instance_count=1, role=ROLE,
        max_run=20 * 60, output_path=urls["output"], sagemaker_session=session,
        base_job_name="from-idea-to-prod-training", keep_alive_period_in_seconds=1800,
    )  # fmt: skip
    estimator.set_hyperparameters(**HYPERPARAMETERS)
    names = []
    for depth in [2, 3, 5, 10, 20]:
        estimator.set_hyperparameters(max_depth=depth)
        estimator.fit(_training_inputs(urls), wait=True, logs=False)
        names.append(estimator._current_job_name)
    sm = session.sagemaker_client
    for depth, name in zip([2, 3, 5, 10, 20], names, strict=True):
        job = sm.describe_training_job(TrainingJobName=name)
        assert job["TrainingJobStatus"] == "Completed"
        assert job["HyperParameters"]["max_depth"] == str(depth)
        assert job["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 1800
    final = sm.describe_training_job(TrainingJobName=names[-1])["FinalMetricDataList"]
    assert {m["MetricName"] for m in final} >= {"train:auc", "validation:auc"}


def test_notebook_02_hyperparameter_tuning(workshop: dict[str, Any]) -> None:
    """The optional HPO section as written (Bayesian, early stopping Auto, the six ranges),
    but 4 jobs 2 at a time instead of 30 jobs 3 at a time; then the SDK's views of it."""
    import sagemaker
    from sagemaker.tuner import (
        CategoricalParameter,  # noqa: F401 - the notebook's import cell
        ContinuousParameter,
        HyperparameterTuner,
        IntegerParameter,
    )

    session, urls, folder = workshop["session"], workshop["urls"], workshop["folder"]
    sm = session.sagemaker_client
    _preprocess(session, urls, folder)
    training_image = sagemaker.image_uris.retrieve("xgboost", region=session.boto_region_name,
                                                   version="1.5-1")  # fmt: skip
    estimator = sagemaker.estimator.Estimator(
        image_uri=training_image, instance_type="ml.m5.xlarge", instance_count=1, role=ROLE,
        max_run=20 * 60, output_path=urls["output"], sagemaker_session=session,
        base_job_name="from-idea-to-prod-training",
    )  # fmt: skip
    estimator.set_hyperparameters(**HYPERPARAMETERS)
    inputs = _training_inputs(urls)
    s3_input_train, s3_input_validation = inputs["train"], inputs["validation"]

    hp_ranges = {
        "min_child_weight": ContinuousParameter(1, 10),
        "max_depth": IntegerParameter(1, 10),
        "alpha": ContinuousParameter(0, 5),
        "eta": ContinuousParameter(0, 1),
        "colsample_bytree": ContinuousParameter(0, 1),
        "gamma": ContinuousParameter(0, 10),
    }
    objective = "validation:auc"
    tuner = HyperparameterTuner(
        estimator=estimator, hyperparameter_ranges=hp_ranges,
        max_jobs=4, max_parallel_jobs=2,  # the notebook: 30 and 3
        strategy="Bayesian", objective_metric_name=objective, objective_type="Maximize",
        base_tuning_job_name="from-idea-to-prod-hpo", early_stopping_type="Auto",
    )  # fmt: skip
    tuner.fit({"train": s3_input_train, "validation": s3_input_validation})
    name = tuner.latest_tuning_job.job_name
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] == 4

    frame = tuner.analytics().dataframe()
    assert len(frame) == 4
    assert set(hp_ranges) <= set(frame.columns)
    best_name = tuner.best_training_job()
    assert best_name == frame.sort_values("FinalObjectiveValue").iloc[-1]["TrainingJobName"]
    assert frame["FinalObjectiveValue"].max() > 0.6
    attached = HyperparameterTuner.attach(name, sagemaker_session=session)
    assert attached.best_training_job() == best_name
    assert attached.estimator.hyperparameters()["num_round"] == "150"
    assert tuner.best_estimator().latest_training_job.name == best_name

    hpo_predictor = tuner.deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        serializer=sagemaker.serializers.CSVSerializer(),
        deserializer=sagemaker.deserializers.CSVDeserializer(),
    )
    try:
        test_x, test_y = _test_rows(session, urls, folder)
        hpo_predictions = np.array(hpo_predictor.predict(test_x.values), dtype=float).squeeze()
        crosstab = pd.crosstab(index=test_y["y"].values, columns=np.round(hpo_predictions),
                               rownames=["actuals"], colnames=["predictions"])  # fmt: skip
        assert int(crosstab.to_numpy().sum()) == len(test_y)
        assert roc_auc_score(test_y, hpo_predictions) > 0.6
    finally:
        hpo_predictor.delete_endpoint(delete_endpoint_config=True)
