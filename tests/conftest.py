"""Fixtures shared by the emulator and end-to-end tests (the `smlocal` fixture comes from
smlocal's own pytest plugin, emulator/pytest_plugin.py)."""

from __future__ import annotations

import os
import time
import types
from pathlib import Path
from typing import Any

import pytest

from smlocal.model_server.artifacts import pack_archive
from smlocal.model_server.xgboost_files import save_booster
from tests.support import XGBOOST_IMAGE  # noqa: F401 - re-exported for tests

# The SageMaker SDK v2 warns on import that v3 exists; the flows we test are v2's.
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


@pytest.fixture
def pipelines_session(smlocal_sagemaker_session: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A PipelineSession; `execution.wait()` polls every 0.2 s instead of 30 s (tests only)."""
    import botocore.waiter

    from tests.pipeline_sdk import pipeline_session

    quick = types.SimpleNamespace(sleep=lambda seconds: time.sleep(min(seconds, 0.2)))
    monkeypatch.setattr(botocore.waiter, "time", quick)
    return pipeline_session(smlocal_sagemaker_session)


def train_iris_tar(folder: Path, objective: str = "multi:softmax") -> Path:
    """The classic iris model (2 rounds), packaged as SageMaker training would."""
    import xgboost as xgb
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True)
    params = {"objective": objective, "num_class": 3, "nthread": 1, "seed": 0}
    booster = xgb.train(params, xgb.DMatrix(features, label=labels), 2)
    model = folder / "model"
    save_booster(booster, model)
    return pack_archive(model, folder / "model.tar.gz")


@pytest.fixture(scope="session")
def iris_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of the iris multi:softmax model.tar.gz."""
    return train_iris_tar(tmp_path_factory.mktemp("iris-tar"))


@pytest.fixture(scope="session")
def iris_model_data(smlocal, iris_tar: Path) -> str:  # type: ignore[no-untyped-def]
    """The iris model.tar.gz uploaded to the session emulator's S3; its s3:// URI."""
    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket="models")
    s3.upload_file(str(iris_tar), "models", "iris/model.tar.gz")
    return "s3://models/iris/model.tar.gz"
