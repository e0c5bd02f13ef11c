"""The SageMaker SDK's Transformer, unmodified, against smlocal: AWS's batch-transform
data-capture flow (model.transformer(...).transform(..., wait=True))."""

from __future__ import annotations

import json

from sklearn.datasets import load_iris

from tests.support import ROLE, XGBOOST_IMAGE


def test_the_sdk_transformer_runs_a_job_and_captures_it(
    smlocal_sagemaker_session, iris_model_data, capsys
) -> None:
    from sagemaker.inputs import BatchDataCaptureConfig
    from sagemaker.model import Model

    session = smlocal_sagemaker_session
    s3 = session.boto_session.client("s3", endpoint_url=session.s3_client.meta.endpoint_url)
    bucket = session.default_bucket()
    rows = "\n".join(",".join(str(v) for v in row) for row in load_iris(return_X_y=True)[0][:20])
    s3.put_object(Bucket=bucket, Key="transform-input/rows.csv", Body=rows)
    capture = f"s3://{bucket}/datacapture"
    model = Model(image_uri=XGBOOST_IMAGE, model_data=iris_model_data, role=ROLE,
                  sagemaker_session=session)  # fmt: skip
    transformer = model.transformer(
        instance_count=1, instance_type="ml.m4.xlarge", accept="text/csv", assemble_with="Line",
        output_path=f"s3://{bucket}/transform-output",
    )  # fmt: skip
    transformer.transform(
        f"s3://{bucket}/transform-input", content_type="text/csv", split_type="Line",
        join_source="Input",
        batch_data_capture_config=BatchDataCaptureConfig(
            destination_s3_uri=capture, generate_inference_id=True
        ),
        wait=True,
    )  # fmt: skip
    job = session.describe_transform_job(transformer.latest_transform_job.name)
    assert job["TransformJobStatus"] == "Completed"
    body = s3.get_object(Bucket=bucket, Key="transform-output/rows.csv.out")["Body"].read()
    lines = body.decode().splitlines()
    assert len(lines) == 20
    cells = lines[0].split(",")
    assert len(cells) == 4 + 1 + 2  # the input, the prediction, the inference id and time
    assert cells[-1].endswith("Z")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="datacapture/")["Contents"]]
    inputs = [k for k in keys if k.startswith("datacapture/input/")]
    outputs = [k for k in keys if k.startswith("datacapture/output/")]
    assert len(inputs) == 1
    assert len(outputs) == 1
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=outputs[0])["Body"].read())
    assert manifest == [{"prefix": f"s3://{bucket}/transform-output/"}, "rows.csv.out"]
