"""Tiny models trained into temporary folders, and model servers running them."""

from __future__ import annotations

import pickle
import shutil
import tarfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from tests.support import ROOT, ServerProcess, add_sklearn_script, model_server

LEGACY_ARTIFACT = ROOT / "tests" / "data" / "churn-xgboost-0.90-model.tar.gz"


def iris() -> tuple[np.ndarray, np.ndarray]:
    features, labels = load_iris(return_X_y=True)
    return features, labels


def train(params: dict, features: np.ndarray, labels: np.ndarray, rounds: int = 2) -> xgb.Booster:
    return xgb.train(
        {"nthread": 1, "seed": 0, **params}, xgb.DMatrix(features, label=labels), rounds
    )


@pytest.fixture(scope="session")
def iris_softmax(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The classic iris multi:softmax, 2 rounds, saved as xgboost-model (UBJSON, no suffix)."""
    folder = tmp_path_factory.mktemp("iris-softmax")
    features, labels = iris()
    booster = train({"objective": "multi:softmax", "num_class": 3}, features, labels)
    booster.save_model(str(folder / "model.ubj"))
    (folder / "model.ubj").rename(folder / "xgboost-model")
    return folder


@pytest.fixture(scope="session")
def iris_softprob(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """multi:softprob saved as JSON under xgboost-model."""
    folder = tmp_path_factory.mktemp("iris-softprob")
    features, labels = iris()
    booster = train({"objective": "multi:softprob", "num_class": 3}, features, labels)
    booster.save_model(str(folder / "model.json"))
    (folder / "model.json").rename(folder / "xgboost-model")
    return folder


@pytest.fixture(scope="session")
def binary_logistic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """binary:logistic (iris class 2 against the rest), pickled as SageMaker <=1.2 did."""
    folder = tmp_path_factory.mktemp("binary")
    features, labels = iris()
    booster = train({"objective": "binary:logistic"}, features, (labels == 2).astype(float))
    (folder / "xgboost-model").write_bytes(pickle.dumps(booster))
    return folder


@pytest.fixture(scope="session")
def regression(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """reg:squarederror predicting petal width from the other three columns, as .ubj."""
    folder = tmp_path_factory.mktemp("regression")
    features, _ = iris()
    train({"objective": "reg:squarederror"}, features[:, :3], features[:, 3]).save_model(
        str(folder / "model.ubj")
    )
    return folder


@pytest.fixture(scope="session")
def sklearn_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scikit-learn LogisticRegression on iris as model.joblib, with code/inference.py's model_fn.

    Serve it with SKLEARN_SCRIPT_ENV (as the SDK's SKLearnModel does), or lenient containers.
    """
    import joblib

    folder = tmp_path_factory.mktemp("sklearn")
    features, labels = iris()
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), folder / "model.joblib")
    add_sklearn_script(folder)
    return folder


INFERENCE_PY = textwrap.dedent(
    '''
    """A user script in the style of SageMaker's scikit-learn examples."""
    import json
    import os

    import joblib
    import numpy as np

    from helper import species  # a module next to the script, importable like in SageMaker


    def model_fn(model_dir):
        return joblib.load(os.path.join(model_dir, "model.joblib"))


    def input_fn(request_body, request_content_type):
        if request_content_type != "application/json":
            raise ValueError("this model only reads JSON, not " + str(request_content_type))
        rows = json.loads(request_body)["rows"]
        return np.asarray(rows, dtype=float)


    def predict_fn(input_data, model):
        if input_data.shape[1] == 0:
            raise RuntimeError("no features at all")
        return model.predict(input_data)


    def output_fn(prediction, accept):
        return json.dumps({"species": [species(int(p)) for p in prediction]}), "application/json"
    '''
)


@pytest.fixture(scope="session")
def user_script(tmp_path_factory: pytest.TempPathFactory, sklearn_classifier: Path) -> Path:
    """The scikit-learn model with code/inference.py (and a helper module) next to it."""
    folder = tmp_path_factory.mktemp("script")
    shutil.copy(sklearn_classifier / "model.joblib", folder / "model.joblib")
    code = folder / "code"
    code.mkdir()
    (code / "inference.py").write_text(INFERENCE_PY)
    (code / "helper.py").write_text(
        "def species(i):\n    return ['setosa', 'versicolor', 'virginica'][i]\n"
    )
    return folder


@pytest.fixture(scope="session")
def legacy_xgboost(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real XGBoost 0.90 artifact from SageMaker's churn example, unpacked."""
    folder = tmp_path_factory.mktemp("legacy")
    with tarfile.open(LEGACY_ARTIFACT) as tar:
        tar.extractall(folder, filter="data")
    return folder


def running(model_dir: Path | None, log_dir: Path, **kwargs: object) -> Iterator[ServerProcess]:
    """Start a model server, wait for /ping (or the status asked for), stop it afterwards."""
    ready_status = kwargs.pop("ready_status", 200)
    server = model_server(model_dir, log_dir / "server.log", **kwargs)  # type: ignore[arg-type]
    with server:
        server.wait_ready(status=ready_status)  # type: ignore[arg-type]
        yield server
