"""The seed workshop's notebook 02 (SDK v2, e301a6f) with its SageMaker Experiments cells, as
written: a `Run` logging the split as parameters whose `experiment_config` the
SKLearnProcessor job joins, the built-in XGBoost trained inside a `Run` (the job joins it
through the run context), the batch transform inside a `Run`, and `load_run` logging the
confusion matrix, ROC curve and precision-recall chart of the transform's predictions. The
rest of the notebook is `test_workshop_containers.py`.
"""

from __future__ import annotations

import json
from time import gmtime, strftime
from typing import Any

import numpy as np
import pandas as pd

from tests.e2e.test_workshop_containers import (
    PREFIX,
    ROLE,
    _test_rows,
    _training_inputs,
    workshop,
)
from tests.workshop import HYPERPARAMETERS

__all__ = ["workshop"]  # the fixture, used by name


def _components_of(sm: Any, experiment: str, trial: str) -> set[str]:
    """The trial's components, which ListTrialComponents of the experiment lists too."""
    of_trial = sm.list_trial_components(TrialName=trial)["TrialComponentSummaries"]
    of_experiment = sm.list_trial_components(ExperimentName=experiment)
    names = {c["TrialComponentName"] for c in of_trial}
    assert names <= {c["TrialComponentName"] for c in of_experiment["TrialComponentSummaries"]}
    return names


def test_notebook_02_experiment_runs(workshop: dict[str, Any]) -> None:
    import botocore
    import sagemaker
    from sagemaker.experiments.run import Run, load_run
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.sklearn.processing import SKLearnProcessor

    session, urls, folder = workshop["session"], workshop["urls"], workshop["folder"]
    sm = session.sagemaker_client
    experiment_name = f"from-idea-to-prod-experiment-{strftime('%d-%H-%M-%S', gmtime())}"

    # cell 19
    run_suffix = strftime("%Y-%m-%M-%S", gmtime())
    run_name = f"container-processing-{run_suffix}"
    with Run(experiment_name=experiment_name, run_name=run_name,
             run_display_name="container-processing", sagemaker_session=session) as run:  # fmt: skip
        run.log_parameters({"train": 0.7, "validate": 0.2, "test": 0.1})
        experiment_config = run.experiment_config

    # cells 21, 23, 25 (the processor's script written by the workshop fixture)
    sklearn_processor = SKLearnProcessor(framework_version="0.23-1", role=ROLE,
                                         instance_type="ml.m5.large", instance_count=1,
                                         base_job_name="from-idea-to-prod-processing",
                                         sagemaker_session=session)  # fmt: skip
    processing_inputs = [ProcessingInput(source=urls["input"],
                                         destination="/opt/ml/processing/input",
                                         s3_input_mode="File",
                                         s3_data_distribution_type="ShardedByS3Key")]  # fmt: skip
    processing_outputs = [
        ProcessingOutput(output_name=f"{name}_data", source=f"/opt/ml/processing/output/{name}",
                         destination=urls[name])
        for name in ("train", "validation", "test", "baseline")
    ]  # fmt: skip
    try:
        sklearn_processor.run(inputs=processing_inputs, outputs=processing_outputs,
                              code=str(folder / "preprocessing.py"), wait=True,
                              experiment_config=experiment_config)  # fmt: skip
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "AccessDeniedException":
            raise
    processing_job = sklearn_processor.latest_job.job_name
    described = sm.describe_processing_job(ProcessingJobName=processing_job)
    assert described["ExperimentConfig"] == experiment_config
    components = _components_of(sm, experiment_name, experiment_config["TrialName"])
    job_component = f"{processing_job}-aws-processing-job"
    assert set(components) == {experiment_config["RunName"], job_component}
    component = sm.describe_trial_component(TrialComponentName=job_component)
    assert component["Status"]["PrimaryStatus"] == "Completed"
    assert component["Source"]["SourceArn"] == described["ProcessingJobArn"]
    assert component["OutputArtifacts"]["train_data"]["Value"] == urls["train"]
    run_component = sm.describe_trial_component(TrialComponentName=experiment_config["RunName"])
    assert run_component["Parameters"]["validate"] == {"NumberValue": 0.2}
    assert run_component["DisplayName"] == "container-processing"

    # cells 39, 41, 43
    training_image = sagemaker.image_uris.retrieve("xgboost", region=session.boto_region_name,
                                                   version="1.5-1")  # fmt: skip
    estimator = sagemaker.estimator.Estimator(
        image_uri=training_image, instance_type="ml.m5.xlarge", instance_count=1, role=ROLE,
        max_run=20 * 60, output_path=urls["output"], sagemaker_session=session,
        base_job_name="from-idea-to-prod-training",
    )  # fmt: skip
    estimator.set_hyperparameters(**HYPERPARAMETERS)
    training_inputs = _training_inputs(urls)
    run_suffix = strftime("%Y-%m-%M-%S", gmtime())
    run_name = f"container-training-{run_suffix}"
    with Run(experiment_name=experiment_name, run_name=run_name,
             run_display_name="container-training", sagemaker_session=session) as run:  # fmt: skip
        estimator.fit(training_inputs, wait=True, logs=False)
        training_config = run.experiment_config
    training_job = estimator.latest_training_job.job_name
    described = sm.describe_training_job(TrainingJobName=training_job)
    assert described["ExperimentConfig"] == training_config
    component = sm.describe_trial_component(TrialComponentName=f"{training_job}-aws-training-job")
    assert component["Status"]["PrimaryStatus"] == "Completed"
    assert component["Parameters"]["max_depth"] == {
        "StringValue": str(HYPERPARAMETERS["max_depth"])
    }
    assert component["InputArtifacts"]["train"]["Value"] == urls["train"]
    model = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert component["OutputArtifacts"]["SageMaker.ModelArtifact"]["Value"] == model
    metrics = {m["MetricName"]: m for m in component["Metrics"]}
    final = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert metrics["validation:auc"]["Last"] == final["validation:auc"]
    found = sm.search(Resource="ExperimentTrialComponent", SearchExpression={"Filters": [
        {"Name": "Parents.ExperimentName", "Operator": "Equals", "Value": experiment_name},
        {"Name": "Metrics.validation:auc.Last", "Operator": "GreaterThan", "Value": "0.6"},
    ]})["Results"]  # fmt: skip
    assert [r["TrialComponent"]["TrialComponentName"] for r in found] == [
        f"{training_job}-aws-training-job"
    ]

    # cells 75 to 79: the batch transform, inside a run of its own
    model_name = f"from-idea-to-prod-transform-{strftime('%d-%H-%M-%S', gmtime())}"
    model = session.create_model_from_job(training_job_name=training_job, name=model_name)
    transformer = sagemaker.transformer.Transformer(
        model_name=model, instance_count=1, instance_type="ml.m5.xlarge", accept="text/csv",
        assemble_with="Line", output_path=urls["transform"],
        base_transform_job_name="from-idea-to-prod-trasform", sagemaker_session=session,
    )  # fmt: skip
    transform_job_name = f"from-idea-to-prod-transform-{strftime('%d-%H-%M-%S', gmtime())}"
    run_suffix = strftime("%Y-%m-%M-%S", gmtime())
    run_name = f"batch-transform-{run_suffix}"
    with Run(experiment_name=experiment_name, run_name=run_name,
             run_display_name="batch-transform", sagemaker_session=session):  # fmt: skip
        transformer.transform(data=f"{urls['test']}/test_x.csv", content_type="text/csv",
                              split_type="Line", job_name=transform_job_name, wait=True)  # fmt: skip

    # cells 83 to 86: the predictions and labels, read as the notebook reads them
    s3 = session.boto_session.client("s3")
    output = s3.get_object(Bucket=session.default_bucket(),
                           Key=f"{PREFIX}/transform/test_x.csv.out")["Body"].read().decode()  # fmt: skip
    predictions = pd.read_csv(pd.io.common.StringIO(output), names=["y_prob"])
    _, test_y = _test_rows(session, urls, folder)

    # cell 97, its Session line changed: a default Session asks the real STS for the account
    # (the SDK gives the STS client its own regional endpoint) to name the default bucket
    title_suffix = strftime("%Y-%m-%M-%S", gmtime())
    with load_run(experiment_name=experiment_name, run_name=run_name,
                  sagemaker_session=session) as run:  # fmt: skip
        print(run.experiment_config)
        run.log_confusion_matrix(y_true=test_y["y"].values,
                                 y_pred=np.array(np.round(predictions), dtype=float).squeeze(),
                                 title=f"confusion-matrix-{title_suffix}")  # fmt: skip
        run.log_roc_curve(y_true=test_y["y"].values, y_score=predictions["y_prob"].values,
                          title=f"roc-curve2-{title_suffix}")  # fmt: skip
        run.log_precision_recall(y_true=test_y["y"].values,
                                 predicted_probabilities=predictions["y_prob"].values,
                                 positive_label=1,
                                 title=f"precision-recall-{title_suffix}")  # fmt: skip
        transform_run = run.experiment_config["RunName"]

    run_arn = sm.describe_trial_component(TrialComponentName=transform_run)["TrialComponentArn"]
    edges = sm.list_associations(SourceArn=run_arn)["AssociationSummaries"]
    charts = {sm.describe_artifact(ArtifactArn=e["DestinationArn"])["ArtifactType"]: e
              for e in edges}  # fmt: skip
    assert set(charts) == {"ConfusionMatrix", "ROCCurve", "PrecisionRecallCurve"}
    uri = sm.describe_artifact(ArtifactArn=charts["ConfusionMatrix"]["DestinationArn"])["Source"][
        "SourceUri"
    ]
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    matrix = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert np.sum(matrix["confusionMatrix"]) == len(test_y)
    experiments = sm.list_trials(ExperimentName=experiment_name)["TrialSummaries"]
    assert len(experiments) == 1  # every run of the notebook is in the experiment's run group
