"""The seed workshop's notebook 03 pipeline, built with the SDK as the notebook builds it
(aws-samples/amazon-sagemaker-from-idea-to-production, e301a6f), for the end-to-end test and
the bench: preprocess (SKLearnProcessor) -> train (the XGBoost algorithm) -> evaluate (a
ScriptProcessor in the XGBoost image, its evaluation.json a property file) -> a condition on
the test AUC -> register the model with its metrics, or fail; with `transform`, also a model
and a batch transform of the test rows beside the registration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.workshop import EVALUATION, HYPERPARAMETERS, PREPROCESSING, bank_marketing_csv

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
PREFIX = "from-idea-to-prod/xgboost"
PROJECT = "from-idea-to-prod"
NAME, GROUP = f"{PROJECT}-pipeline", f"{PROJECT}-model-group"


def parameters(input_s3_url: str) -> dict[str, Any]:
    from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString

    return {
        "process_instance_type": ParameterString("ProcessingInstanceType", "ml.c5.xlarge"),
        "train_instance_type": ParameterString("TrainingInstanceType", "ml.m5.xlarge"),
        "train_instance_count": ParameterInteger("TrainingInstanceCount", 1),
        "approval": ParameterString("ModelApprovalStatus", "PendingManualApproval"),
        "threshold": ParameterFloat("TestScoreThreshold", 0.75),
        "input": ParameterString("InputDataUrl", input_s3_url),
    }


def process_train_evaluate(session: Any, urls: dict[str, str], params: dict[str, Any],
                            folder: Path, name: str) -> tuple[Any, Any, Any, Any]:  # fmt: skip
    """The preprocess, train and evaluate steps, and the evaluation report's property file."""
    import sagemaker
    from sagemaker.inputs import TrainingInput
    from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep

    processor = SKLearnProcessor(framework_version="0.23-1", role=ROLE,
                                 instance_type=params["process_instance_type"], instance_count=1,
                                 base_job_name=f"{name}/preprocess", sagemaker_session=session)  # fmt: skip
    outputs = [ProcessingOutput(output_name=f"{part}_data", source=f"/opt/ml/processing/output/{part}",
                                destination=urls[part])
               for part in ("train", "validation", "test", "baseline")]  # fmt: skip
    step_process = ProcessingStep(f"{name}-preprocess-data", step_args=processor.run(
        inputs=[ProcessingInput(source=params["input"], destination="/opt/ml/processing/input")],
        outputs=outputs, code=str(folder / "preprocessing.py")))  # fmt: skip
    image = sagemaker.image_uris.retrieve(
        "xgboost", region=session.boto_region_name, version="1.5-1"
    )
    estimator = sagemaker.estimator.Estimator(
        image_uri=image, role=ROLE, instance_type=params["train_instance_type"],
        instance_count=params["train_instance_count"], output_path=urls["output"],
        sagemaker_session=session, base_job_name=f"{name}/train")  # fmt: skip
    estimator.set_hyperparameters(**{**HYPERPARAMETERS, "max_depth": 5})
    outputs_of = step_process.properties.ProcessingOutputConfig.Outputs
    step_train = TrainingStep(f"{name}-train", step_args=estimator.fit({
        part: TrainingInput(s3_data=outputs_of[f"{part}_data"].S3Output.S3Uri,
                            content_type="text/csv")
        for part in ("train", "validation")}))  # fmt: skip
    evaluator = ScriptProcessor(image_uri=image, role=ROLE, command=["python3"],
                                instance_type=params["process_instance_type"], instance_count=1,
                                base_job_name=f"{name}/evaluate", sagemaker_session=session)  # fmt: skip
    report = PropertyFile(name="ModelEvaluationReport", output_name="evaluation",
                          path="evaluation.json")  # fmt: skip
    step_eval = ProcessingStep(f"{name}-evaluate-model", property_files=[report],
                               step_args=evaluator.run(inputs=[
        ProcessingInput(source=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                        destination="/opt/ml/processing/model"),
        ProcessingInput(source=outputs_of["test_data"].S3Output.S3Uri,
                        destination="/opt/ml/processing/test"),
    ], outputs=[
        ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation",
                         destination=urls["evaluation"]),
        ProcessingOutput(output_name="prediction_baseline_data",
                         source="/opt/ml/processing/output/prediction_baseline",
                         destination=urls["prediction_baseline"]),
    ], code=str(folder / "evaluation.py")))  # fmt: skip
    return step_process, step_train, step_eval, report


def register_and_fail(session: Any, params: dict[str, Any], steps: tuple[Any, ...],
                       name: str, group: str) -> tuple[Any, Any, Any]:  # fmt: skip
    """The model, the RegisterModel step with the evaluation as model metrics, the Fail step."""
    import sagemaker
    from sagemaker import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.model_step import ModelStep

    _, step_train, step_eval, _ = steps
    image = sagemaker.image_uris.retrieve(
        "xgboost", region=session.boto_region_name, version="1.5-1"
    )
    model = Model(image_uri=image, model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                  name="from-idea-to-prod-xgboost-model", sagemaker_session=session, role=ROLE)  # fmt: skip
    evaluation = step_eval.arguments["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    metrics = ModelMetrics(model_statistics=MetricsSource(
        s3_uri=f"{evaluation}/evaluation.json", content_type="application/json"))  # fmt: skip
    step_register = ModelStep(f"{name}-register", step_args=model.register(
        content_types=["text/csv"], response_types=["text/csv"],
        inference_instances=["ml.t2.medium", "ml.m5.xlarge", "ml.m5.large"],
        transform_instances=["ml.m5.xlarge", "ml.m5.large"], model_package_group_name=group,
        approval_status=params["approval"], model_metrics=metrics))  # fmt: skip
    step_fail = FailStep(f"{name}-fail", error_message=Join(
        on=" ", values=["Execution failed due to AUC Score >", params["threshold"]]))  # fmt: skip
    return model, step_register, step_fail


def condition(params: dict[str, Any], steps: tuple[Any, ...], name: str, if_steps: list[Any],
               else_steps: list[Any]) -> Any:  # fmt: skip
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThan
    from sagemaker.workflow.functions import JsonGet

    _, _, step_eval, report = steps
    auc = JsonGet(step_name=step_eval.name, property_file=report,
                  json_path="classification_metrics.auc_score.value")  # fmt: skip
    return ConditionStep(f"{name}-check-test-score",
                         conditions=[ConditionGreaterThan(left=auc, right=params["threshold"])],
                         if_steps=if_steps, else_steps=else_steps)  # fmt: skip


def prepare(session: Any, folder: Path) -> dict[str, str]:
    """What notebooks 00-02 leave: the data uploaded, the scripts written; the S3 URLs."""
    data = folder / "bank-additional-full.csv"
    data.write_text(bank_marketing_csv())
    bucket = session.default_bucket()
    parts = ("train", "validation", "test", "baseline", "evaluation", "prediction_baseline",
             "output", "transform")  # fmt: skip
    urls = {part: f"s3://{bucket}/{PREFIX}/{part}" for part in parts}
    urls["input"] = session.upload_data(path=str(data), bucket=bucket, key_prefix=f"{PREFIX}/input")
    (folder / "preprocessing.py").write_text(PREPROCESSING)
    (folder / "evaluation.py").write_text(EVALUATION)
    return urls


def start_parameters(urls: dict[str, str], threshold: float = 0.75) -> dict[str, Any]:
    """The parameters the notebook starts its executions with."""
    return {"ProcessingInstanceType": "ml.c5.xlarge", "TrainingInstanceType": "ml.m5.xlarge",
            "TrainingInstanceCount": 1, "ModelApprovalStatus": "PendingManualApproval",
            "TestScoreThreshold": threshold, "InputDataUrl": urls["input"]}  # fmt: skip


def workshop_pipeline(session: Any, urls: dict[str, str], folder: Path, *,
                      transform: bool = False) -> Any:  # fmt: skip
    """The notebook's pipeline (its second form, with the batch transform, when asked)."""
    from sagemaker.workflow.pipeline import Pipeline

    params = parameters(urls["input"])
    steps = process_train_evaluate(session, urls, params, folder, NAME)
    model, step_register, step_fail = register_and_fail(session, params, steps, NAME, GROUP)
    if_steps = [step_register, *(transform_steps(session, urls, model, steps) if transform else [])]
    step_cond = condition(params, steps, NAME, if_steps, [step_fail])
    return Pipeline(name=NAME, parameters=list(params.values()),
                    steps=[*steps[:3], step_cond], sagemaker_session=session)  # fmt: skip


def transform_steps(
    session: Any, urls: dict[str, str], model: Any, steps: tuple[Any, ...]
) -> list[Any]:
    """The model made from the trained artifacts, and the batch transform of the test rows.

    The notebook scores the whole test prefix, whose test_y.csv has one-column rows that the
    XGBoost container refuses for a 59-feature model (on AWS as here: the job fails with
    ClientError); notebook 02 and the workshop's later 03 score test_x.csv, as here."""
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.steps import TransformStep

    step_create_model = ModelStep(f"{NAME}-model", step_args=model.create(
        instance_type="ml.m5.large", accelerator_type="ml.eia1.medium"))  # fmt: skip
    transformer = Transformer(model_name=step_create_model.properties.ModelName,
                              instance_type="ml.m5.xlarge", instance_count=1, accept="text/csv",
                              assemble_with="Line", output_path=urls["transform"],
                              sagemaker_session=session)  # fmt: skip
    test_prefix = steps[0].properties.ProcessingOutputConfig.Outputs["test_data"].S3Output.S3Uri
    test_data = Join(on="/", values=[test_prefix, "test_x.csv"])
    step_transform = TransformStep(f"{NAME}-transform", step_args=transformer.transform(
        data=test_data, content_type="text/csv", split_type="Line"))  # fmt: skip
    return [step_create_model, step_transform]
