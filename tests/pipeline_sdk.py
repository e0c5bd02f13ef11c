"""SageMaker Pipelines built with the SDK, as a user writes them, for tests and the bench.

Processing steps here run the Model Monitor analyzer image (a data-quality baseline stands
in for preprocessing and evaluation; tests/e2e/test_workshop_pipeline.py has user scripts),
Training steps the built-in XGBoost algorithm, Transform steps its model over CSV rows.
`iris_pipeline` is the five-step process -> train -> evaluate -> condition -> register
pipeline.
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support import ROLE, XGBOOST_IMAGE

ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
BUCKET = "smlocal-sagemaker"
INPUT = "/opt/ml/processing/input/baseline_dataset_input"
OUTPUT = "/opt/ml/processing/output"


def step_args(make: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A job call's step arguments (or a step), without the SDK's warnings that no job is
    started here and that ModelStep builds a CreateModelStep."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return make(*args, **kwargs)


def run(pipeline: Any, **parameters: Any) -> tuple[Any, dict[str, dict[str, Any]]]:
    """Upsert and start a pipeline, wait; the execution and its steps by name (a Failed
    execution is returned too: the caller looks at why)."""
    from botocore.exceptions import WaiterError

    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start(parameters=parameters or None)
    with contextlib.suppress(WaiterError):  # the SDK's default, 60 polls, is 12 s at 0.2 s
        execution.wait(max_attempts=1200)  # a busy machine's workshop pipeline takes longer
    return execution, {step["StepName"]: step for step in execution.list_steps()}


def pipeline_of(session: Any, *steps: Any, parameters: Any = ()) -> Any:
    """A pipeline of these steps, with a name of its own."""
    from sagemaker.workflow.pipeline import Pipeline

    from tests.support import unique

    return Pipeline(unique("pipe"), parameters=list(parameters), steps=list(steps),
                    sagemaker_session=session)  # fmt: skip


def wait_for(check: Callable[[], Any], timeout: float = 120) -> Any:
    """Poll check every 0.2 s until it returns something true; that."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


def upload_iris(s3: Any, folder: Path, prefix: str) -> dict[str, str]:
    """The iris CSVs (label first, no header) in S3; their prefixes by channel."""
    from examples.train_deploy_capture import iris_csv

    uris = {}
    for channel, path in zip(("train", "validation"), iris_csv(folder), strict=True):
        s3.upload_file(str(path), BUCKET, f"{prefix}/{channel}/{path.name}")
        uris[channel] = f"s3://{BUCKET}/{prefix}/{channel}"
    return uris


def analyzer_step(session: Any, name: str, dataset: Any, output: str, **kwargs: Any) -> Any:
    """A Processing step running the analyzer on a CSV dataset (its statistics.json is the
    property file `Statistics`)."""
    from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import ProcessingStep

    processor = Processor(
        role=ROLE,
        image_uri=ANALYZER,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        sagemaker_session=session,
        env={
            "dataset_format": json.dumps({"csv": {"header": False}}),
            "dataset_source": INPUT,
            "output_path": OUTPUT,
            "publish_cloudwatch_metrics": "Disabled",
        },
    )
    statistics = PropertyFile(name="Statistics", output_name="stats", path="statistics.json")
    args = step_args(
        processor.run,
        inputs=[ProcessingInput(source=dataset, destination=INPUT, input_name="data")],
        outputs=[ProcessingOutput(source=OUTPUT, destination=output, output_name="stats")],
    )
    return ProcessingStep(name, step_args=args, property_files=[statistics], **kwargs)


IRIS_HYPERPARAMETERS = {"objective": "multi:softmax", "num_class": 3, "num_round": 2}


def training_step(
    session: Any,
    name: str,
    train: Any,
    output: str,
    *,
    hyperparameters: Any = None,
    base_job_name: str | None = None,
    **kwargs: Any,
) -> Any:
    """A Training step of the built-in XGBoost algorithm (on iris unless told otherwise)."""
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.workflow.steps import TrainingStep

    estimator = Estimator(
        image_uri=XGBOOST_IMAGE,
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=output,
        sagemaker_session=session,
        hyperparameters=hyperparameters or IRIS_HYPERPARAMETERS,
        base_job_name=base_job_name,
    )
    args = step_args(estimator.fit, {"train": TrainingInput(train, content_type="text/csv")})
    return TrainingStep(name, step_args=args, **kwargs)


def model(session: Any, training: Any) -> Any:
    """The model of a Training step's artifacts."""
    from sagemaker.model import Model

    return Model(
        image_uri=XGBOOST_IMAGE,
        model_data=training.properties.ModelArtifacts.S3ModelArtifacts,
        role=ROLE,
        sagemaker_session=session,
    )


def transform_steps(session: Any, name: str, training: Any, data: Any, output: str) -> list[Any]:
    """A ModelStep making the Training step's model, and a TransformStep scoring the CSV rows
    under `data` with it into `output` (one `{file}.out` per file)."""
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.steps import TransformStep

    create_args = step_args(model(session, training).create, instance_type="ml.m5.large")
    create = step_args(ModelStep, f"{name}Model", step_args=create_args)
    transformer = Transformer(
        model_name=create.properties.ModelName, instance_type="ml.m5.xlarge", instance_count=1,
        accept="text/csv", assemble_with="Line", output_path=output, sagemaker_session=session,
    )  # fmt: skip
    args = step_args(transformer.transform, data=data, content_type="text/csv", split_type="Line")
    return [create, TransformStep(name, step_args=args)]


def register_step(
    session: Any, name: str, training: Any, group: str, approval: str = "Approved", **kwargs: Any
) -> Any:
    """A ModelStep registering the Training step's model in a group (a RegisterModel step)."""
    from sagemaker.workflow.model_step import ModelStep

    args = step_args(
        model(session, training).register,
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=["ml.m5.large"],
        transform_instances=["ml.m5.large"],
        model_package_group_name=group,
        approval_status=approval,
    )
    return ModelStep(name, step_args=args, **kwargs)


def iris_pipeline(session: Any, name: str, data: dict[str, str], group: str) -> Any:
    """process -> train -> evaluate -> condition -> register, on iris."""
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import JsonGet
    from sagemaker.workflow.parameters import ParameterInteger, ParameterString
    from sagemaker.workflow.pipeline import Pipeline

    train_data = ParameterString("TrainData", default_value=data["train"])
    least_rows = ParameterInteger("LeastRows", default_value=10)
    out = f"s3://{BUCKET}/pipelines/{name}"
    process = analyzer_step(session, "Process", train_data, f"{out}/process")
    train = training_step(session, "Train", train_data, f"{out}/model", depends_on=[process])
    evaluate = analyzer_step(session, "Evaluate", data["validation"], f"{out}/evaluate",
                             depends_on=[train])  # fmt: skip
    rows = JsonGet(step_name=evaluate.name, property_file="Statistics",
                   json_path="dataset.item_count")  # fmt: skip
    check = ConditionStep(
        "CheckRows",
        conditions=[ConditionGreaterThanOrEqualTo(left=rows, right=least_rows)],
        if_steps=[register_step(session, "Register", train, group)],
        else_steps=[FailStep("TooFewRows", error_message="too few validation rows")],
    )
    return Pipeline(
        name,
        parameters=[train_data, least_rows],
        steps=[process, train, evaluate, check],
        sagemaker_session=session,
    )


def pipeline_session(session: Any) -> Any:
    """A PipelineSession on the same boto3 session, bucket and SDK settings."""
    from sagemaker.workflow.pipeline_context import PipelineSession

    from smlocal.emulator.pytest_plugin import SDK_CONFIG

    return PipelineSession(
        boto_session=session.boto_session,
        default_bucket=session.default_bucket(),
        sagemaker_config=SDK_CONFIG,
    )
