"""Scikit-learn models with an inference script, for tests that need a model that sleeps or
fails: the iris LogisticRegression plus the script, as the SDK's SKLearnModel deploys them."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from tests.support import SKLEARN_IMAGE, unique

SLOW_SCRIPT = b"""
import os, time, joblib  # noqa
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
def predict_fn(data, model):
    time.sleep(3)
    return model.predict(data)
"""
FAILING_SCRIPT = b"""
import os, joblib
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
def predict_fn(data, model):
    raise ValueError("smlocal-shadow-failure")
"""


def script_variant(emulator, folder: Path, script: bytes, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """A `tests.support.deploy` variant (name left to the caller) of the scikit-learn iris
    model served through `script`."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=300).fit(features, labels), folder / "model.joblib")
    model_tar, code_tar = io.BytesIO(), io.BytesIO()
    with tarfile.open(fileobj=model_tar, mode="w:gz") as tar:
        tar.add(folder / "model.joblib", arcname="model.joblib")
    with tarfile.open(fileobj=code_tar, mode="w:gz") as tar:
        info = tarfile.TarInfo("script.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    s3 = emulator.client("s3")
    bucket = unique("script").lower()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="model.tar.gz", Body=model_tar.getvalue())
    s3.put_object(Bucket=bucket, Key="sourcedir.tar.gz", Body=code_tar.getvalue())
    return {
        "model_data": f"s3://{bucket}/model.tar.gz",
        "image": SKLEARN_IMAGE,
        "env": {
            "SAGEMAKER_PROGRAM": "script.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/sourcedir.tar.gz",
            **(env or {}),
        },
    }


def create_model(sm, name: str, variant: dict) -> str:  # type: ignore[no-untyped-def]
    """CreateModel of a variant dict (as `script_variant` returns); the model's name."""
    from tests.support import ROLE, XGBOOST_IMAGE

    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": variant.get("image", XGBOOST_IMAGE),
            "ModelDataUrl": variant["model_data"],
            "Environment": variant.get("env", {}),
        },
    )
    return name
